"""Pages of the labeling area: a project's queue and the task pages of its leases."""
from django.urls import path

from ..views import labeling

urlpatterns = [
    path("projects/<slug:slug>/label/", labeling.queue, name="labeling-queue"),
    path("projects/<slug:slug>/label/next/", labeling.take_next, name="labeling-next"),
    path("projects/<slug:slug>/label/<int:assignment_id>/", labeling.task, name="labeling-task"),
    path("projects/<slug:slug>/label/<int:assignment_id>/submit/", labeling.submit, name="labeling-submit"),
    path("projects/<slug:slug>/label/<int:assignment_id>/skip/", labeling.skip, name="labeling-skip"),
    path("projects/<slug:slug>/label/<int:assignment_id>/refresh/", labeling.refresh, name="labeling-refresh"),
]
