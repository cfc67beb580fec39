"""Listwise noise signals, worked by hand: Kendall tau among people, judges against people, the best response,
the combined score (noise.py's formula), gold, and the dataset builder's drop rules and weights on them."""
import numpy as np
import pytest
from scipy.stats import kendalltau

from annotation.curation.aggregation import aggregate_rankings
from annotation.curation.dataset import CurationConfig, CurationItem, build_rows
from annotation.curation.noise import DEFAULT_WEIGHTS, SIGNALS, NoiseConfig
from annotation.curation.noise_rankings import ranking_noise_report
from annotation.curation.votes import RankingVotes

ABC, CBA, ACB = [[0], [1], [2]], [[2], [1], [0]], [[0], [2], [1]]


def rankings(per_item, *, judges=(), gold=None):
    """per_item = [[(annotator, ranking), ...], ...] -> RankingVotes over 3-response items."""
    items, annot, ranks = [], [], []
    for i, votes in enumerate(per_item):
        for a, r in votes:
            items.append(i)
            annot.append(a)
            ranks.append(r)
    n_annot = max(annot, default=-1) + 1
    return RankingVotes(
        items=np.array(items, dtype=np.int64), annotators=np.array(annot, dtype=np.int64), rankings=ranks,
        item_ids=np.arange(len(per_item)), n_responses=np.full(len(per_item), 3),
        annotator_ids=np.arange(n_annot), annotator_is_judge=np.isin(np.arange(n_annot), judges), gold=gold or [],
    )


def report(votes, config=None):
    return ranking_noise_report(votes, aggregate_rankings(votes), config)


def test_a_unanimous_item_has_score_zero_and_no_flags():
    r = report(rankings([[(0, ABC), (1, ABC), (2, ABC)]]))
    assert r.score.tolist() == [0.0] and r.reasons(0) == []
    assert r.signals["annotator_disagreement"].values[0] == 1.0  # every pair of votes: tau 1
    assert r.signals["top_disagreement"].values[0] == 1.0  # all three put A first
    assert np.isnan(r.signals["human_vs_judge"].values[0])  # no judge: does not apply


def test_two_people_in_opposite_orders_are_flagged_with_the_numbers():
    r = report(rankings([[(0, ABC), (1, CBA)]]))
    disagreement = r.signals["annotator_disagreement"]
    assert disagreement.values[0] == pytest.approx(-1.0) and disagreement.severity[0] == 1.0
    assert disagreement.flagged[0]
    assert "−1.00" in disagreement.reasons[0] and "2 votes" in disagreement.reasons[0] and "0.50" in \
        disagreement.reasons[0]
    top = r.signals["top_disagreement"]  # A best for one, C for the other: 1 of 2 → agreement 0.5 < 0.75
    assert top.flagged[0] and top.values[0] == 0.5 and top.severity[0] == 1.0
    assert "1 of 2" in top.reasons[0]
    # weights 1 (disagreement) and 0.5 (top), both severity 1; human_vs_judge does not apply
    assert r.score[0] == pytest.approx((1.0 * 1 + 0.5 * 1) / 1.5)
    assert len(r.reasons(0)) == 2


def test_one_adjacent_swap_is_flagged_between_two_votes_but_not_among_three():
    two = report(rankings([[(0, ABC), (1, ACB)]]))
    # pairs (A,B) (A,C) agree, (B,C) swapped: tau = (2 − 1) / 3
    assert two.signals["annotator_disagreement"].values[0] == pytest.approx(1 / 3)
    assert two.signals["annotator_disagreement"].flagged[0]
    three = report(rankings([[(0, ABC), (1, ABC), (2, ACB)]]))
    tau = (1 + 1 / 3 + 1 / 3) / 3  # the three pairs of votes: 5/9 >= 0.5
    d = three.signals["annotator_disagreement"]
    assert d.values[0] == pytest.approx(tau) and not d.flagged[0]
    assert d.severity[0] == pytest.approx(1 - tau)
    assert not three.signals["top_disagreement"].flagged[0]  # all put A first: severity 0
    assert three.score[0] == pytest.approx((1.0 * (1 - tau) + 0.5 * 0.0) / 1.5)  # = 8/27


def test_the_mean_tau_with_ties_is_scipys_kendall_tau_b():
    tied = [[0, 1], [2]]
    r = report(rankings([[(0, tied), (1, ABC)]]))
    expected = kendalltau([0, 0, 1], [0, 1, 2]).statistic  # ranks of A, B, C in each vote
    assert r.signals["annotator_disagreement"].values[0] == pytest.approx(expected)


def test_judges_against_the_people_are_flagged_and_in_agreement_are_not():
    votes = rankings([[(0, ABC), (1, ABC), (2, CBA)], [(0, ABC), (1, ABC), (2, ABC)]], judges=(2,))
    r = report(votes)
    hvj = r.signals["human_vs_judge"]
    assert hvj.values.tolist() == pytest.approx([-1.0, 1.0])
    assert hvj.flagged.tolist() == [True, False] and hvj.severity.tolist() == pytest.approx([1.0, 0.0])
    assert "C > B > A" in hvj.reasons[0] and "A > B > C" in hvj.reasons[0] and "−1.00" in hvj.reasons[0]
    # the judge is not an annotator here: the two people agree
    assert r.signals["annotator_disagreement"].values.tolist() == [1.0, 1.0]
    assert r.score[0] == pytest.approx(1.0 * 1.0 / (1.0 + 1.0 + 0.5)) and r.score[1] == 0.0


def test_gold_clears_the_flags_and_the_score():
    votes = rankings([[(0, ABC), (1, CBA)]], gold=[CBA])
    r = report(votes)
    assert r.score.tolist() == [0.0] and r.reasons(0) == []
    assert not any(s.flagged[0] for s in r.signals.values())
    kept = report(votes, NoiseConfig(gold_is_clean=False))
    assert kept.signals["annotator_disagreement"].flagged[0] and kept.score[0] > 0


def test_a_single_vote_has_no_signal_and_score_zero():
    r = report(rankings([[(0, ABC)], []]))
    assert r.score.tolist() == [0.0, 0.0]
    assert all(np.isnan(s.values).all() for s in r.signals.values())


def test_the_threshold_is_configurable_and_checked():
    votes = rankings([[(0, ABC), (1, ACB)]])
    assert not report(votes, NoiseConfig(ranking_tau_min=0.3)).signals["annotator_disagreement"].flagged[0]
    with pytest.raises(ValueError, match="ranking_tau_min"):
        NoiseConfig(ranking_tau_min=-1.0)
    with pytest.raises(ValueError, match="covers|votes cover"):
        ranking_noise_report(votes, aggregate_rankings(rankings([[], []])))


def _listwise(external_id, *, noise_score, flagged=(), source="human"):
    return CurationItem(external_id=external_id, kind="listwise", prompt=[{"role": "user", "content": "Rank."}],
                        responses=["a", "b", "c"], ranking=ABC, source=source, noise_score=noise_score,
                        flagged=list(flagged), signals={"top_disagreement": 0.5},
                        severities={"top_disagreement": 0.5})


def test_dataset_drop_rules_and_down_weighting_apply_to_listwise_noise():
    assert "top_disagreement" in SIGNALS and "top_disagreement" in DEFAULT_WEIGHTS
    config = CurationConfig(drop={"top_disagreement": True}, downweight=1.0, min_weight=0.1, test_fraction=0,
                            listwise_pairs="best_vs_rest")
    items = [_listwise("noisy", noise_score=1.0, flagged=["top_disagreement"]),
             _listwise("gold", noise_score=0.0, flagged=["top_disagreement"], source="gold"),
             _listwise("half", noise_score=0.75)]
    rows, stats = build_rows(items, config)
    assert stats["dropped"] == {"signal:top_disagreement": 1}
    weights = {(r.item, r.data["chosen"], r.data["rejected"]): r.weight for r in rows}
    assert weights == {("gold", "a", "b"): 1.0, ("gold", "a", "c"): 1.0,
                       ("half", "a", "b"): pytest.approx(0.25), ("half", "a", "c"): pytest.approx(0.25)}
    by_value = build_rows(items, CurationConfig(drop={"top_disagreement": 0.5}, test_fraction=0))[1]
    assert by_value["dropped"] == {"signal:top_disagreement": 2}  # a severity rule: noisy and half, not gold
