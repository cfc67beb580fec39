"""Pages of the review area."""
from django.urls import path

from ..views import judges, review

urlpatterns = [
    path("projects/<slug:slug>/review/", review.review_queue, name="review-queue"),
    path("projects/<slug:slug>/review/<int:item_id>/", review.review_item, name="review-item"),
    path("projects/<slug:slug>/review/<int:item_id>/resolve/", review.review_item_resolve, name="review-resolve"),
    path("projects/<slug:slug>/review/<int:item_id>/reference/", review.review_item_reference,
         name="review-reference"),
    path("projects/<slug:slug>/judges/", judges.project_judges, name="project-judges"),
]
