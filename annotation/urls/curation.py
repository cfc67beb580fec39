"""Pages of the curation area: agreement, curation and routing runs, dataset versions."""
from django.urls import path

from ..views import curation

urlpatterns = [
    path("projects/<slug:slug>/agreement/", curation.curation_agreement, name="curation-agreement"),
    path("projects/<slug:slug>/curation/", curation.curation_page, name="curation"),
    path("projects/<slug:slug>/curation/run/", curation.curation_start, name="curation-start"),
    path("projects/<slug:slug>/curation/routing/", curation.routing_start, name="curation-routing"),
    path("projects/<slug:slug>/datasets/", curation.dataset_versions, name="dataset-versions"),
    path("projects/<slug:slug>/datasets/<int:number>/", curation.dataset_version_detail, name="dataset-version"),
]
