"""Training pages (included under jobs/ by prefstudio/urls.py): jobs, training, artifacts, models, judge templates."""
from django.urls import path

from . import train_views, views

urlpatterns = [
    path("", views.job_list, name="job-list"),
    path("diagnostic/", views.diagnostic_start, name="job-start-diagnostic"),
    path("generate/", views.generate_start, name="job-start-generate"),
    path("judge/", views.judge_start, name="job-start-judge"),
    path("<int:job_id>/", views.job_detail, name="job-detail"),
    path("<int:job_id>/cancel/", views.job_cancel_view, name="job-cancel"),
    path("<int:job_id>/artifacts/", train_views.job_artifact_download, name="job-artifacts"),
    path("<int:job_id>/artifacts/<path:path>", train_views.job_artifact_download, name="job-artifact"),
    path("train/", train_views.train_start, name="job-start-train"),
    path("evaluate/", train_views.evaluate_start, name="job-start-evaluate"),
    path("compare/", train_views.job_compare, name="job-compare"),
    path("models/", views.model_list, name="model-list"),
    path("models/register/", views.model_register, name="model-register"),
    path("judge-templates/<slug:slug>/", views.judge_templates, name="judge-templates"),
    path("judge-templates/<slug:slug>/save/", views.judge_template_save_view, name="judge-template-save"),
]
