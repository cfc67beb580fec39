"""The cross-validated choice of an aggregate, its fallback to the best single annotator, the reliability
warnings without references and the three agreement figures."""
import numpy as np
import pytest

from annotation.curation.aggregation import aggregate_pairwise
from annotation.curation.calibration import (SINGLE, AggregationRun, aggregation_choose, consensus_agreement,
                                             reliability_check)
from annotation.curation.calibration._stats import proportion
from annotation.curation.votes import A, B, TIE

from .agg_fixtures import pairwise, synthetic
from .weak_fixtures import references, weak_judges


@pytest.mark.parametrize("k, n", [(8, 10), (0, 7), (60, 60), (13, 94), (1, 1)])
def test_wilson_interval_matches_scipy(k, n):
    """The closed form equals scipy's binomtest(...).proportion_ci(method="wilson"); 8 of 10 -> [0.490, 0.943]."""
    from scipy.stats import binomtest

    p = proportion(k, n)
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert p.value == k / n
    np.testing.assert_allclose([p.low, p.high], [ci.low, ci.high], atol=1e-9)
    assert np.isnan(proportion(0, 0).value)


def test_choice_beats_majority_and_matches_best_single_on_weak_judges():
    """Most judges weak and correlated: majority < 50 %; with 10 % references the chosen aggregate is within a
    point of the best single judge (on the items without a reference) and its competences track the truth."""
    votes, truth, true_acc = weak_judges(n_items=600, seed=3)
    refs = references(truth, 0.1)
    test = refs < 0
    choice = aggregation_choose(votes, references=refs)
    best_single = max((votes.values.reshape(600, -1)[test, j] == truth[test]).mean() for j in range(votes.n_annotators))
    chosen = (choice.consensus.winner[test] == truth[test]).mean()
    assert (aggregate_pairwise(votes, method="majority").winner[test] == truth[test]).mean() < 0.5
    assert chosen >= best_single - 0.01
    assert np.corrcoef(choice.consensus.competence, true_acc)[0, 1] >= 0.8
    assert set(choice.scores) == {"majority", "dawid_skene", "mace", "weighted", "supervised", SINGLE}
    for score in choice.scores.values():
        assert score.accuracy.n == 60 and score.accuracy.low <= score.accuracy.value <= score.accuracy.high
    assert choice.scores["majority"].accuracy.value < 0.5 < choice.scores[choice.chosen].accuracy.value
    assert choice.warnings == []
    assert (choice.consensus.winner[~test] == truth[~test]).all()  # reference items take their reference
    held = choice.held_out  # ... except in the held-out view, where they show the cross-validated guess
    assert not held.is_gold[~test].any() and (held.winner[test] == choice.consensus.winner[test]).all()
    right_cv = int((held.winner[~test] == truth[~test]).sum())
    assert right_cv == choice.scores[choice.chosen].accuracy.k


def test_cross_validation_never_sees_the_scored_references():
    """Votes that carry no information and random references: were a fold's references used while fitting,
    gold clamping would make every method 100 % right on them; honestly scored they sit near chance."""
    rng = np.random.default_rng(0)
    rows = [(i, j, rng.integers(0, 2)) for i in range(200) for j in range(5)]
    refs = rng.integers(0, 2, 200)
    choice = aggregation_choose(pairwise(rows), references=refs)
    for score in choice.scores.values():
        assert score.accuracy.value < 0.7


def test_falls_back_to_the_best_single_annotator():
    """One annotator is always right, four vote at random: no aggregate beats it, so its votes are the consensus."""
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 2, 150)
    rows = [(i, 0, truth[i]) for i in range(150)]
    rows += [(i, j, rng.integers(0, 2)) for i in range(150) for j in (1, 2, 3, 4)]
    choice = aggregation_choose(pairwise(rows), references=references(truth, 0.2))
    assert choice.chosen == SINGLE and choice.annotator == 0
    assert (choice.consensus.winner == truth).all()
    assert "ann0" in choice.reason


def test_single_annotator_consensus_keeps_the_crowds_certainty():
    """The best single annotator's votes are the consensus, but its probability is the best method's posterior
    for that vote: lower where the others weigh against it, which is where it is wrong. A constant probability
    (its accuracy everywhere) would give the noise signals nothing to rank - the HH-RLHF evidence run's miss."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    n = 400
    truth = rng.integers(0, 2, n)
    flip = lambda acc: np.where(rng.random(n) < acc, truth, 1 - truth)  # noqa: E731
    votes0, votes1, votes2 = flip(0.9), flip(0.7), flip(0.7)
    rows = [(i, j, int(v[i])) for i in range(n) for j, v in enumerate((votes0, votes1, votes2))]
    choice = aggregation_choose(pairwise(rows), references=references(truth, 0.2))
    assert choice.chosen == SINGLE and choice.annotator == 0
    assert choice.consensus.details["probability_from"] in choice.scores
    free = ~choice.consensus.is_gold
    assert (choice.consensus.winner[free] == votes0[free]).all()
    wrong = votes0 != truth
    for consensus in (choice.consensus, choice.held_out):
        p = consensus.probability[free]
        assert np.ptp(p) > 0.2
        assert roc_auc_score(wrong[free], 1 - p) > 0.75
    held = choice.held_out
    ref_items = choice.consensus.is_gold
    assert (held.winner[ref_items] == votes0[ref_items]).all() and not held.is_gold.any()
    assert np.isfinite(held.probability[ref_items]).all()


def test_without_references_default_method_and_warning():
    """No references on the weak-judges set: the default method is used, and the structure is flagged (the
    strong judges disagree with the weak ones more than chance allows)."""
    votes, _, _ = weak_judges(n_items=400, seed=4)
    choice = aggregation_choose(votes)
    assert choice.chosen == "dawid_skene" and choice.scores == {}
    codes = {w.code for w in choice.warnings}
    assert "opposed_camps" in codes
    opposed = next(w for w in choice.warnings if w.code == "opposed_camps")
    assert opposed.evidence["n_opposed"] >= 1 and "strong" in opposed.message


def test_without_references_the_warnings_reuse_the_consensus_fit_and_equal_a_fresh_check():
    """Without references (Dawid-Skene, no priors) the reliability check reads the consensus' own competences
    instead of fitting Dawid-Skene a second time: the warnings, evidence included, equal a fresh check's, here
    where the competences decide one ("below_chance": Dawid-Skene rates the weak judges' camp below chance)."""
    votes, _, _ = weak_judges(n_items=300, n_weak=6, n_strong=3, seed=1)
    choice = aggregation_choose(votes)
    fresh = reliability_check(votes)
    assert [(w.code, w.message, w.evidence) for w in choice.warnings] == \
        [(w.code, w.message, w.evidence) for w in fresh]
    assert "below_chance" in {w.code for w in fresh}
    # with priors the consensus is another fit: the check fits its own default one
    run = AggregationRun(default_method="dawid_skene", priors={"human": 0.9})
    with_priors = aggregation_choose(votes, run=run)
    assert [(w.code, w.evidence) for w in with_priors.warnings] == [(w.code, w.evidence) for w in fresh]


def test_healthy_crowd_gets_no_warning():
    votes, _ = synthetic(n_items=300, n_annotators=6, per_item=6, accuracy=np.full(6, 0.85), priors=(0.5, 0.5, 0.0))
    assert reliability_check(votes) == []


def test_near_chance_crowd_is_warned():
    rng = np.random.default_rng(2)
    rows = [(i, j, rng.integers(0, 2)) for i in range(200) for j in range(5)]
    codes = {w.code for w in reliability_check(pairwise(rows))}
    assert "near_chance" in codes


def test_run_options_reach_the_aggregate():
    """exclude drops an annotator's votes; orders="two" doubles a consistent judge verdict."""
    votes = pairwise([(0, 0, A), (0, 1, A), (0, 2, B), (1, 2, B), (1, 0, B)], judges=(2,), swap=[np.nan] * 2 + [1, 1]
                     + [np.nan])
    c = aggregation_choose(votes, run=AggregationRun(default_method="majority", exclude=("ann1",))).consensus
    assert c.n_votes.tolist() == [2, 2] and c.winner.tolist() == [TIE, B]
    c = aggregation_choose(votes, run=AggregationRun(default_method="majority", orders="two")).consensus
    assert c.n_votes.tolist() == [4, 3] and c.winner.tolist() == [TIE, B]


@pytest.mark.parametrize("kwargs, match", [
    ({"references": np.zeros(3)}, "must cover"),
    ({"references": np.array([5, -1])}, "0 \\(A\\)"),
    ({"run": AggregationRun(exclude=("nobody",))}, "nobody"),
])
def test_bad_input_names_the_problem(kwargs, match):
    with pytest.raises(ValueError, match=match):
        aggregation_choose(pairwise([(0, 0, A), (1, 0, B)]), **kwargs)


def test_run_validation():
    with pytest.raises(ValueError, match="unknown aggregation"):
        AggregationRun(methods=("oracle",))
    with pytest.raises(ValueError, match="unsupervised"):
        AggregationRun(default_method="supervised")


def test_consensus_agreement_per_item_per_vote_and_without_ties():
    """item 0: A A B (winner A: 2/3); item 1: A + 3 x tie (winner tie: 3/4). Per item (2/3 + 3/4) / 2;
    per vote 5 / 7; without ties only item 0 counts: 2 of 3."""
    votes = pairwise([(0, 0, A), (0, 1, A), (0, 2, B), (1, 0, A), (1, 1, TIE), (1, 2, TIE), (1, 3, TIE)])
    got = consensus_agreement(votes, np.array([A, TIE]))
    assert got.per_item == pytest.approx((2 / 3 + 3 / 4) / 2)
    assert (got.per_vote.k, got.per_vote.n) == (5, 7)
    assert (got.per_vote_no_ties.k, got.per_vote_no_ties.n) == (2, 3)


def test_kappa_pairs_equal_the_agreement_module():
    """The matrix form gives the same pairs, counts, kappas and raw agreement as agreement.cohen_kappa_pairs."""
    from annotation.curation.agreement import cohen_kappa_pairs
    from annotation.curation.calibration.reliability import kappa_pairs

    votes, _ = synthetic(n_items=150, n_annotators=7, per_item=4, accuracy=np.linspace(0.4, 0.9, 7))
    want = {(p.a, p.b): p for p in cohen_kappa_pairs(votes, min_common=5)}
    got = {(p.a, p.b): p for p in kappa_pairs(votes, min_common=5)}
    assert want.keys() == got.keys() and len(got) > 10
    for key, p in want.items():
        assert got[key].n_common == p.n_common
        np.testing.assert_allclose([got[key].kappa, got[key].agreement], [p.kappa, p.agreement], equal_nan=True)
