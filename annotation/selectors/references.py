"""Reads of gold references: the arrays curation takes, and the scores against them that every agreement,
aggregation and curation surface shows (annotation.curation.calibration does the arithmetic).

No access checks here (callers have named the project, as in selectors.votes). Annotator names are the caller's
to render (selectors.identities), so a blind project shows pseudonyms.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..curation.aggregation import METHODS, aggregate_pairwise
from ..curation.calibration import (
    ConsensusAgreement,
    Proportion,
    ReliabilityWarning,
    annotator_accuracy,
    consensus_agreement,
    method_accuracy,
    ranking_top_accuracy,
    reliability_check,
)
from ..curation.votes import NONE, PairwiseVotes
from ..importing.references import reference_class
from ..models import Item, Label, LabelRole, LabelStatus, Project, ReferenceUse, TaskKind
from .votes import pairwise_votes

__all__ = ["pairwise_references", "ReferenceReport", "reference_report", "reference_report_for", "attention_scores",
           "AnnotatorScore", "proportion_json"]


def pairwise_references(*, project: Project, item_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(references (I,) int8 class or -1, calibration (I,) bool) over `item_ids` (sorted, as selectors.votes
    gives them). calibration is all False unless the project's reference_use is "calibration": an evaluation-only
    or attention-check reference never reaches a curation algorithm that learns."""
    references = np.full(len(item_ids), NONE, dtype=np.int8)
    rows = (Item.objects.filter(project=project, kind=TaskKind.PAIRWISE, reference__isnull=False)
            .values_list("pk", "reference"))
    for pk, reference in rows.iterator(chunk_size=20_000):
        i = int(np.searchsorted(item_ids, pk))
        if i < len(item_ids) and item_ids[i] == pk:
            references[i] = reference_class(reference)
    calibration = (references != NONE) & (project.reference_use == ReferenceUse.CALIBRATION)
    return references, calibration


def proportion_json(p: Proportion) -> dict:
    """A Proportion for JSON (API, job results, the dataset version's stats): NaN becomes None."""
    nan = p.n == 0
    return {"k": p.k, "n": p.n, "value": None if nan else round(p.value, 4),
            "low": None if nan else round(p.low, 4), "high": None if nan else round(p.high, 4)}


@dataclass
class AnnotatorScore:
    annotator_id: int
    is_judge: bool
    accuracy: Proportion  # votes equal to the reference, on reference items
    accuracy_no_ties: Proportion  # the same over votes and references that are not ties


@dataclass
class ReferenceReport:
    """Everything the surfaces show about references of a project's pairwise (and listwise) items.

    use: the project's reference_use; n_references: pairwise items with a reference and a vote; annotators:
    per annotator accuracy; methods: each unsupervised aggregate's accuracy (fitted without the references);
    agreement: the (majority) consensus' per-item, per-vote and excluding-ties agreement; warnings: reliability
    warnings, given when no reference can check the consensus; listwise: {annotator_id: top-group accuracy}."""

    use: str
    n_references: int
    annotators: list[AnnotatorScore] = field(default_factory=list)
    methods: dict[str, Proportion] = field(default_factory=dict)
    agreement: ConsensusAgreement | None = None
    warnings: list[ReliabilityWarning] = field(default_factory=list)
    listwise: dict[int, Proportion] = field(default_factory=dict)
    n_listwise_references: int = 0

    def as_json(self, name) -> dict:
        """JSON for the API and commands; `name(annotator_id)` renders an annotator as the viewer may see them."""
        return {
            "reference_use": self.use,
            "n_references": self.n_references,
            "annotators": [{"annotator": name(a.annotator_id), "is_judge": a.is_judge,
                            "accuracy": proportion_json(a.accuracy),
                            "accuracy_no_ties": proportion_json(a.accuracy_no_ties)} for a in self.annotators],
            "methods": {m: proportion_json(p) for m, p in self.methods.items()},
            "agreement": None if self.agreement is None else {
                "per_item": None if not np.isfinite(self.agreement.per_item) else round(self.agreement.per_item, 4),
                "n_items": self.agreement.n_items,
                "per_vote": proportion_json(self.agreement.per_vote),
                "per_vote_no_ties": proportion_json(self.agreement.per_vote_no_ties)},
            "warnings": [{"code": w.code, "message": w.message} for w in self.warnings],
            "listwise": {"n_references": self.n_listwise_references,
                         "annotators": [{"annotator": name(pk), "top_accuracy": proportion_json(p)}
                                        for pk, p in self.listwise.items()]},
        }


def reference_report(*, project: Project, votes: PairwiseVotes, methods: tuple[str, ...] = METHODS,
                     listwise: bool = True) -> ReferenceReport:
    """Scores of `votes` (the project's pairwise votes, selectors.votes) against the project's references.

    Scoring only: whatever the reference use, nothing is fitted to the references here (an evaluation-only
    reference is safe to score with). Without a reference on a voted item, the reliability warnings say whether
    the agreement structure makes an unsupervised consensus untrustworthy."""
    references, _ = pairwise_references(project=project, item_ids=votes.item_ids)
    voted = np.bincount(votes.items, minlength=votes.n_items) > 0
    references = np.where(voted, references, NONE)
    report = ReferenceReport(use=project.reference_use, n_references=int((references != NONE).sum()))
    if len(votes.values):
        majority = aggregate_pairwise(votes, method="majority")
        report.agreement = consensus_agreement(votes, majority.winner)
    if report.n_references:
        plain = annotator_accuracy(votes, references)
        no_ties = annotator_accuracy(votes, references, exclude_ties=True)
        report.annotators = [
            AnnotatorScore(int(pk), bool(judge), a, b)
            for pk, judge, a, b in zip(votes.annotator_ids, votes.annotator_is_judge, plain, no_ties) if a.n
        ]
        report.methods = method_accuracy(votes, references, methods=methods, hide_gold=True)
    elif len(votes.values):
        report.warnings = reliability_check(votes)
    if listwise:
        report.listwise, report.n_listwise_references = _listwise_scores(project)
    return report


def _listwise_scores(project: Project) -> tuple[dict[int, Proportion], int]:
    """{annotator_id: top-group accuracy} on listwise reference items, and how many such items have a label."""
    rows = (Label.objects.filter(item__project=project, item__kind=TaskKind.LISTWISE, item__reference__isnull=False,
                                 role=LabelRole.ANNOTATION, status=LabelStatus.OK)
            .order_by("annotator_id", "item_id").values_list("annotator_id", "item_id", "ranking", "item__reference"))
    pairs: dict[int, list] = {}
    items = set()
    for annotator_id, item_id, ranking, reference in rows.iterator(chunk_size=20_000):
        pairs.setdefault(annotator_id, []).append((ranking, (reference or {}).get("ranking")))
        items.add(item_id)
    return {pk: ranking_top_accuracy(p) for pk, p in pairs.items()}, len(items)


def reference_report_for(*, project: Project) -> ReferenceReport:
    """reference_report of the project's pairwise votes (the curation page's, the commands')."""
    return reference_report(project=project, votes=pairwise_votes(project=project))


def attention_scores(*, project: Project, votes: PairwiseVotes | None = None) -> list[AnnotatorScore]:
    """People's accuracy on the project's reference items (attention checks when reference_use is "attention"),
    each with its 95 % interval; judges are left out (they are not served checks)."""
    votes = votes if votes is not None else pairwise_votes(project=project)
    report = reference_report(project=project, votes=votes, methods=(), listwise=False)
    return [a for a in report.annotators if not a.is_judge]
