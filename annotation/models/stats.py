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


class ProjectItemCounts(models.Model):
    """Items per (project, kind, state, route, queued) and shard, kept by PostgreSQL statement-level triggers on
    annotation_item (migration 0009_counters_pages): the dashboard's states, the curation page's routes and the
    review queue's length read a few rows instead of counting a million items. Rows at 0 stay (no delete races
    with concurrent writers). Not kept on SQLite (`make run`): readers count the items there."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=16)
    state = models.CharField(max_length=16)
    route = models.CharField(max_length=8)
    queued = models.BooleanField()
    # The item's id modulo 16 (migration 0018): a submit moves an item from one state to the next, and with one row
    # per state every submit of the project queued behind the previous one's commit on the same two rows. Readers
    # sum over the shards.
    shard = models.SmallIntegerField(default=0, db_default=0)
    n = models.BigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "project item counts"
        constraints = [
            models.UniqueConstraint(fields=["project", "kind", "state", "route", "queued", "shard"],
                                    name="project_item_counts_unique"),
            models.CheckConstraint(condition=models.Q(n__gte=0), name="project_item_counts_n_nonnegative"),
        ]

    def __str__(self) -> str:
        return f"{self.project_id} {self.kind}/{self.state}/{self.route}{' queued' if self.queued else ''}: {self.n}"


class ProjectLabelHours(models.Model):
    """Annotation labels per (project, annotator, UTC hour of created_at), kept by the label triggers of
    migration 0009_counters_pages: the dashboard's labels-per-hour chart. Per annotator, so two annotators'
    labels never wait on one counter row."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    annotator = models.ForeignKey(Annotator, on_delete=models.CASCADE, related_name="+", db_index=False)
    hour = models.DateTimeField()
    n = models.BigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "project label hours"
        constraints = [
            models.UniqueConstraint(fields=["project", "hour", "annotator"], name="project_label_hours_unique"),
            models.CheckConstraint(condition=models.Q(n__gte=0), name="project_label_hours_n_nonnegative"),
        ]

    def __str__(self) -> str:
        return f"{self.annotator_id} in {self.project_id} at {self.hour:%Y-%m-%d %H}:00: {self.n}"


class ProjectLabelTimes(models.Model):
    """Annotation labels per (project, annotator, time spent), times to 3 significant digits (ms below 1 s,
    10 ms below 10 s, ...: finer than the dashboard shows them), kept by the label triggers of migration
    0009_counters_pages: the dashboard's median time per label, read from this histogram."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    annotator = models.ForeignKey(Annotator, on_delete=models.CASCADE, related_name="+", db_index=False)
    ms = models.BigIntegerField()
    n = models.BigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "project label times"
        constraints = [
            models.UniqueConstraint(fields=["project", "annotator", "ms"], name="project_label_times_unique"),
            models.CheckConstraint(condition=models.Q(n__gte=0), name="project_label_times_n_nonnegative"),
        ]

    def __str__(self) -> str:
        return f"{self.annotator_id} in {self.project_id}: {self.n} × {self.ms} ms"


class ProjectFigures(models.Model):
    """Figures computed from every vote of a project (the agreement page's, the curation page's reference scores),
    stored with the signature of the labels they came from (selectors.stored_figures). A large project's pages
    read them instead of loading millions of votes; the curation run writes them again."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    name = models.CharField(max_length=32, help_text='What was computed, e.g. "agreement:auto" or "references".')
    signature = models.CharField(max_length=200, help_text="The project's labels when computed (counts, newest).")
    n_labels = models.BigIntegerField(help_text="Labels of the project when computed.")
    # Written and read only by selectors.stored_figures (never user input): pickled dataclasses of annotation.curation.
    data = models.BinaryField()
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "project figures"
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="project_figures_unique")]

    def __str__(self) -> str:
        return f"{self.name} of {self.project_id} at {self.computed_at:%Y-%m-%d %H:%M}"
