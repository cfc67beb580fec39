"""Reads for the curation pages: agreement of a project, routing results, dataset versions and their rows.

Access first (owners and reviewers, through `project_for_reviewer`), then plain reads. The numbers come from
annotation/curation/ (no Django there): this module builds the vote arrays, calls it, and shapes the result
for a template and its charts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, QuerySet

from ..errors import NotFound
from ..curation import agreement
from ..curation.report_text import curation_lines
from ..curation.votes import PairwiseVotes, RankingVotes
from ..models import DatasetRow, DatasetVersion, Item, Project, Route, RoutingDecision, RoutingRun
from . import counters
from .datasets import version_row_counts
from .identities import AnnotatorNames, annotator_names_for
from .references import AnnotatorScore, ReferenceReport, reference_report
from .stored_figures import Pending, Staleness, figures_read
from .review import _num, project_for_reviewer
from .votes import pairwise_votes, ranking_votes

CLASS_NAMES = ("A", "B", "Tie")  # the pairwise classes 0, 1, 2 of annotation/curation/votes.py
GAIN_BINS = 10  # bars of the predicted-gain histogram on the routing page
MIN_COMMON = 5  # items two annotators must share for their Cohen's κ (fewer make a κ too noisy to show)
# The project-level figures of the agreement page, in the order shown: (key, name, what it measures).
FIGURES = (
    ("raw_agreement", "Raw agreement", "Share of annotator pairs on an item that gave the same verdict."),
    ("fleiss_kappa", "Fleiss' κ", "Agreement on the winner beyond chance, all raters together (1 perfect, 0 chance)."),
    ("alpha_nominal", "Krippendorff's α (nominal)", "Agreement on the winner beyond chance; copes with gaps."),
    ("alpha_ordinal", "Krippendorff's α (ordinal)", "Agreement on the signed strength (+A, −B, 0 tie)."),
    ("mean_cohen_kappa", "Mean Cohen's κ", "Mean of the annotator pairs' κ below (pairs sharing enough items)."),
    ("kendall_tau", "Mean Kendall τ (listwise)", "How close two rankings of the same item are (1 = same order)."),
)


# -- agreement --------------------------------------------------------------------------------------
@dataclass
class FigureView:
    value: float | None  # None where it cannot be computed on this data
    n: int  # items (or pairs) it rests on
    reason: str | None  # why it is None


@dataclass
class AnnotatorAgreement:
    name: str
    is_judge: bool
    agreement: float | None  # share of votes equal to the other annotators' majority (leave-one-out)
    n: int


@dataclass
class JudgeAgreement:
    name: str
    agreement: float | None  # with the human majority, on items both labeled
    kappa: float | None
    swap_consistency: float | None  # share of swap-checked verdicts that held when the order was swapped
    n: int
    confusion: list[list[int]]  # [human majority class][judge class], classes A, B, Tie

    @property
    def confusion_rows(self) -> list[tuple[str, list[int]]]:
        return list(zip(CLASS_NAMES, self.confusion))


@dataclass
class AgreementPage:
    project: Project
    n_items: int  # pairwise items with a vote
    n_votes: int
    n_humans: int
    n_judges: int
    n_listwise_items: int
    include_judges: bool = False  # judges' votes count in the project figures too
    blind: bool = False  # people's names hidden (blind review, and the viewer is not an owner)
    names: AnnotatorNames | None = None  # how the viewer sees the annotators (selectors.identities)
    figures: dict[str, FigureView] = field(default_factory=dict)
    annotators: list[AnnotatorAgreement] = field(default_factory=list)
    judges: list[JudgeAgreement] = field(default_factory=list)
    cohen_pairs: list[dict[str, Any]] = field(default_factory=list)  # {"a", "b", "kappa", "n"}
    references: ReferenceReport | None = None  # accuracy against gold references (selectors.references)
    stale: Staleness | None = None  # the stored figures of a large project, when its labels changed since
    pending: Pending | None = None  # a large project's figures, being computed by a worker (nothing stored yet)

    @property
    def reference_annotators(self) -> list[tuple[str, AnnotatorScore]]:
        """(name as the viewer sees it, score) of each annotator scored against references."""
        if self.references is None:
            return []
        return [(self.names.name(a.annotator_id), a) for a in self.references.annotators]

    @property
    def reference_listwise(self) -> list[tuple[str, Any]]:
        if self.references is None:
            return []
        return [(self.names.name(pk), p) for pk, p in self.references.listwise.items()]

    @property
    def is_empty(self) -> bool:
        return self.pending is None and not self.n_votes and not self.n_listwise_items

    @property
    def figure_rows(self) -> list[tuple[str, str, FigureView, str]]:
        blank = FigureView(None, 0, "not computed")
        return [(key, name, self.figures.get(key, blank), text) for key, name, text in FIGURES]

    @property
    def class_names(self) -> tuple[str, ...]:
        return CLASS_NAMES

    @property
    def min_common(self) -> int:
        return MIN_COMMON

    def chart_data(self) -> dict[str, Any]:
        return {
            "annotators": {
                "labels": [a.name for a in self.annotators],
                "values": [a.agreement for a in self.annotators],
                "judge": [a.is_judge for a in self.annotators],
            },
            "confusion": [{"name": j.name, "matrix": j.confusion, "classes": list(CLASS_NAMES)} for j in self.judges],
        }


def agreement_for_user(*, user: AbstractBaseUser, slug: str, include_judges: bool | None = None,
                       background: Callable[[Project, str], None] | None = None) -> AgreementPage:
    """agreement_page for a reviewer; `background(project, name)` asks a worker for a large project's figures."""
    project = project_for_reviewer(user=user, slug=slug)
    return agreement_page(project=project, include_judges=include_judges,
                          names=annotator_names_for(project=project, user=user),
                          background=(lambda name: background(project, name)) if background else None)


@dataclass
class AgreementData:
    """What the agreement page computes from every vote (annotators by id: names are the viewer's), stored for
    large projects by selectors.stored_figures."""

    n_items: int
    n_votes: int
    n_humans: int
    n_judges: int
    n_listwise_items: int
    include_judges: bool
    annotator_ids: list[int]
    report: agreement.AgreementReport | None = None
    tau: agreement.Figure | None = None
    references: ReferenceReport | None = None


def agreement_data(*, project: Project, include_judges: bool | None = None) -> AgreementData:
    """Every agreement figure of the project's pairwise votes (and Kendall τ of its listwise ones), and the scores
    against references. `include_judges` None counts the judges' votes only where no person voted."""
    votes = pairwise_votes(project=project)
    rankings = ranking_votes(project=project)
    n_humans, n_judges = _annotator_counts(votes, rankings)
    data = AgreementData(
        n_items=int(len(np.unique(votes.items))), n_votes=int(len(votes.values)), n_humans=n_humans,
        n_judges=n_judges, n_listwise_items=int(len(np.unique(rankings.items))),
        include_judges=(n_humans == 0 and n_judges > 0) if include_judges is None else include_judges,
        annotator_ids=[int(pk) for pk in votes.annotator_ids],
    )
    if not data.n_votes and not data.n_listwise_items:
        return data
    data.report = agreement.agreement_report(votes, include_judges=data.include_judges, min_common=MIN_COMMON)
    data.tau = agreement.ranking_agreement(rankings).mean_tau if data.n_listwise_items else None
    data.references = reference_report(project=project, votes=votes)
    return data


def agreement_figures_name(include_judges: bool | None) -> str:
    """The name the stored figures of agreement_data(include_judges=...) go by (models.ProjectFigures)."""
    return "agreement:" + {None: "auto", True: "judges", False: "people"}[include_judges]


def agreement_page(*, project: Project, include_judges: bool | None = None, names: AnnotatorNames | None = None,
                   fresh: bool = False, background: Callable[[str], None] | None = None) -> AgreementPage:
    """The agreement page (agreement_data), annotators named by `names` (a viewer's: selectors.identities; None
    names them all, as an operator). A large project's figures may be stored ones (selectors.stored_figures):
    `page.stale` then says since when; `fresh` computes them again. `background(name)`: asks a worker for a large
    project's figures when none are stored (the page is then `pending`, with only the project's counts)."""
    names = names or annotator_names_for(project=project, user=None, visible=True)
    name = agreement_figures_name(include_judges)
    data, stale = figures_read(project=project, name=name,
                               compute=lambda: agreement_data(project=project, include_judges=include_judges),
                               fresh=fresh, background=(lambda: background(name)) if background else None)
    if isinstance(stale, Pending):
        return AgreementPage(project=project, n_items=0, n_votes=0, n_humans=0, n_judges=0, n_listwise_items=0,
                             blind=not names.visible, names=names, pending=stale)
    page = AgreementPage(
        project=project, n_items=data.n_items, n_votes=data.n_votes, n_humans=data.n_humans, n_judges=data.n_judges,
        n_listwise_items=data.n_listwise_items, include_judges=data.include_judges, blind=not names.visible,
        names=names, stale=stale,
    )
    if page.is_empty:
        return page
    _fill_agreement(page, data)
    page.references = data.references
    return page


def _annotator_counts(votes: PairwiseVotes, rankings: RankingVotes) -> tuple[int, int]:
    """People and judges with a vote of either kind: an imported project of rankings only (LAMP) has people too."""
    kinds = dict(zip(votes.annotator_ids.tolist(), votes.annotator_is_judge.tolist()))
    kinds.update(zip(rankings.annotator_ids.tolist(), rankings.annotator_is_judge.tolist()))
    n_judges = sum(kinds.values())
    return len(kinds) - n_judges, n_judges


def _fill_agreement(page: AgreementPage, data: AgreementData) -> None:
    """Copy annotation.curation.agreement's report into `page` (names pseudonymised under blind review)."""
    report, tau = data.report, data.tau
    for key, figure in (("raw_agreement", report.raw_agreement), ("fleiss_kappa", report.fleiss_kappa),
                        ("alpha_nominal", report.krippendorff_nominal), ("alpha_ordinal", report.krippendorff_ordinal),
                        ("mean_cohen_kappa", report.mean_cohen_kappa), ("kendall_tau", tau)):
        if figure is None:
            page.figures[key] = FigureView(None, 0, "no listwise items")
        else:
            page.figures[key] = FigureView(_num(figure.value), int(figure.n), figure.reason)
    names = [page.names.name(annotator_id) for annotator_id in data.annotator_ids]
    page.annotators = [
        AnnotatorAgreement(names[a.index], a.is_judge, _num(a.majority_agreement), a.n_majority)
        for a in report.annotators
    ]
    page.judges = [
        JudgeAgreement(
            name=names[j.index], agreement=_num(j.accuracy), n=j.n_compared,
            kappa=_num(agreement.cohen_kappa(np.array(j.confusion))) if j.n_compared else None,
            swap_consistency=_num(j.swap_consistency) if j.n_swap_checked else None, confusion=j.confusion,
        )
        for j in report.judges
    ]
    page.cohen_pairs = [
        {"a": names[p.a], "b": names[p.b], "kappa": _num(p.kappa), "agreement": _num(p.agreement), "n": p.n_common}
        for p in sorted(report.cohen, key=lambda p: (names[p.a], names[p.b]))
    ]


# -- routing ----------------------------------------------------------------------------------------
@dataclass
class RoutingSummary:
    n_items: int
    n_human: int
    n_ai: int
    policy: str
    histogram: dict[str, list]  # {"edges": [...], "human": [...], "ai": [...]} counts of the latest run's gain
    run_budget: int | None = None  # items the latest run could send to people
    run_human: int = 0  # items the latest run sent to people
    # The latest run's out-of-sample figures (annotation.curation.routing.crossfit_gain), None when unmeasurable
    # or for a run from before they were recorded; and its gain model ({"kind", "reused", ...}) or None.
    crossfit: dict[str, Any] | None = None
    model: dict[str, Any] | None = None

    @property
    def n_pending(self) -> int:
        return self.n_items - self.n_human - self.n_ai

    def chart_data(self) -> dict[str, Any]:
        return {"gain": self.histogram}


def routing_summary(*, project: Project) -> RoutingSummary:
    """The project's routes now, and its latest routing run: its cross-fitted gain (the only gain shown: measured
    on items whose AI label is known right or wrong, each scored by a model that never saw it) and a histogram of
    the gains it ranked the items by."""
    if counters.kept():  # trigger-kept (models.ProjectItemCounts): no scan of the project's items
        routes = counters.item_counts(project=project, by="route")
    else:
        routes = dict(Item.objects.filter(project=project).values_list("route").annotate(n=Count("id")).order_by())
    summary = RoutingSummary(
        n_items=sum(routes.values()), n_human=routes.get(Route.HUMAN, 0), n_ai=routes.get(Route.AI, 0),
        policy=project.routing_policy, histogram={},
    )
    latest = RoutingDecision.objects.filter(project=project).order_by("-created_at", "-id").first()
    if latest is None:
        return summary
    summary.policy, summary.run_budget = latest.policy, latest.budget
    run = RoutingRun.objects.filter(run_id=latest.run_id).only("report").first()
    if run is not None:
        summary.crossfit = run.report.get("crossfit")
        summary.model = run.report.get("model")
    rows = list(RoutingDecision.objects.filter(run_id=latest.run_id).values_list("predicted_gain", "routed_to"))
    gains = np.array([np.nan if g is None else g for g, _ in rows], dtype=np.float64)  # (I,)
    human = np.array([route == Route.HUMAN for _, route in rows], dtype=bool)  # (I,)
    summary.run_human = int(human.sum())
    known = np.isfinite(gains)
    if not known.any():
        return summary
    edges = np.histogram_bin_edges(gains[known], bins=GAIN_BINS)
    summary.histogram = {
        "edges": [round(float(e), 4) for e in edges],
        "human": np.histogram(gains[known & human], bins=edges)[0].tolist(),
        "ai": np.histogram(gains[known & ~human], bins=edges)[0].tolist(),
    }
    return summary


# -- dataset versions -------------------------------------------------------------------------------
@dataclass
class VersionListEntry:
    version: DatasetVersion
    kept: int  # items kept
    n_dropped: int  # items dropped


def dataset_versions_for_user(*, user: AbstractBaseUser, slug: str) -> tuple[Project, list[VersionListEntry]]:
    """The project's versions, newest first, with who made them and how many items each dropped."""
    project = project_for_reviewer(user=user, slug=slug)
    versions = DatasetVersion.objects.filter(project=project).select_related("created_by").order_by("-number")
    return project, [
        VersionListEntry(v, int((v.stats or {}).get("kept_items", v.n_rows)),
                         sum(n for _, n in _dropped(v.stats or {})))
        for v in versions
    ]


@dataclass
class VersionDetail:
    project: Project
    version: DatasetVersion
    kept: int  # items kept (each gives one row or more)
    dropped: list[tuple[str, int]]  # (reason, rows dropped for it), most first
    sources: list[tuple[str, int]]  # (label source, rows)
    splits: list[tuple[str, int]]  # (split, rows)
    kinds: list[tuple[str, int]]  # (row kind, rows)
    names: AnnotatorNames | None = None  # how the viewer sees the annotators named in rows' reasons

    @property
    def n_dropped(self) -> int:
        return sum(n for _, n in self.dropped)

    @property
    def report_lines(self) -> list[str]:
        """The run's aggregation, noise, tie and reference report in words, annotators as the viewer sees them."""
        stats = self.version.stats or {}
        return curation_lines(self.names.render_json(stats) if self.names else stats)

    @property
    def rm_margins(self) -> dict[str, Any] | None:
        """Which reward model gave the noise score's reward margins (annotation.curation.rm_crossfit
        RMMargins.summary(), as the curation run stored it), or None for a version made before it was recorded."""
        found = ((self.version.stats or {}).get("consensus") or {}).get("rm_margins")
        return found if isinstance(found, dict) else None

    def chart_data(self) -> dict[str, Any]:
        return {
            "dropped": {"labels": [r for r, _ in self.dropped], "values": [n for _, n in self.dropped]},
            "sources": {"labels": [s for s, _ in self.sources], "values": [n for _, n in self.sources]},
            "splits": {"labels": [s for s, _ in self.splits], "values": [n for _, n in self.splits]},
        }


def dataset_version_for_user(*, user: AbstractBaseUser, slug: str, number: int) -> VersionDetail:
    """Version `number` of project `slug` with its statistics. NotFound if there is no such version."""
    project = project_for_reviewer(user=user, slug=slug)
    version = DatasetVersion.objects.filter(project=project, number=number).select_related("created_by").first()
    if version is None:
        raise NotFound(f"no dataset version {number} in project {slug!r}", field="number")
    # Counted from the rows once, when the version was frozen (or now, for a version older than that).
    counts = version_row_counts(version=version)
    return VersionDetail(
        project=project,
        version=version,
        kept=int((version.stats or {}).get("kept_items", version.n_rows)),
        dropped=_dropped(version.stats or {}),
        sources=sorted(((s or "unknown", n) for s, n in counts["sources"].items()), key=lambda p: (-p[1], p[0])),
        splits=sorted(counts["splits"].items()),
        kinds=sorted(counts["kinds"].items()),
        names=annotator_names_for(project=project, user=user),
    )


def _dropped(stats: dict[str, Any]) -> list[tuple[str, int]]:
    """(reason, count) from the stats curation wrote: {"dropped": {reason: n}} (or "dropped_by_reason")."""
    dropped = stats.get("dropped_by_reason", stats.get("dropped"))
    if not isinstance(dropped, dict):
        return []
    return sorted(((str(r), int(n)) for r, n in dropped.items() if n), key=lambda pair: (-pair[1], pair[0]))


@dataclass
class RowView:
    row: DatasetRow
    prompt: str
    first: str  # chosen (pairwise), best response (listwise), completion (unpaired)
    second: str  # rejected (pairwise), the ranking (listwise), the label (unpaired)
    source: str
    noise_score: float | None
    reasons: list[str]


def _text(prompt: Any) -> str:
    """The last user turn of a chat prompt (or the prompt itself if it is a string)."""
    if isinstance(prompt, list) and prompt:
        users = [m for m in prompt if isinstance(m, dict) and m.get("role", "user") == "user"] or prompt
        last = users[-1]
        return str(last.get("content", "")) if isinstance(last, dict) else str(last)
    return "" if prompt is None else str(prompt)


def row_view(row: DatasetRow, *, names: AnnotatorNames) -> RowView:
    """A row for the version page; the annotators its reasons name are shown as `names` shows them."""
    data, prov = row.data or {}, row.provenance or {}
    if row.kind == "listwise":
        responses = data.get("responses") or []
        ranking = data.get("ranking") or []
        best = responses[ranking[0][0]] if ranking and ranking[0] and responses else ""
        first, second = str(best), " > ".join(" = ".join(chr(65 + p) for p in g) for g in ranking)
    elif row.kind == "tie":
        responses = [str(r) for r in data.get("responses") or []] + ["", ""]
        first, second = responses[0], f"(tie) {responses[1]}"
    elif row.kind == "unpaired":
        first, second = str(data.get("completion", "")), "good" if data.get("label") else "bad"
    else:
        first, second = str(data.get("chosen", "")), str(data.get("rejected", ""))
    return RowView(
        row=row, prompt=_text(data.get("prompt")), first=first, second=second,
        source=str(prov.get("source") or ""), noise_score=_num(prov.get("noise_score")),
        reasons=[names.render(str(r)) for r in prov.get("reasons") or []],
    )


def dataset_rows(*, version: DatasetVersion, split: str | None = None) -> QuerySet[DatasetRow]:
    """The version's rows in their stored order (page them: a version may hold millions)."""
    rows = DatasetRow.objects.filter(version=version).order_by("index")
    return rows.filter(split=split) if split else rows
