"""Reads for a project's dashboard: items by state, labels per hour, and per-annotator progress.

Counts are of annotation labels (role=annotation), people's and judges' alike; reviewers'
resolutions are counted apart, as `n_resolved`.
"""
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from ..models import AnnotatorKind, Item, ItemState, Label, LabelRole, Project, ProjectAnnotatorStats
from . import counters
from .identities import AnnotatorNames, annotator_names_for
from .review import duration_text, project_for_reviewer
from .review_queue import review_queue_count

DEFAULT_DAYS = 7  # the window of the labels-per-hour chart: one working week at a glance


@dataclass(frozen=True)
class AnnotatorProgress:
    name: str
    kind: str  # AnnotatorKind
    labels: int
    share: float  # labels / items of the project, 0..1 (an annotator labels an item at most once)
    median_ms: float | None  # median time per label; None when no label recorded its time
    last_at: datetime

    @property
    def is_judge(self) -> bool:
        return self.kind == AnnotatorKind.JUDGE

    @property
    def median_time(self) -> str:
        return "" if self.median_ms is None else duration_text(round(self.median_ms))


@dataclass(frozen=True)
class ProjectDashboard:
    project: Project
    n_items: int
    n_human_labels: int
    n_judge_labels: int
    n_resolved: int  # reviewers' resolutions
    n_review_queue: int
    states: list[tuple[str, str, int]]  # (state, its label, items), every state in workflow order
    hours: list[tuple[datetime, int, int]]  # (start of the hour, human labels, judge labels), oldest first
    annotators: list[AnnotatorProgress]  # most labels first

    @property
    def has_recent_labels(self) -> bool:
        return any(human or judge for _, human, judge in self.hours)

    def chart_data(self) -> dict[str, Any]:
        """What static/js/dashboard.js draws, as JSON-able lists."""
        return {
            "states": {"labels": [label for _, label, _ in self.states], "values": [n for _, _, n in self.states]},
            "hours": {
                "labels": [timezone.localtime(hour).strftime("%a %d %b %H:00") for hour, _, _ in self.hours],
                "human": [human for _, human, _ in self.hours],
                "judge": [judge for _, _, judge in self.hours],
            },
            "annotators": {
                "labels": [a.name for a in self.annotators],
                "values": [a.labels for a in self.annotators],
                "judge": [a.is_judge for a in self.annotators],
            },
        }


def _hours(*, project: Project, labels, now: datetime, days: int) -> list[tuple[datetime, int, int]]:
    """Label counts per hour (in the current time zone) over the last `days`, empty hours included.

    On PostgreSQL read from the trigger-kept UTC hours (counters.label_hours): the same hours wherever the time
    zone is a whole number of hours from UTC; elsewhere an hour's labels are those of the UTC hour it starts in."""
    end = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days) + timedelta(hours=1)
    counts: dict[datetime, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if counters.kept():
        for hour, kind, n in counters.label_hours(project=project, since=start):
            counts[timezone.localtime(hour).replace(minute=0)][kind] += n
    else:
        rows = (
            labels.filter(created_at__gte=start)
            .annotate(hour=TruncHour("created_at", tzinfo=timezone.get_current_timezone()))
            .values("hour", "annotator__kind")
            .annotate(n=Count("id"))
            .order_by()
        )
        for row in rows:
            counts[row["hour"]][row["annotator__kind"]] = row["n"]
    hours = []
    for i in range(days * 24):
        hour = start + timedelta(hours=i)
        found = counts.get(hour, {})
        hours.append((hour, found.get(AnnotatorKind.HUMAN, 0), found.get(AnnotatorKind.JUDGE, 0)))
    return hours


def _annotators(*, project: Project, labels, n_items: int, names: AnnotatorNames | None,
                rows=None) -> list[AnnotatorProgress]:
    """Per annotator: labels, share of the items, median time per label, last label. `rows`: those counts
    already grouped (annotator_id, annotator__name, annotator__kind, n, last, first), e.g. from the stats."""
    if rows is None:
        rows = (
            labels.values("annotator_id", "annotator__name", "annotator__kind")
            .annotate(n=Count("id"), last=Max("created_at"), first=Min("id"))
        )
    rows = rows.order_by("-n", "first")  # not by name: in a blind project the order would hint at who is who
    if counters.kept():  # the median of the trigger-kept histogram of times: a few rows per annotator
        medians = counters.label_median_ms(project=project)
    else:  # in Python: SQLite (`make run`) has no percentile aggregate, and its projects are small
        times: dict[int, list[int]] = defaultdict(list)
        timed = labels.filter(time_spent_ms__isnull=False).values_list("annotator_id", "time_spent_ms")
        for annotator_id, ms in timed:
            times[annotator_id].append(ms)
        medians = {pk: statistics.median(found) for pk, found in times.items()}
    progress = []
    for row in rows:
        name = row["annotator__name"] if names is None else names.name(row["annotator_id"])
        progress.append(
            AnnotatorProgress(
                name=name,
                kind=row["annotator__kind"],
                labels=row["n"],
                share=row["n"] / n_items if n_items else 0.0,
                median_ms=medians.get(row["annotator_id"]),
                last_at=row["last"],
            )
        )
    return progress


def project_dashboard(
    *, project: Project, names: AnnotatorNames | None = None, now: datetime | None = None, days: int = DEFAULT_DAYS
) -> ProjectDashboard:
    """The dashboard; annotators named by `names` (a viewer's, see selectors.identities), or by name if None."""
    now = now or timezone.now()
    if counters.kept():
        by_state = counters.item_counts(project=project, by="state")
    else:
        by_state = dict(Item.objects.filter(project=project).values_list("state").annotate(n=Count("id")).order_by())
    labels = Label.objects.filter(item__project=project)
    annotations = labels.filter(role=LabelRole.ANNOTATION)
    n_items = sum(by_state.values())
    if connection.vendor == "postgresql":  # the trigger-kept counts (models.stats): a few rows, not every label
        stats = ProjectAnnotatorStats.objects.filter(project=project, n__gt=0)
        totals = stats.aggregate(
            human=Sum("n", filter=Q(role=LabelRole.ANNOTATION, annotator__kind=AnnotatorKind.HUMAN), default=0),
            judge=Sum("n", filter=Q(role=LabelRole.ANNOTATION, annotator__kind=AnnotatorKind.JUDGE), default=0),
            resolved=Sum("n", filter=Q(role=LabelRole.REVIEW), default=0),
        )
        progress = (stats.filter(role=LabelRole.ANNOTATION)
                    .values("annotator_id", "annotator__name", "annotator__kind")
                    .annotate(n=Sum("n"), last=Max("last_at"), first=Min("first_label_id")))
    else:
        totals = annotations.aggregate(
            human=Count("id", filter=Q(annotator__kind=AnnotatorKind.HUMAN)),
            judge=Count("id", filter=Q(annotator__kind=AnnotatorKind.JUDGE)),
        )
        totals["resolved"] = labels.filter(role=LabelRole.REVIEW).count()
        progress = None
    return ProjectDashboard(
        project=project,
        n_items=n_items,
        n_human_labels=totals["human"],
        n_judge_labels=totals["judge"],
        n_resolved=totals["resolved"],
        n_review_queue=review_queue_count(project=project),
        states=[(value, label, by_state.get(value, 0)) for value, label in ItemState.choices],
        hours=_hours(project=project, labels=annotations, now=now, days=days),
        annotators=_annotators(project=project, labels=annotations, n_items=n_items, names=names, rows=progress),
    )


def project_dashboard_for_user(*, user: AbstractBaseUser, slug: str) -> ProjectDashboard:
    """The dashboard of a project the user owns or reviews (NotFound / PermissionDenied otherwise).

    Annotators are named as everywhere else (selectors.identities): pseudonyms in a blind project but for owners.
    """
    project = project_for_reviewer(user=user, slug=slug)
    return project_dashboard(project=project, names=annotator_names_for(project=project, user=user))
