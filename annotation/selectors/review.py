"""Reads for review: a project's review queue, and everything a reviewer sees on one item.

The queue holds the project's undecided items (not final, not excluded) that need a person,
each with the reasons why. Reasons come from `REASON_SOURCES`, one function per kind of reason;
curation adds its own (routed disagreements, noise scores) by appending a function there.
"""
import math
import string
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Case, CharField, Count, F, Prefetch, QuerySet, When
from django.db.models.functions import Cast

from ..errors import NotFound, PermissionDenied
from ..models import (
    AnnotatorKind,
    Item,
    ItemFlag,
    ItemConsensus,
    ItemResponse,
    ItemState,
    Label,
    LabelRole,
    LabelStatus,
    Project,
    Role,
    TaskKind,
    Winner,
)
from . import project_for_user
from .identities import AnnotatorNames, annotator_names_for

REVIEWER_ROLES = (Role.OWNER, Role.REVIEWER)
# A decision was taken on these items; nothing about them needs a person any more.
DECIDED_STATES = (ItemState.FINAL, ItemState.EXCLUDED)
LETTERS = string.ascii_uppercase  # position 0 is "A"; items hold at most 16 responses
WINNER_TEXT = {Winner.A: "A", Winner.B: "B", Winner.TIE: "Tie", Winner.BOTH_BAD: "Both bad"}


@dataclass(frozen=True)
class ReviewReason:
    code: str  # "disagreement", "flag", "in_review"
    label: str  # a short tag, e.g. "Disagreement"
    detail: str  # the reason in words, e.g. "A ×2 · B ×1"


@dataclass(frozen=True)
class ReviewQueueEntry:
    item: Item
    reasons: tuple[ReviewReason, ...]


# -- access -----------------------------------------------------------------------------------------
def project_for_reviewer(*, user: AbstractBaseUser, slug: str) -> Project:
    """A project the user owns or reviews. NotFound for non-members, PermissionDenied for annotators."""
    project = project_for_user(user=user, slug=slug)
    if project.role not in REVIEWER_ROLES:
        raise PermissionDenied(f"only owners and reviewers of project {slug!r} may see this", field="slug")
    return project


# -- display ----------------------------------------------------------------------------------------
def _num(value: Any) -> float | None:
    """A JSON-able float: None for None / NaN / inf (a figure that cannot be computed on this data).

    Shared with selectors.curation, whose figures are shown the same way."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def letters_text(positions: Iterable[int], sep: str = ", ") -> str:
    return sep.join(LETTERS[p] for p in positions)


def ranking_text(groups: list[list[int]]) -> str:
    """Tie groups, best first, as letters: [[2], [0, 1]] → "C > A = B"."""
    return " > ".join(" = ".join(LETTERS[p] for p in sorted(group)) for group in groups)


def _ranking_key(groups: list[list[int]]) -> tuple[tuple[int, ...], ...]:
    # [[1, 0]] and [[0, 1]] are the same tie; only the order of the groups matters.
    return tuple(tuple(sorted(group)) for group in groups)


def verdict_text(*, kind: str, winner: str, thumbs_up: bool | None, ranking: list[list[int]] | None) -> str:
    """An annotation's verdict in words, e.g. "A", "Tie", "C > A = B", "Thumbs up"."""
    if kind == TaskKind.PAIRWISE:
        return WINNER_TEXT.get(winner, winner)
    if kind == TaskKind.LISTWISE:
        return ranking_text(ranking) if ranking else ""
    if kind == TaskKind.THUMBS:
        return "" if thumbs_up is None else ("Thumbs up" if thumbs_up else "Thumbs down")
    return "Edited"


# -- reasons ----------------------------------------------------------------------------------------
ReasonSource = Callable[[QuerySet[Item]], dict[int, list[ReviewReason]]]


def _human_annotations() -> QuerySet[Label]:
    return Label.objects.filter(role=LabelRole.ANNOTATION, annotator__kind=AnnotatorKind.HUMAN, status=LabelStatus.OK)


def disagreement_verdict() -> Case:
    """A label's verdict as text, for SQL to count the different verdicts on an item."""
    return Case(
        When(kind=TaskKind.PAIRWISE, then=F("winner")),
        When(kind=TaskKind.THUMBS, then=Cast("thumbs_up", CharField())),
        When(kind=TaskKind.LISTWISE, then=Cast("ranking", CharField())),
        output_field=CharField(),
    )


def disagreement_reasons(items: QuerySet[Item]) -> dict[int, list[ReviewReason]]:
    """Items whose human annotations differ: other winners, rankings or thumbs (edits always differ).

    The database narrows the items down by comparing the verdicts as text; the exact comparison
    (rankings equal up to the order inside a tie group) is made here on those few.
    """
    candidates = (
        _human_annotations()
        .filter(item__in=items.filter(n_human_labels__gte=2).exclude(kind=TaskKind.EDIT))
        .values("item_id")
        .annotate(verdicts=Count(disagreement_verdict(), distinct=True))
        .filter(verdicts__gte=2)
        .values("item_id")
    )
    votes: dict[int, Counter] = defaultdict(Counter)
    rows = (
        _human_annotations()
        .filter(item_id__in=candidates)
        .order_by("id")
        .values_list("item_id", "kind", "winner", "thumbs_up", "ranking")
    )
    for item_id, kind, winner, thumbs_up, ranking in rows:
        if kind == TaskKind.LISTWISE:
            ranking = [list(group) for group in _ranking_key(ranking)]
        votes[item_id][verdict_text(kind=kind, winner=winner, thumbs_up=thumbs_up, ranking=ranking)] += 1
    return {
        item_id: [ReviewReason("disagreement", "Disagreement", _votes_text(count))]
        for item_id, count in votes.items()
        if len(count) >= 2
    }


def _votes_text(votes: Counter) -> str:
    """Counted verdicts, most given first: "A ×2 · Tie ×1"."""
    return " · ".join(f"{verdict} ×{n}" for verdict, n in votes.most_common())


def flag_reasons(items: QuerySet[Item]) -> dict[int, list[ReviewReason]]:
    """Every signal raised on an item (ItemFlag) is a reason for a person to look at it."""
    found: dict[int, list[ReviewReason]] = defaultdict(list)
    # Ordered per item: ORDER BY id alone lets the planner walk every flag in id order (200 ms at 1M items).
    for item_id, name, reason in ItemFlag.objects.filter(item__in=items).order_by("item_id", "id").values_list(
        "item_id", "name", "reason"
    ):
        found[item_id].append(ReviewReason("flag", name.replace("_", " ").capitalize(), reason))
    return found


def in_review_reasons(items: QuerySet[Item]) -> dict[int, list[ReviewReason]]:
    """Items explicitly moved to the in_review state (by curation or an owner)."""
    ids = items.filter(state=ItemState.IN_REVIEW).values_list("id", flat=True)
    return {pk: [ReviewReason("in_review", "In review", "sent to review")] for pk in ids}


# The sources of the queue, in the order their reasons are shown. Curation appends its own.
REASON_SOURCES: tuple[ReasonSource, ...] = (disagreement_reasons, flag_reasons, in_review_reasons)


def review_reasons(*, items: QuerySet[Item]) -> dict[int, tuple[ReviewReason, ...]]:
    """The reasons each of `items` needs a person; items that need none are left out."""
    found: dict[int, list[ReviewReason]] = defaultdict(list)
    for source in REASON_SOURCES:
        for item_id, reasons in source(items).items():
            found[item_id].extend(reasons)
    return {item_id: tuple(reasons) for item_id, reasons in found.items()}


# -- the queue --------------------------------------------------------------------------------------
def review_queue(*, project: Project) -> list[ReviewQueueEntry]:
    """The project's undecided items that need a person, oldest first, with their reasons."""
    reasons = review_reasons(items=Item.objects.filter(project=project).exclude(state__in=DECIDED_STATES))
    items = (
        Item.objects.filter(pk__in=list(reasons))
        .select_related("project", "prompt")
        .prefetch_related("flags")  # the REST API's item shape lists them
        .order_by("id")
    )
    return [ReviewQueueEntry(item=item, reasons=reasons[item.pk]) for item in items]


def review_queue_for_user(*, user: AbstractBaseUser, slug: str) -> tuple[Project, list[ReviewQueueEntry]]:
    """The queue of a project the user owns or reviews, its reasons naming annotators as the user may see them."""
    project = project_for_reviewer(user=user, slug=slug)
    names = annotator_names_for(project=project, user=user)
    entries = review_queue(project=project)
    return project, [ReviewQueueEntry(item=e.item, reasons=_rendered(e.reasons, names)) for e in entries]


def _rendered(reasons: tuple[ReviewReason, ...], names: AnnotatorNames) -> tuple[ReviewReason, ...]:
    """Reasons with their stored annotator tokens (noise reasons) rendered for one viewer."""
    return tuple(replace(reason, detail=names.render(reason.detail)) for reason in reasons)


# -- one item ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResponseView:
    letter: str
    text: str
    model_name: str


@dataclass(frozen=True)
class LabelView:
    """One label as the review page shows it; `who` is "Annotator 1" under blind review."""

    label: Label
    who: str
    verdict: str
    strength: str
    aspects: list[tuple[str, str]]
    shown_order: str
    time_spent: str
    probability: str  # judges: P(A better), "" if none
    swap: str  # judges: "consistent" / "flipped when swapped" / ""
    unparsable: bool


@dataclass(frozen=True)
class FlagView:
    """A signal raised on the item, its reason rendered for the viewer."""

    name: str
    value: float | None
    reason: str


@dataclass(frozen=True)
class ReviewItem:
    project: Project
    item: Item
    messages: list[dict[str, str]]
    responses: list[ResponseView]
    humans: list[LabelView]
    judges: list[LabelView]
    resolution: LabelView | None  # the reviewer's label, once the item is resolved
    reasons: tuple[ReviewReason, ...]
    flags: tuple[FlagView, ...] = ()  # every signal raised on the item, with its value and reason
    consensus: Any = None  # ItemConsensusView, once curation has aggregated the item

    @property
    def is_open(self) -> bool:
        return self.item.state not in DECIDED_STATES

    # Optional columns are shown only when some label fills them (many datasets have no strength).
    @property
    def show_strength(self) -> bool:
        return any(view.strength for view in self.humans)

    @property
    def show_aspects(self) -> bool:
        return any(view.aspects for view in self.humans)

    @property
    def show_probability(self) -> bool:
        return any(view.probability for view in self.judges)

    @property
    def show_swap(self) -> bool:
        return any(view.swap for view in self.judges)


def duration_text(ms: int | None) -> str:
    """Milliseconds as a reader wants them: "850 ms", "42 s", "3 min 05 s"."""
    if ms is None:
        return ""
    if ms < 1000:
        return f"{ms} ms"
    seconds = round(ms / 1000)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds:02d} s"


def _label_view(label: Label, *, who: str, strength_levels: list[str]) -> LabelView:
    strength = ""
    if label.strength is not None:
        named = 1 <= label.strength <= len(strength_levels)
        strength = strength_levels[label.strength - 1] if named else str(label.strength)
    swap = {True: "consistent", False: "flipped when swapped", None: ""}[label.swap_consistent]
    unparsable = label.status == LabelStatus.UNPARSABLE
    return LabelView(
        label=label,
        who=who,
        verdict="" if unparsable else verdict_text(
            kind=label.kind, winner=label.winner, thumbs_up=label.thumbs_up, ranking=label.ranking
        ),
        strength=strength,
        aspects=[(aspect, WINNER_TEXT.get(verdict, verdict)) for aspect, verdict in (label.aspects or {}).items()],
        shown_order=letters_text(label.shown_order or []),
        time_spent=duration_text(label.time_spent_ms),
        probability="" if label.probability is None else f"{label.probability:.2f}",
        swap=swap,
        unparsable=unparsable,
    )


# -- consensus of one item (the review page) ----------------------------------------------------------
@dataclass
class ItemConsensusView:
    method: str
    winner: str
    probability: float | None
    agreement: float | None
    noise_score: float | None
    source: str
    signals: list[tuple[str, float | None]]  # (signal name, value), NaN / not applicable as None


def item_consensus(*, item: Item) -> ItemConsensusView | None:
    """The item's stored consensus (ItemConsensus), or None before curation has aggregated it."""
    row = ItemConsensus.objects.filter(item=item).first()
    if row is None:
        return None
    return ItemConsensusView(
        method=row.method,
        winner=row.winner or (ranking_text(row.ranking) if row.ranking else ""),
        probability=_num(row.probability),
        agreement=_num(row.agreement),
        noise_score=_num(row.noise_score),
        source=row.source,
        signals=[(name, _num(value)) for name, value in sorted((row.signals or {}).items())],
    )


def review_item_for_user(*, user: AbstractBaseUser, slug: str, item_id: int) -> ReviewItem:
    """One item of the project for its review page. NotFound unless the item is in project `slug`.

    Every label is shown, its annotator named as the user may see them (selectors.identities: in a blind
    project people are "annotator 1", "annotator 2", … for all but owners; judges keep their names).
    """
    project = project_for_reviewer(user=user, slug=slug)
    slots = ItemResponse.objects.select_related("response").order_by("position")
    item = (
        Item.objects.filter(project=project, pk=item_id)
        .select_related("prompt")
        .prefetch_related(Prefetch("slots", queryset=slots))
        .first()
    )
    if item is None:
        raise NotFound(f"no item {item_id} in project {slug!r}", field="id")
    labels = list(
        Label.objects.filter(item=item).select_related("annotator", "edited_response").order_by("created_at", "id")
    )
    levels = list(project.strength_levels or [])
    names = annotator_names_for(project=project, user=user)
    humans, judges, resolution = [], [], None
    for label in labels:
        view = _label_view(label, who=names.name(label.annotator_id), strength_levels=levels)
        if label.role == LabelRole.REVIEW:
            resolution = view
        elif label.annotator.is_judge:
            judges.append(view)
        else:
            humans.append(view)
    return ReviewItem(
        project=project,
        item=item,
        messages=list(item.prompt.messages or []),
        responses=[
            ResponseView(letter=LETTERS[s.position], text=s.response.text, model_name=s.response.model_name)
            for s in item.slots.all()
        ],
        humans=humans,
        judges=judges,
        resolution=resolution,
        reasons=_rendered(review_reasons(items=Item.objects.filter(pk=item.pk)).get(item.pk, ()), names),
        flags=tuple(FlagView(flag.name, flag.value, names.render(flag.reason))
                    for flag in ItemFlag.objects.filter(item=item).order_by("id")),
        consensus=item_consensus(item=item),
    )
