"""Reads for the judge summary of a project: how each LLM judge did on the project's items.

Per judge annotator with labels on the project (annotation labels, not reviewers' resolutions):
- labels, and how many of them are unparsable (the judge's output could not be read as a verdict);
- swap consistency: the share of its labels whose verdict held when the two responses were swapped, among
  those where that was checked (`swap_consistent` not null);
- agreement with people: on pairwise items with at least one parsed human label, the share of its parsed
  verdicts equal to the human majority winner. Items whose human vote is tied at the top are left out (no
  majority to agree with);
- its most recent verdicts, with rationale.

Four queries in all, whatever the number of judges and items: counts grouped in SQL, the pairwise winners of
people and judges read once and compared here, and the recent labels through a window function.
"""
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, Q, Window
from django.db.models.functions import RowNumber

from ..models import AnnotatorKind, Label, LabelRole, LabelStatus, Project, TaskKind
from .review import project_for_reviewer, verdict_text

RECENT_VERDICTS = 5  # per judge: enough to get a feel for its rationales without a long page


@dataclass(frozen=True)
class JudgeVerdict:
    item_id: int
    verdict: str  # "A", "C > A = B", ... or "Unparsable"
    unparsable: bool
    rationale: str  # markdown, as the judge wrote it (render with |markdown, never |safe)
    swap_consistent: bool | None


@dataclass(frozen=True)
class JudgeSummary:
    annotator_id: int
    name: str
    n_labels: int
    n_unparsable: int
    n_swap_checked: int  # labels with swap_consistent not null
    n_swap_consistent: int
    n_compared: int  # parsed pairwise labels on items with a human majority winner
    n_agree: int
    recent: tuple[JudgeVerdict, ...]

    @property
    def unparsable_rate(self) -> float | None:
        return self.n_unparsable / self.n_labels if self.n_labels else None

    @property
    def swap_consistency(self) -> float | None:
        return self.n_swap_consistent / self.n_swap_checked if self.n_swap_checked else None

    @property
    def human_agreement(self) -> float | None:
        return self.n_agree / self.n_compared if self.n_compared else None


def human_majority_winners(*, project: Project) -> dict[int, str]:
    """item id -> the winner most of the people chose, for pairwise items with >= 1 parsed human label and no
    tie at the top of the vote."""
    votes: dict[int, Counter] = defaultdict(Counter)
    rows = Label.objects.filter(
        item__project=project, kind=TaskKind.PAIRWISE, role=LabelRole.ANNOTATION, status=LabelStatus.OK,
        annotator__kind=AnnotatorKind.HUMAN,
    ).values_list("item_id", "winner")
    for item_id, winner in rows:
        votes[item_id][winner] += 1
    majority = {}
    for item_id, counter in votes.items():
        (top, n), *rest = counter.most_common(2)
        if not rest or rest[0][1] < n:
            majority[item_id] = top
    return majority


def judge_summaries(*, project: Project) -> list[JudgeSummary]:
    """One summary per judge annotator with annotation labels on `project`, by name."""
    labels = Label.objects.filter(item__project=project, role=LabelRole.ANNOTATION, annotator__kind=AnnotatorKind.JUDGE)
    counts = list(
        labels.values("annotator_id", "annotator__name")
        .annotate(
            n=Count("id"),
            unparsable=Count("id", filter=Q(status=LabelStatus.UNPARSABLE)),
            swap_checked=Count("id", filter=Q(swap_consistent__isnull=False)),
            swap_ok=Count("id", filter=Q(swap_consistent=True)),
        )
        .order_by("annotator__name")
    )
    majority = human_majority_winners(project=project)
    compared: Counter = Counter()
    agree: Counter = Counter()
    judged = labels.filter(kind=TaskKind.PAIRWISE, status=LabelStatus.OK, item_id__in=list(majority))
    for annotator_id, item_id, winner in judged.values_list("annotator_id", "item_id", "winner"):
        compared[annotator_id] += 1
        agree[annotator_id] += winner == majority[item_id]
    recent: dict[int, list[JudgeVerdict]] = defaultdict(list)
    rows = (
        labels.annotate(rank=Window(
            RowNumber(), partition_by=F("annotator_id"), order_by=[F("created_at").desc(), F("id").desc()]
        ))
        .filter(rank__lte=RECENT_VERDICTS)
        .order_by("annotator_id", "rank")
        .values("annotator_id", "item_id", "kind", "status", "winner", "thumbs_up", "ranking", "rationale",
                "swap_consistent")
    )
    for row in rows:
        unparsable = row["status"] == LabelStatus.UNPARSABLE
        verdict = "Unparsable" if unparsable else verdict_text(
            kind=row["kind"], winner=row["winner"], thumbs_up=row["thumbs_up"], ranking=row["ranking"]
        )
        recent[row["annotator_id"]].append(
            JudgeVerdict(row["item_id"], verdict, unparsable, row["rationale"], row["swap_consistent"])
        )
    return [
        JudgeSummary(
            annotator_id=c["annotator_id"], name=c["annotator__name"], n_labels=c["n"], n_unparsable=c["unparsable"],
            n_swap_checked=c["swap_checked"], n_swap_consistent=c["swap_ok"], n_compared=compared[c["annotator_id"]],
            n_agree=agree[c["annotator_id"]], recent=tuple(recent[c["annotator_id"]]),
        )
        for c in counts
    ]


def judge_summaries_for_user(*, user: AbstractBaseUser, slug: str) -> tuple[Project, list[JudgeSummary]]:
    """The project (owners and reviewers: NotFound for non-members, PermissionDenied for annotators) and the
    summaries of its judges."""
    project = project_for_reviewer(user=user, slug=slug)
    return project, judge_summaries(project=project)
