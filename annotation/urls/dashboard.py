"""Pages of the dashboard area."""
from django.urls import path

from ..views import dashboard

urlpatterns = [
    path("projects/<slug:slug>/dashboard/", dashboard.project_dashboard, name="project-dashboard"),
]
