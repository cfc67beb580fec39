"""Figures computed from every vote of a project, stored for the pages of large projects (issue 16 item 4).

The agreement page and the curation page's reference scores load every vote of the project (3M at a million
items: seconds of work). Here each result is stored (models.ProjectFigures) with the signature of the labels
it came from: the trigger-kept ProjectAnnotatorStats rows (labels per annotator and role, the newest one's time),
so a new, deleted or moved label changes it. A page reads the stored result when the signature still matches;
otherwise it computes again, unless the project has more than LIVE_LABELS labels and a stored result exists:
then it shows that one, with what changed since (`Staleness`), until `manage.py agreement <project>` computes
it again. A large project with nothing stored yet is not computed by a page either (12 s and ~750 MB of the web
worker's memory at a million items): the page passes `background`, which asks a worker to compute it
(services.figures, the `annotation.figures_refresh` task, also sent after a large import), and shows `Pending`
until it is stored. Not seen by the signature:
a verdict edited in place and a reference changed on an item of a large project; both are rare (the labeling
services add labels, reviews add REVIEW labels) and `manage.py agreement` refreshes the figures. (A small
project's signature also covers its items' references.)
"""
from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from django.db import OperationalError, connection, transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone

from ..models import Item, Label, Project, ProjectAnnotatorStats, ProjectFigures

__all__ = ["LIVE_LABELS", "Pending", "Staleness", "figures_read", "figures_signature", "figures_store"]

# Up to this many labels a stale result is computed again while the page waits (~1 s of work at 200k labels);
# above it the page shows the stored one.
LIVE_LABELS = 200_000

T = TypeVar("T")


@dataclass(frozen=True)
class Staleness:
    computed_at: datetime
    n_labels_then: int
    n_labels_now: int


def figures_signature(project: Project) -> tuple[str, int]:
    """(signature of the project's labels, how many there are): a few stats rows on PostgreSQL."""
    if connection.vendor == "postgresql":
        rows = ProjectAnnotatorStats.objects.filter(project=project, n__gt=0)
        found = rows.aggregate(keys=Count("id"), n=Sum("n"), last=Max("last_at"), first=Max("first_label_id"))
    else:  # SQLite (`make run`): no stats kept; its projects are small
        found = Label.objects.filter(item__project=project).aggregate(
            keys=Count("annotator_id", distinct=True), n=Count("id"), last=Max("created_at"), first=Max("id"))
    n = int(found["n"] or 0)
    last = found["last"].isoformat() if found["last"] else "-"
    signature = f"{found['keys']}:{n}:{last}:{found['first'] or 0}:{project.reference_use}"
    if n <= LIVE_LABELS:  # a small project's references too (a read of its items: cheap at this size)
        # A sum of per-item digests: no ORDER BY, which made PostgreSQL walk the primary key of every project's
        # items (4-5 s for a 10k project in a database holding a 1M one) instead of this project's index.
        refs = Item.objects.filter(project=project, reference__isnull=False).order_by()
        digest = 0
        for pk, reference in refs.values_list("pk", "reference").iterator(chunk_size=5_000):
            one = hashlib.blake2b(f"{pk}:{json.dumps(reference, sort_keys=True)}".encode(), digest_size=8)
            digest = (digest + int.from_bytes(one.digest(), "big")) % 2**64
        signature += f":{digest:016x}"
    return signature, n


def figures_store(*, project: Project, name: str, value: object, signed: tuple[str, int] | None = None) -> None:
    """Store `value` (pickled: our own dataclasses, never user input) as the project's figures `name`, signed
    `signed` (figures_signature() taken before the votes were read) or with the labels as they are now."""
    signature, n = signed or figures_signature(project)
    ProjectFigures.objects.update_or_create(project=project, name=name, defaults={
        "signature": signature, "n_labels": n, "data": pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL),
        "computed_at": timezone.now()})


@dataclass(frozen=True)
class Pending:
    """Nothing stored yet for a large project: a worker was asked to compute the figures of `n_labels` labels."""

    n_labels: int


def figures_read(*, project: Project, name: str, compute: Callable[[], T], fresh: bool = False,
                 background: Callable[[], None] | None = None) -> tuple[T | None, Staleness | Pending | None]:
    """The project's figures `name`: stored if still current, else `compute()`d and stored; for a project of more
    than LIVE_LABELS labels a stored result that is no longer current is returned as it is, with its Staleness.
    `fresh`: compute and store whatever is stored (`manage.py agreement`). `background`: for a project of more
    than LIVE_LABELS labels with nothing stored, called (it asks a worker) instead of computing here; the result
    is then (None, Pending)."""
    signature, n = figures_signature(project)
    row = None if fresh else ProjectFigures.objects.filter(project=project, name=name).first()
    if row is not None and (row.signature == signature or n > LIVE_LABELS):
        stale = None if row.signature == signature else Staleness(row.computed_at, row.n_labels, n)
        return pickle.loads(bytes(row.data)), stale
    if row is None and background is not None and n > LIVE_LABELS and not fresh:
        background()
        return None, Pending(n)
    value = compute()
    _store_if_free(project=project, name=name, value=value, signed=(signature, n))
    return value, None


def _store_if_free(*, project: Project, name: str, value: object, signed: tuple[str, int]) -> None:
    """figures_store for a page: a curation run holds its project's row (SELECT ... FOR UPDATE) until it commits,
    and the stored row's foreign-key check would wait for it; the page does not wait (a later view stores them)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        figures_store(project=project, name=name, value=value, signed=signed)
        return
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '200ms'")
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the foreign-key check now, under the timeout
            figures_store(project=project, name=name, value=value, signed=signed)
    except OperationalError:  # lock_timeout: the project is busy
        pass
