"""Noise signals for listwise (ranking) items, scored like the pairwise ones (noise.py's `combine_signals`).

Rankings are tie groups of response positions, best first. Agreement between two rankings is Kendall tau-b
over the positions both rank (plackett_luce.ranking_tau): 1 = same order, 0 = unrelated, −1 = reversed.
Only people's votes count as annotators here, as in the pairwise annotator_disagreement; judges are compared
with the people as a block. Signals (I = items):

  annotator_disagreement  value = mean tau over every pair of human votes of the item (needs >= 2 human votes
                          and one pair sharing two ranked positions); severity = clip(1 − tau, 0, 1), i.e.
                          twice the share of discordant pairs: tau 1 → 0, tau <= 0 → 1 (the pairwise signal's
                          2·(1 − agreement)); flag tau < ranking_tau_min.
  human_vs_judge          value = tau between the humans' consensus order and the judges' consensus order
                          (Plackett-Luce of each side alone; needs >= 1 vote on each side); severity =
                          (1 − tau) / 2, the share of discordant pairs; flag tau < 0 (judges run against people).
  top_disagreement        value = the largest share of human votes that put the same response in their best
                          group (needs >= 2 human votes); severity = min(1, 2·(1 − value)); flag < agreement_min.

Gold items (a reviewer's order): with gold_is_clean, score 0 and no flags. No Django.
"""
from __future__ import annotations

from itertools import combinations

import numpy as np

from .aggregation.plackett_luce import RankingConsensus, aggregate_rankings, ranking_tau
from .noise import NoiseConfig, NoiseReport, Signal, _f, build_signal, combine_signals
from .votes import RankingVotes

__all__ = ["ranking_noise_report"]

Ranking = list[list[int]]


def _letter(pos: int) -> str:
    """Position 0 → "A", as the labeling pages name responses (positions past Z by number)."""
    return chr(ord("A") + pos) if pos < 26 else f"#{pos + 1}"


def _side(votes: RankingVotes, keep: np.ndarray) -> RankingVotes:
    """The votes where keep (N,) is true, without gold, so aggregate_rankings gives that side's own order."""
    ks = np.flatnonzero(keep)
    return RankingVotes(
        items=np.asarray(votes.items)[ks], annotators=np.asarray(votes.annotators)[ks],
        rankings=[votes.rankings[k] for k in ks], item_ids=votes.item_ids, n_responses=votes.n_responses,
        annotator_ids=votes.annotator_ids, annotator_is_judge=votes.annotator_is_judge,
        annotator_names=votes.annotator_names,
    )


def _disagreement(human: list[list[Ranking]], n: int, config: NoiseConfig) -> Signal:
    tau, n_pairs = np.full(n, np.nan), np.zeros(n, dtype=np.int64)
    for i, rankings in enumerate(human):
        taus = [ranking_tau(a, b) for a, b in combinations(rankings, 2)]
        taus = [t for t in taus if not np.isnan(t)]
        if taus:
            tau[i], n_pairs[i] = float(np.mean(taus)), len(taus)
    return build_signal(
        "annotator_disagreement", tau, 1.0 - tau, tau < config.ranking_tau_min,
        lambda i: (f"annotators' rankings disagree: mean Kendall tau {_f(tau[i])} over {n_pairs[i]} pair(s) of "
                   f"{len(human[i])} votes (< {_f(config.ranking_tau_min)})"), config)


def _human_vs_judge(votes: RankingVotes, is_judge: np.ndarray, n: int, config: NoiseConfig) -> Signal:
    tau = np.full(n, np.nan)
    human = aggregate_rankings(_side(votes, ~is_judge))
    judge = aggregate_rankings(_side(votes, is_judge))
    for i in range(n):
        if human.order[i] and judge.order[i]:
            tau[i] = ranking_tau(human.order[i], judge.order[i])

    def show(order: Ranking) -> str:
        return " > ".join("=".join(_letter(p) for p in group) for group in order)
    return build_signal(
        "human_vs_judge", tau, (1.0 - tau) / 2, tau < 0,
        lambda i: (f"judges rank {show(judge.order[i])} ({judge.n_votes[i]} vote(s)) against the humans' "
                   f"{show(human.order[i])} ({human.n_votes[i]} vote(s)): Kendall tau {_f(tau[i])} < 0"), config)


def _top(human: list[list[Ranking]], n: int, config: NoiseConfig) -> Signal:
    share, best = np.full(n, np.nan), np.zeros(n, dtype=np.int64)
    for i, rankings in enumerate(human):
        tops = [set(r[0]) for r in rankings if r and r[0]]
        if len(tops) >= 2:
            counts = {p: sum(p in t for t in tops) for p in sorted(set().union(*tops))}
            best[i] = max(counts, key=lambda p: (counts[p], -p))
            share[i] = counts[best[i]] / len(tops)
    return build_signal(
        "top_disagreement", share, 2 * (1.0 - share), share < config.agreement_min,
        lambda i: (f"annotators disagree on the best response: {_letter(int(best[i]))} is best in "
                   f"{round(share[i] * len(human[i]))} of {len(human[i])} rankings "
                   f"(agreement {_f(share[i])} < {_f(config.agreement_min)})"), config)


def ranking_noise_report(votes: RankingVotes, consensus: RankingConsensus,
                         config: NoiseConfig | None = None) -> NoiseReport:
    """The listwise signals (annotator_disagreement, human_vs_judge, top_disagreement) of the I items of `votes`
    and their combined score (I,) in [0, 1]; `consensus` (aggregate_rankings of `votes`) gives is_gold."""
    config = config or NoiseConfig()
    n = votes.n_items
    if len(consensus.order) != n:
        raise ValueError(f"votes cover {n} items, consensus {len(consensus.order)}")
    is_judge = np.asarray(votes.annotator_is_judge, dtype=bool)[np.asarray(votes.annotators, dtype=np.int64)]
    human: list[list[Ranking]] = [[] for _ in range(n)]
    for k, i in enumerate(np.asarray(votes.items, dtype=np.int64)):
        if not is_judge[k]:
            human[int(i)].append([list(map(int, g)) for g in votes.rankings[k] if len(g)])
    signals = [_disagreement(human, n, config), _human_vs_judge(votes, is_judge, n, config), _top(human, n, config)]
    return combine_signals(signals, np.asarray(consensus.is_gold, dtype=bool), config)
