"""Weighted vote: each annotator's vote counts with the log-odds of its accuracy (the one-coin model).

With c_j = P(annotator j is right) and a wrong vote spread evenly over the K - 1 other classes,

    log P(z_i = k | votes) = const + sum_{n: i_n = i} w_{a_n} [v_n = k],   w_j = log((K - 1) c_j / (1 - c_j))

which is the Bayes-optimal vote for independent annotators (Nitzan & Paroush 1982). c_j < 1 / K gives a
negative weight: an annotator who is wrong more often than chance counts against its own vote.

c_j is estimated from the items with a known class (votes.gold: a reviewer's resolution or a calibration
reference) where there are any, shrunk towards a prior of `prior_strength` pseudo-votes,

    c_j = (right_j + s * c0_j) / (n_j + s),   c0_j = prior_accuracy[j], else j's leave-one-out majority agreement

so without references it is the majority competence (and the weighted vote drifts little from the majority).
c_j is clipped to [clip, 1 - clip] so one perfect annotator cannot hold an infinite weight.

S. Nitzan and J. Paroush. Optimal Decision Rules in Uncertain Dichotomous Choice Situations. International
Economic Review 23(2), 289-297 (1982). https://doi.org/10.2307/2526438
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..votes import CLASSES, PairwiseVotes
from ._common import gold_mask, per_annotator_mean, vote_matrix
from .majority import majority_competence

__all__ = ["WeightedVote"]


@dataclass
class WeightedVote:
    """`fit(votes)` sets posterior_ (I, 3), competence_ (J,) (the c_j above), weight_ (J,) (w_j)."""

    prior_accuracy: np.ndarray | None = None  # (J,) c0_j; NaN entries fall back to the majority competence
    prior_strength: float = 2.0  # pseudo-votes behind c0_j
    clip: float = 0.02  # c_j in [0.02, 0.98]: weights within about +-3.9 nats
    posterior_: np.ndarray = field(init=False, repr=False)
    competence_: np.ndarray = field(init=False, repr=False)
    weight_: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.prior_strength < 0 or not 0 < self.clip < 0.5:
            raise ValueError("prior_strength must be >= 0 and clip in (0, 0.5)")

    def fit(self, votes: PairwiseVotes) -> "WeightedVote":
        n_annot = votes.n_annotators
        if len(votes.values) == 0:
            self.posterior_ = np.full((votes.n_items, CLASSES), 1.0 / CLASSES)
            self.competence_, self.weight_ = np.full(n_annot, np.nan), np.zeros(n_annot)
            return self
        base = majority_competence(votes)
        if self.prior_accuracy is not None:
            if len(self.prior_accuracy) != n_annot:
                raise ValueError(f"prior_accuracy has {len(self.prior_accuracy)} entries, votes have {n_annot}")
            base = np.where(np.isnan(self.prior_accuracy), base, self.prior_accuracy)
        base = np.where(np.isnan(base), 1.0 / 2, base)  # nobody to compare with: an even prior
        gold = np.asarray(votes.gold, dtype=np.int64)
        known = gold_mask(votes)[votes.items]
        right = np.where(known, (votes.values == gold[votes.items]).astype(float), np.nan)
        mean, n = per_annotator_mean(votes, right)
        total_right = np.nan_to_num(mean) * n
        competence = (total_right + self.prior_strength * base) / np.maximum(n + self.prior_strength, 1e-12)
        competence = np.where(n + self.prior_strength > 0, competence, base)
        k_used = max(len(np.unique(votes.values)), 2)
        c = np.clip(competence, self.clip, 1 - self.clip)
        weight = np.log((k_used - 1) * c / (1 - c))
        m, _ = vote_matrix(votes)  # (I, J*3)
        cell_weight = np.zeros((n_annot * CLASSES, CLASSES))
        cell_weight[np.arange(n_annot * CLASSES), np.tile(np.arange(CLASSES), n_annot)] = np.repeat(weight, CLASSES)
        log_q = np.asarray(m @ cell_weight, dtype=np.float64)  # (I, 3)
        observed = np.zeros(CLASSES, dtype=bool)
        observed[np.unique(votes.values)] = True
        log_q = np.where(observed, log_q, -np.inf)  # no mass on a class nobody voted for
        q = np.exp(log_q - log_q.max(axis=1, keepdims=True))
        self.posterior_ = q / q.sum(axis=1, keepdims=True)
        has_votes = votes.annotators_with_votes()
        self.competence_ = np.where(has_votes, competence, np.nan)
        self.weight_ = weight
        return self
