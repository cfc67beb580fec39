"""Majority vote: each vote counts once; a draw between classes becomes the tie class.

    z_i = argmax_k n_ik   (n_ik = votes of class k on item i; a shared maximum -> tie)
    P(z_i = k) = n_ik / n_i   (the vote shares)

A draw means the voters did not settle which response is better, which is what "tie" states, so a 1-1 split
between A and B is a tie with probability n_i,tie / n_i (0 when nobody said tie) and agreement 0: the noise
signals see such an item as fully contested. Competence of annotator j = share of j's votes equal to the
majority of the other votes on the same item (leave-one-out, draws again counting as tie; the gold class
where a reviewer resolved the item); NaN for an annotator who never shares an item.
"""
from __future__ import annotations

import numpy as np

from ..votes import TIE, PairwiseVotes
from ._common import loo_majority_agreement, per_annotator_mean, strict_majority, vote_counts

__all__ = ["majority_posterior", "majority_winner", "majority_competence"]


def majority_posterior(votes: PairwiseVotes) -> np.ndarray:
    """(I, 3) vote shares; rows of items without votes are zero (the caller makes them uniform)."""
    counts = vote_counts(votes, np.float64)  # counts are exact in float64; divided in place (rows of 0 stay 0)
    n = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, n, out=counts, where=n > 0)


def majority_winner(votes: PairwiseVotes) -> np.ndarray:
    """(I,) int8 most voted class, the tie class where the maximum is shared, -1 where no votes."""
    counts = vote_counts(votes)
    winner = strict_majority(counts)
    winner[(winner < 0) & (counts.sum(axis=1) > 0)] = TIE
    return winner


def majority_competence(votes: PairwiseVotes) -> np.ndarray:
    """(J,) share of each annotator's votes that match the leave-one-out majority (or gold)."""
    return per_annotator_mean(votes, loo_majority_agreement(votes, draw_as_tie=True))[0]
