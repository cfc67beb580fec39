"""Aggregation: one consensus per item from the votes of people and LLM judges alike.

    majority.py       majority vote (draws -> tie), competence = agreement with the leave-one-out majority
    dawid_skene.py    Dawid-Skene EM, a confusion matrix per annotator (vectorised: 10^6 votes in seconds)
    mace.py           MACE, a knowing-vs-spamming model per annotator
    weighted.py       weighted vote: log-odds of each annotator's accuracy (from references, priors or majority)
    supervised.py     logistic regression from the votes to the class, fitted on calibration references
    options.py        per run: include / exclude annotators, competence priors per kind, one or two judge orders
    plackett_luce.py  listwise: Plackett-Luce per item (choix), consensus tie groups, implied pairs
    _common.py        the PairwiseConsensus container and the per-item bookkeeping all methods share

Pairwise classes are those of ../votes.py: 0 = A, 1 = B, 2 = tie.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..votes import NONE, PairwiseVotes
from ._common import PairwiseConsensus, finish, posthoc_competence
from .dawid_skene import DawidSkene
from .mace import MACE
from .majority import majority_competence, majority_posterior, majority_winner
from .plackett_luce import RankingConsensus, aggregate_rankings, ranking_pairs, ranking_tau
from .supervised import SupervisedVote
from .weighted import WeightedVote

__all__ = ["PairwiseConsensus", "RankingConsensus", "aggregate_pairwise", "aggregate_rankings", "ranking_pairs",
           "ranking_tau", "DawidSkene", "MACE", "WeightedVote", "SupervisedVote", "METHODS", "ALL_METHODS"]

METHODS = ("majority", "dawid_skene", "mace")  # unsupervised: what a run without references can use
# weighted uses references where there are some (else the majority competence); supervised needs them
ALL_METHODS = METHODS + ("weighted", "supervised")
ESTIMATORS = {"dawid_skene": DawidSkene, "mace": MACE, "weighted": WeightedVote, "supervised": SupervisedVote}


def aggregate_pairwise(votes: PairwiseVotes, *, method: str = "dawid_skene", include_judges: bool = True,
                       **options: Any) -> PairwiseConsensus:
    """One consensus per pairwise item by `method` (one of ALL_METHODS).

    include_judges=False leaves the judges' votes out of the estimate (and out of n_votes, n_judge, source and
    agreement, which describe the votes used); the judges still get a competence: the expected share of their
    votes that the human-only consensus calls correct. Gold items (votes.gold != -1) take the gold class with
    probability 1 and, in Dawid-Skene and MACE, act as known truth while fitting. `options` go to the
    estimator (DawidSkene(max_iter, tol, smoothing, prior_accuracy, prior_strength), MACE(method, max_iter, tol,
    alpha, beta, xi_prior), WeightedVote(prior_accuracy, prior_strength, clip), SupervisedVote(C, min_known,
    use_swap)). prior_accuracy (J,) covers every annotator of `votes` (see options.competence_prior).
    """
    if method not in ALL_METHODS:
        raise ValueError(f"unknown aggregation method {method!r}: use one of {', '.join(ALL_METHODS)}")
    used = votes if include_judges else votes.subset(~votes.vote_is_judge)
    details: dict[str, Any] = {}
    winner = None
    if method == "majority":
        if options:
            raise ValueError(f"majority takes no options, got {sorted(options)}")
        posterior, competence, winner = majority_posterior(used), majority_competence(used), majority_winner(used)
    elif method == "dawid_skene":
        model = DawidSkene(**options).fit(used)
        posterior, competence = model.posterior_, model.competence_
        details = {"priors": model.priors_, "confusion": model.confusion_, "n_iter": model.n_iter_,
                   "converged": model.converged_, "log_likelihood": model.log_likelihood_}
    elif method in ("weighted", "supervised"):
        model = ESTIMATORS[method](**options).fit(used)
        posterior, competence = model.posterior_, model.competence_
        details = ({"weight": model.weight_} if method == "weighted"
                   else {"coef": model.coef_, "fallback": model.fallback_})
    else:
        model = MACE(**options).fit(used)
        posterior, competence = model.posterior_, model.competence_
        details = {"theta": model.theta_, "xi": model.xi_, "n_iter": model.n_iter_, "converged": model.converged_,
                   "log_likelihood": model.log_likelihood_}
    consensus = finish(method, used, posterior, competence, details=details, winner=winner)
    if not include_judges:
        left_out = np.asarray(votes.annotator_is_judge, dtype=bool)
        posthoc = posthoc_competence(votes, consensus.posterior, consensus.winner != NONE)
        consensus.competence = np.where(left_out, posthoc, consensus.competence)
    return consensus
