"""The jobs API's input and output shapes (no logic: the services check the values)."""
from typing import Any

from rest_framework import serializers

from ..models import Job, job_kind_choices


class JobSerializer(serializers.ModelSerializer):
    project = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True,
                                       help_text="Who started it; null for the command line.")

    class Meta:
        model = Job
        fields = [
            "id", "kind", "state", "project", "dataset_version", "progress", "message", "eta_seconds", "error",
            "worker_host", "cancel_requested", "attempts", "created_by", "created_at", "started_at",
            "finished_at", "heartbeat_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "progress": {"help_text": "Percent done, 0-100."},
            "eta_seconds": {"help_text": "Estimated seconds left, while running."},
            "attempts": {"help_text": "Runs started; more than 1 after a lost worker."},
        }


class JobDetailSerializer(JobSerializer):
    config = serializers.JSONField(read_only=True, help_text="The kind's config dataclass, every field.")
    metrics = serializers.JSONField(read_only=True, help_text="[{step, name: value, ...}, ...], oldest first.")
    artifacts = serializers.JSONField(read_only=True, help_text="What the job produced (its runner's result).")

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "config", "metrics", "log_tail", "artifacts"]
        read_only_fields = fields


class JobStartSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=job_kind_choices())
    config = serializers.DictField(required=False, default=dict,
                                   help_text="The kind's config; fields left out take their defaults.")
    project = serializers.SlugField(required=False, allow_null=True, default=None, help_text="Project slug.")
    dataset_version = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = job_kind_choices()  # now: a trainer registered after import is a kind too
