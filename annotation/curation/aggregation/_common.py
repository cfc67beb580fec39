"""What every pairwise aggregator shares: the consensus container and the per-item bookkeeping around a posterior.

An aggregator only has to produce a posterior (I, 3) and a competence (J,); `finish` turns that into a
`PairwiseConsensus` (winner, probability, agreement, counts, source, gold override) the same way for all of them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..votes import CLASSES, NONE, TIE, PairwiseVotes

__all__ = ["PairwiseConsensus", "vote_counts", "gold_mask", "item_source", "finish", "posthoc_competence",
           "loo_majority_agreement", "strict_majority", "vote_matrix"]

# A posterior entry below this counts as zero when logs are taken (crowd-kit's _EPS): keeps log() finite
# for a class nobody voted for without giving it measurable mass.
EPS = 1e-10


@dataclass
class PairwiseConsensus:
    """One consensus per pairwise item.

    Per item (I,): winner int8 0 = A / 1 = B / 2 = tie (-1 where the item has neither votes nor gold);
    posterior (I, 3) P(class), uniform rows where no votes; probability = posterior[winner] (NaN where no
    winner); agreement = share of the item's votes (those used) equal to winner (NaN where none); n_votes,
    n_human, n_judge = the votes used (int32); source "human" | "ai" | "hybrid" | "" = which kinds cast them;
    is_gold = a reviewer's resolution decided it (winner = gold, probability 1).
    Per annotator (J,): competence = P(the annotator's vote is correct), NaN for an annotator without votes.
    `details` holds method-specific results (priors, confusion matrices, iterations) for benches and pages.
    """

    method: str
    winner: np.ndarray
    posterior: np.ndarray | None  # None once released (services.calibrated.CalibratedAggregate.release_unused)
    probability: np.ndarray
    agreement: np.ndarray
    n_votes: np.ndarray
    n_human: np.ndarray | None  # (likewise)
    n_judge: np.ndarray | None
    source: np.ndarray
    is_gold: np.ndarray
    competence: np.ndarray
    details: dict[str, Any] = field(default_factory=dict)


# Entries np.bincount reads at a time in `index_counts` (its intp copy of them: 8 MB).
COUNT_BLOCK = 1 << 20


def index_counts(index: np.ndarray, minlength: int) -> np.ndarray:
    """np.bincount(index, minlength=minlength) (int64), a block of COUNT_BLOCK entries at a time: bincount copies
    its whole input to intp first, which for the (N,) int32 indices of 3M votes is a 24 MB temporary."""
    if len(index) <= COUNT_BLOCK:
        return np.bincount(index, minlength=minlength)
    out = np.zeros(minlength, dtype=np.int64)
    for start in range(0, len(index), COUNT_BLOCK):
        part = np.bincount(index[start:start + COUNT_BLOCK], minlength=minlength)
        if len(part) > len(out):  # an index beyond minlength, as bincount would grow
            part[:len(out)] += out
            out = part
        else:
            out[:len(part)] += part
    return out


def vote_counts(votes: PairwiseVotes, dtype: type = np.int64) -> np.ndarray:
    """(I, 3) `dtype` (int64 unless asked): how many votes each item got for each class.

    A class at a time: a bincount of the item indices of that class's votes, so the temporaries are (I,) and a
    share of (N,) int32, not an (N,) int64 key per vote (48 MB at 3M votes, at the aggregation's peak)."""
    counts = np.empty((votes.n_items, CLASSES), dtype=dtype)
    for k in range(CLASSES):
        counts[:, k] = index_counts(votes.items[votes.values == k], votes.n_items)
    return counts


def vote_matrix(votes: PairwiseVotes) -> tuple[sp.csr_matrix, sp.csc_matrix]:
    """(M (I, J*3) CSR, M.T (J*3, I) a CSC view) sparse counts of votes per item and (annotator, class) cell.

    The EM sums over votes become sparse-dense products: sum_{n: i_n = i} f(a_n, v_n) = (M @ f)[i] and
    sum_{n: a_n = j, v_n = k} g(i_n) = (M.T @ g)[j*3 + k], one C pass each, about ten times faster than
    np.bincount over the (N,) arrays. Repeated votes of one annotator on one item add up, as they should.
    """
    shape = (votes.n_items, votes.n_annotators * CLASSES)
    items = votes.items
    small = np.int32 if max(shape[1], len(items)) < 2**31 - 1 else np.int64
    cell = votes.annotators.astype(small) * small(CLASSES) + votes.values.astype(small)
    if len(items) and votes.in_item_order:
        # Votes in item order (as the selectors give them): the CSR arrays directly, duplicates summed and columns
        # sorted in place - the canonical matrix the COO route builds, without its (N,) row, column and sort
        # copies (~60 bytes a vote at the aggregation's peak).
        # (the row bounds in the indices' dtype, so searchsorted does not copy the indices to int64 first)
        indptr = np.searchsorted(items, np.arange(shape[0] + 1, dtype=items.dtype)).astype(small)
        m = sp.csr_matrix((np.ones(len(cell)), cell, indptr), shape=shape)
        m.sum_duplicates()
    else:
        m = sp.csr_matrix((np.ones(len(cell)), (items, cell)), shape=shape)
    # M.T as a CSC view of M's arrays, not a CSR copy (36 MB at 3M votes): its product with a dense matrix adds
    # the same terms in the same (item) order as the copy's did, so the sums are the same to the bit.
    return m, m.T


def gold_mask(votes: PairwiseVotes) -> np.ndarray:
    """(I,) bool: items a reviewer has resolved."""
    return np.asarray(votes.gold) != NONE


def strict_majority(counts: np.ndarray) -> np.ndarray:
    """(I,) int8 argmax of `counts` (I, 3); -1 where the maximum is shared or the row is empty."""
    counts = np.asarray(counts)
    best = counts.max(axis=1, initial=0)
    winner = counts.argmax(axis=1).astype(np.int8)
    shared = (counts == best[:, None]).sum(axis=1) > 1
    winner[shared | (best <= 0)] = NONE
    return winner


def item_source(votes: PairwiseVotes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n_human (I,), n_judge (I,), source (I,) object) from the votes given."""
    is_judge = votes.vote_is_judge
    # int32 (an item's vote count fits): 8 bytes an item less each than bincount's int64, held with the consensus
    n_judge = np.bincount(votes.items[is_judge], minlength=votes.n_items).astype(np.int32)
    n_human = np.bincount(votes.items[~is_judge], minlength=votes.n_items).astype(np.int32)
    source = np.full(votes.n_items, "", dtype=object)
    source[(n_human > 0) & (n_judge == 0)] = "human"
    source[(n_human == 0) & (n_judge > 0)] = "ai"
    source[(n_human > 0) & (n_judge > 0)] = "hybrid"
    return n_human, n_judge, source


def loo_majority_agreement(votes: PairwiseVotes, *, draw_as_tie: bool = False) -> np.ndarray:
    """(N,) float: 1.0 where vote k equals the majority of the OTHER votes on its item, 0.0 where not.

    The item's gold class replaces that majority where a reviewer resolved the item. NaN where there is no
    reference: no other votes, or (unless `draw_as_tie`) the others' maximum is shared. With `draw_as_tie`
    a shared maximum counts as the tie class, the rule of the majority aggregator.
    """
    counts = vote_counts(votes)
    values = votes.values.astype(np.int64)
    others = counts[votes.items].copy()  # (N, 3)
    others[np.arange(len(values)), values] -= 1
    reference = strict_majority(others).astype(np.int64)
    if draw_as_tie:
        reference[(reference == NONE) & (others.sum(axis=1) > 0)] = TIE
    gold = np.asarray(votes.gold, dtype=np.int64)[votes.items]
    reference = np.where(gold != NONE, gold, reference)
    return np.where(reference == NONE, np.nan, (values == reference).astype(np.float64))


def per_annotator_mean(votes: PairwiseVotes, per_vote: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean (J,), count (J,)) of `per_vote` (N,) over each annotator's votes, NaN entries left out."""
    ok = ~np.isnan(per_vote)
    n = np.bincount(votes.annotators[ok], minlength=votes.n_annotators)
    total = np.bincount(votes.annotators[ok], weights=per_vote[ok], minlength=votes.n_annotators)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1), np.nan), n


def posthoc_competence(votes: PairwiseVotes, posterior: np.ndarray, decided: np.ndarray) -> np.ndarray:
    """(J,) expected share of each annotator's votes that are correct under `posterior` (I, 3).

    Used for annotators whose votes were left out of the estimate (include_judges=False): how well they
    match a consensus they did not shape. `decided` (I,) bool: items that have a consensus (others are skipped).
    """
    per_vote = posterior[votes.items, votes.values.astype(np.int64)]
    return per_annotator_mean(votes, np.where(decided[votes.items], per_vote, np.nan))[0]


FINISH_ROWS = 65_536  # items per block of `finish`


def finish(method: str, used: PairwiseVotes, posterior: np.ndarray, competence: np.ndarray,
           *, details: dict[str, Any] | None = None, winner: np.ndarray | None = None) -> PairwiseConsensus:
    """Build the consensus from a posterior (I, 3) over the votes `used`; gold overrides, empty rows stay empty.

    `winner` defaults to argmax of the posterior (the majority aggregator passes its own tie-breaking rule).
    The consensus takes `posterior` over (its rows are written in place where gold or empty): the callers hand
    over a fresh array, and a copy was (I, 3) float64 more at the aggregation's peak (24 MB at a million items).
    Every figure is per item, so they are computed over blocks of FINISH_ROWS items: the vote counts, argmax and
    index temporaries are a block's, not (I,) and (N,) arrays beside the posterior (~50 bytes an item at the
    aggregation's peak); the values are the same.
    """
    n_items = used.n_items
    posterior = np.asarray(posterior, dtype=np.float64).reshape(n_items, CLASSES)
    argmax = winner is None
    winner = np.empty(n_items, np.int8) if argmax else np.asarray(winner).astype(np.int8)
    is_gold = gold_mask(used)
    gold = np.asarray(used.gold, dtype=np.int8)
    probability, agreement = np.full(n_items, np.nan), np.full(n_items, np.nan)
    n_votes, n_human, n_judge = (np.zeros(n_items, np.int32) for _ in range(3))
    source = np.full(n_items, "", dtype=object)
    eye = np.eye(CLASSES)
    for start, part in used.item_blocks(FINISH_ROWS):
        block = slice(start, start + part.n_items)
        counts = vote_counts(part, np.int32)  # (an item's votes fit in int32)
        n = n_votes[block] = counts.sum(axis=1, dtype=np.int32)
        p, w = posterior[block], winner[block]
        if argmax:
            w[:] = p.argmax(axis=1)
        empty = n == 0
        p[empty] = 1.0 / CLASSES
        w[empty] = NONE
        g, gv = is_gold[block], gold[block]
        w[g] = gv[g]
        p[g] = eye[gv[g]]
        has = w != NONE
        rows = np.flatnonzero(has)
        probability[block][rows] = p[rows, w[rows]]
        rows = np.flatnonzero(has & ~empty)
        agreement[block][rows] = counts[rows, w[rows]] / n[rows]
        n_human[block], n_judge[block], source[block] = item_source(part)
    return PairwiseConsensus(
        method=method, winner=winner, posterior=posterior, probability=probability, agreement=agreement,
        n_votes=n_votes, n_human=n_human, n_judge=n_judge, source=source, is_gold=is_gold,
        competence=np.asarray(competence, dtype=np.float64), details=details or {},
    )
