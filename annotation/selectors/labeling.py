"""Reads for the labeling pages and the queue API: what the queue holds, a user's leases, what a task page shows.

The writes of the queue (take the next item, submit, skip) are in annotation.services.labeling.

A lease (Assignment) is only ever visible to the person it was handed to, and only while they
are still a member of its project: anyone else gets NotFound, never a hint that it exists.
"""
import json
import random
from dataclasses import dataclass, field, replace
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Exists, F, OuterRef, Prefetch, QuerySet, Sum
from django.utils import timezone

from ..db import prepared_cursor
from ..errors import NotFound
from ..models import (
    Annotator,
    Assignment,
    AssignmentStatus,
    Item,
    ItemResponse,
    ItemState,
    Label,
    Membership,
    Project,
    Prompt,
    ReferenceUse,
    Response,
    Route,
    TaskKind,
    Winner,
)
from ..textdiff import diffs_against_first

LETTERS = "ABCDEFGHIJKLMNOP"  # display names of the panels, left to right / top to bottom
# Items in these states still want human labels; later ones are decided.
OPEN_STATES = (ItemState.NEW, ItemState.JUDGED, ItemState.ROUTED, ItemState.LABELING)


# -- the queue --------------------------------------------------------------------------------------
def queue_items(*, project: Project, annotator: Annotator) -> QuerySet[Item]:
    """Open items of the project this annotator may still be given, with a free slot (unordered)."""
    labeled = Label.objects.filter(item=OuterRef("pk"), annotator=annotator)
    declined = Assignment.objects.filter(
        item=OuterRef("pk"), annotator=annotator, status__in=[AssignmentStatus.SKIPPED, AssignmentStatus.ACTIVE]
    )
    items = (
        Item.objects.filter(project=project, state__in=OPEN_STATES)
        .exclude(route=Route.AI)
        .alias(load=F("n_human_labels") + F("n_leases"))
        .filter(load__lt=project.overlap)
        .filter(~Exists(labeled), ~Exists(declined))
    )
    # Attention checks are served by their own schedule (services/attention.py), never as regular tasks.
    return items.filter(reference__isnull=True) if project.reference_use == ReferenceUse.ATTENTION else items


@dataclass(frozen=True)
class QueueStatus:
    mine_left: int  # items this annotator could still be given
    project_left: int  # human labels the project still wants (slots), over all annotators
    mine_done: int  # labels this annotator gave in the project


def queue_status(*, project: Project, annotator: Annotator) -> QueueStatus:
    """What is left for the annotator and for the project, and what the annotator did (queue page, task page, API)."""
    open_items = Item.objects.filter(project=project, state__in=OPEN_STATES).exclude(route=Route.AI)
    wanted = open_items.filter(n_human_labels__lt=project.overlap).aggregate(
        left=Sum(project.overlap - F("n_human_labels"))
    )["left"]
    return QueueStatus(
        mine_left=queue_items(project=project, annotator=annotator).count(),
        project_left=int(wanted or 0),
        mine_done=Label.objects.filter(item__project=project, annotator=annotator).count(),
    )


def queue_status_fast(*, project: Project, annotator: Annotator) -> QueueStatus:
    """`queue_status` from the counters the queue keeps on write (one query, whatever the project's size).

    mine_done and project_left are exact; mine_left is the number of items with a free slot, an upper bound of
    what this annotator may still be given (it counts items they labeled or skipped that others may still take).
    The exact count is `queue_status` (the queue page). On SQLite: `queue_status`.
    """
    if connection.vendor != "postgresql":
        return queue_status(project=project, annotator=annotator)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(k.wanted), 0), coalesce(sum(k.free_items), 0), coalesce((SELECT c.n_done FROM "
            "annotation_queuecursor c WHERE c.annotator_id = %s AND c.project_id = %s), 0) "
            "FROM annotation_queuecounter k WHERE k.project_id = %s",
            [annotator.pk, project.pk, project.pk],
        )
        wanted, free, done = cursor.fetchone()
    return QueueStatus(mine_left=int(free), project_left=int(wanted), mine_done=int(done))


@dataclass(frozen=True)
class LeaseContext:
    """What a submit needs to check a label, read in one query: the lease, its item (with project and slots)."""

    assignment_id: int
    item: Item  # with .project set; unsaved-style instances built from the row (no further queries)
    annotator: Annotator
    slots: list[ItemResponse]


_LEASE_CONTEXT_SQL = """
SELECT a.id, i.id, i.kind, i.state, i.route, i.n_judge_labels, i.prompt_id,
       p.id, p.slug, p.overlap, p.strength_levels, p.aspects, p.rationale_required, p.allow_partial_ranking,
       p.blind_review, an.id, an.name, an.kind, an.user_id,
       (SELECT coalesce(json_agg(json_build_array(s.position, s.response_id, r.text, r.external_id)
                                 ORDER BY s.position), '[]')
        FROM annotation_itemresponse s JOIN annotation_response r ON r.id = s.response_id WHERE s.item_id = i.id)
FROM annotation_assignment a
JOIN annotation_item i ON i.id = a.item_id
JOIN annotation_project p ON p.id = i.project_id
JOIN annotation_annotator an ON an.id = a.annotator_id
WHERE a.id = %s
"""


def lease_context(*, assignment_id: int, annotator_id: int | None = None, user_id: int | None = None,
                  token: tuple[str, datetime] | None = None) -> LeaseContext | None:
    """The lease `assignment_id` of `annotator_id`, or of `user_id` while they are a member of its project
    (as `lease_for_user`); None if there is no such lease. One query (PostgreSQL).

    `token` = (API token key, issued after): the lease of the token's user, checked in the same query (the token
    exists, was issued after that time, its user is active and a member); None also when the token is not live."""
    sql, params = _LEASE_CONTEXT_SQL, [assignment_id]
    if annotator_id is not None:
        sql += " AND a.annotator_id = %s"
        params.append(annotator_id)
    if user_id is not None:
        sql += (" AND an.user_id = %s AND EXISTS (SELECT 1 FROM annotation_membership m"
                " WHERE m.project_id = p.id AND m.user_id = %s)")
        params += [user_id, user_id]
    if token is not None:
        sql += (" AND EXISTS (SELECT 1 FROM authtoken_token t JOIN auth_user u ON u.id = t.user_id"
                " WHERE t.key = %s AND t.user_id = an.user_id AND t.created > %s AND u.is_active)"
                " AND EXISTS (SELECT 1 FROM annotation_membership m WHERE m.project_id = p.id"
                " AND m.user_id = an.user_id)")
        params += [token[0], token[1]]
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    (lease_id, item_id, kind, state, route, n_judge, prompt_id, project_id, slug, overlap, strength_levels, aspects,
     rationale_required, allow_partial, blind, annotator_pk, name, annotator_kind, user, slots) = row
    project = Project(id=project_id, slug=slug, overlap=overlap, strength_levels=_json(strength_levels),
                      aspects=_json(aspects), rationale_required=rationale_required,
                      allow_partial_ranking=allow_partial, blind_review=blind)
    item = Item(id=item_id, kind=kind, state=state, route=route, n_judge_labels=n_judge, prompt_id=prompt_id,
                project=project)
    annotator = Annotator(id=annotator_pk, name=name, kind=annotator_kind, user_id=user)
    responses = [
        ItemResponse(item=item, position=position, response=Response(id=response_id, text=text, external_id=ext))
        for position, response_id, text, ext in _json(slots)
    ]
    return LeaseContext(assignment_id=lease_id, item=item, annotator=annotator, slots=responses)


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


# -- leases -----------------------------------------------------------------------------------------


def lease_for_user(*, user: AbstractBaseUser, assignment_id: int, slug: str | None = None) -> Assignment:
    """The user's own lease `assignment_id` (any status), with its item, prompt, project and responses.

    `item.slots` holds the responses in position order. NotFound if the lease is someone else's,
    the user has left the project, or `slug` is given and names another project.
    """
    slots = ItemResponse.objects.select_related("response").order_by("position")
    member_of = Membership.objects.filter(user=user).values("project_id")
    leases = (
        Assignment.objects.select_related("item__project", "item__prompt", "annotator")
        .prefetch_related(Prefetch("item__slots", queryset=slots))
        .filter(pk=assignment_id, annotator__user=user, item__project_id__in=member_of)
    )
    if slug is not None:
        leases = leases.filter(item__project__slug=slug)
    lease = leases.first()
    if lease is None:
        raise NotFound(f"no assignment {assignment_id} of yours", field="assignment")
    return lease


_LEASE_PAGE_SQL = """
SELECT a.id, a.status, a.expires_at, a.created_at,
       i.id, i.external_id, i.kind, i.state, i.route, i.n_judge_labels, pr.id, pr.external_id, pr.messages,
       p.id, p.slug, p.name, p.guidelines, p.overlap, p.strength_levels, p.aspects, p.rationale_required,
       p.allow_partial_ranking, p.blind_review, p.reference_use, p.lease_minutes,
       an.id, an.name, an.kind,
       (SELECT coalesce(json_agg(json_build_array(s.position, s.response_id, r.text, r.external_id, r.model_name)
                                 ORDER BY s.position), '[]')
        FROM annotation_itemresponse s JOIN annotation_response r ON r.id = s.response_id WHERE s.item_id = i.id),
       {counters}
FROM annotation_assignment a
JOIN annotation_annotator an ON an.id = a.annotator_id
JOIN annotation_item i ON i.id = a.item_id
JOIN annotation_project p ON p.id = i.project_id
JOIN annotation_prompt pr ON pr.id = i.prompt_id
WHERE a.id = %s AND an.user_id = %s AND p.slug = %s
  AND EXISTS (SELECT 1 FROM annotation_membership m WHERE m.project_id = p.id AND m.user_id = an.user_id)
"""
_COUNTERS_SQL = """(SELECT coalesce(sum(k.wanted), 0) FROM annotation_queuecounter k WHERE k.project_id = p.id),
       (SELECT coalesce(sum(k.free_items), 0) FROM annotation_queuecounter k WHERE k.project_id = p.id),
       (SELECT c.n_done FROM annotation_queuecursor c WHERE c.annotator_id = an.id AND c.project_id = p.id)"""
_LEASE_PAGE_WITH_COUNTERS_SQL = _LEASE_PAGE_SQL.format(counters=_COUNTERS_SQL)
_LEASE_PAGE_ONLY_SQL = _LEASE_PAGE_SQL.format(counters="NULL, NULL, NULL")


@dataclass(frozen=True)
class LeasePage:
    """What the task page and its submit read: the lease, the queue's counters, and the lease as `label_submit`
    checks a label against it (None on SQLite: label_submit reads it)."""

    lease: Assignment
    status: QueueStatus | None  # None when read with counters=False
    context: LeaseContext | None


def lease_page(*, user: AbstractBaseUser, assignment_id: int, slug: str, counters: bool = True) -> LeasePage:
    """`lease_for_user` for the task page, in one query with the queue's counters (`queue_status_fast`; not read
    with counters=False: a submit shows the next item's, read with it, and needs these only to show an error).

    The lease, item, prompt, project, annotator and responses are built from the row: they carry the fields the
    task page, `labeling_task` and `label_submit` read (item.slots is prefetched), not every column. NotFound as
    `lease_for_user`. On SQLite: `lease_for_user` + `queue_status`.
    """
    if connection.vendor != "postgresql":
        lease = lease_for_user(user=user, assignment_id=assignment_id, slug=slug)
        return LeasePage(lease, queue_status(project=lease.item.project, annotator=lease.annotator), None)
    with prepared_cursor() as cursor:
        cursor.execute(_LEASE_PAGE_WITH_COUNTERS_SQL if counters else _LEASE_PAGE_ONLY_SQL,
                       [assignment_id, user.pk, slug])
        row = cursor.fetchone()
    if row is None:
        raise NotFound(f"no assignment {assignment_id} of yours", field="assignment")
    (lease_id, lease_status, expires_at, created_at, item_id, item_ext, kind, state, route, n_judge, prompt_id,
     prompt_ext, messages, project_id, project_slug, name, guidelines, overlap, strength_levels, aspects,
     rationale_required, allow_partial, blind, reference_use, lease_minutes, annotator_id, annotator_name,
     annotator_kind, slots, wanted, free, done) = row
    project = Project(id=project_id, slug=project_slug, name=name, guidelines=guidelines, overlap=overlap,
                      strength_levels=_json(strength_levels), aspects=_json(aspects),
                      rationale_required=rationale_required, allow_partial_ranking=allow_partial, blind_review=blind,
                      reference_use=reference_use, lease_minutes=lease_minutes)
    prompt = Prompt(id=prompt_id, project_id=project_id, external_id=prompt_ext, messages=_json(messages))
    item = Item(id=item_id, project=project, prompt=prompt, external_id=item_ext, kind=kind, state=state, route=route,
                n_judge_labels=n_judge)
    item._prefetched_objects_cache = {"slots": [
        ItemResponse(item=item, position=position,
                     response=Response(id=response_id, prompt_id=prompt_id, text=text, external_id=ext,
                                       model_name=model_name))
        for position, response_id, text, ext, model_name in _json(slots)]}
    annotator = Annotator(id=annotator_id, name=annotator_name, kind=annotator_kind, user_id=user.pk)
    lease = Assignment(id=lease_id, item=item, annotator=annotator, status=lease_status, expires_at=expires_at,
                       created_at=created_at)
    status = QueueStatus(mine_left=int(free), project_left=int(wanted), mine_done=int(done or 0)) if counters else None
    return LeasePage(lease, status, LeaseContext(assignment_id=lease_id, item=item, annotator=annotator,
                                                 slots=item._prefetched_objects_cache["slots"]))


def lease_page_from_next(*, lease: dict, project: Project, annotator: Annotator) -> LeasePage:
    """The task page of the lease `services.labeling.queue_next_for_api` just returned (its row: the lease, the item as
    the API shows it and the queue's counters), built without a query: `project` and `annotator` are the ones of the
    page that asked for it (the same project: `next` takes from it). Carries what the task page and `labeling_task`
    read; no model names (the page never shows them). `context` is None: its submit reads the lease again
    (`lease_page`), under its own request."""
    data, queue = lease["item"], lease["queue"]
    prompt_data = data["prompt"]
    prompt = Prompt(id=prompt_data["id"], project_id=project.pk, external_id=prompt_data["external_id"],
                    messages=prompt_data["messages"])
    item = Item(id=data["id"], project=project, prompt=prompt, external_id=data["external_id"], kind=data["kind"])
    item._prefetched_objects_cache = {"slots": [
        ItemResponse(item=item, position=slot["position"],
                     response=Response(id=slot["response"], prompt_id=prompt.pk, text=slot["text"],
                                       external_id=slot["external_id"]))
        for slot in data["responses"]]}
    assignment = Assignment(id=lease["assignment"], item=item, annotator=annotator, status=lease["status"],
                            expires_at=lease["expires_at"])
    status = QueueStatus(mine_left=queue["mine_left"], project_left=queue["project_left"], mine_done=queue["mine_done"])
    return LeasePage(assignment, status, None)


def live_lease_in_project(*, user: AbstractBaseUser, project: Project) -> Assignment | None:
    """The user's unexpired active lease in the project (what "Continue" goes back to), if any."""
    return (
        Assignment.objects.filter(
            annotator__user=user,
            item__project=project,
            status=AssignmentStatus.ACTIVE,
            expires_at__gt=timezone.now(),
        )
        .order_by("created_at")
        .first()
    )


def lease_is_live(lease: Assignment) -> bool:
    return lease.status == AssignmentStatus.ACTIVE and lease.expires_at > timezone.now()


def shown_order_for(lease: Assignment, n_responses: int) -> list[int]:
    """The order in which this lease shows the item's positions: shuffled, but stable per lease.

    Seeded by the lease id, so a reload shows the same order and the label records the order
    that was actually on screen; a new lease of the same item (another annotator) gets its own.
    """
    order = list(range(n_responses))
    random.Random(f"lease:{lease.pk}").shuffle(order)
    return order


@dataclass(frozen=True)
class Panel:
    """One response as shown: its display letter, its position in the item, and the response."""

    letter: str
    position: int
    response: Response
    # Listwise: the word diff ([(op, text)], op "=", "-", "+") from the first panel shown, when the two are
    # near-identical (annotation.textdiff); None otherwise.
    diff: list[tuple[str, str]] | None = None


@dataclass(frozen=True)
class Choice:
    """A verdict button: what it says, its shortcut, and the winner it stores (by position)."""

    value: str
    label: str
    key: str


@dataclass
class LabelingTask:
    lease: Assignment
    project: Project
    kind: str
    messages: list[dict]
    panels: list[Panel]
    shown_order: list[int]
    verdicts: list[Choice] = field(default_factory=list)
    aspect_verdicts: list[Choice] = field(default_factory=list)
    strength_levels: list[tuple[int, str]] = field(default_factory=list)


def labeling_task(*, lease: Assignment) -> LabelingTask:
    """What the task page shows for `lease` (from `lease_for_user`), in the lease's shown order.

    Pairwise verdicts are offered as "left / right" on screen but carry the winner by position
    (A = position 0): if position 1 is shown on the left, "Left is better" stores "B".
    """
    item = lease.item
    slots = list(item.slots.all())
    order = shown_order_for(lease, len(slots))
    panels = [
        Panel(letter=LETTERS[i], position=slots[p].position, response=slots[p].response) for i, p in enumerate(order)
    ]
    task = LabelingTask(
        lease=lease,
        project=item.project,
        kind=item.kind,
        messages=[m for m in item.prompt.messages or [] if isinstance(m, dict)],
        panels=panels,
        shown_order=order,
    )
    if item.kind == TaskKind.LISTWISE:
        task.panels = _with_diffs(panels)
    if item.kind == TaskKind.PAIRWISE:
        left, right = (Winner.A if p.position == 0 else Winner.B for p in panels)
        task.verdicts = [
            Choice(left, "A is better", "1"),
            Choice(right, "B is better", "2"),
            Choice(Winner.TIE, "Tie", "0"),
            Choice(Winner.BOTH_BAD, "Both bad", "x"),
        ]
        # The same keys as the verdict: while an aspect row has the focus (`a`), they set that aspect.
        task.aspect_verdicts = [Choice(left, "A", "1"), Choice(right, "B", "2"), Choice(Winner.TIE, "Tie", "0")]
        task.strength_levels = list(enumerate(item.project.strength_levels or [], start=1))
    return task


def _with_diffs(panels: list[Panel]) -> list[Panel]:
    diffs = diffs_against_first([panel.response.text for panel in panels])
    return [replace(panel, diff=diff) for panel, diff in zip(panels, diffs)]


# What a settings preview shows when the project has no item of a kind yet (a static sample; nothing is saved).
SAMPLE_PROMPT = "Explain in one sentence why the sky is blue."
SAMPLE_RESPONSES = [
    "Sunlight scatters off air molecules, and blue light scatters the most because of its short wavelength.",
    "The sky reflects the colour of the oceans.",
    "Because air molecules scatter blue light more strongly than red light (Rayleigh scattering).",
]
SAMPLE_SIZE = {TaskKind.PAIRWISE: 2, TaskKind.LISTWISE: 3, TaskKind.EDIT: 1, TaskKind.THUMBS: 1}


def labeling_preview(*, project: Project, kind: str) -> LabelingTask:
    """What the task page of a `kind` item of `project` looks like with `project`'s settings (which may be unsaved
    edits on an in-memory copy): the project's first item of that kind, else a static sample. No lease; shown in
    position order. `project` must be one the caller may manage (the settings page checks it)."""
    item = (project.items.filter(kind=kind).select_related("prompt")
            .prefetch_related(Prefetch("slots", queryset=ItemResponse.objects.select_related("response")
                                       .order_by("position"))).order_by("pk").first()) if project.pk else None
    if item is not None:
        responses = [slot.response for slot in item.slots.all()]
        messages = [m for m in item.prompt.messages or [] if isinstance(m, dict)]
    else:
        responses = [Response(text=text) for text in SAMPLE_RESPONSES[:SAMPLE_SIZE.get(kind, 2)]]
        messages = [{"role": "user", "content": SAMPLE_PROMPT}]
    panels = [Panel(letter=LETTERS[i], position=i, response=r) for i, r in enumerate(responses)]
    task = LabelingTask(lease=None, project=project, kind=kind, messages=messages,
                        panels=_with_diffs(panels) if kind == TaskKind.LISTWISE else panels,
                        shown_order=list(range(len(panels))))
    if kind == TaskKind.PAIRWISE:
        task.verdicts = [Choice(Winner.A, "A is better", "1"), Choice(Winner.B, "B is better", "2"),
                         Choice(Winner.TIE, "Tie", "0"), Choice(Winner.BOTH_BAD, "Both bad", "x")]
        task.aspect_verdicts = [Choice(Winner.A, "A", ""), Choice(Winner.B, "B", ""), Choice(Winner.TIE, "Tie", "")]
        task.strength_levels = list(enumerate(project.strength_levels or [], start=1))
    return task


__all__ = [
    "OPEN_STATES",
    "QueueStatus",
    "queue_items",
    "queue_status",
    "queue_status_fast",
    "LeaseContext",
    "lease_context",
    "Choice",
    "labeling_preview",
    "LabelingTask",
    "Panel",
    "labeling_task",
    "lease_for_user",
    "LeasePage",
    "lease_page",
    "lease_page_from_next",
    "lease_is_live",
    "live_lease_in_project",
    "shown_order_for",
]
