"""The labeling queue: handing out items to annotators under leases, and taking them back.

Rules (issue 3): overlap (human labels wanted per item) is never exceeded, nobody labels an
item twice, items already started come first so items complete, items routed to AI only never
reach a person, a skipped item goes back to the others, and an unanswered lease expires.

Concurrency: the next item is taken with `SELECT … FOR UPDATE SKIP LOCKED` on the item row, and
taking a lease increments `Item.n_leases` in the same transaction, so two annotators never get
the same slot (see the comment on `Item.n_leases`). On SQLite (`make run`) there is no row
locking; SQLite serialises writers instead.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Sum
from django.db.models.functions import Greatest
from django.utils import timezone

from ..errors import Conflict, NotFound, PrefStudioError
from ..models import Annotator, Assignment, AssignmentStatus, Item, ItemState, Label, Project, Route

# Items in these states still want human labels; later ones are decided.
OPEN_STATES = (ItemState.NEW, ItemState.JUDGED, ItemState.ROUTED, ItemState.LABELING)


def _eligible(*, project: Project, annotator: Annotator):
    """Open items of the project this annotator may still label, with a free slot."""
    labeled = Label.objects.filter(item=OuterRef("pk"), annotator=annotator)
    declined = Assignment.objects.filter(
        item=OuterRef("pk"), annotator=annotator, status__in=[AssignmentStatus.SKIPPED, AssignmentStatus.ACTIVE]
    )
    return (
        Item.objects.filter(project=project, state__in=OPEN_STATES)
        .exclude(route=Route.AI)
        .alias(load=F("n_human_labels") + F("n_leases"))
        .filter(load__lt=project.overlap)
        .filter(~Exists(labeled), ~Exists(declined))
    )


def assignments_expire(*, project: Project, now: datetime | None = None) -> int:
    """Mark the project's overdue leases expired and free their slots. Returns how many."""
    now = now or timezone.now()
    with transaction.atomic():
        overdue = list(
            Assignment.objects.select_for_update(skip_locked=True)
            .filter(item__project=project, status=AssignmentStatus.ACTIVE, expires_at__lte=now)
            .values_list("id", "item_id")
        )
        if not overdue:
            return 0
        Assignment.objects.filter(pk__in=[pk for pk, _ in overdue]).update(
            status=AssignmentStatus.EXPIRED, released_at=now
        )
        for _, item_id in overdue:
            _release_slot(item_id)
    return len(overdue)


def assignments_end_for_item(*, item_id: int, now: datetime | None = None) -> int:
    """End every live lease of an item that was decided meanwhile (e.g. made final by a reviewer).

    The leases become expired and the item's slots free; their holders get the usual clear
    "no longer yours" answer when they submit. Call inside the transaction that decided the item.
    """
    now = now or timezone.now()
    ended = Assignment.objects.filter(item_id=item_id, status=AssignmentStatus.ACTIVE).update(
        status=AssignmentStatus.EXPIRED, released_at=now
    )
    if ended:
        Item.objects.filter(pk=item_id).update(n_leases=0, updated_at=now)
    return ended


def _release_slot(item_id: int) -> None:
    Item.objects.filter(pk=item_id).update(n_leases=Greatest(F("n_leases") - 1, 0), updated_at=timezone.now())


def item_next(*, project: Project, annotator: Annotator, now: datetime | None = None) -> Assignment | None:
    """The annotator's live lease in the project, or a new lease on the next item; None when done."""
    now = now or timezone.now()
    assignments_expire(project=project, now=now)
    with transaction.atomic():
        # One request per annotator at a time: two tabs must not take two slots.
        Annotator.objects.select_for_update().filter(pk=annotator.pk).first()
        live = (
            Assignment.objects.select_related("item")
            .filter(annotator=annotator, item__project=project, status=AssignmentStatus.ACTIVE, expires_at__gt=now)
            .order_by("created_at")
            .first()
        )
        if live is not None:
            return live
        eligible = _eligible(project=project, annotator=annotator).order_by("-n_human_labels", "-priority", "id")
        item = eligible.select_for_update(skip_locked=True, of=("self",)).first()
        if item is None:
            # SKIP LOCKED also skips rows that are only busy for a moment (another annotator taking
            # a slot, a label being recorded), so "none free now" is not "none left". Wait for them:
            # PostgreSQL re-checks the slot count on the row once its lock is released.
            item = eligible.select_for_update(of=("self",)).first()
        if item is None:
            return None
        Item.objects.filter(pk=item.pk).update(n_leases=F("n_leases") + 1, updated_at=now)
        return Assignment.objects.create(
            item=item, annotator=annotator, expires_at=now + timedelta(minutes=project.lease_minutes)
        )


def _live_lease(*, assignment_id: int, annotator: Annotator, now: datetime) -> Assignment:
    """Lock and return the annotator's still-valid lease, or raise a clear error."""
    assignment = (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("item", "item__project")
        .filter(pk=assignment_id, annotator=annotator)
        .first()
    )
    if assignment is None:
        raise NotFound(f"no assignment {assignment_id} of yours", field="assignment")
    if assignment.status != AssignmentStatus.ACTIVE:
        raise Conflict(f"this item is no longer yours to label (its lease was {assignment.status})", field="assignment")
    if assignment.expires_at <= now:
        raise Conflict("your lease on this item expired; take the next item", field="assignment")
    return assignment


def assignment_refresh(*, assignment_id: int, annotator: Annotator, now: datetime | None = None) -> Assignment:
    """Extend a live lease while its page is open."""
    now = now or timezone.now()
    with transaction.atomic():
        assignment = _live_lease(assignment_id=assignment_id, annotator=annotator, now=now)
        assignment.expires_at = now + timedelta(minutes=assignment.item.project.lease_minutes)
        assignment.save(update_fields=["expires_at"])
    return assignment


def assignment_skip(*, assignment_id: int, annotator: Annotator, reason: str, now: datetime | None = None) -> Assignment:
    """Give an item back with a reason; it returns to the queue for others, not for this annotator."""
    now = now or timezone.now()
    if not reason.strip():
        raise PrefStudioError("say why you skip this item", field="reason")
    with transaction.atomic():
        assignment = _live_lease(assignment_id=assignment_id, annotator=annotator, now=now)
        assignment.status = AssignmentStatus.SKIPPED
        assignment.skip_reason = reason.strip()
        assignment.released_at = now
        assignment.save(update_fields=["status", "skip_reason", "released_at"])
        _release_slot(assignment.item_id)
    return assignment


def _replayed(*, idempotency_key: str | None, assignment_id: int, annotator: Annotator) -> Label | None:
    """The label an earlier submission with this key stored for this lease, if any."""
    if not idempotency_key:
        return None
    earlier = Label.objects.filter(idempotency_key=idempotency_key).first()
    if earlier is None:
        return None
    same_lease = Assignment.objects.filter(pk=assignment_id, annotator=annotator, item_id=earlier.item_id)
    if earlier.annotator_id != annotator.pk or not same_lease.exists():
        raise Conflict("this submission key was already used for another label", field="idempotency_key")
    return earlier


def label_submit(
    *,
    assignment_id: int,
    annotator: Annotator,
    data: dict,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Label:
    """Store the annotator's label for a leased item and release the lease.

    Idempotent: a retried submission with the same `idempotency_key` returns the label stored
    the first time, even though the lease is gone by then, and so does one that ran at the same
    time (a double click): it waits for the lease lock, finds the lease submitted, and looks again.
    """
    from .labels import label_create

    now = now or timezone.now()
    earlier = _replayed(idempotency_key=idempotency_key, assignment_id=assignment_id, annotator=annotator)
    if earlier is not None:
        return earlier
    with transaction.atomic():
        try:
            assignment = _live_lease(assignment_id=assignment_id, annotator=annotator, now=now)
        except Conflict:
            # READ COMMITTED: this query sees what the request that held the lock committed.
            earlier = _replayed(idempotency_key=idempotency_key, assignment_id=assignment_id, annotator=annotator)
            if earlier is not None:
                return earlier
            raise
        label = label_create(item=assignment.item, annotator=annotator, data=data, idempotency_key=idempotency_key)
        assignment.status = AssignmentStatus.SUBMITTED
        assignment.released_at = now
        assignment.save(update_fields=["status", "released_at"])
        _release_slot(assignment.item_id)
    return label


@dataclass(frozen=True)
class QueueStatus:
    mine_left: int  # items this annotator could still be given
    project_left: int  # human labels the project still wants (slots), over all annotators
    mine_done: int  # labels this annotator gave in the project


def queue_status(*, project: Project, annotator: Annotator) -> QueueStatus:
    open_items = Item.objects.filter(project=project, state__in=OPEN_STATES).exclude(route=Route.AI)
    wanted = open_items.filter(n_human_labels__lt=project.overlap).aggregate(
        left=Sum(project.overlap - F("n_human_labels"))
    )["left"]
    return QueueStatus(
        mine_left=_eligible(project=project, annotator=annotator).count(),
        project_left=int(wanted or 0),
        mine_done=Label.objects.filter(item__project=project, annotator=annotator).count(),
    )


__all__ = [
    "OPEN_STATES",
    "QueueStatus",
    "assignment_refresh",
    "assignment_skip",
    "assignments_end_for_item",
    "assignments_expire",
    "item_next",
    "label_submit",
    "queue_status",
]
