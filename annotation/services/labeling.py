"""Labeling: each use case of the queue has one entry point here, whichever surface drives it.

    queue_next_for_user     take the next item: a lease on it, or the live lease the user holds (page, API)
    queue_next              the same for an annotator in a project (what queue_next_for_user calls)
    label_submit            a person's label on their lease, which it releases (page, API, and the next two)
    label_submit_for_user   POST /api/items/{id}/labels/: on the user's lease of the item, or as an owner
    label_submit_and_next   the task page: label_submit, then queue_next
    assignment_skip         give an item back with a reason (assignment_skip_and_next: the task page)
    assignment_refresh      keep a lease alive while its page is open
    assignments_expire      free the slots of overdue leases
    assignments_end_for_item  end the leases of an item decided meanwhile (services.review)

What the queue shows (`queue_status`, `queue_items`) is read in annotation.selectors.labeling. The label row itself
(validation, counters, the routing check) is `services.labels.label_create`, which review and judge jobs call too.

Rules (issue 3): overlap (human labels wanted per item) is never exceeded, nobody labels an
item twice, items already started come first so items complete, items routed to AI only never
reach a person, a skipped item goes back to the others, and an unanswered lease expires.

Concurrency: the next item is taken with `SELECT … FOR UPDATE SKIP LOCKED` on the item row, and
taking a lease increments `Item.n_leases` in the same transaction, so two annotators never get
the same slot (see the comment on `Item.n_leases`). On SQLite (`make run`) there is no row
locking; SQLite serialises writers instead.
"""
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from ..errors import Conflict, NotFound, PermissionDenied, PrefStudioError
from ..models import Annotator, Assignment, AssignmentStatus, Item, Label, Project, Role
from ..selectors import item_for_user, project_for_user, project_role
from ..selectors.labeling import queue_items
from .accounts import annotator_for_user
from .attention import attention_check_next
from .labels import label_create


# -- next -------------------------------------------------------------------------------------------
def queue_next_for_user(*, user: AbstractBaseUser, slug: str) -> Assignment | None:
    """A lease on the user's next item in project `slug` (their live one if they hold one); None when done.

    NotFound if the user is not a member of the project. Any member may label.
    """
    project = project_for_user(user=user, slug=slug)
    return queue_next(project=project, annotator=annotator_for_user(user=user))


def queue_next(*, project: Project, annotator: Annotator, now: datetime | None = None) -> Assignment | None:
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
        if (check := attention_check_next(project=project, annotator=annotator, now=now)) is not None:
            return check  # an attention check is due (services/attention.py)
        eligible = queue_items(project=project, annotator=annotator).order_by("-n_human_labels", "-priority", "id")
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


# -- submit -----------------------------------------------------------------------------------------
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
    The surfaces find the lease through `selectors.labeling.lease_for_user` first (404 for anyone else's).
    """
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


@transaction.atomic
def label_submit_for_user(
    *, user: AbstractBaseUser, item_id: int, data: dict[str, Any], idempotency_key: str | None = None
) -> Label:
    """A label by the user's own annotator on an item of one of their projects (POST /api/items/{id}/labels/).

    A person's label goes through the labeling queue, which keeps the project's overlap: a user who holds a
    live lease on the item labels it on that lease (`label_submit`, which releases it). Without a lease only
    the project's owners may label directly (a correction, a seed label), and only while the item still
    wants human labels: its human labels plus the live leases of others must stay under the overlap,
    checked under the item's row lock, which `queue_next` and `label_create` take too, so concurrent requests
    cannot overshoot it together. Anyone else gets PermissionDenied naming the queue's endpoints; an item
    that is full is Conflict. Judges and imports have their own paths (`label_create`, the importer).

    Idempotent: a retry with the same `idempotency_key` returns the label the first call stored, whichever
    path stored it. An item outside the user's projects is NotFound. All or nothing: a rejected label does
    not even leave the user's annotator behind.
    """
    item = item_for_user(user=user, item_id=item_id)
    annotator = annotator_for_user(user=user)
    if idempotency_key:
        replay = Label.objects.filter(idempotency_key=idempotency_key, item=item, annotator=annotator).first()
        if replay is not None:
            return replay
    now = timezone.now()
    lease = Assignment.objects.filter(
        item=item, annotator=annotator, status=AssignmentStatus.ACTIVE, expires_at__gt=now
    ).first()
    if lease is not None:
        return label_submit(assignment_id=lease.pk, annotator=annotator, data=data, idempotency_key=idempotency_key,
                            now=now)
    project = item.project
    if project_role(user=user, slug=project.slug) != Role.OWNER:
        raise PermissionDenied(
            f"label items of project {project.slug!r} through the queue: POST /api/projects/{project.slug}/next/ "
            "gives you a lease, then POST /api/assignments/{id}/submit/ (or this endpoint, while you hold the "
            "lease); only the project's owners may label an item directly",
            field="item",
        )
    assignments_expire(project=project, now=now)  # a lease that ran out no longer holds a slot
    locked = Item.objects.select_for_update().get(pk=item.pk)
    if locked.n_human_labels + locked.n_leases >= project.overlap:
        raise Conflict(
            f"item {item.pk} has the {project.overlap} human label(s) the project wants (overlap), counting "
            f"{locked.n_leases} handed out to annotators; raise the project's overlap to add more",
            field="item",
        )
    return label_create(item=locked, annotator=annotator, data=data, idempotency_key=idempotency_key)


def label_submit_and_next(
    *, lease: Assignment, data: dict, idempotency_key: str | None = None
) -> tuple[Label, Assignment | None]:
    """Submit the label for `lease` (a user's own, from `selectors.labeling.lease_for_user`) and
    take the next item. A retried submission returns the first label and the lease taken after it."""
    label = label_submit(
        assignment_id=lease.pk, annotator=lease.annotator, data=data, idempotency_key=idempotency_key
    )
    return label, _next(lease)


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


# -- skip, refresh ----------------------------------------------------------------------------------
def assignment_skip(
    *, assignment_id: int, annotator: Annotator, reason: str, now: datetime | None = None
) -> Assignment:
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


def assignment_skip_and_next(*, lease: Assignment, reason: str) -> Assignment | None:
    """Give `lease` back with a reason and take the next item (None when nothing is left)."""
    assignment_skip(assignment_id=lease.pk, annotator=lease.annotator, reason=reason)
    return _next(lease)


def assignment_refresh(*, assignment_id: int, annotator: Annotator, now: datetime | None = None) -> Assignment:
    """Extend a live lease while its page is open."""
    now = now or timezone.now()
    with transaction.atomic():
        assignment = _live_lease(assignment_id=assignment_id, annotator=annotator, now=now)
        assignment.expires_at = now + timedelta(minutes=assignment.item.project.lease_minutes)
        assignment.save(update_fields=["expires_at"])
    return assignment


# -- leases -----------------------------------------------------------------------------------------
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


def _release_slot(item_id: int) -> None:
    Item.objects.filter(pk=item_id).update(n_leases=Greatest(F("n_leases") - 1, 0), updated_at=timezone.now())


def _next(lease: Assignment) -> Assignment | None:
    project = Project.objects.get(pk=lease.item.project_id)
    return queue_next(project=project, annotator=lease.annotator)


__all__ = [
    "assignment_refresh",
    "assignment_skip",
    "assignment_skip_and_next",
    "assignments_end_for_item",
    "assignments_expire",
    "label_submit",
    "label_submit_and_next",
    "label_submit_for_user",
    "queue_next",
    "queue_next_for_user",
]
