"""Agreement figures on hand-worked fixtures and against sklearn / krippendorff / scipy on the same data."""
import json

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from annotation.curation.agreement import (
    agreement_report, cohen_kappa_pairs, fleiss_kappa, judge_agreement, krippendorff_alpha, ranking_agreement,
    raw_agreement,
)
from annotation.curation.votes import A, B, NONE, TIE, RankingVotes

from .agg_fixtures import pairwise, synthetic

# Fleiss (1971) as worked on Wikipedia: 10 subjects, 14 raters, 5 categories; P = 0.378, P_e = 0.213, kappa 0.210.
WIKIPEDIA_FLEISS = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]

# humans 0, 1, 2 and judge 3. item 0: A A B (majority A), judge A. item 1: B B B, judge A. item 2: A B tie (a
# draw), judge tie. item 3: A B, resolved B by a reviewer, judge B.
JUDGED = [(0, 0, A), (0, 1, A), (0, 2, B), (0, 3, A), (1, 0, B), (1, 1, B), (1, 2, B), (1, 3, A),
          (2, 0, A), (2, 1, B), (2, 2, TIE), (2, 3, TIE), (3, 0, A), (3, 1, B), (3, 3, B)]


def judged():
    swap = [np.nan, np.nan, np.nan, 1, np.nan, np.nan, np.nan, 0, np.nan, np.nan, np.nan, 1, np.nan, np.nan, np.nan]
    return pairwise(JUDGED, judges=(3,), gold=[NONE, NONE, NONE, B], swap=swap)


def test_raw_agreement_is_the_share_of_agreeing_pairs():
    np.testing.assert_allclose(raw_agreement([[2, 1, 0], [3, 0, 0], [1, 0, 0], [1, 1, 1]]), [1 / 3, 1, np.nan, 0])


def test_fleiss_kappa_wikipedia_example():
    assert fleiss_kappa(WIKIPEDIA_FLEISS) == pytest.approx(0.2099, abs=1e-4)
    with pytest.raises(ValueError, match="same number"):
        fleiss_kappa([[2, 1, 0], [1, 1, 0]])


def test_report_fleiss_uses_the_most_common_number_of_raters():
    """Items 0-2 have 3 human votes, item 3 two: kappa over items 0-2 only (P = (1/3 + 1 + 0) / 3)."""
    report = agreement_report(judged())
    assert report.fleiss_raters == 3 and report.fleiss_kappa.n == 3
    counts = np.array([[2, 1, 0], [0, 3, 0], [1, 1, 1]])
    assert report.fleiss_kappa.value == pytest.approx(fleiss_kappa(counts))
    assert report.raw_agreement.value == pytest.approx((1 / 3 + 1 + 0 + 0) / 4)


def test_cohen_kappa_hand_worked_and_min_common():
    """a = A A B B, b = A B B B: p_o = 3/4, p_e = 1/2 * 1/4 + 1/2 * 3/4 = 1/2 -> kappa 1/2."""
    votes = pairwise([(0, 0, A), (1, 0, A), (2, 0, B), (3, 0, B), (0, 1, A), (1, 1, B), (2, 1, B), (3, 1, B)])
    (pair,) = cohen_kappa_pairs(votes, min_common=4)
    assert (pair.a, pair.b, pair.n_common) == (0, 1, 4)
    assert pair.kappa == pytest.approx(0.5) and pair.agreement == pytest.approx(0.75)
    assert cohen_kappa_pairs(votes, min_common=5) == []


def test_cohen_kappa_matches_sklearn():
    accuracy = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    votes, _ = synthetic(n_items=300, n_annotators=6, per_item=3, accuracy=accuracy, seed=4)
    pairs = cohen_kappa_pairs(votes, min_common=20)
    assert len(pairs) == 15
    def labels_of(j):
        mine = votes.annotators == j
        return {int(i): int(v) for i, v in zip(votes.items[mine], votes.values[mine])}

    for p in pairs:
        a, b = labels_of(p.a), labels_of(p.b)
        common = sorted(set(a) & set(b))
        assert p.n_common == len(common)
        expected = cohen_kappa_score([a[i] for i in common], [b[i] for i in common], labels=[A, B, TIE])
        assert p.kappa == pytest.approx(expected)


def test_krippendorff_known_answers():
    """The library's documented examples, fed as votes: nominal 0.691358, ordinal 0.815."""
    nominal = [[np.nan] * 5 + [3, 4, 1, 2, 1, 1, 3, 3, np.nan, 3],
               [1, np.nan, 2, 1, 3, 3, 4, 3] + [np.nan] * 7,
               [np.nan, np.nan, 2, 1, 3, 4, 4, np.nan, 2, 1, 1, 3, 3, np.nan, 4]]
    ordinal = [[1, 2, 3, 3, 2, 1, 4, 1, 2, np.nan, np.nan, np.nan], [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, np.nan, 3],
               [np.nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, np.nan], [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, np.nan]]
    for matrix, level, expected in ((nominal, "nominal", 0.691358), (ordinal, "ordinal", 0.815)):
        matrix = np.array(matrix)
        _, units = np.nonzero(~np.isnan(matrix))
        figure = krippendorff_alpha(units, matrix[~np.isnan(matrix)], matrix.shape[1], level=level)
        assert figure.value == pytest.approx(expected, abs=5e-4)


def test_krippendorff_matches_the_reliability_matrix():
    """Nominal on the class and ordinal on the signed strength equal the library fed the raters x items matrix."""
    accuracy = np.array([0.9, 0.7, 0.6, 0.5])
    votes, _ = synthetic(n_items=80, n_annotators=4, per_item=3, accuracy=accuracy, seed=5)
    strength = np.random.default_rng(5).choice([1 / 3, 2 / 3, 1.0], size=len(votes.values))
    votes = pairwise(np.c_[votes.items, votes.annotators, votes.values], strength=strength)
    signed = np.select([votes.values == A, votes.values == B], [strength, -strength], 0.0)
    for level, values in (("nominal", votes.values.astype(float)), ("ordinal", signed)):
        matrix = np.full((4, 80), np.nan)
        matrix[votes.annotators, votes.items] = values
        expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement=level)
        report = agreement_report(votes)
        figure = report.krippendorff_nominal if level == "nominal" else report.krippendorff_ordinal
        assert figure.value == pytest.approx(expected)


def test_judge_against_human_majority():
    (judge,) = judge_agreement(judged())
    assert (judge.n_votes, judge.n_compared, judge.n_agree, judge.n_no_majority) == (4, 3, 2, 1)
    assert judge.accuracy == pytest.approx(2 / 3)
    assert judge.confusion == [[1, 0, 0], [1, 1, 0], [0, 0, 0]]  # rows human A/B/tie, columns judge
    assert judge.swap_consistency == pytest.approx(2 / 3) and judge.n_swap_checked == 3


def test_per_annotator_leave_one_out():
    """ann0: item 0 others A, B (draw: skipped); item 1 others B, B (agree); item 2 others B, tie (skipped);
    item 3 gold B, ann0 said A (disagree) -> 1/2 over 2. The judge is measured against the human majority."""
    rows = {r.index: r for r in agreement_report(judged()).annotators}
    assert rows[0].majority_agreement == pytest.approx(0.5) and rows[0].n_majority == 2
    assert rows[3].is_judge and rows[3].majority_agreement == pytest.approx(2 / 3) and rows[3].n_majority == 3
    # ann2's votes: item 0 B among A, A (0 of 2 agree), item 1 B among B, B (2 of 2), item 2 tie among A, B (0)
    assert rows[2].raw_agreement == pytest.approx(1 / 3)


def test_empty_single_annotator_and_json():
    empty = agreement_report(pairwise([], n_items=2, n_annotators=0))
    assert empty.raw_agreement.reason == "no item has two votes"
    single = agreement_report(pairwise([(0, 0, A), (1, 0, B)]))
    assert single.fleiss_kappa.reason and single.krippendorff_nominal.reason and single.mean_cohen_kappa.reason
    assert single.annotators[0].n_votes == 2 and np.isnan(single.annotators[0].majority_agreement)
    same = agreement_report(pairwise([(0, 0, A), (0, 1, A), (1, 0, A), (1, 1, A)]))
    assert same.raw_agreement.value == 1.0 and same.krippendorff_nominal.reason == "every vote has the same value"
    payload = json.dumps(agreement_report(judged()).to_dict(), allow_nan=False)
    assert '"value": null' in json.dumps(single.to_dict(), allow_nan=False) and '"judges"' in payload


def test_ranking_agreement_kendall():
    """Item 0: identical rankings (tau 1); item 1: reversed (tau -1); item 2 one vote (no pair)."""
    votes = RankingVotes(
        items=np.array([0, 0, 1, 1, 2]), annotators=np.array([0, 1, 0, 1, 0]),
        rankings=[[[0], [1], [2]], [[0], [1], [2]], [[0], [1], [2]], [[2], [1], [0]], [[1], [0]]],
        item_ids=np.arange(3), n_responses=np.array([3, 3, 2]), annotator_ids=np.array([7, 8]),
        annotator_is_judge=np.array([False, False]),
    )
    report = ranking_agreement(votes)
    assert report.mean_tau.value == pytest.approx(0.0) and report.mean_tau.n == 2
    assert [row["n_pairs"] for row in report.annotators] == [2, 2]
    lone = ranking_agreement(RankingVotes(
        items=np.array([0]), annotators=np.array([0]), rankings=[[[0], [1]]], item_ids=np.arange(1),
        n_responses=np.array([2]), annotator_ids=np.array([1]), annotator_is_judge=np.array([False])))
    assert lone.mean_tau.reason == "no two rankings of one item"
