from django.conf import settings
from django.db import models
from django.db.models import Q

from .project import Project


class DatasetVersion(models.Model):
    """An immutable snapshot of curated rows, with the filter config and statistics that made it.

    Every export and every training job names one. Rows are written once, when the version is
    frozen, and never updated.
    """

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="dataset_versions")
    number = models.PositiveIntegerField(help_text="1, 2, 3, ... per project.")
    name = models.CharField(max_length=200, blank=True)
    filter_config = models.JSONField(default=dict)
    config_hash = models.CharField(max_length=64)
    stats = models.JSONField(default=dict)
    n_rows = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="dataset_version_number_unique"),
            models.CheckConstraint(condition=Q(number__gte=1), name="dataset_version_number_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.project.slug} v{self.number}"


class DatasetRow(models.Model):
    """One curated example of a version: its payload (prompt, chosen, rejected, ...) and provenance."""

    class Split(models.TextChoices):
        TRAIN = "train", "Train"
        TEST = "test", "Test"

    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="rows")
    index = models.PositiveIntegerField(help_text="Order of the row in the version (stable across exports).")
    split = models.CharField(max_length=8, choices=Split.choices, default=Split.TRAIN)
    kind = models.CharField(max_length=16, help_text="pairwise, listwise, unpaired")
    # SET_NULL: a version stays complete even if its source item is later deleted.
    item = models.ForeignKey("annotation.Item", null=True, blank=True, on_delete=models.SET_NULL)
    data = models.JSONField(help_text="prompt / chosen / rejected (or ranking, or completion + label).")
    weight = models.FloatField(default=1.0)
    provenance = models.JSONField(default=dict, help_text="source, votes, agreement, noise score, reasons")

    class Meta:
        ordering = ["version", "index"]
        constraints = [
            models.UniqueConstraint(fields=["version", "index"], name="dataset_row_index_unique"),
            models.CheckConstraint(condition=Q(weight__gte=0), name="dataset_row_weight_nonnegative"),
        ]
        indexes = [models.Index(fields=["version", "split", "index"], name="dataset_row_split_idx")]


class DroppedItem(models.Model):
    """An item a curation run left out of a version, and why (the reason names the rule: "tie", "flag_share",
    "noise_score", "signal:<name>", "min_agreement", "source:<source>", ...). Written with the version's rows;
    exported with `manage.py export_data PROJECT VERSION --dropped`."""

    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="dropped_items")
    # SET_NULL: the record of a drop outlives its item; external_id still names it.
    item = models.ForeignKey("annotation.Item", null=True, blank=True, on_delete=models.SET_NULL)
    external_id = models.CharField(max_length=200)
    reason = models.CharField(max_length=64)

    class Meta:
        ordering = ["version", "external_id"]
        indexes = [models.Index(fields=["version", "reason"], name="dropped_item_version_idx")]
