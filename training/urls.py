"""Training pages (included under jobs/ by prefstudio/urls.py): jobs, training, artifacts, models, judge templates."""
from django.urls import path

from .views import artifacts, jobs, judge_templates, models, training

urlpatterns = [
    path("", jobs.job_list, name="job-list"),
    path("diagnostic/", jobs.diagnostic_start, name="job-start-diagnostic"),
    path("generate/", jobs.generate_start, name="job-start-generate"),
    path("judge/", jobs.judge_start, name="job-start-judge"),
    path("<int:job_id>/", jobs.job_detail, name="job-detail"),
    path("<int:job_id>/cancel/", jobs.job_cancel_view, name="job-cancel"),
    path("<int:job_id>/artifacts/", artifacts.job_artifact_download, name="job-artifacts"),
    path("<int:job_id>/artifacts/<path:path>", artifacts.job_artifact_download, name="job-artifact"),
    path("train/", training.train_start, name="job-start-train"),
    path("evaluate/", training.evaluate_start, name="job-start-evaluate"),
    path("compare/", training.job_compare, name="job-compare"),
    path("models/", models.model_list, name="model-list"),
    path("models/register/", models.model_register, name="model-register"),
    path("judge-templates/<slug:slug>/", judge_templates.judge_templates, name="judge-templates"),
    path("judge-templates/<slug:slug>/save/", judge_templates.judge_template_save_view, name="judge-template-save"),
]
