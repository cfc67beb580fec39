"""Dawid-Skene: one full confusion matrix per annotator, fitted with EM, vectorised over the long-form votes.

Let p_t be the prior of true class t, pi_j[t, k] = P(annotator j votes k | true class t) and z_i the true class
of item i. With votes v_n by annotator a_n on item i_n, the E-step is

    log P(z_i = t | votes) = log p_t + sum_{n: i_n = i} log pi_{a_n}[t, v_n] - log Z_i

and the M-step re-estimates, from the posteriors q_it,

    pi_j[t, k] proportional to smoothing + sum_{n: a_n = j, v_n = k} q_{i_n t},     p_t = mean_i q_it.

A competence prior (prior_accuracy c_j, prior_strength s, both optional) adds Dirichlet pseudo-counts to the
M-step, s * c_j on the diagonal and s * (1 - c_j) / 2 on each off-diagonal cell of row t:

    pi_j[t, k] proportional to smoothing + s * (c_j if k = t else (1 - c_j) / 2) + sum_{n: a_n = j, v_n = k} q_{i_n t}

so a run can say "people are right about 80 % of the time, this judge about 60 %" and EM starts from, and is
pulled towards, that instead of treating every annotator alike (options.competence_prior builds c from kinds).

Competence of annotator j = its expected accuracy sum_t p_t pi_j[t, t]. Items a reviewer resolved are known
truth: their posterior is clamped to the gold class in every E-step, so a resolution sharpens the confusion
matrices of everyone who voted on it. EM starts from the majority vote shares (as crowd-kit does), which
also fixes the labelling of the classes (EM is symmetric under permuting them).

Speed: the sums over votes are products with a sparse (items x annotator-class cells) count matrix, so an
iteration costs two sparse-dense products (about 15 ms of CPU for 1,000,000 votes); nothing loops in Python
over votes, items or annotators.
Numerics in log space: a product of a few hundred probabilities underflows float64.
Memory: the E-step runs over blocks of E_STEP_ROWS items and writes the posteriors in place, so its temporaries
are a block's (a few MB), not four (I, 3) float64 arrays (~100 MB at a million items); each item's numbers are
computed exactly as over the whole set, so the results are the same.

A. P. Dawid and A. M. Skene. Maximum Likelihood Estimation of Observer Error-Rates Using the EM Algorithm.
Journal of the Royal Statistical Society, Series C 28(1), 20-28 (1979). https://doi.org/10.2307/2346806
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..votes import CLASSES, PairwiseVotes
from ._common import EPS, gold_mask, vote_matrix
from .majority import majority_posterior

__all__ = ["DawidSkene"]

E_STEP_ROWS = 16_384  # items per E-step block: (16,384, 3) float64 temporaries are 384 KB each


@dataclass
class DawidSkene:
    """EM estimator; `fit(votes)` sets posterior_ (I, 3), priors_ (3,), confusion_ (J, 3, 3) [true, vote],
    competence_ (J,), n_iter_, converged_, log_likelihood_ (per vote).

    smoothing: pseudo-count added to every confusion cell before normalising (a symmetric Dirichlet prior).
        0 reproduces crowd-kit (cells only clipped at 1e-10); the default 0.5 keeps an annotator with two
        votes from getting a near-certain matrix and outvoting everyone.
    """

    max_iter: int = 100
    tol: float = 1e-5  # on the change of the mean log-likelihood per vote, crowd-kit's criterion
    smoothing: float = 0.5
    prior_accuracy: np.ndarray | None = None  # (J,) prior P(correct) per annotator; NaN = no prior for that one
    prior_strength: float = 0.0  # pseudo-votes behind each prior (0 = no prior)
    posterior_: np.ndarray = field(init=False, repr=False)
    priors_: np.ndarray = field(init=False, repr=False)
    confusion_: np.ndarray = field(init=False, repr=False)
    competence_: np.ndarray = field(init=False, repr=False)
    n_iter_: int = field(init=False, default=0)
    converged_: bool = field(init=False, default=False)
    log_likelihood_: float = field(init=False, default=float("nan"))

    def __post_init__(self) -> None:
        if self.max_iter < 1 or self.tol < 0 or self.smoothing < 0:
            raise ValueError("max_iter must be >= 1, tol and smoothing >= 0")
        if self.prior_strength < 0:
            raise ValueError("prior_strength must be >= 0")
        if self.prior_accuracy is not None:
            acc = np.asarray(self.prior_accuracy, dtype=np.float64)
            if acc.ndim != 1 or np.any((acc[~np.isnan(acc)] < 0) | (acc[~np.isnan(acc)] > 1)):
                raise ValueError("prior_accuracy must be a (J,) array of probabilities in [0, 1] (NaN = none)")

    def fit(self, votes: PairwiseVotes) -> "DawidSkene":
        n_annot = votes.n_annotators
        if len(votes.values) == 0:  # nothing to estimate: uniform posteriors, no competence
            self.posterior_ = np.full((votes.n_items, CLASSES), 1.0 / CLASSES)
            self.priors_ = np.full(CLASSES, 1.0 / CLASSES)
            self.confusion_ = np.full((n_annot, CLASSES, CLASSES), 1.0 / CLASSES)
            self.competence_ = np.full(n_annot, np.nan)
            return self
        if self.prior_accuracy is not None and len(self.prior_accuracy) != n_annot:
            raise ValueError(f"prior_accuracy has {len(self.prior_accuracy)} entries, votes have {n_annot} annotators")
        gold = np.asarray(votes.gold)  # int8 classes, -1 = none (indexes np.eye as well as int64)
        is_gold = gold_mask(votes)
        # The starting posterior before the vote matrix, so the two are never built at once (the aggregation's peak).
        q = self._clamp(majority_posterior(votes), gold, is_gold)
        m, m_t = vote_matrix(votes)  # (I, J*3), (J*3, I)
        voted = np.diff(m.indptr) > 0  # (I,) the item has a vote (no (I,) float row sums for it)
        observed = np.zeros(CLASSES, dtype=bool)
        observed[np.unique(votes.values)] = True
        observed[np.unique(gold[is_gold])] = True
        # classes nobody voted for (nor resolved to) get no mass; -inf keeps them out of every argmax
        log_mask = np.where(observed, 0.0, -np.inf)

        terms = np.empty(votes.n_items)  # (I,) per-item log-likelihood, reused by every E-step
        previous, ll = -np.inf, 0.0
        self.n_iter_, self.converged_ = 0, False
        for _ in range(self.max_iter):
            priors, log_pi = self._m_step(q, m_t, voted, n_annot)
            ll = self._e_step(log_pi, priors, log_mask, m, voted, len(votes.values), q, terms)
            q = self._clamp(q, gold, is_gold)
            self.n_iter_ += 1
            if abs(ll - previous) < self.tol:
                self.converged_ = True
                break
            previous = ll
        priors, log_pi = self._m_step(q, m_t, voted, n_annot)
        confusion = np.exp(log_pi).reshape(n_annot, CLASSES, CLASSES).transpose(0, 2, 1)  # (J, true, vote)
        self.posterior_, self.priors_, self.confusion_ = q, priors, confusion
        self.log_likelihood_ = ll
        has_votes = votes.annotators_with_votes()
        accuracy = np.einsum("t,jtt->j", priors, confusion)
        self.competence_ = np.where(has_votes, accuracy, np.nan)
        return self

    @staticmethod
    def _clamp(q: np.ndarray, gold: np.ndarray, is_gold: np.ndarray) -> np.ndarray:
        q[is_gold] = np.eye(CLASSES)[gold[is_gold]]
        return q

    def _m_step(self, q, m_t, voted, n_annot):
        """(priors (3,), log pi (J*3, 3) with row = annotator*3 + vote, column = true class)."""
        if voted.all():  # the usual case: no (I, 3) copy of the voted rows
            priors = q.mean(axis=0)
        else:
            priors = q[voted].mean(axis=0) if voted.any() else np.full(CLASSES, 1.0 / CLASSES)
        counts = (m_t @ q).reshape(n_annot, CLASSES, CLASSES)  # (J, vote, true): expected counts
        counts = np.maximum(counts + self.smoothing + self._prior_counts(n_annot), EPS)
        pi = counts / counts.sum(axis=1, keepdims=True)  # normalise over the vote, per true class
        return priors, np.log(pi).reshape(n_annot * CLASSES, CLASSES)

    def _prior_counts(self, n_annot: int) -> np.ndarray | float:
        """(J, vote, true) Dirichlet pseudo-counts of the competence prior, or 0.0 without one."""
        if self.prior_accuracy is None or self.prior_strength == 0:
            return 0.0
        acc = np.asarray(self.prior_accuracy, dtype=np.float64)
        has = ~np.isnan(acc)
        acc = np.where(has, acc, 0.0)[:, None, None]
        eye = np.eye(CLASSES, dtype=bool)[None]
        cells = np.where(eye, acc, (1.0 - acc) / (CLASSES - 1)) * self.prior_strength  # (J, 3, 3)
        return np.where(has[:, None, None], cells, 0.0)

    @staticmethod
    def _e_step(log_pi, priors, log_mask, m, voted, n_votes, q, terms) -> float:
        """Posteriors into `q` (I, 3), in place, a block of items at a time; returns the mean log-likelihood per
        vote. `terms` (I,) is scratch for the per-item log-likelihoods, summed once as over the whole set."""
        log_prior = np.log(np.maximum(priors, EPS)) + log_mask  # (3,)
        for start in range(0, q.shape[0], E_STEP_ROWS):
            stop = min(start + E_STEP_ROWS, q.shape[0])
            log_q = np.asarray(m[start:stop] @ log_pi, dtype=np.float64).reshape(-1, CLASSES)  # (B, 3)
            log_q += log_prior
            top = log_q.max(axis=1, keepdims=True)
            block = np.exp(log_q - top, out=q[start:stop])
            total = block.sum(axis=1, keepdims=True)
            block /= total
            terms[start:stop] = np.log(total[:, 0]) + top[:, 0]
        # (the usual case, every item voted, sums `terms` itself: no (I,) copy of it each iteration; the same sum)
        ll = float((terms if voted.all() else terms[voted]).sum() / max(n_votes, 1))
        q[~voted] = 1.0 / CLASSES
        return ll
