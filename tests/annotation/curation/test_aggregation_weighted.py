"""Weighted and supervised votes, Dawid-Skene competence priors and the per-run options (include / exclude,
priors per kind, one or two judge orders)."""
import numpy as np
import pytest

from annotation.curation.aggregation import ALL_METHODS, DawidSkene, SupervisedVote, WeightedVote, aggregate_pairwise
from annotation.curation.aggregation.options import competence_prior, select_annotators, split_orders
from annotation.curation.votes import A, B, TIE

from .agg_fixtures import pairwise
from .weak_fixtures import references, weak_judges


def test_weighted_vote_hand_worked():
    """Two annotators at prior 0.6 (weight log 1.5 = 0.405 each) against one at 0.9 (log 9 = 2.197): the one
    outweighs the two, P(B) = e^2.197 / (e^2.197 + e^0.811) = 0.8."""
    votes = pairwise([(0, 0, A), (0, 1, A), (0, 2, B)])
    model = WeightedVote(prior_accuracy=np.array([0.6, 0.6, 0.9]), prior_strength=1.0).fit(votes)
    np.testing.assert_allclose(model.weight_, np.log([1.5, 1.5, 9.0]))
    np.testing.assert_allclose(model.posterior_[0], [0.2, 0.8, 0.0], atol=1e-9)


def test_weighted_vote_learns_competence_from_references():
    """Annotator 2 contradicts the known class on four items: its weight turns negative and its vote counts
    against itself on the unknown item."""
    rows = [(i, j, A) for i in range(4) for j in (0, 1)] + [(i, 2, B) for i in range(4)]
    rows += [(4, 0, B), (4, 2, A)]
    votes = pairwise(rows, gold=[A, A, A, A, -1])
    model = WeightedVote(prior_strength=1.0).fit(votes)
    assert model.weight_[2] < 0 < model.weight_[0]
    assert model.posterior_[4].argmax() == B


def test_weighted_without_votes_is_uniform():
    votes = pairwise([], n_items=2, n_annotators=2)
    model = WeightedVote().fit(votes)
    np.testing.assert_allclose(model.posterior_, 1 / 3)
    assert np.isnan(model.competence_).all()


def test_supervised_learns_to_trust_the_strong_judges():
    """On the weak-judges set the majority is below 50 %; trained on 10 % references the supervised vote is
    right on most other items and gives the strong judges the highest competence."""
    votes, truth, true_acc = weak_judges(seed=1)
    refs = references(truth, 0.1)
    gold_votes = pairwise(np.c_[votes.items, votes.annotators, votes.values], gold=refs)
    test = refs < 0
    majority = aggregate_pairwise(gold_votes, method="majority")
    model = SupervisedVote().fit(gold_votes)
    assert (majority.winner[test] == truth[test]).mean() < 0.5
    assert (model.posterior_.argmax(axis=1)[test] == truth[test]).mean() > 0.85
    assert np.corrcoef(model.competence_, true_acc)[0, 1] > 0.9


def test_supervised_without_enough_references_falls_back_and_says_so():
    votes = pairwise([(0, 0, A), (0, 1, A), (1, 0, B), (1, 1, B)], gold=[A, -1])
    model = SupervisedVote().fit(votes)
    assert "need 10" in model.fallback_
    np.testing.assert_allclose(model.posterior_[1], [0, 1, 0])


def test_supervised_uses_swap_consistency_as_a_feature():
    """Two judges vote the same way; only judge 1's swap flag says when it is right. The model fitted with the
    swap features separates what the plain vote counts cannot."""
    rng = np.random.default_rng(0)
    n = 300
    truth = rng.integers(0, 2, n)
    vote = np.where(rng.random(n) < 0.6, truth, 1 - truth)
    consistent = (vote == truth).astype(float)
    rows = [(i, j, vote[i]) for i in range(n) for j in (0, 1)]
    swap = [np.nan if j == 0 else consistent[i] for i in range(n) for j in (0, 1)]
    votes = pairwise(rows, judges=(0, 1), gold=np.where(np.arange(n) < 200, truth, -1), swap=swap)
    plain = SupervisedVote(use_swap=False).fit(votes).posterior_.argmax(axis=1)[200:]
    swapped = SupervisedVote(use_swap=True).fit(votes).posterior_.argmax(axis=1)[200:]
    assert (swapped == truth[200:]).mean() > (plain == truth[200:]).mean() + 0.2


@pytest.mark.parametrize("method", ALL_METHODS)
def test_every_method_through_aggregate_pairwise(method):
    """An item on which the three strong judges agree is won with agreement 1 by every method (the weak
    ones, below chance with the references, would rightly count against their own vote), gold items keep
    their class."""
    votes, truth, _ = weak_judges(n_items=60, seed=2)
    rows = np.c_[votes.items, votes.annotators, votes.values]
    rows = np.r_[rows, [[60, 12, A], [60, 13, A], [60, 14, A]]]
    gold = np.r_[references(truth, 0.5), -1]
    c = aggregate_pairwise(pairwise(rows, gold=gold), method=method)
    assert c.winner[60] == A and c.agreement[60] == 1.0
    known = gold >= 0
    assert (c.winner[known] == gold[known]).all()


def test_unknown_method_names_the_choices():
    with pytest.raises(ValueError, match="supervised"):
        aggregate_pairwise(pairwise([(0, 0, A)]), method="oracle")


def test_dawid_skene_prior_pulls_competence_towards_it():
    """Two annotators disagreeing on every item: without a prior DS cannot tell who is right; a prior of 0.9
    on annotator 0 (and 0.3 on annotator 1) makes annotator 0's votes the consensus."""
    rows = [(i, 0, A) for i in range(6)] + [(i, 1, B) for i in range(6)]
    votes = pairwise(rows)
    model = DawidSkene(prior_accuracy=np.array([0.9, 0.3]), prior_strength=20.0).fit(votes)
    assert (model.posterior_.argmax(axis=1) == A).all()
    assert model.competence_[0] > 0.8 > 0.5 > model.competence_[1]


def test_dawid_skene_prior_validation():
    with pytest.raises(ValueError, match="prior_accuracy"):
        DawidSkene(prior_accuracy=np.array([1.5]))
    with pytest.raises(ValueError, match="2 entries"):
        DawidSkene(prior_accuracy=np.array([0.5, 0.5]), prior_strength=1).fit(pairwise([(0, 0, A)]))


def test_competence_prior_by_kind_and_name():
    votes = pairwise([(0, 0, A), (0, 1, A), (0, 2, B)], judges=(1, 2))
    prior = competence_prior(votes, {"human": 0.8, "judge": 0.6, "ann2": 0.7})
    np.testing.assert_allclose(prior, [0.8, 0.6, 0.7])
    assert np.isnan(competence_prior(votes, {"judge": 0.6})[0])
    with pytest.raises(ValueError, match="ann9"):
        competence_prior(votes, {"ann9": 0.7})
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        competence_prior(votes, {"human": 1.0})


def test_select_annotators_include_exclude():
    votes = pairwise([(0, 0, A), (0, 1, A), (0, 2, B)])
    assert sorted(select_annotators(votes, exclude=["ann2"]).annotators) == [0, 1]
    assert list(select_annotators(votes, include=["ann2", 0], exclude=[0]).annotators) == [2]
    with pytest.raises(ValueError, match="annX"):
        select_annotators(votes, exclude=["annX"])
    with pytest.raises(ValueError, match="no annotator"):
        select_annotators(votes, include=["ann0"], exclude=["ann0"])


def test_split_orders_two_observations():
    """A consistent judge verdict counts twice; an inconsistent tie is A in one order and B in the other; an
    inconsistent A is A and tie; people and unchecked verdicts stay single."""
    votes = pairwise([(0, 0, A), (1, 0, TIE), (2, 0, A), (0, 1, B)], judges=(0,), swap=[1, 0, 0, np.nan])
    two = split_orders(votes, orders="two")
    got = sorted(zip(two.items.tolist(), two.annotators.tolist(), two.values.tolist()))
    assert got == [(0, 0, A), (0, 0, A), (0, 1, B), (1, 0, A), (1, 0, B), (2, 0, A), (2, 0, TIE)]
    assert split_orders(votes, orders="one") is votes
    with pytest.raises(ValueError, match="orders"):
        split_orders(votes, orders="three")
