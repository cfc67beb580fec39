"""Listwise consensus: a Plackett-Luce model per item, fitted with choix, and the pairs a ranking implies.

Plackett-Luce gives response r a strength exp(s_r); a ranking r_1 > r_2 > ... > r_m has probability

    P = prod_{k=1}^{m-1} exp(s_{r_k}) / sum_{l >= k} exp(s_{r_l})

Each item is its own small problem (its responses are choix's "items"), fitted by choix.ilsr_rankings
(Maystre & Grossglauser's iterative Luce spectral ranking) with a small regularisation `alpha`, without which
the maximum-likelihood strengths diverge whenever every vote agrees.

Ties: Plackett-Luce has none, so a vote's tie groups are expanded into two rankings, one listing each group's
members in the given order and one in reverse; a vote without ties is counted twice, so every vote weighs
the same. Within a tie group every pair then wins once each way, which pulls tied responses to equal
strength. A partial ranking is a ranking of the positions it names; positions no vote names are left out of
the consensus order and get a NaN score. Consensus tie groups join responses whose scores lie within 1e-6 of
the group's best.

R. L. Plackett. The Analysis of Permutations. Applied Statistics 24(2), 193-202 (1975).
L. Maystre and M. Grossglauser. Fast and Accurate Inference of Plackett-Luce Models. NeurIPS 2015.
"""
from __future__ import annotations

from dataclasses import dataclass

import choix
import numpy as np

from ..votes import RankingVotes

__all__ = ["RankingConsensus", "aggregate_rankings", "ranking_pairs", "ranking_tau"]

TIE_TOLERANCE = 1e-6  # scores closer than this are reported as a tie (ILSR converges to 1e-8)

Ranking = list[list[int]]


@dataclass
class RankingConsensus:
    """Per listwise item (I): order = tie groups of positions best first ([] where no votes and no gold);
    scores = (n_responses,) Plackett-Luce log-strengths, higher = better, NaN for positions nobody ranked;
    agreement (I,) = mean Kendall tau-b of each vote against the consensus (NaN where not defined);
    n_votes (I,) int; source (I,) "human" | "ai" | "hybrid" | ""; is_gold (I,) = the order is a reviewer's.
    """

    order: list[Ranking]
    scores: list[np.ndarray]
    agreement: np.ndarray
    n_votes: np.ndarray
    source: np.ndarray
    is_gold: np.ndarray


def ranking_pairs(order: Ranking) -> list[tuple[int, int]]:
    """Every (better_pos, worse_pos) the tie groups `order` (best first) imply; tied positions give no pair."""
    return [(b, w) for g, group in enumerate(order) for worse in order[g + 1:] for b in group for w in worse]


def _ranks(order: Ranking) -> dict[int, int]:
    return {pos: g for g, group in enumerate(order) for pos in group}


def ranking_tau(a: Ranking, b: Ranking) -> float:
    """Kendall tau-b between two tie-group rankings over the positions both rank; NaN if undefined.

    tau_b = (concordant - discordant) / sqrt((n0 - ties_a) (n0 - ties_b)), n0 = m (m - 1) / 2 pairs, written
    out because scipy.stats.kendalltau costs ~2 ms a call in overhead on these 2-10 element lists (the tests
    check it against scipy).
    """
    ra, rb = _ranks(a), _ranks(b)
    common = sorted(set(ra) & set(rb))
    if len(common) < 2:
        return float("nan")
    x, y = np.array([ra[p] for p in common]), np.array([rb[p] for p in common])
    upper = np.triu_indices(len(common), k=1)
    sx, sy = np.sign(x[:, None] - x[None, :])[upper], np.sign(y[:, None] - y[None, :])[upper]
    denominator = np.sqrt(float(np.count_nonzero(sx)) * float(np.count_nonzero(sy)))
    return float((sx * sy).sum() / denominator) if denominator > 0 else float("nan")


def _expand(ranking: Ranking) -> list[tuple[int, ...]]:
    forward = tuple(p for group in ranking for p in group)
    backward = tuple(p for group in ranking for p in reversed(group))
    return [forward, backward]


def _group_scores(order: Ranking, n: int) -> np.ndarray:
    scores = np.full(n, np.nan)
    for g, group in enumerate(order):
        scores[group] = float(len(order) - g)
    return scores


def _order_from_scores(scores: np.ndarray) -> Ranking:
    ranked = [int(p) for p in np.argsort(-scores, kind="stable") if not np.isnan(scores[p])]
    order: Ranking = []
    for pos in ranked:
        if order and scores[order[-1][0]] - scores[pos] <= TIE_TOLERANCE:
            order[-1].append(pos)
        else:
            order.append([pos])
    return [sorted(group) for group in order]


def plackett_luce_scores(rankings: list[Ranking], n: int, *, alpha: float = 0.01) -> np.ndarray:
    """(n,) log-strengths of one item's responses from its votes' tie-group rankings (NaN = never ranked)."""
    ranked = sorted({p for r in rankings for g in r for p in g})
    if not ranked:
        return np.full(n, np.nan)
    local = {p: k for k, p in enumerate(ranked)}
    data = [tuple(local[p] for p in seq) for r in rankings for seq in _expand(r) if len(seq) >= 2]
    params = choix.ilsr_rankings(len(ranked), data, alpha=alpha) if data else np.zeros(len(ranked))
    scores = np.full(n, np.nan)
    scores[ranked] = params
    return scores


def aggregate_rankings(votes: RankingVotes, *, method: str = "plackett_luce", alpha: float = 0.01) -> RankingConsensus:
    """One consensus order per listwise item; a single vote is its own consensus, a gold order wins outright."""
    if method != "plackett_luce":
        raise ValueError(f"unknown ranking aggregation method {method!r}: use 'plackett_luce'")
    n_items = votes.n_items
    by_item: list[list[int]] = [[] for _ in range(n_items)]
    for k, i in enumerate(np.asarray(votes.items, dtype=np.int64)):
        by_item[int(i)].append(k)
    is_judge = np.asarray(votes.annotator_is_judge, dtype=bool)
    orders, scores = [], []
    agreement = np.full(n_items, np.nan)
    n_votes = np.array([len(ks) for ks in by_item], dtype=np.int64)
    source = np.full(n_items, "", dtype=object)
    is_gold = np.array([g is not None for g in votes.gold], dtype=bool)
    for i, ks in enumerate(by_item):
        n = int(votes.n_responses[i])
        rankings = [[list(map(int, g)) for g in votes.rankings[k]] for k in ks]
        for r in rankings + ([votes.gold[i]] if is_gold[i] else []):
            if any(not 0 <= p < n for g in r for p in g):
                raise ValueError(f"item {i} has a ranking naming a position outside 0..{n - 1}")
        if is_gold[i]:
            order = [list(map(int, g)) for g in votes.gold[i]]
            item_scores = _group_scores(order, n)
        elif len(rankings) == 1:
            order, item_scores = [list(g) for g in rankings[0] if g], _group_scores(rankings[0], n)
        else:
            item_scores = plackett_luce_scores(rankings, n, alpha=alpha)
            order = _order_from_scores(item_scores)
        orders.append(order)
        scores.append(item_scores)
        if rankings:
            taus = [ranking_tau(r, order) for r in rankings]
            agreement[i] = np.nan if np.isnan(taus).all() else float(np.nanmean(taus))
            kinds = {bool(is_judge[votes.annotators[k]]) for k in ks}
            source[i] = "hybrid" if len(kinds) == 2 else ("ai" if True in kinds else "human")
    return RankingConsensus(order=orders, scores=scores, agreement=agreement, n_votes=n_votes, source=source,
                            is_gold=is_gold)
