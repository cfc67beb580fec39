"""Reads of the trigger-kept counters (models.stats; migration 0009_counters_pages): a few rows per project
instead of counting its items or labels. PostgreSQL only: on SQLite (`make run`) nothing keeps them, and
`kept()` tells the callers to count the rows themselves.
"""
from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime

from django.db import connection
from django.db.models import Sum

from ..models import Project, ProjectItemCounts, ProjectLabelHours, ProjectLabelTimes

__all__ = ["kept", "item_counts", "label_hours", "label_median_ms", "ms_bucket"]


def kept() -> bool:
    """Whether the database keeps the counters (PostgreSQL's triggers)."""
    return connection.vendor == "postgresql"


def item_counts(*, project: Project, by: str, **where) -> dict:
    """The project's items counted by `by` ("state", "route", "kind" or "queued"), e.g. {"new": 10, ...}."""
    rows = (ProjectItemCounts.objects.filter(project=project, **where).values_list(by)
            .annotate(total=Sum("n")).order_by())
    return {key: int(total) for key, total in rows if total}


def label_hours(*, project: Project, since: datetime) -> list[tuple[datetime, str, int]]:
    """(UTC hour, annotator kind, annotation labels) from `since` on."""
    rows = (ProjectLabelHours.objects.filter(project=project, hour__gte=since, n__gt=0)
            .values_list("hour", "annotator__kind").annotate(total=Sum("n")).order_by())
    return [(hour, kind, int(total)) for hour, kind, total in rows]


def ms_bucket(ms: int) -> int:
    """Time spent to 3 significant digits, as annotation_ms_bucket() in SQL stores it (exact below 1 s)."""
    if ms < 1000:
        return ms
    digits = 2 - int(math.floor(math.log10(ms)))
    return int(round(ms, digits)) if digits >= 0 else int(_round_half_away(ms, -digits))


def _round_half_away(value: int, places: int) -> int:
    """PostgreSQL's round(numeric, -places): halves away from zero (Python's round() goes to even)."""
    unit = 10 ** places
    return (value + unit // 2) // unit * unit


def label_median_ms(*, project: Project) -> dict[int, float]:
    """{annotator_id: median time per annotation label (ms)} from the histogram of times (3 significant digits),
    the median of two middle values their mean, as statistics.median."""
    counts: dict[int, list[tuple[int, int]]] = defaultdict(list)
    rows = (ProjectLabelTimes.objects.filter(project=project, n__gt=0)
            .order_by("annotator_id", "ms").values_list("annotator_id", "ms", "n"))
    for annotator_id, ms, n in rows:
        counts[annotator_id].append((ms, n))
    return {annotator_id: _median(pairs) for annotator_id, pairs in counts.items()}


def _median(pairs: list[tuple[int, int]]) -> float:
    """Median of a sorted histogram [(value, count), ...]."""
    total = sum(n for _, n in pairs)
    wanted = [(total - 1) // 2, total // 2]  # 0-based ranks of the middle value(s)
    found, seen = [], 0
    for value, n in pairs:
        while wanted and wanted[0] < seen + n:
            found.append(value)
            wanted.pop(0)
        seen += n
    return (found[0] + found[1]) / 2
