"""Scores against gold references: each annotator's and each aggregate's accuracy, with 95 % Wilson intervals.

Unlike choice.aggregation_choose (which learns from *calibration* references), nothing here fits anything to the
references: they only score. That is what an evaluation-only reference is for, and it keeps the score of an
unsupervised method honest whatever the project's reference use. No Django.

    annotator_accuracy(votes, references)      (J,) Proportion: an annotator's votes equal to the reference
    method_accuracy(votes, references, ...)    {method: Proportion} of each aggregate's winner (fitted without
                                               the references) on the reference items
    ranking_top_accuracy(...)                  listwise: a ranking's best group equal to the reference's
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

import numpy as np

from ..aggregation import METHODS, aggregate_pairwise
from ..votes import NONE, TIE, PairwiseVotes
from ._stats import Proportion, proportion

__all__ = ["annotator_accuracy", "method_accuracy", "winner_accuracy", "ranking_top_accuracy"]


def annotator_accuracy(votes: PairwiseVotes, references: np.ndarray, *, exclude_ties: bool = False
                       ) -> list[Proportion]:
    """(J,) the share of annotator j's votes on reference items equal to the reference (references (I,) int,
    -1 = none). exclude_ties: leave out votes and references that are ties (direction only)."""
    ref = np.asarray(references, dtype=np.int64)[votes.items]
    scored = ref != NONE
    if exclude_ties:
        scored &= (ref != TIE) & (votes.values != TIE)
    right = scored & (votes.values.astype(np.int64) == ref)
    n = np.bincount(votes.annotators[scored], minlength=votes.n_annotators)
    k = np.bincount(votes.annotators[right], minlength=votes.n_annotators)
    return [proportion(int(a), int(b)) for a, b in zip(k, n)]


def winner_accuracy(winner: np.ndarray, references: np.ndarray) -> Proportion:
    """The share of reference items (that the consensus decided) whose winner (I,) equals the reference."""
    winner, references = np.asarray(winner, dtype=np.int64), np.asarray(references, dtype=np.int64)
    scored = (references != NONE) & (winner != NONE)
    return proportion(int((winner[scored] == references[scored]).sum()), int(scored.sum()))


def method_accuracy(votes: PairwiseVotes, references: np.ndarray, *, methods: Sequence[str] = METHODS,
                    hide_gold: bool = False) -> dict[str, Proportion]:
    """{method: accuracy of its consensus winner on the reference items}, each aggregate fitted on the votes only
    (no reference is given to it). hide_gold: also hide reviewers' resolutions (votes.gold) on reference items, so
    a resolved item is scored by what the votes say, not by the reviewer."""
    if hide_gold:
        gold = np.asarray(votes.gold, dtype=np.int8).copy()
        gold[np.asarray(references) != NONE] = NONE
        votes = replace(votes, gold=gold)
    return {m: winner_accuracy(aggregate_pairwise(votes, method=m).winner, references) for m in methods}


def _top(ranking: Sequence[Sequence[int]] | None) -> frozenset[int]:
    return frozenset(ranking[0]) if ranking else frozenset()


def ranking_top_accuracy(pairs: Iterable[tuple[Sequence[Sequence[int]], Sequence[Sequence[int]]]]) -> Proportion:
    """Listwise: of the (ranking, reference ranking) pairs, the share whose best group (tie group ranked first)
    equals the reference's. Full orders differ in too many harmless ways to score by exact equality."""
    k = n = 0
    for ranking, reference in pairs:
        n += 1
        k += _top(ranking) == _top(reference)
    return proportion(k, n)
