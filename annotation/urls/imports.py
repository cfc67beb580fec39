"""Pages of the import area."""
from django.urls import path

from ..views import imports

urlpatterns = [
    path("imports/new/", imports.import_upload_page, name="import-upload"),
    path("imports/<int:pk>/", imports.import_run_page, name="import-run"),
]
