"""Django admin for jobs and model artifacts (config, metrics and logs are read-only JSON / text)."""
from django import forms
from django.contrib import admin

from annotation.errors import PrefStudioError

from .models import Job, JudgeTemplate, ModelArtifact
from .services.outbound import model_outbound_check


class ModelArtifactForm(forms.ModelForm):
    """Edits in the admin pass the same outbound allow-lists as the models page (training.services.outbound)."""

    class Meta:
        model = ModelArtifact
        fields = "__all__"

    def clean(self) -> dict:
        data = super().clean()
        try:
            model_outbound_check(backend=data.get("backend", ""), location=data.get("location") or "",
                                 model_settings=data.get("settings") if isinstance(data.get("settings"), dict) else {})
        except PrefStudioError as exc:
            raise forms.ValidationError({exc.field if exc.field in self.fields else None: exc.message}) from exc
        return data


@admin.register(ModelArtifact)
class ModelArtifactAdmin(admin.ModelAdmin):
    form = ModelArtifactForm
    list_display = ["name", "project", "kind", "backend", "location", "produced_by", "created_at"]
    list_filter = ["kind", "backend"]
    search_fields = ["name", "location", "project__slug"]
    raw_id_fields = ["produced_by", "project", "created_by"]
    list_select_related = ["project", "produced_by"]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = [
        "id", "kind", "state", "project", "progress", "worker_host", "created_by", "created_at", "finished_at",
    ]
    list_filter = ["kind", "state", "cancel_requested"]
    search_fields = ["message", "worker_host", "celery_task_id"]
    raw_id_fields = ["project", "dataset_version", "created_by"]
    list_select_related = ["project", "created_by"]
    readonly_fields = [
        "progress", "message", "eta_seconds", "metrics", "log_tail", "artifacts", "error", "worker_host", "attempts",
        "celery_task_id", "created_at", "started_at", "finished_at", "heartbeat_at",
    ]


@admin.register(JudgeTemplate)
class JudgeTemplateAdmin(admin.ModelAdmin):
    """Versions are immutable (a judge names the version it used): edit by saving a new one (judge_template_save)."""

    list_display = ["project", "mode", "name", "version", "created_by", "created_at"]
    list_filter = ["mode"]
    search_fields = ["project__slug", "name", "text"]
    raw_id_fields = ["project", "created_by"]

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)
