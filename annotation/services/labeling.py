"""Labeling: each use case of the queue has one entry point here, whichever surface drives it.

    queue_next_for_user     take the next item: a lease on it, or the live lease the user holds (page, API)
    queue_next_for_token    the same for an API token's user, the token checked in the same statement (REST)
    queue_next              the same for an annotator in a project (what queue_next_for_user calls)
    label_submit            a person's label on their lease, which it releases (page, API, and the next two)
    label_submit_for_token  POST /api/assignments/{id}/submit/: the token checked in the read of the lease
    label_submit_for_user   POST /api/items/{id}/labels/: on the user's lease of the item, or as an owner
    label_submit_and_next   the task page without JavaScript: label_submit, then queue_next (then a redirect)
    label_submit_and_next_page  the task page with htmx: label_submit, then the next lease with its page's data
    assignment_skip         give an item back with a reason (assignment_skip_and_next: the task page)
    assignment_refresh      keep a lease alive while its page is open
    assignments_expire      free the slots of overdue leases
    assignments_end_for_item  end the leases of an item decided meanwhile (services.review)

What the queue shows (`queue_status`, `queue_items`) is read in annotation.selectors.labeling. The label row itself
(validation, counters, the routing check) is `services.labels.label_create`, which review and judge jobs call too.

Rules (issue 3): overlap (human labels wanted per item) is never exceeded, nobody labels an
item twice, items already started come first so items complete, items routed to AI only never
reach a person, a skipped item goes back to the others, and an unanswered lease expires.

The hot path (issue 13), on PostgreSQL: `queue_next` and `label_submit` are one round trip each to the stored
functions `ps_queue_next` / `ps_label_submit` (annotation/sql/queue.sql, migration 0005_loop_slots). `next` walks
the open slots of the project (annotation.models.queue.QueueSlot, one row per slot, kept by triggers from the items)
with `FOR UPDATE SKIP LOCKED LIMIT 1` on a partial index, instead of sorting the project's items; the counters the
pages and the API show are kept on write. A slot taken increments `Item.n_leases` under the item's row lock, which
re-checks `n_human_labels + n_leases < overlap`, so two annotators never get the same slot. The REST endpoints call
`queue_next_for_api` / `label_submit_for_api`: membership, annotator and lease checks in the same statements.

On SQLite (`make run`) the ORM path below (`_queue_next_orm`, `_label_submit_orm`) is used: there is no row
locking there; SQLite serialises writers instead. Edit labels (which create a Response) also take the ORM path.
"""
import functools
import json
from contextlib import nullcontext
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from ..db import prepared_cursor
from ..errors import Conflict, NotFound, PermissionDenied, PrefStudioError
from ..models import Annotator, Assignment, AssignmentStatus, Item, Label, LabelRole, LabelStatus, Project, Role
from ..models import ReferenceUse, Route, TaskKind
from ..selectors import item_for_user, project_for_user, project_role
from ..selectors.labeling import LeaseContext, LeasePage, lease_context, lease_page_from_next, queue_items
from .accounts import annotator_for_user
from .attention import attention_check_next
from .labels import KEY_LENGTH, _validated, label_create
from .routing import routing_disagreement_check


def _on_postgresql() -> bool:
    return connection.vendor == "postgresql"


class TokenRefused:
    """What the token paths (the REST hot path) return for a token that is not live, or not the lease's user's."""


TOKEN_REFUSED = TokenRefused()


# -- next -------------------------------------------------------------------------------------------
def queue_next_for_user(*, user: AbstractBaseUser, slug: str) -> Assignment | None:
    """A lease on the user's next item in project `slug` (their live one if they hold one); None when done.

    NotFound if the user is not a member of the project. Any member may label.
    """
    project = project_for_user(user=user, slug=slug)
    return queue_next(project=project, annotator=annotator_for_user(user=user))


def queue_next(*, project: Project, annotator: Annotator, now: datetime | None = None) -> Assignment | None:
    """The annotator's live lease in the project, or a new lease on the next item; None when done.

    Every surface enters here (a pre-step, e.g. an attention check, fits before the walk). One statement on
    PostgreSQL (`ps_queue_next`); the returned Assignment is built from its row (its item is `item_id`).
    """
    now = now or timezone.now()
    if not _on_postgresql() or project.reference_use == ReferenceUse.ATTENTION:
        # Attention checks keep their own schedule (services/attention.py), on the ORM path.
        return _queue_next_orm(project=project, annotator=annotator, now=now)
    with prepared_cursor() as cursor:
        cursor.execute(_lease_statement("SELECT assignment_id, item_id, status, expires_at, created_at "
                                        "FROM ps_queue_next(%s, %s, %s)"), [project.pk, annotator.pk, now])
        lease_id, item_id, lease_status, expires_at, created_at = cursor.fetchone()
    if lease_id is None:
        return None
    return Assignment(id=lease_id, item_id=item_id, annotator=annotator, status=lease_status, expires_at=expires_at,
                      created_at=created_at, skip_reason="")


def queue_next_for_api(*, user: AbstractBaseUser, slug: str, now: datetime | None = None) -> dict | None:
    """POST /api/projects/{slug}/next/ in one statement: membership, annotator, lease, the item as the API shows
    it and the queue's counters (`ps_queue_next_for_user`). None when nothing is left; NotFound for a non-member.

    Returns {"assignment", "project", "status", "expires_at", "item", "queue"} with `item` as stored (prompt
    messages as stored; the view shapes them). mine_left is an upper bound (selectors.labeling.queue_status_fast).
    """
    now = now or timezone.now()
    if not _on_postgresql():
        return _queue_next_for_api_orm(user=user, slug=slug, now=now)
    return _next_for_api(sql=_NEXT_FOR_USER_SQL, params=[user.pk, slug, now], slug=slug, now=now,
                         user=lambda _: user)


def queue_next_for_token(*, key: str, slug: str, now: datetime | None = None) -> dict | None | TokenRefused:
    """`queue_next_for_api` for the holder of API token `key`, the token checked in the same statement
    (`ps_queue_next_for_token`: it exists, is younger than API_TOKEN_MAX_AGE, its user is active). TOKEN_REFUSED
    when it is not (the caller answers with DRF's authentication, which says why). PostgreSQL only."""
    now = now or timezone.now()
    return _next_for_api(sql=_NEXT_FOR_TOKEN_SQL, params=[key, slug, now, now - settings.API_TOKEN_MAX_AGE],
                         slug=slug, now=now, user=lambda user_id: get_user_model().objects.get(pk=user_id))


_NEXT_COLUMNS = ("code, project_id, annotator_id, assignment_id, status, expires_at, mine_done, project_left, "
                 "free_items, item")
_NEXT_FOR_USER_SQL = f"SELECT NULL, {_NEXT_COLUMNS} FROM ps_queue_next_for_user(%s, %s, %s)"
_NEXT_FOR_TOKEN_SQL = f"SELECT user_id, {_NEXT_COLUMNS} FROM ps_queue_next_for_token(%s, %s, %s, %s)"


# A lease is committed without waiting for the WAL flush when its statement is a transaction of its own (Django's
# autocommit, outside transaction.atomic), and QUEUE_ASYNC_LEASE_COMMIT is on (the default). The WAL flush was 11 %
# of the loop's CPU (bench/RESULTS.md, *The labeling loop, round 6*), and half the commits take a lease. What a
# crash of PostgreSQL can lose is the leases of its last fraction of a second, whole (lease, slot, item counters and
# cursor are one transaction): their annotators' submit answers 404 and their next call takes another item. No label
# can be lost with them: a label's own commit waits for the flush, and the WAL is flushed in order, so every lease
# a stored label was given is flushed with it. Skips and label writes always wait for the flush.
_ASYNC_COMMIT = ", set_config('synchronous_commit', 'off', true) AS async_commit"


def _lease_statement(sql: str) -> str:
    """`sql` (a SELECT from one of the queue's `next` functions) committed without waiting for the WAL flush when
    it is its own transaction (see above)."""
    if settings.QUEUE_ASYNC_LEASE_COMMIT and connection.get_autocommit() and not connection.in_atomic_block:
        return _with_async_commit(sql)
    return sql


@functools.cache
def _with_async_commit(sql: str) -> str:
    """`sql` with the setting in its FROM list (built once per statement: these are the hot path's)."""
    marker = " FROM ps_queue_next"
    if marker not in sql:
        raise ValueError(f"not a statement of the queue's next functions: {sql!r}")
    return sql.replace(marker, f" FROM (SELECT 1{_ASYNC_COMMIT}) AS commit_mode, ps_queue_next", 1)


def _next_for_api(*, sql: str, params: list, slug: str, now: datetime, user) -> dict | None | TokenRefused:
    """Run one of the two `next` statements and shape its row; `user(user_id)` gives the user for the rare
    paths that need one (first use creates the annotator; attention projects take the ORM path)."""
    sql = _lease_statement(sql)
    for _ in range(2):
        with prepared_cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        user_id, code = row[0], row[1]
        if code == "bad_token":
            return TOKEN_REFUSED
        if code == "not_member":
            raise NotFound(f"no project {slug!r} among yours", field="slug")
        if code == "no_annotator":
            annotator_for_user(user=user(user_id))  # first use: create it, then take the item
            continue
        if code == "attention":  # attention checks keep their own schedule (services/attention.py)
            return _queue_next_for_api_orm(user=user(user_id), slug=slug, now=now)
        break
    _, _, _, _, lease_id, lease_status, expires_at, done, wanted, free, item = row
    if lease_id is None:
        return None
    return {
        "assignment": lease_id, "project": slug, "status": lease_status, "expires_at": expires_at,
        "item": item if isinstance(item, dict) else json.loads(item),
        "queue": {"mine_left": int(free), "mine_done": int(done), "project_left": int(wanted)},
    }


def _queue_next_for_api_orm(*, user: AbstractBaseUser, slug: str, now: datetime) -> dict | None:
    """SQLite (`make run`): the same answer through the ORM (a dozen queries)."""
    from ..selectors.labeling import lease_for_user, queue_status

    project = project_for_user(user=user, slug=slug)
    annotator = annotator_for_user(user=user)
    lease = _queue_next_orm(project=project, annotator=annotator, now=now)
    if lease is None:
        return None
    lease = lease_for_user(user=user, assignment_id=lease.pk)
    item = lease.item
    status = queue_status(project=project, annotator=annotator)
    return {
        "assignment": lease.pk, "project": slug, "status": lease.status, "expires_at": lease.expires_at,
        "item": {
            "id": item.pk, "external_id": item.external_id, "kind": item.kind,
            "prompt": {"id": item.prompt.pk, "external_id": item.prompt.external_id, "messages": item.prompt.messages},
            "responses": [{"position": slot.position, "response": slot.response_id,
                           "external_id": slot.response.external_id, "text": slot.response.text,
                           "model_name": slot.response.model_name} for slot in item.slots.all()],
        },
        "queue": {"mine_left": status.mine_left, "mine_done": status.mine_done, "project_left": status.project_left},
    }


def _queue_next_orm(*, project: Project, annotator: Annotator, now: datetime) -> Assignment | None:
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
    context: LeaseContext | None = None,
) -> Label:
    """Store the annotator's label for a leased item and release the lease.

    Idempotent: a retried submission with the same `idempotency_key` returns the label stored
    the first time, even though the lease is gone by then, and so does one that ran at the same
    time (a double click): it waits for the lease lock, finds the lease submitted, and looks again.
    The surfaces find the lease through `selectors.labeling.lease_for_user` first (404 for anyone else's).
    `context`: the lease as `lease_context` reads it, when the caller read it already (`lease_page`); the write
    re-checks the lease under its lock either way.
    """
    now = now or timezone.now()
    if _on_postgresql():
        if context is None or context.assignment_id != assignment_id or context.annotator.pk != annotator.pk:
            context = lease_context(assignment_id=assignment_id, annotator_id=annotator.pk)
        if context is None:
            raise NotFound(f"no assignment {assignment_id} of yours", field="assignment")
        if context.item.kind != TaskKind.EDIT:
            return _label_submit_sql(context=context, data=data, idempotency_key=idempotency_key, now=now)
    return _label_submit_orm(assignment_id=assignment_id, annotator=annotator, data=data,
                             idempotency_key=idempotency_key, now=now)


def label_submit_for_api(
    *, user: AbstractBaseUser, assignment_id: int, data: dict, idempotency_key: str | None = None
) -> Label:
    """POST /api/assignments/{id}/submit/: the user's own lease (NotFound for anyone else's, or after they left the
    project), read with its item and project in one query, then `label_submit`'s write in one statement.
    The Label returned carries its item (with project.slug) and annotator, so it serialises without a query."""
    now = timezone.now()
    if not _on_postgresql():
        lease = _lease_of(user=user, assignment_id=assignment_id)
        label = label_submit(assignment_id=lease.pk, annotator=lease.annotator, data=data,
                             idempotency_key=idempotency_key, now=now)
        return label
    context = lease_context(assignment_id=assignment_id, user_id=user.pk)
    if context is None:
        raise NotFound(f"no assignment {assignment_id} of yours", field="assignment")
    if context.item.kind == TaskKind.EDIT:
        return _label_submit_orm(assignment_id=assignment_id, annotator=context.annotator, data=data,
                                 idempotency_key=idempotency_key, now=now)
    return _label_submit_sql(context=context, data=data, idempotency_key=idempotency_key, now=now)


def label_submit_for_token(
    *, key: str, assignment_id: int, data: dict, idempotency_key: str | None = None
) -> Label | TokenRefused:
    """`label_submit_for_api` for the holder of API token `key`: the token is checked in the query that reads the
    lease (`lease_context`), so the label costs two statements. TOKEN_REFUSED when the token is not live *or*
    the lease is not the token user's: the caller then answers through the full path (DRF's authentication and
    `label_submit_for_api`), which tells a 401 from a 404. PostgreSQL only."""
    now = timezone.now()
    context = lease_context(assignment_id=assignment_id, token=(key, now - settings.API_TOKEN_MAX_AGE))
    if context is None:
        return TOKEN_REFUSED
    if context.item.kind == TaskKind.EDIT:
        return _label_submit_orm(assignment_id=assignment_id, annotator=context.annotator, data=data,
                                 idempotency_key=idempotency_key, now=now)
    return _label_submit_sql(context=context, data=data, idempotency_key=idempotency_key, now=now)


def _lease_of(*, user: AbstractBaseUser, assignment_id: int) -> Assignment:
    from ..selectors.labeling import lease_for_user

    return lease_for_user(user=user, assignment_id=assignment_id)


_SUBMIT_SQL = (
    "SELECT code, label_id, item_id, kind, created_at FROM ps_label_submit(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
    "%s, %s)"
)


def _label_submit_sql(*, context: LeaseContext, data: dict, idempotency_key: str | None, now: datetime) -> Label:
    """The lease's label in one statement (`ps_label_submit`), checked first by the importer's rules (as
    `label_create`) against the item and project in `context`. A routed item that judges labeled also gets the
    disagreement check, in the same transaction."""
    item, annotator = context.item, context.annotator
    if idempotency_key is not None and (
        not idempotency_key or len(idempotency_key) > KEY_LENGTH or "\x00" in idempotency_key
    ):
        raise PrefStudioError(f"idempotency_key must be 1 to {KEY_LENGTH} characters", field="idempotency_key")
    record = _validated(item=item, annotator=annotator, slots=context.slots, data=data)
    params = [
        context.assignment_id, annotator.pk, now, idempotency_key, record.winner or "", record.strength,
        json.dumps(record.aspects or {}), record.rationale or "",
        None if record.ranking is None else json.dumps(record.ranking), record.thumbs_up,
        json.dumps(record.shown_order or []), record.time_spent_ms,
    ]
    check_routing = item.kind == TaskKind.PAIRWISE and item.route == Route.HUMAN and item.n_judge_labels > 0
    with transaction.atomic() if check_routing else nullcontext():
        with prepared_cursor() as cursor:
            cursor.execute(_SUBMIT_SQL, params)
            code, label_id, _, _, created_at = cursor.fetchone()
        if code == "ok" and check_routing:
            routing_disagreement_check(item=Item.objects.get(pk=item.pk))
    if code == "replay":
        return Label.objects.select_related("item__project", "annotator").get(pk=label_id)
    if code != "ok":
        raise _submit_error(code, context)
    return Label(
        id=label_id, item=item, annotator=annotator, kind=item.kind, role=LabelRole.ANNOTATION, status=LabelStatus.OK,
        winner=record.winner or "", strength=record.strength, aspects=record.aspects or {},
        rationale=record.rationale or "", ranking=record.ranking, thumbs_up=record.thumbs_up,
        shown_order=record.shown_order or [], time_spent_ms=record.time_spent_ms, raw_output="",
        idempotency_key=idempotency_key, created_at=created_at,
    )


def _submit_error(code: str, context: LeaseContext) -> PrefStudioError:
    if code == "not_found":
        return NotFound(f"no assignment {context.assignment_id} of yours", field="assignment")
    if code.startswith("inactive:"):
        was = code.split(":", 1)[1]
        return Conflict(f"this item is no longer yours to label (its lease was {was})", field="assignment")
    if code == "expired":
        return Conflict("your lease on this item expired; take the next item", field="assignment")
    if code == "key_conflict":
        return Conflict("this submission key was already used for another label", field="idempotency_key")
    if code == "already":
        return Conflict(f"{context.annotator.name} has already labeled item {context.item.pk}", field="item")
    return Conflict(f"item {context.item.pk} is closed and takes no more labels", field="item")


def _label_submit_orm(
    *, assignment_id: int, annotator: Annotator, data: dict, idempotency_key: str | None, now: datetime
) -> Label:
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
    *, lease: Assignment, data: dict, idempotency_key: str | None = None, context: LeaseContext | None = None
) -> tuple[Label, Assignment | None]:
    """Submit the label for `lease` (a user's own, from `selectors.labeling.lease_for_user` or `lease_page`, which
    also gives `context`) and take the next item. A retried submission returns the first label and the lease
    taken after it."""
    label = label_submit(
        assignment_id=lease.pk, annotator=lease.annotator, data=data, idempotency_key=idempotency_key,
        context=context,
    )
    return label, _next(lease)


def label_submit_and_next_page(
    *, user: AbstractBaseUser, page: LeasePage, data: dict, idempotency_key: str | None = None
) -> tuple[Label, LeasePage | None]:
    """The task page's submit in one request (htmx): `label_submit` on `page.lease` (the user's own, read by
    `selectors.labeling.lease_page`), then the next lease with everything its page shows, taken and read in one
    statement (`ps_queue_next_for_user`, as the REST `next`); None when nothing is left. Two statements on
    PostgreSQL after `lease_page`. A retried submission returns the first label and the lease taken after it."""
    lease = page.lease
    label = label_submit(
        assignment_id=lease.pk, annotator=lease.annotator, data=data, idempotency_key=idempotency_key,
        context=page.context,
    )
    project = lease.item.project
    following = queue_next_for_api(user=user, slug=project.slug)
    if following is None:
        return label, None
    return label, lease_page_from_next(lease=following, project=project, annotator=lease.annotator)


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
    project = lease.item.project  # read with the lease (selectors.labeling: lease_for_user, lease_page)
    if project.reference_use == ReferenceUse.ATTENTION or not _on_postgresql():
        project = Project.objects.get(pk=project.pk)  # the ORM path reads all of its settings
    return queue_next(project=project, annotator=lease.annotator)


__all__ = [
    "assignment_refresh",
    "assignment_skip",
    "assignment_skip_and_next",
    "assignments_end_for_item",
    "assignments_expire",
    "label_submit",
    "label_submit_and_next",
    "label_submit_and_next_page",
    "label_submit_for_api",
    "label_submit_for_token",
    "label_submit_for_user",
    "queue_next",
    "queue_next_for_api",
    "queue_next_for_token",
    "queue_next_for_user",
]
