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


def test_arrays_not_given_are_nan_views_that_stay_views_through_subset():
    """strength / probability / swap_consistent not given cost no memory per vote, and cannot be written."""
    v = votes(strength=np.array([1.0, 0.5, 0.2]))
    for name in ("probability", "swap_consistent"):
        array = getattr(v, name)
        assert array.strides == (0,) and not array.flags.writeable and np.isnan(array).all()
    part = v.subset(np.array([True, False, True]))
    assert part.probability.strides == (0,) and len(part.probability) == 2 and np.isnan(part.probability).all()
    assert part.strength.tolist() == [1.0, 0.2]  # a given array is still taken, not viewed
    assert len(v.subset(np.zeros(3, bool)).swap_consistent) == 0


def test_int32_indices_and_nan_views_give_the_results_of_the_int64_nan_arrays():
    """Aggregation, the noise report and the calibrated choice read int32 vote indices and NaN views (what the vote
    selector gives now) exactly as the int64 indices and (N,) NaN arrays it built before: every consensus array,
    signal and score is identical."""
    from dataclasses import replace

    from annotation.curation.aggregation import aggregate_pairwise
    from annotation.curation.calibration import AggregationRun, aggregation_choose
    from annotation.curation.noise import noise_report

    from .agg_fixtures import synthetic

    full, truth = synthetic(n_items=400, n_annotators=7, per_item=3, accuracy=[0.9, 0.8, 0.75, 0.7, 0.6, 0.55, 0.5])
    assert full.items.dtype == np.int64 and full.probability.strides == (0,)
    viewed = replace(full, items=full.items.astype(np.int32), annotators=full.annotators.astype(np.int32))
    full = replace(full, probability=np.full(len(viewed.values), np.nan),
                   swap_consistent=np.full(len(viewed.values), np.nan))
    for method in ("majority", "dawid_skene", "mace", "weighted"):
        a, b = aggregate_pairwise(viewed, method=method), aggregate_pairwise(full, method=method)
        for name in ("winner", "posterior", "probability", "agreement", "n_votes", "competence"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=f"{method} {name}")
        ra, rb = noise_report(viewed, a), noise_report(full, b)
        np.testing.assert_array_equal(ra.score, rb.score)
        for name, signal in ra.signals.items():
            np.testing.assert_array_equal(signal.values, rb.signals[name].values, err_msg=name)
            np.testing.assert_array_equal(signal.severity, rb.signals[name].severity, err_msg=name)
            np.testing.assert_array_equal(signal.flagged, rb.signals[name].flagged, err_msg=name)
    run = AggregationRun(methods=("majority", "dawid_skene", "mace"), default_method="dawid_skene")
    references = np.where(np.arange(viewed.n_items) % 5 == 0, truth, NONE).astype(np.int8)
    ca = aggregation_choose(viewed, run=run, references=references, calibration=references != NONE)
    cb = aggregation_choose(full, run=run, references=references, calibration=references != NONE)
    assert ca.chosen == cb.chosen
    np.testing.assert_array_equal(ca.consensus.posterior, cb.consensus.posterior)
    np.testing.assert_array_equal(ca.held_out.winner, cb.held_out.winner)


def test_selecting_every_annotator_keeps_the_votes_without_a_copy():
    from annotation.curation.aggregation.options import select_annotators

    v = votes(annotator_names=("h", "judge"))
    assert select_annotators(v) is v
    assert select_annotators(v, exclude=["judge"]).annotators.tolist() == [0, 0]


def test_item_range_is_the_same_votes_whether_in_item_order_or_not():
    """PairwiseVotes.item_range: the votes of items [start, stop) re-indexed from 0, with their columns (a NaN
    column not given stays a view), by a slice when the votes are in item order and by a mask when not."""
    rng = np.random.default_rng(0)
    items = np.sort(rng.integers(0, 20, 90)).astype(np.int32)
    kwargs = dict(annotators=rng.integers(0, 4, 90).astype(np.int32), values=rng.integers(0, 3, 90).astype(np.int8),
                  strength=rng.random(90), item_ids=np.arange(100, 120), annotator_ids=np.arange(4),
                  annotator_is_judge=np.zeros(4, bool), gold=np.where(np.arange(20) == 7, 1, -1).astype(np.int8))
    ordered = PairwiseVotes(items=items, **kwargs)
    order = rng.permutation(90)
    shuffled = PairwiseVotes(items=items[order], **{k: (v[order] if k in ("annotators", "values", "strength") else v)
                                                     for k, v in kwargs.items()})
    assert ordered.in_item_order and not shuffled.in_item_order
    for votes in (ordered, shuffled):
        part = votes.item_range(5, 12)
        mine = (votes.items >= 5) & (votes.items < 12)
        key = lambda v: sorted(zip(v.items.tolist(), v.annotators.tolist(), v.values.tolist(),  # noqa: E731
                                   v.strength.tolist()))
        assert key(part) == sorted(zip((votes.items[mine] - 5).tolist(), votes.annotators[mine].tolist(),
                                       votes.values[mine].tolist(), votes.strength[mine].tolist()))
        assert part.item_ids.tolist() == list(range(105, 112)) and part.gold.tolist()[2] == 1
        assert part.probability.strides == (0,) and len(part.probability) == int(mine.sum())
