"""Which aggregate to trust: pick among majority, Dawid-Skene, MACE, weighted and supervised votes - and the best
single annotator - by cross-validated accuracy on calibration references, and never publish an aggregate that
the best single annotator beats.

References come as `references` (I,) int8 (the item's known class, -1 = none) and `calibration` (I,) bool (which
of them may be used here). Cross-validation is honest: the items are split into n_folds stratified folds; for
each fold every method is fitted with the OTHER folds' references as known truth (votes.gold) and none of this
fold's (a reviewer's gold on a test item is hidden too), then scored on this fold's references. The best single
annotator is chosen inside each fold the same way (most right on the training references, an item it did not
vote on getting the majority vote) and scored on the test fold the same way. Each
accuracy carries its 95 % Wilson interval. The chosen aggregate is the most accurate method; if none beats
the best single annotator, the single annotator is chosen. The final consensus is then fitted with all
references as known truth (so reference items take their reference class).

Without enough references (< min_references) nothing can be chosen honestly: the run's default method is
used and reliability.reliability_check's warnings come back with it. No Django.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..aggregation import ALL_METHODS, aggregate_pairwise
from ..aggregation.majority import majority_winner
from ..aggregation._common import PairwiseConsensus, finish, index_counts, per_annotator_mean, posthoc_competence
from ..aggregation.options import ORDERS, competence_prior, select_annotators, split_orders
from ..votes import CLASSES, NONE, PairwiseVotes
from ._stats import Proportion, folds, proportion
from .reliability import ConsensusAgreement, ReliabilityWarning, consensus_agreement, reliability_check

__all__ = ["SINGLE", "AggregationRun", "MethodScore", "AggregationChoice", "aggregation_choose"]

SINGLE = "single"  # the name of the best-single-annotator candidate in scores and `chosen`


@dataclass(frozen=True)
class AggregationRun:
    """What one curation run aggregates and how (asdict() is what a Job row can store).

    methods: candidates for the cross-validated choice (any of aggregation.ALL_METHODS).
    default_method: used when there are fewer than min_references references.
    orders: "one" = a judge's verdict is one vote; "two" = its two presentation orders are two (options.split_orders).
    include / exclude: annotator names (or indices) to keep / drop; include None = everyone.
    priors: prior accuracy by kind ("human", "judge") or annotator name, e.g. {"human": 0.8, "gpt-4o": 0.7};
        used by Dawid-Skene and the weighted vote with prior_strength pseudo-votes.
    n_folds, seed: the cross-validation; min_references: fewer usable references than this -> no choice.
    """

    methods: tuple[str, ...] = ALL_METHODS
    default_method: str = "dawid_skene"
    orders: str = "one"
    include: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    priors: dict[str, float] = field(default_factory=dict)
    prior_strength: float = 10.0  # ten pseudo-votes: a prior that a hundred real votes overrule
    n_folds: int = 5
    seed: int = 0
    min_references: int = 20  # 4 per fold at 5 folds: below this the CV accuracies are mostly noise

    def __post_init__(self) -> None:
        unknown = set(self.methods) - set(ALL_METHODS)
        if unknown or not self.methods:
            raise ValueError(f"unknown aggregation method(s) {sorted(unknown)}: use {', '.join(ALL_METHODS)}")
        if self.default_method not in ALL_METHODS or self.default_method == "supervised":
            raise ValueError("default_method must be an unsupervised method (it runs without references)")
        if self.orders not in ORDERS:
            raise ValueError(f"orders must be one of {', '.join(ORDERS)}")
        if self.n_folds < 2 or self.min_references < self.n_folds or self.prior_strength < 0:
            raise ValueError("n_folds must be >= 2, min_references >= n_folds and prior_strength >= 0")


@dataclass
class MethodScore:
    """A candidate's cross-validated accuracy on the references; `annotator` = the single annotator's index."""

    method: str
    accuracy: Proportion
    annotator: int | None = None


@dataclass
class AggregationChoice:
    """chosen: a method name or SINGLE (then `annotator` is who); scores: every candidate's CV accuracy (empty
    without references); consensus: the chosen aggregate over all items (reference items take their reference);
    held_out: the same, except that each reference item carries the chosen candidate's cross-validated
    posterior (fitted without it) and is not gold - check noise signals on this one; reference_accuracy (J,): each
    annotator's accuracy on all usable references; warnings: why an unsupervised consensus may be wrong (only
    computed without references); agreement: the consensus' per-item, per-vote and excluding-ties agreement."""

    chosen: str
    annotator: int | None
    reason: str
    scores: dict[str, MethodScore]
    consensus: PairwiseConsensus
    held_out: PairwiseConsensus
    n_references: int
    reference_accuracy: list[Proportion]
    warnings: list[ReliabilityWarning]
    agreement: ConsensusAgreement


def _method_options(method: str, votes: PairwiseVotes, run: AggregationRun) -> dict[str, Any]:
    if run.priors and method in ("dawid_skene", "weighted"):
        return {"prior_accuracy": competence_prior(votes, run.priors), "prior_strength": run.prior_strength}
    return {}


def _with_gold(votes: PairwiseVotes, gold: np.ndarray) -> PairwiseVotes:
    return replace(votes, gold=np.asarray(gold, dtype=np.int8))


def _first_vote(votes: PairwiseVotes, j: int) -> np.ndarray:
    """(I,) annotator j's (first) vote per item, -1 where it did not vote."""
    out = np.full(votes.n_items, NONE, dtype=np.int64)
    mine = np.flatnonzero(votes.annotators == j)[::-1]  # reversed: the first vote is written last and wins
    out[votes.items[mine]] = votes.values[mine]
    return out


def _single_guess(votes: PairwiseVotes, j: int, fallback: np.ndarray) -> np.ndarray:
    """(I,) annotator j's vote where it voted, `fallback` (I,) (the majority winner) elsewhere."""
    mine = _first_vote(votes, j)
    return np.where(mine != NONE, mine, fallback)


def _best_single(votes: PairwiseVotes, known: np.ndarray, fallback: np.ndarray) -> tuple[int, float]:
    """(annotator, smoothed accuracy (k + 1) / (n + 2)) of the annotator whose guess (its vote, else the
    majority `fallback`) is right most often on the items where `known` (I,) int != -1. Every annotator is
    scored on the same items, so one who skips the hard ones (a judge with unparsable verdicts) gains nothing;
    the smoothing keeps the probability of a perfect record below 1."""
    items = np.flatnonzero(known != NONE)
    right = [int((_single_guess(votes, j, fallback)[items] == known[items]).sum()) for j in range(votes.n_annotators)]
    j = int(np.argmax(right))
    return j, (right[j] + 1) / (len(items) + 2)


def _single_consensus(votes: PairwiseVotes, j: int, accuracy: float, model: PairwiseConsensus) -> PairwiseConsensus:
    """The consensus 'annotator j is right': its vote where it voted, the majority vote elsewhere. The posterior
    (so each item's probability, the certainty the noise signals read) is `model`'s - the best method's, fitted
    on the same votes: annotator j's label is kept, but how sure the crowd is that it is right still varies from
    item to item. A constant probability (j's accuracy everywhere) would leave small_margin nothing to rank, and
    the items where the crowd weighs against j are exactly where j is most likely wrong."""
    winner = _single_guess(votes, j, majority_winner(votes)).astype(np.int64)
    posterior = model.posterior.copy()
    gold = np.asarray(votes.gold, dtype=np.int64)
    clamped = posterior.copy()
    known = gold != NONE
    clamped[known] = np.eye(CLASSES)[gold[known]]
    competence = posthoc_competence(votes, clamped, winner != NONE)
    return finish(SINGLE, votes, posterior, competence, winner=winner,
                  details={"annotator": j, "accuracy": accuracy, "probability_from": model.method})


def _cross_validate(votes: PairwiseVotes, references: np.ndarray, usable: np.ndarray,
                    run: AggregationRun) -> tuple[dict[str, MethodScore], dict[str, np.ndarray], np.ndarray]:
    """(scores, held-out posteriors, the single annotator's held-out guesses): every candidate's posterior (I, 3)
    on the reference items as fitted without that fold's references (zero rows elsewhere). The single
    annotator's posterior is the best method's (as _single_consensus), its winner the guess (I,) returned."""
    items = np.flatnonzero(usable)
    plain = majority_winner(votes)  # the single annotator's fallback: no known class may leak into it
    right = {m: 0 for m in (*run.methods, SINGLE)}
    held = {m: np.zeros((votes.n_items, CLASSES)) for m in (*run.methods, SINGLE)}
    picked: list[int] = []
    single_guess = np.full(votes.n_items, NONE, dtype=np.int64)
    for train, test in folds(references[items], run.n_folds, run.seed):
        gold = np.asarray(votes.gold, dtype=np.int64).copy()
        gold[items[test]] = NONE  # nothing of the fold being scored is known while fitting
        gold[items[train]] = references[items[train]]
        fold_votes = _with_gold(votes, gold)
        truth = references[items[test]]
        for method in run.methods:
            c = aggregate_pairwise(fold_votes, method=method, **_method_options(method, votes, run))
            right[method] += int((c.winner[items[test]] == truth).sum())
            held[method][items[test]] = c.posterior[items[test]]
        train_known = np.full(votes.n_items, NONE, dtype=np.int64)
        train_known[items[train]] = references[items[train]]
        j, accuracy = _best_single(votes, train_known, plain)
        picked.append(j)
        guess = _single_guess(votes, j, plain)[items[test]]
        right[SINGLE] += int((guess == truth).sum())
        single_guess[items[test]] = guess
    n = len(items)
    scores = {m: MethodScore(m, proportion(right[m], n)) for m in run.methods}
    scores[SINGLE] = MethodScore(SINGLE, proportion(right[SINGLE], n), annotator=max(set(picked), key=picked.count))
    held[SINGLE] = held[_best_method(scores, run)]
    return scores, held, single_guess


def _best_method(scores: dict[str, MethodScore], run: AggregationRun) -> str:
    """The method (not the single annotator) with the best cross-validated accuracy; ties: the first in run.methods."""
    return max(run.methods, key=lambda m: (scores[m].accuracy.value, -run.methods.index(m)))


def _held_out(consensus: PairwiseConsensus, posterior: np.ndarray, usable: np.ndarray,
              winner: np.ndarray | None = None) -> PairwiseConsensus:
    """The consensus with the reference items as the cross-validation saw them (winner, posterior and
    probability fitted without their reference; not gold): what the noise signals must be checked against,
    since the final consensus simply takes the reference there. winner (I,): the held-out winners where they
    are not the posterior's argmax (the single annotator's guesses)."""
    out = replace(consensus, winner=consensus.winner.copy(), posterior=consensus.posterior.copy(),
                  probability=consensus.probability.copy(), is_gold=consensus.is_gold.copy())
    idx = np.flatnonzero(usable)
    out.posterior[idx] = posterior[idx]
    out.winner[idx] = posterior[idx].argmax(axis=1) if winner is None else winner[idx]
    decided = out.winner[idx] != NONE
    out.probability[idx] = np.where(decided, posterior[idx, np.maximum(out.winner[idx], 0)], np.nan)
    out.is_gold[idx] = False
    return out


def aggregation_choose(votes: PairwiseVotes, *, run: AggregationRun | None = None,
                       references: np.ndarray | None = None,
                       calibration: np.ndarray | None = None) -> AggregationChoice:
    """The aggregate of `votes` that the references support best (module docstring).

    references (I,) int (class or -1) and calibration (I,) bool (default: every reference is usable) cover
    the items of `votes`. Raises ValueError for mismatched lengths, a class outside 0..2 or a bad run.
    """
    run = run or AggregationRun()
    n = votes.n_items
    # int8 classes (-1..2, checked below once within int64's range): 7 bytes an item less, held through the choice
    references = np.full(n, NONE, dtype=np.int8) if references is None else np.asarray(references)
    calibration = (references != NONE) if calibration is None else np.asarray(calibration, dtype=bool)
    if len(references) != n or len(calibration) != n:
        raise ValueError(f"references ({len(references)}) and calibration ({len(calibration)}) must cover the "
                         f"{n} items of the votes")
    if np.any((references < NONE) | (references >= CLASSES)):
        raise ValueError("references must hold 0 (A), 1 (B), 2 (tie) or -1 (none)")
    references = references.astype(np.int8, copy=False)
    selected = select_annotators(votes, include=run.include, exclude=run.exclude)
    used = split_orders(selected, orders=run.orders)
    voted = index_counts(used.items, n) > 0
    usable = calibration & (references != NONE) & voted
    if usable.any():
        known = np.where(usable, references, NONE)
        ref_right = np.where(known[used.items] != NONE, (used.values == known[used.items]).astype(float), np.nan)
        mean, count = per_annotator_mean(used, ref_right)
        del ref_right
    else:  # nothing to score against: no (N,) arrays for it (48 MB at 3M votes, held through the aggregation)
        mean, count = np.full(used.n_annotators, np.nan), np.zeros(used.n_annotators, np.int64)
    reference_accuracy = [proportion(int(round(m * c)) if c else 0, int(c)) for m, c in zip(np.nan_to_num(mean), count)]

    gold = np.asarray(used.gold, dtype=np.int8).copy()
    gold[usable] = references[usable]
    final_votes = _with_gold(used, gold)
    if usable.sum() < run.min_references:
        method = run.default_method
        options = _method_options(method, used, run)
        consensus = aggregate_pairwise(final_votes, method=method, **options)
        reason = (f"{int(usable.sum())} usable references (< {run.min_references}): no cross-validated choice, "
                  f"used {method}")
        # reliability_check fits a default Dawid-Skene to `selected`: when that is the fit just made (the same
        # votes, no reference taken as gold, no priors), its competences are the consensus' own.
        same_fit = method == "dawid_skene" and not options and used is selected and not usable.any()
        return AggregationChoice(method, None, reason, {}, consensus, consensus, int(usable.sum()),
                                 reference_accuracy, reliability_check(
                                     selected, competence=consensus.competence if same_fit else None),
                                 consensus_agreement(used, consensus.winner))

    scores, held, single_guess = _cross_validate(used, references, usable, run)
    best = _best_method(scores, run)
    single = scores[SINGLE].accuracy.value
    model = aggregate_pairwise(final_votes, method=best, **_method_options(best, used, run))
    held_winner = None
    if scores[best].accuracy.value > single:
        chosen, annotator, consensus = best, None, model
        reason = f"{best} is the most accurate in cross-validation ({scores[best].accuracy})"
    else:
        chosen, held_winner = SINGLE, single_guess
        annotator, accuracy = _best_single(used, np.where(usable, references, NONE), majority_winner(used))
        consensus = _single_consensus(final_votes, annotator, accuracy, model)
        names = used.annotator_names
        who = names[annotator] if annotator < len(names) else str(annotator)
        reason = (f"no method beats the best single annotator ({who}, {scores[SINGLE].accuracy}; best method "
                  f"{best} {scores[best].accuracy}): its votes are the consensus, {best}'s posterior their "
                  f"certainty")
    return AggregationChoice(chosen, annotator, reason, scores, consensus,
                             _held_out(consensus, held[chosen], usable, held_winner),
                             int(usable.sum()), reference_accuracy, [], consensus_agreement(used, consensus.winner))
