"""The review queue a page at a time: which items need a person is decided in SQL, reasons only for a page.

`review_queue` (selectors/review.py) builds every entry, which is fine for a few thousand items; with a
million items and a fifth of them disputed it loaded hundreds of thousands of items to show 50. Here the
queue is a lazy sequence that Django's Paginator (and DRF's pagination, which uses it) can slice: its
length is one SQL count and a slice loads just those items and their reasons. The items it lists are
those the REASON_SOURCES give reasons for, found by SQL versions of the same tests (`_queued_ids`). The
SQL test of a disagreement compares rankings as text, so a listwise item whose rankings differ only in
the order inside a tie group passes it; the listwise items it finds are checked exactly (in Python, as
the reason source does) and those without a reason left out. A new reason source must add its SQL test here too.

On PostgreSQL the test is kept per item by triggers (migration 0009_counters_pages: `Item.queued` from the
item's state, its flags and its people's distinct verdicts), so a page is an index range of `item_queued_idx`
and the length a sum over `ProjectItemCounts`: no label is read. Elsewhere (SQLite) the labels are grouped.
"""
from collections.abc import Sequence
from typing import overload

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q, QuerySet

from ..models import Item, ItemFlag, ItemState, Project, TaskKind
from . import counters
from .identities import AnnotatorNames, annotator_names_for
from .review import (
    DECIDED_STATES,
    ReviewQueueEntry,
    _human_annotations,
    _rendered,
    disagreement_verdict,
    project_for_reviewer,
    review_reasons,
)


def _queued_ids(project: Project) -> QuerySet:
    """Ids of the project's undecided items that some reason source would list, oldest first (SQL only)."""
    if counters.kept():
        return Item.objects.filter(project=project, queued=True).order_by("pk").values_list("pk", flat=True)
    undecided = Item.objects.filter(project=project).exclude(state__in=DECIDED_STATES)
    disputed = (
        _human_annotations()
        .filter(item__project=project, item__n_human_labels__gte=2)
        .exclude(item__kind=TaskKind.EDIT)
        .values("item_id")
        .annotate(verdicts=Count(disagreement_verdict(), distinct=True))
        .filter(verdicts__gte=2)
        .values("item_id")
    )
    flagged = ItemFlag.objects.filter(item__project=project).values("item_id")
    return (
        undecided.filter(Q(pk__in=disputed) | Q(pk__in=flagged) | Q(state=ItemState.IN_REVIEW))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


class ReviewQueue(Sequence):
    """The project's review queue as a sequence: len() is a count, a slice one page of entries."""

    def __init__(self, project: Project, names: AnnotatorNames | None = None) -> None:
        self.project = project
        self.names = names
        ids = _queued_ids(project)
        self._count: int | None = None
        kept = counters.kept()
        # The SQL test may be wrong about listwise items: those are checked here (the counters say if any).
        listwise = [] if kept and not counters.item_counts(project=project, by="kind", queued=True).get(
            TaskKind.LISTWISE) else list(ids.filter(kind=TaskKind.LISTWISE))
        wrong = []
        if listwise:
            reasons = review_reasons(items=Item.objects.filter(pk__in=listwise))
            wrong = [pk for pk in listwise if pk not in reasons]
            ids = ids.exclude(pk__in=wrong) if wrong else ids
        if kept:
            self._count = sum(counters.item_counts(project=project, by="queued", queued=True).values()) - len(wrong)
        self._ids = ids

    def count(self) -> int:
        if self._count is None:
            self._count = self._ids.count()
        return self._count

    def __len__(self) -> int:
        return self.count()

    @overload
    def __getitem__(self, index: int) -> ReviewQueueEntry: ...

    @overload
    def __getitem__(self, index: slice) -> list[ReviewQueueEntry]: ...

    def __getitem__(self, index):
        if isinstance(index, int):
            entries = self[index:index + 1]
            if not entries:
                raise IndexError(index)
            return entries[0]
        ids = list(self._ids[index])
        items = Item.objects.filter(pk__in=ids)
        reasons = review_reasons(items=items)
        entries = []
        for item in items.select_related("project", "prompt").prefetch_related("flags").order_by("pk"):
            found = reasons.get(item.pk)
            if found:
                entries.append(ReviewQueueEntry(
                    item=item, reasons=found if self.names is None else _rendered(found, self.names)
                ))
        return entries


def review_queue_count(*, project: Project) -> int:
    """How many items the review queue holds (one SQL count)."""
    return ReviewQueue(project).count()


def review_queue_pages_for_user(*, user: AbstractBaseUser, slug: str) -> tuple[Project, ReviewQueue]:
    """The queue of a project the user owns or reviews, lazily, reasons naming annotators as the user may see them."""
    project = project_for_reviewer(user=user, slug=slug)
    return project, ReviewQueue(project, names=annotator_names_for(project=project, user=user))
