"""URLs of the jobs API (included under api/ by prefstudio/urls.py)."""
from django.urls import path

from . import views

urlpatterns = [
    path("jobs/", views.JobListStartApi.as_view(), name="api-jobs"),
    path("jobs/<int:pk>/", views.JobDetailApi.as_view(), name="api-job"),
    path("jobs/<int:pk>/cancel/", views.JobCancelApi.as_view(), name="api-job-cancel"),
]
