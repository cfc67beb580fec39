from django.conf import settings
from django.db import models
from django.db.models import Q


class ImportRunState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class ImportRun(models.Model):
    """An upload imported in the background (annotation.services.import_runs): this row is its truth.

    The file waits under MEDIA_ROOT/imports until the run ends; progress (lines read, bytes of the
    file read) is written from outside the import's transaction, so that it shows while it runs.
    """

    State = ImportRunState

    project_slug = models.SlugField(max_length=64, help_text="The project imported into (created if new).")
    format = models.CharField(max_length=16)
    options = models.JSONField(default=dict, help_text="annotator, annotator_kind, skip_invalid")
    file_path = models.CharField(max_length=500, help_text="The saved upload, relative to MEDIA_ROOT.")
    file_name = models.CharField(max_length=255, blank=True, help_text="The name the upload had.")
    file_bytes = models.BigIntegerField(help_text="Size of the saved upload, as sent (compressed, if gzipped).")
    state = models.CharField(max_length=16, choices=ImportRunState.choices, default=ImportRunState.QUEUED)
    lines_read = models.BigIntegerField(default=0)
    records_written = models.BigIntegerField(default=0)
    bytes_read = models.BigIntegerField(default=0, help_text="Bytes of the saved upload read so far.")
    report = models.JSONField(default=dict, blank=True, help_text="The ImportReport, once it succeeded.")
    error = models.TextField(blank=True)
    error_details = models.JSONField(default=list, blank=True, help_text="One line per bad record.")
    error_status = models.PositiveSmallIntegerField(null=True, blank=True, help_text="HTTP status of the error.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=ImportRunState.values), name="import_run_state_valid"),
        ]

    def __str__(self) -> str:
        return f"import {self.pk} into {self.project_slug} ({self.state})"

    @property
    def finished(self) -> bool:
        return self.state in (ImportRunState.SUCCEEDED, ImportRunState.FAILED)

    @property
    def percent(self) -> float:
        """Share of the file read, 0-100 (of the file as sent: a gzip's compressed bytes)."""
        if self.state == ImportRunState.SUCCEEDED:
            return 100.0
        return min(100.0, 100.0 * self.bytes_read / self.file_bytes) if self.file_bytes else 0.0
