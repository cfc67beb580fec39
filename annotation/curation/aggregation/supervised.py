"""Supervised vote: a regularised multinomial logistic regression from the votes on an item to its class,
fitted on the items whose class is known (votes.gold: calibration references or a reviewer's resolution).

Features of item i (sparse, (I, J * 3) or (I, 2 * J * 3) with swap information):

    x_i[j * 3 + k] = number of votes of annotator j for class k on item i
    x_i[J * 3 + j * 3 + k] = the same, counting only votes that held in both presentation orders

    P(z_i = k | x_i) = softmax_k(b_k + sum_f beta_{k, f} x_i[f])

so the model learns per annotator (and per class) how much, and in which direction, its vote moves the item:
a judge that is right only on the pairs the others get wrong ends up with a large weight, one that follows a
shared bias with a negative one - what no unsupervised model can learn when the biased annotators are the
majority. L2-regularised (C, sklearn's LogisticRegression); an annotator without a vote on an item simply
contributes nothing. Items without votes stay uniform. Needs >= min_known known items covering >= 2 classes;
with fewer it falls back to the vote shares (majority posterior) and says so in fallback_.

Competence_ is post hoc: the expected share of the annotator's votes that are right under the fitted
posterior (known items at their known class).

D. Hastie, R. Tibshirani, J. Friedman. The Elements of Statistical Learning, 2nd ed., section 4.4 (2009);
for learning a combiner of crowd votes from a few gold labels see V. Raykar et al., Learning From Crowds,
JMLR 11 (2010).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from ..votes import CLASSES, PairwiseVotes
from ._common import gold_mask, posthoc_competence, vote_matrix
from .majority import majority_posterior

__all__ = ["SupervisedVote"]


@dataclass
class SupervisedVote:
    """`fit(votes)` sets posterior_ (I, 3), competence_ (J,), coef_ (classes seen, F), fallback_ (str | None)."""

    C: float = 1.0  # inverse L2 strength; 1.0 keeps 50 known items from giving one annotator all the say
    min_known: int = 10
    use_swap: bool = True  # add the swap-consistent vote counts as features (when any vote was swap-checked)
    posterior_: np.ndarray = field(init=False, repr=False)
    competence_: np.ndarray = field(init=False, repr=False)
    coef_: np.ndarray | None = field(init=False, default=None, repr=False)
    fallback_: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.C <= 0 or self.min_known < 2:
            raise ValueError("C must be > 0 and min_known >= 2")

    def features(self, votes: PairwiseVotes) -> sp.csr_matrix:
        """(I, F) the feature matrix of the module docstring."""
        m, _ = vote_matrix(votes)
        checked = ~np.isnan(votes.swap_consistent)
        if not (self.use_swap and checked.any()):
            return m
        held = votes.subset(votes.swap_consistent == 1)
        m_held, _ = vote_matrix(held)
        return sp.hstack([m, m_held], format="csr")

    def fit(self, votes: PairwiseVotes) -> "SupervisedVote":
        n_items = votes.n_items
        x = self.features(votes)
        voted = np.asarray(x.sum(axis=1)).ravel() > 0
        gold = np.asarray(votes.gold, dtype=np.int64)
        train = gold_mask(votes) & voted
        classes = np.unique(gold[train])
        self.fallback_, self.coef_ = None, None
        if train.sum() < self.min_known or len(classes) < 2:
            self.fallback_ = (f"{int(train.sum())} known items with votes covering {len(classes)} class(es): "
                              f"need {self.min_known} covering 2; used the vote shares")
            posterior = majority_posterior(votes)
        else:
            model = LogisticRegression(C=self.C, max_iter=1000)
            # a few hundred rows: BLAS threads cost more to start than they save (0.44 s -> 0.04 s a fit
            # with 420 features on the shared 2-core machine)
            with threadpool_limits(limits=1):
                model.fit(x[train], gold[train])
            posterior = np.zeros((n_items, CLASSES))
            posterior[:, model.classes_] = model.predict_proba(x)
            self.coef_ = model.coef_
        posterior[~voted] = 1.0 / CLASSES
        self.posterior_ = posterior
        known = gold_mask(votes)
        clamped = posterior.copy()
        clamped[known] = np.eye(CLASSES)[gold[known]]
        self.competence_ = posthoc_competence(votes, clamped, voted | known)
        return self
