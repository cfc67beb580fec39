"""MACE (Multi-Annotator Competence Estimation): each annotator either knows the answer or spams.

The true class T_i is uniform over the classes in use. Annotator j knows the answer with probability theta_j
and then votes T_i; otherwise (a "spamming" vote) it draws its vote from its own distribution xi_j:

    P(A_ij = k | T_i = t) = theta_j [k = t] + (1 - theta_j) xi_j[k]

EM (or variational Bayes with Beta(alpha, beta) on theta_j and a symmetric Dirichlet(xi_prior) on xi_j,
crowd-kit's default) alternates the class posterior q_it with expected "knowing" and "spamming" counts:

    P(knows | vote k on item i) = q_ik theta_j / (theta_j + (1 - theta_j) xi_j[k])

Competence of annotator j = its expected accuracy theta_j + (1 - theta_j) sum_t p_t xi_j[t], with p the mean
posterior: a spammer who always says "A" is right on the items whose answer is A, and no more.

Differences from crowd-kit's MACE, on purpose: a deterministic start from the majority vote shares instead
of random restarts (crowd-kit seeds every restart with the same state, so its restarts repeat one run);
log-space sums as sparse products instead of a pandas groupby-product (fast, no underflow on busy items);
gold items clamp their posterior, as in Dawid-Skene here.

D. Hovy, T. Berg-Kirkpatrick, A. Vaswani and E. Hovy. Learning Whom to Trust with MACE. NAACL-HLT 2013,
1120-1130. https://aclanthology.org/N13-1132
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import digamma

from ..votes import CLASSES, PairwiseVotes
from ._common import EPS, gold_mask, vote_matrix
from .majority import majority_posterior

__all__ = ["MACE"]


@dataclass
class MACE:
    """`fit(votes)` sets posterior_ (I, 3), theta_ (J,) P(knows), xi_ (J, 3) spam distribution, competence_ (J,),
    n_iter_, converged_, log_likelihood_ (per vote).

    method "vb" (crowd-kit's default, priors alpha / beta / xi_prior as there) or "em" (plain counts plus
    `smoothing` = 0.01 / classes, as crowd-kit).
    """

    method: str = "vb"
    max_iter: int = 50
    tol: float = 1e-6
    alpha: float = 0.5  # Beta prior pseudo-count of spamming
    beta: float = 0.5  # Beta prior pseudo-count of knowing
    xi_prior: float = 10.0  # Dirichlet prior pseudo-count per class of the spam distribution
    posterior_: np.ndarray = field(init=False, repr=False)
    theta_: np.ndarray = field(init=False, repr=False)
    xi_: np.ndarray = field(init=False, repr=False)
    competence_: np.ndarray = field(init=False, repr=False)
    n_iter_: int = field(init=False, default=0)
    converged_: bool = field(init=False, default=False)
    log_likelihood_: float = field(init=False, default=float("nan"))

    def __post_init__(self) -> None:
        if self.method not in ("vb", "em"):
            raise ValueError(f"MACE method must be 'vb' or 'em', not {self.method!r}")
        if self.max_iter < 1:
            raise ValueError("max_iter must be >= 1")

    def fit(self, votes: PairwiseVotes) -> "MACE":
        n_annot = votes.n_annotators
        if len(votes.values) == 0:  # nothing to estimate: uniform posteriors, no competence
            self.posterior_ = np.full((votes.n_items, CLASSES), 1.0 / CLASSES)
            self.theta_, self.competence_ = np.full(n_annot, np.nan), np.full(n_annot, np.nan)
            self.xi_ = np.full((n_annot, CLASSES), np.nan)
            return self
        m, m_t = vote_matrix(votes)  # (I, J*3), (J*3, I)
        n_cell = np.asarray(m_t.sum(axis=1)).ravel()  # (J*3,) votes per (annotator, class)
        voted = np.asarray(m.sum(axis=1)).ravel() > 0
        gold = np.asarray(votes.gold, dtype=np.int64)
        is_gold = gold_mask(votes)
        observed = np.zeros(CLASSES, dtype=bool)
        observed[np.unique(votes.values)] = True
        observed[np.unique(gold[is_gold])] = True
        k_used = max(int(observed.sum()), 1)

        q = majority_posterior(votes)
        q[is_gold] = np.eye(CLASSES)[gold[is_gold]]
        knows = self._voted_class_mass(m_t, q)  # a first guess: a vote is known where it matches the majority
        previous, ll = -np.inf, 0.0
        self.n_iter_, self.converged_ = 0, False
        for _ in range(self.max_iter):
            theta, xi = self._m_step(knows, n_cell, n_annot, observed, k_used)
            q, ll = self._e_step(theta, xi, m, observed, voted, k_used, len(votes.values))
            q[is_gold] = np.eye(CLASSES)[gold[is_gold]]
            _, log_match = self._cell_terms(theta, xi)
            knows = self._voted_class_mass(m_t, q) * np.repeat(theta[:, 1], CLASSES) / np.exp(log_match).ravel()
            self.n_iter_ += 1
            if abs(ll - previous) < self.tol:
                self.converged_ = True
                break
            previous = ll
        theta, xi = self._m_step(knows, n_cell, n_annot, observed, k_used)
        # VB parameters are geometric means and do not sum to one: report normalised ones
        theta_n = theta[:, 1] / np.maximum(theta.sum(axis=1), EPS)
        xi_n = xi / np.maximum(xi.sum(axis=1, keepdims=True), EPS)
        priors = q[voted].mean(axis=0) if voted.any() else np.where(observed, 1.0 / k_used, 0.0)
        has_votes = votes.annotators_with_votes()
        self.posterior_, self.theta_, self.xi_ = q, theta_n, xi_n
        self.competence_ = np.where(has_votes, theta_n + (1 - theta_n) * (xi_n @ priors), np.nan)
        self.log_likelihood_ = ll
        return self

    @staticmethod
    def _voted_class_mass(m_t, q: np.ndarray) -> np.ndarray:
        """(J*3,) sum over the votes of cell (j, k) of the posterior of class k on the voted item."""
        per_cell = m_t @ q  # (J*3, 3)
        return per_cell[np.arange(per_cell.shape[0]), np.arange(per_cell.shape[0]) % CLASSES]

    def _m_step(self, knows, n_cell, n_annot, observed, k_used):
        """(theta (J, 2) [spam, know], xi (J, 3)) from the expected knowing counts per (annotator, class) cell."""
        spam = np.maximum(n_cell - knows, 0.0).reshape(n_annot, CLASSES)
        counts = np.stack([spam.sum(axis=1), knows.reshape(n_annot, CLASSES).sum(axis=1)], axis=1)
        if self.method == "vb":
            theta = _variational(counts, np.array([self.alpha, self.beta]))
            xi = _variational(spam, np.where(observed, self.xi_prior, 0.0))
        else:
            smoothing = 0.01 / k_used
            theta = (counts + smoothing) / (counts + smoothing).sum(axis=1, keepdims=True)
            xi = np.where(observed, spam + smoothing, 0.0)
            xi = xi / np.maximum(xi.sum(axis=1, keepdims=True), EPS)
        return theta, np.where(observed, xi, 0.0)

    @staticmethod
    def _cell_terms(theta, xi):
        """(log spam term (J, 3), log spam + know term (J, 3)): log P(vote k | truth != k) and (| truth = k)."""
        spam_term = np.maximum(theta[:, :1] * xi, EPS)
        return np.log(spam_term), np.log(spam_term + theta[:, 1:])

    def _e_step(self, theta, xi, m, observed, voted, k_used, n_votes):
        """(posterior (I, 3), mean log marginal likelihood per vote)."""
        log_spam, log_match = self._cell_terms(theta, xi)
        # cell (j, k) adds log_match to class k and log_spam to the other classes: W (J*3, 3)
        weights = np.where(np.eye(CLASSES, dtype=bool)[None], log_match[:, :, None], log_spam[:, :, None])
        log_q = np.asarray(m @ weights.reshape(-1, CLASSES), dtype=np.float64).reshape(-1, CLASSES)
        log_q += np.where(observed, -np.log(k_used), -np.inf)
        top = log_q.max(axis=1, keepdims=True)
        q = np.exp(log_q - top)
        total = q.sum(axis=1, keepdims=True)
        q /= total
        ll = float((np.log(total[voted, 0]) + top[voted, 0]).sum() / max(n_votes, 1))
        q[~voted] = np.where(observed, 1.0 / k_used, 0.0)
        return q, ll


def _variational(counts: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """exp(E[log p]) under the Dirichlet posterior counts + prior, row-wise (the VB M-step of MACE)."""
    post = counts + prior
    out = np.zeros_like(post)
    ok = post > 0
    out[ok] = np.exp(digamma(post[ok]))
    total = np.exp(digamma(np.maximum(post.sum(axis=1, keepdims=True), EPS)))
    return out / total
