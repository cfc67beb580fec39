"""Listwise aggregation: Plackett-Luce consensus per item, tie groups, gold, and the pairs a ranking implies."""
import warnings

import choix
import numpy as np
import pytest
from scipy.stats import kendalltau

from annotation.curation.aggregation import aggregate_rankings, ranking_pairs, ranking_tau
from annotation.curation.votes import RankingVotes


def rankings(per_item, *, n_responses=None, judges=(), gold=None):
    """per_item = [[(annotator, ranking), ...], ...] -> RankingVotes."""
    items, annot, ranks = [], [], []
    for i, votes in enumerate(per_item):
        for a, r in votes:
            items.append(i)
            annot.append(a)
            ranks.append(r)
    n_annot = max(annot, default=-1) + 1
    return RankingVotes(
        items=np.array(items, dtype=np.int64), annotators=np.array(annot, dtype=np.int64), rankings=ranks,
        item_ids=np.arange(len(per_item)), n_responses=np.array(n_responses or [3] * len(per_item)),
        annotator_ids=np.arange(n_annot), annotator_is_judge=np.isin(np.arange(n_annot), judges),
        gold=gold or [],
    )


def test_ranking_pairs_skip_ties():
    assert ranking_pairs([[2], [0, 1], [3]]) == [(2, 0), (2, 1), (2, 3), (0, 3), (1, 3)]
    assert ranking_pairs([[0, 1]]) == []
    assert ranking_pairs([]) == []


def test_ranking_tau_is_scipys_kendall_tau_b():
    """Tie-heavy random rankings, partial overlaps included, against scipy.stats.kendalltau (tau-b)."""
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(2, 7))
        a = _random_groups(rng, rng.permutation(n).tolist())
        b = _random_groups(rng, rng.permutation(n).tolist()[: int(rng.integers(2, n + 1))])
        ra, rb = ({p: g for g, grp in enumerate(r) for p in grp} for r in (a, b))
        common = sorted(set(ra) & set(rb))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy warns on a constant input (tau undefined)
            expected = kendalltau([ra[p] for p in common], [rb[p] for p in common]).statistic
        assert ranking_tau(a, b) == pytest.approx(expected, nan_ok=True)


def _random_groups(rng, positions):
    """Split a sequence of positions into random consecutive tie groups."""
    groups, k = [], 0
    while k < len(positions):
        size = int(rng.integers(1, 3))
        groups.append(positions[k:k + size])
        k += size
    return groups


def test_single_vote_is_its_own_consensus():
    c = aggregate_rankings(rankings([[(0, [[2], [0, 1]])]]))
    assert c.order == [[[2], [0, 1]]]
    assert c.agreement[0] == pytest.approx(1.0) and c.n_votes.tolist() == [1]
    assert c.scores[0][2] > c.scores[0][0] == c.scores[0][1]


def test_two_agreeing_votes_and_one_dissent():
    """0>1>2 twice and 1>0>2 once: consensus 0>1>2; tau-b of the votes = 1, 1, 1/3 -> mean 7/9."""
    votes = rankings([[(0, [[0], [1], [2]]), (1, [[0], [1], [2]]), (2, [[1], [0], [2]])]])
    c = aggregate_rankings(votes)
    assert c.order == [[[0], [1], [2]]]
    assert c.scores[0][0] > c.scores[0][1] > c.scores[0][2]
    assert c.agreement[0] == pytest.approx(7 / 9)


def test_scores_are_choix_plackett_luce_on_tie_free_votes():
    """Without ties each vote enters twice (the weight of a tied vote's two expansions), which leaves the
    maximum-likelihood strengths as they are: nearly unregularised ILSR here = choix's optimiser on the votes."""
    votes = [[[0], [1], [2], [3]], [[1], [0], [3], [2]], [[0], [2], [1], [3]], [[3], [0], [1], [2]]]
    c = aggregate_rankings(rankings([[(a, r) for a, r in enumerate(votes)]], n_responses=[4]), alpha=1e-6)
    data = [tuple(g[0] for g in r) for r in votes]
    reference = choix.opt_rankings(4, data, alpha=1e-6)
    np.testing.assert_allclose(c.scores[0] - c.scores[0].mean(), reference - reference.mean(), atol=1e-3)


def test_tied_votes_give_a_tied_consensus():
    votes = rankings([[(0, [[0, 1], [2]]), (1, [[1, 0], [2]])]])
    c = aggregate_rankings(votes)
    assert c.order == [[[0, 1], [2]]]
    assert ranking_pairs(c.order[0]) == [(0, 2), (1, 2)]


def test_partial_rankings_leave_unranked_positions_out():
    c = aggregate_rankings(rankings([[(0, [[2], [0]]), (1, [[2], [0]])]]))
    assert c.order == [[[2], [0]]]
    assert np.isnan(c.scores[0][1])


def test_gold_empty_source_and_bad_positions():
    votes = rankings([[(0, [[0], [1], [2]]), (1, [[0], [1], [2]])], [], [(2, [[1], [0], [2]])]],
                     judges=(2,), gold=[[[2], [1], [0]], None, None])
    c = aggregate_rankings(votes)
    assert c.order[0] == [[2], [1], [0]] and c.is_gold.tolist() == [True, False, False]
    assert c.agreement[0] == pytest.approx(-1.0)
    assert c.order[1] == [] and np.isnan(c.agreement[1]) and c.source.tolist() == ["human", "", "ai"]
    with pytest.raises(ValueError, match="outside 0..2"):
        aggregate_rankings(rankings([[(0, [[0], [3]])]]))
    with pytest.raises(ValueError, match="plackett_luce"):
        aggregate_rankings(votes, method="borda")
