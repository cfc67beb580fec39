from django.db import models

from .annotator import Annotator
from .project import Project


class ProjectAnnotatorStats(models.Model):
    """Labels per (project, annotator, role): how many, the first one's id, the newest one's time.

    Kept by PostgreSQL statement-level triggers on annotation_label (migration 0006_scale_label_stats), so it
    holds whatever code writes labels (the labeling services, imports by COPY, the admin, raw SQL). Pages read
    it instead of grouping a project's labels (3M at a million items): annotator pseudonyms (ordered by first
    label) and the dashboard's counts. `first_label_id` is the smallest id ever counted (a deleted first label
    keeps its place, so pseudonyms do not shift); a row whose `n` falls to 0 is deleted. Not kept on SQLite
    (`make run`): readers fall back to grouping the labels there.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    annotator = models.ForeignKey(Annotator, on_delete=models.CASCADE, related_name="+", db_index=False)
    role = models.CharField(max_length=16)
    n = models.BigIntegerField(default=0)
    first_label_id = models.BigIntegerField()
    last_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "annotator", "role"], name="project_annotator_stats_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.annotator_id} in {self.project_id} ({self.role}): {self.n}"
