"""Reads for the labeling pages and the queue API: what the queue holds, a user's leases, what a task page shows.

The writes of the queue (take the next item, submit, skip) are in annotation.services.labeling.

A lease (Assignment) is only ever visible to the person it was handed to, and only while they
are still a member of its project: anyone else gets NotFound, never a hint that it exists.
"""
import random
from dataclasses import dataclass, field, replace

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, F, OuterRef, Prefetch, QuerySet, Sum
from django.utils import timezone

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
    "Choice",
    "labeling_preview",
    "LabelingTask",
    "Panel",
    "labeling_task",
    "lease_for_user",
    "lease_is_live",
    "live_lease_in_project",
    "shown_order_for",
]
