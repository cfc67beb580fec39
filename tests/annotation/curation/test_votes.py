"""The vote containers check their arrays, so an algorithm never gets misaligned input."""
import numpy as np
import pytest

from annotation.curation.votes import NONE, PairwiseVotes, RankingVotes


def votes(**overrides) -> PairwiseVotes:
    fields = dict(
        items=np.array([0, 0, 1]), annotators=np.array([0, 1, 0]), values=np.array([0, 1, 2], dtype=np.int8),
        item_ids=np.array([10, 11]), annotator_ids=np.array([5, 6]), annotator_is_judge=np.array([False, True]),
    )
    fields.update(overrides)
    return PairwiseVotes(**fields)


def test_defaults_fill_optional_arrays_with_nan_and_no_gold():
    v = votes()
    assert np.isnan(v.strength).all() and np.isnan(v.probability).all() and np.isnan(v.swap_consistent).all()
    assert v.gold.tolist() == [NONE, NONE]
    assert v.vote_is_judge.tolist() == [False, True, False]
    assert (v.n_items, v.n_annotators) == (2, 2)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"items": np.array([0, 0])}, "items has 2 entries"),
        ({"items": np.array([0, 0, 2])}, "outside item_ids"),
        ({"annotators": np.array([0, 1, 7])}, "outside annotator_ids"),
        ({"values": np.array([0, 1, 3], dtype=np.int8)}, "values must be"),
        ({"strength": np.array([0.5])}, "strength has 1 entries"),
        ({"gold": np.array([0], dtype=np.int8)}, "gold has 1 entries"),
    ],
)
def test_misaligned_arrays_are_refused_with_the_array_named(overrides, message):
    with pytest.raises(ValueError, match=message):
        votes(**overrides)


def test_subset_keeps_item_and_annotator_indices():
    v = votes(probability=np.array([0.9, np.nan, 0.4]))
    sub = v.subset(v.vote_is_judge)
    assert sub.items.tolist() == [0] and sub.annotators.tolist() == [1] and sub.values.tolist() == [1]
    assert np.isnan(sub.probability).all()  # the judge's vote had no probability
    assert sub.item_ids is v.item_ids and sub.n_annotators == 2


def test_ranking_votes_fill_gold_and_check_lengths():
    r = RankingVotes(items=np.array([0]), annotators=np.array([0]), rankings=[[[1], [0]]], item_ids=np.array([3]),
                     n_responses=np.array([2]), annotator_ids=np.array([9]), annotator_is_judge=np.array([False]))
    assert r.gold == [None] and r.n_items == 1
    with pytest.raises(ValueError, match="differ in length"):
        RankingVotes(items=np.array([0, 0]), annotators=np.array([0]), rankings=[[[0]]], item_ids=np.array([3]),
                     n_responses=np.array([2]), annotator_ids=np.array([9]), annotator_is_judge=np.array([False]))
