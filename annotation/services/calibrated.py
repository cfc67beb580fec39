"""Calibrated curation: the aggregation choice and the checked noise score of a consensus refresh, with their
reports. services.curation.consensus_refresh calls the two steps here; the arithmetic is annotation.curation.
calibration's (aggregation_choose, noise_calibrate, signal_checks, scoring), this module only decides what each
kind of reference may be used for and shapes the reports.

What references do, by the project's reference_use:
  calibration   aggregation_choose learns from them (cross-validated choice among methods and the best single
                annotator; the consensus takes the reference on those items) and noise_calibrate chooses the
                noise combiner (the best single signal unless a combination is clearly better);
  evaluation,   nothing is fitted to them: the aggregate runs without them, the noise score is the prior signal
                (or the weights set for the run), and
  attention     they only score (each method's and each annotator's accuracy, each signal's AUROC and direction).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..curation.aggregation import ALL_METHODS, PairwiseConsensus
from ..curation.aggregation._common import posthoc_competence
from ..curation.aggregation.options import select_annotators
from ..curation.calibration import (
    AggregationRun,
    NoiseFit,
    SignalStats,
    aggregation_choose,
    annotator_accuracy,
    flag_top_share,
    method_accuracy,
    noise_fit,
    noise_keep,
    reliability_check,
    winner_accuracy,
)
from ..curation.calibration._stats import auroc
from ..curation.calibration.noise_weights import checks_on
from ..curation.identities import annotator_token
from ..curation.noise import DEFAULT_WEIGHTS, PAIRWISE_SIGNALS, NoiseReport
from ..curation.votes import NONE, PairwiseVotes
from ..errors import PrefStudioError
from ..models import Project
from ..selectors.references import pairwise_references, proportion_json

__all__ = ["AUTO", "RUN_METHODS", "CalibrationOptions", "CalibratedAggregate", "calibrated_aggregate",
           "noise_stats", "noise_check", "noise_chunk_score", "noise_summary"]

AUTO = "auto"
RUN_METHODS = ALL_METHODS + (AUTO,)


@dataclass(frozen=True)
class CalibrationOptions:
    """The per-run settings of calibrated curation (annotation.curation.dataset.CurationConfig carries them).

    method: one of RUN_METHODS ("auto": the cross-validated choice); priors: prior accuracy by kind ("human",
    "judge") or annotator name; include / exclude: annotator names; orders: "one" | "two" (a judge's two
    presentation orders as one vote or two); noise_weights: per-signal defaults; learn_noise: learn the noise
    combiner from calibration references; flag_share: flag the noisiest share of non-gold items (0 = none)."""

    method: str = "dawid_skene"
    priors: dict[str, float] = field(default_factory=dict)
    include: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    orders: str = "one"
    noise_weights: dict[str, float] = field(default_factory=dict)
    learn_noise: bool = True
    flag_share: float = 0.0
    include_judges: bool = True


@dataclass
class CalibratedAggregate:
    """votes: the votes the aggregate used (after include / exclude; one vote per judge verdict): what the noise
    signals read. consensus: per item; held_out: the same with each calibration item as cross-validation saw it
    (fitted without its reference); references / calibration (I,); report: JSON for the run's summary."""

    votes: PairwiseVotes  # selected: include / exclude applied, judges kept, one vote per verdict
    consensus: PairwiseConsensus
    held_out: PairwiseConsensus
    references: np.ndarray
    calibration: np.ndarray
    cross_validated: bool
    report: dict[str, Any]

    def release_unused(self) -> None:
        """Drop what nothing after the aggregation reads: the consensus' and held-out consensus' (I, 3) posteriors
        and per-kind vote counts (winner, probability, agreement, n_votes and source hold what the rows and noise
        signals need). A refresh holds the aggregate through its noise and write phases: 32 MB at a million items."""
        for consensus in (self.consensus, self.held_out):
            consensus.posterior = consensus.n_human = consensus.n_judge = None


def _run(options: CalibrationOptions, method: str) -> AggregationRun:
    methods = ALL_METHODS if method == AUTO else (method,)
    default = method if method in ("majority", "dawid_skene", "mace", "weighted") else "dawid_skene"
    return AggregationRun(methods=methods, default_method=default, orders=options.orders,
                          include=options.include, exclude=options.exclude, priors=dict(options.priors))


def _token_keys(votes: PairwiseVotes, values: list) -> dict[str, Any]:
    """{annotator token: value} (tokens, not names: the summary is shown to viewers who may not see names)."""
    return {annotator_token(int(pk)): v for pk, v in zip(votes.annotator_ids.tolist(), values)}


def calibrated_aggregate(*, project: Project, votes: PairwiseVotes, options: CalibrationOptions
                         ) -> CalibratedAggregate:
    """The consensus of `votes` under `options` (module docstring), with its report. Raises PrefStudioError
    (field "method", "priors", "include_annotators", ...) for settings that do not fit these votes."""
    if options.method not in RUN_METHODS:
        raise PrefStudioError(f"method must be one of {', '.join(RUN_METHODS)}, got {options.method!r}",
                              field="method")
    references, calibration = pairwise_references(project=project, item_ids=votes.item_ids)
    used = votes if options.include_judges else votes.subset(~votes.vote_is_judge)
    try:
        selected = select_annotators(votes, include=options.include, exclude=options.exclude)
        run = _run(options, options.method)
        if options.method == "supervised" and not calibration.any():
            raise PrefStudioError("the supervised aggregator needs calibration references (the project's "
                                  "reference_use must be 'calibration' and some items need a reference)",
                                  field="method")
        if options.method in (AUTO, "supervised"):
            choice = aggregation_choose(used, run=run, references=references, calibration=calibration)
        else:  # one method: the references may still be known truth (calibration), never a choice
            choice = aggregation_choose(used, run=replace(run, min_references=10**9), references=references,
                                        calibration=calibration)
    except ValueError as exc:
        field_ = ("priors" if "prior" in str(exc) else "include_annotators" if "annotator" in str(exc)
                  else "method")
        raise PrefStudioError(str(exc), field=field_) from exc
    cross_validated = bool(choice.scores)
    if not options.include_judges:  # as aggregate_pairwise does: left-out judges still get a competence
        judge = np.asarray(votes.annotator_is_judge, dtype=bool)
        posthoc = posthoc_competence(votes, choice.consensus.posterior, choice.consensus.winner != NONE)
        choice.consensus.competence = np.where(judge, posthoc, choice.consensus.competence)
    # The run's votes (include / exclude and include_judges applied), one vote per verdict.
    scored_votes = selected if options.include_judges else selected.subset(~selected.vote_is_judge)
    # Scoring only (any reference use): each method fitted without the references, each annotator's votes.
    evaluation = references.copy()
    report: dict[str, Any] = {
        "method": options.method,
        "chosen": choice.chosen if choice.annotator is None else (
            f"single:{annotator_token(int(used.annotator_ids[choice.annotator]))}"),
        "reason": _render_reason(choice.reason, used, choice.annotator),
        "reference_use": project.reference_use,
        "n_references": int((evaluation != NONE).sum()),
        "n_calibration": int(choice.n_references),
        "cv_accuracy": {m: proportion_json(s.accuracy) for m, s in choice.scores.items()},
        "warnings": [{"code": w.code, "message": w.message} for w in choice.warnings],
        "agreement": {"per_item": _finite(choice.agreement.per_item), "n_items": choice.agreement.n_items,
                      "per_vote": proportion_json(choice.agreement.per_vote),
                      "per_vote_no_ties": proportion_json(choice.agreement.per_vote_no_ties)},
        "orders": options.orders,
    }
    if report["n_references"]:
        report["annotator_accuracy"] = {k: proportion_json(p) for k, p in _token_keys(
            scored_votes, annotator_accuracy(scored_votes, evaluation)).items() if p.n}
        report["method_accuracy"] = {m: proportion_json(p) for m, p in method_accuracy(
            scored_votes, evaluation, hide_gold=True).items()}
        # The consensus as published, on reference items it was not fitted to (held out where it was).
        report["consensus_accuracy"] = proportion_json(winner_accuracy(choice.held_out.winner, evaluation))
    elif not choice.warnings and len(used.values) and (options.include is not None or options.exclude):
        # aggregation_choose checked `used` itself unless annotators were left out (then it checked the rest)
        report["warnings"] = [{"code": w.code, "message": w.message} for w in reliability_check(used)]
    return CalibratedAggregate(selected, choice.consensus, choice.held_out, references, calibration, cross_validated,
                               report)


def _render_reason(reason: str, votes: PairwiseVotes, annotator: int | None) -> str:
    """The choice's reason with the single annotator's name replaced by its token (rendered per viewer)."""
    if annotator is None or annotator >= len(votes.annotator_names):
        return reason
    return reason.replace(f"({votes.annotator_names[annotator]},",
                          f"({annotator_token(int(votes.annotator_ids[annotator]))},")


# Warnings (reliability_check) that say the annotators may be inverted: an unsupervised consensus is then
# confidently wrong and its margin ranks its mistakes as its surest items. "near_chance" alone (weak but not
# adversarial annotators) does not: Dawid-Skene's margin on five 55-85 % annotators still ranks well.
INVERTED = ("opposed_camps", "below_chance")


def _inverted(warnings: list[dict[str, Any]]) -> bool:
    return any(w["code"] in INVERTED for w in warnings)


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 4)


def _check_weights(options: CalibrationOptions) -> None:
    unknown = set(options.noise_weights) - set(DEFAULT_WEIGHTS)
    if unknown:
        raise PrefStudioError(f"unknown noise signal(s) in noise_weights: {', '.join(sorted(unknown))}; the "
                              f"signals are {', '.join(DEFAULT_WEIGHTS)}", field="noise_weights")


def _learns(aggregate: CalibratedAggregate, options: CalibrationOptions) -> bool:
    return options.learn_noise and bool(aggregate.calibration.any())


def _labels(aggregate: CalibratedAggregate, options: CalibrationOptions) -> dict[str, Any]:
    """noise_fit's / noise_keep's label arguments: calibration references train the combiner (learn_noise);
    other references only check the signals."""
    learn, held = _learns(aggregate, options), aggregate.held_out
    expected_wrong = (1.0 - np.nan_to_num(held.probability, nan=1.0)) if (learn and aggregate.cross_validated) \
        else None
    return {"winner": held.winner, "references": aggregate.references if learn else None,
            "calibration": aggregate.calibration if learn else None, "expected_wrong": expected_wrong}


def noise_stats(*, aggregate: CalibratedAggregate, options: CalibrationOptions) -> tuple[SignalStats, np.ndarray]:
    """(the empty SignalStats a refresh fills a chunk at a time with the signals of its learning consensus
    (aggregate.held_out where there are calibration references, else the consensus), with aggregate.held_out's
    winners; the consensus' reference items (-1 elsewhere), whose signals the summary checks when nothing learns
    from them). Raises PrefStudioError for unknown noise_weights before any work is done."""
    _check_weights(options)
    keep = noise_keep(**_labels(aggregate, options))
    evaluated = np.flatnonzero(aggregate.references != NONE) if not _learns(aggregate, options) else np.zeros(0, int)
    return SignalStats(list(PAIRWISE_SIGNALS), keep), evaluated


def noise_check(stats: SignalStats, *, aggregate: CalibratedAggregate, options: CalibrationOptions) -> NoiseFit:
    """The run's noise combiner, chosen and fitted from the whole set's `stats` (noise_stats): the checked noise
    score. Calibration references train it (learn_noise); without them it is the prior signal or the weights set
    for the run. Its `score(report, is_gold)` is each item's score, a chunk at a time."""
    return noise_fit(stats, weights=options.noise_weights, **_labels(aggregate, options),
                     margin_trusted=aggregate.cross_validated or not _inverted(aggregate.report["warnings"]))


def noise_chunk_score(fit: NoiseFit, report: NoiseReport, is_gold: np.ndarray) -> np.ndarray:
    """(B,) the checked score of a chunk's report (of the learning consensus), in [0, 1]; 0 on gold items (the
    final consensus took the reference there)."""
    return np.clip(np.nan_to_num(fit.score(report, is_gold), nan=0.0), 0.0, 1.0)


def noise_summary(fit: NoiseFit, score: np.ndarray, *, aggregate: CalibratedAggregate, options: CalibrationOptions,
                  evaluated: SignalStats | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """(flagged (I,) bool = the top flag_share of non-gold items by `score` (I,), a JSON summary: each signal's
    AUROC / direction / n, the combiner, why it was chosen and each candidate's cross-validated AUROC, its weights,
    the wrong-way signals dropped, the combined score's AUROC). `evaluated`: the consensus' signals on its reference
    items (noise_stats' second value) where nothing learned from them: they are only checked."""
    held = aggregate.held_out
    is_gold = np.asarray(aggregate.consensus.is_gold, bool)
    learn = _learns(aggregate, options)
    checks, combined_auroc, combined_se = fit.checks, fit.auroc, fit.auroc_se
    if not learn and (aggregate.references != NONE).any() and evaluated is not None:
        # Evaluation-only (or attention) references: shown, never used to change the score.
        ref, winner = aggregate.references.astype(np.int64), np.asarray(held.winner, np.int64)
        scored = (ref != NONE) & (winner != NONE) & ~is_gold
        checks = checks_on(evaluated, np.flatnonzero(scored), winner != ref)
        combined_auroc, combined_se = auroc(score[scored], (winner != ref)[scored])
    flagged = flag_top_share(score, options.flag_share, eligible=~is_gold) if options.flag_share else \
        np.zeros(len(score), bool)
    summary = {
        "combiner": fit.combiner,
        "reason": fit.reason,
        "cv_auroc": {k: {"auroc": _finite(a), "se": _finite(se)} for k, (a, se) in fit.cv.items()},
        "learned_from_references": bool(learn),
        "weights": {k: round(float(v), 4) for k, v in fit.weights.items()},
        "dropped_signals": list(fit.dropped) if learn else [],
        "checks": {name: {"auroc": _finite(c.auroc), "se": _finite(c.se), "n": c.n, "n_wrong": c.n_wrong,
                          "direction": c.direction} for name, c in checks.items()},
        "auroc": _finite(combined_auroc), "auroc_se": _finite(combined_se),
        "flag_share": options.flag_share, "flagged": int(flagged.sum()),
    }
    return flagged, summary
