"""Page URLs, one module per area of the browser app."""
from django.urls import include, path

from ..views import projects

urlpatterns = [
    path("", projects.project_list, name="project-list"),
    path("", include("annotation.urls.labeling")),
    path("", include("annotation.urls.review")),
    path("", include("annotation.urls.dashboard")),
    path("", include("annotation.urls.curation")),
    path("", include("annotation.urls.imports")),
    path("", include("annotation.urls.projects")),
]
