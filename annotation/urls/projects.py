"""Pages of a project's settings and members (owners only)."""
from django.urls import path

from ..views import project_settings

urlpatterns = [
    path("projects/<slug:slug>/settings/", project_settings.project_settings, name="project-settings"),
    path("projects/<slug:slug>/settings/preview/", project_settings.project_settings_preview,
         name="project-settings-preview"),
    path("projects/<slug:slug>/members/", project_settings.members, name="project-members"),
    path("projects/<slug:slug>/members/add/", project_settings.member_add, name="project-member-add"),
    path("projects/<slug:slug>/members/<int:membership_id>/role/", project_settings.member_role,
         name="project-member-role"),
    path("projects/<slug:slug>/members/<int:membership_id>/remove/", project_settings.member_remove,
         name="project-member-remove"),
]
