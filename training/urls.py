"""Job pages (included under jobs/ by prefstudio/urls.py)."""
from django.urls import path

from . import views

urlpatterns = [
    path("", views.job_list, name="job-list"),
    path("diagnostic/", views.diagnostic_start, name="job-start-diagnostic"),
    path("<int:job_id>/", views.job_detail, name="job-detail"),
    path("<int:job_id>/cancel/", views.job_cancel_view, name="job-cancel"),
]
