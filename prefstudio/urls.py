from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

urlpatterns = [
    # First: the labeling loop's API calls are most requests, and each is matched against the patterns in order.
    path("api/", include("annotation.api.urls")),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up code as a script file: the strict CSP holds there.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    # ReDoc's page starts it with an inline script and its styles are inline: allowed on that page only (it
    # shows the app's own schema, nothing a user wrote).
    path("api/redoc/", csp_update({"script-src": ["'unsafe-inline'"], "style-src": ["'unsafe-inline'"]})(
        SpectacularRedocView.as_view(url_name="schema")), name="api-redoc"),
    path("api/", include("training.api.urls")),
    path("jobs/", include("training.urls")),
    path("", include("annotation.urls")),
]

# JSON errors under /api/, the styled error page elsewhere.
handler403 = "prefstudio.errors_http.permission_denied"
handler404 = "prefstudio.errors_http.page_not_found"
handler500 = "prefstudio.errors_http.server_error"
