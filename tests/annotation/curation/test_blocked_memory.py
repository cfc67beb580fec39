"""The aggregation's per-item work in blocks of items (issue 16 item 1: curate's peak memory flat in the item
count): each blocked form gives what the whole-set form gives, to the bit, and the slices it reads copy nothing."""
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from annotation.curation.aggregation import _common, dawid_skene
from annotation.curation.aggregation._common import finish, index_counts, vote_counts
from annotation.curation.aggregation.dawid_skene import DawidSkene
from annotation.curation.aggregation.majority import majority_posterior, majority_winner
from annotation.curation.calibration import reliability
from annotation.curation.calibration.reliability import consensus_agreement, kappa_pairs
from annotation.curation.rm_crossfit import crossfit_margins
from annotation.curation.votes import CLASSES, NONE, PairwiseVotes

from .agg_fixtures import synthetic


def _votes(*, shuffled: bool = False, seed: int = 3) -> PairwiseVotes:
    """300 items (the last 20 without votes), 9 annotators (two judges), gold on a few items; int32 indices as the
    selector gives them; `shuffled`: the votes out of item order (as split_orders leaves them)."""
    votes, _ = synthetic(n_items=280, n_annotators=9, per_item=4, accuracy=np.linspace(0.35, 0.9, 9), seed=seed)
    order = np.random.default_rng(seed).permutation(len(votes.values)) if shuffled else np.arange(len(votes.values))
    gold = np.full(300, NONE, np.int8)
    gold[[3, 50, 51, 299]] = [0, 2, 1, 1]  # 299: gold without votes
    return PairwiseVotes(items=votes.items[order].astype(np.int32), annotators=votes.annotators[order].astype(np.int32),
                         values=votes.values[order], item_ids=np.arange(300, dtype=np.int64) + 7,
                         annotator_ids=np.arange(9, dtype=np.int64) + 1, annotator_is_judge=np.arange(9) >= 7,
                         gold=gold)


def _equal(a, b) -> bool:
    if a is None or b is None:
        return a is b
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind == "f":
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    return a.shape == b.shape and np.array_equal(a, b)


def test_index_counts_equal_bincount_across_blocks_and_past_minlength(monkeypatch):
    monkeypatch.setattr(_common, "COUNT_BLOCK", 1000)
    index = np.random.default_rng(0).integers(0, 50, 5_500).astype(np.int32)
    assert np.array_equal(index_counts(index, 50), np.bincount(index, minlength=50))
    index[4_321] = 73  # beyond minlength: bincount grows its output, so does index_counts
    assert np.array_equal(index_counts(index, 50), np.bincount(index, minlength=50))
    assert np.array_equal(index_counts(index[:10], 50), np.bincount(index[:10], minlength=50))
    assert np.array_equal(index_counts(np.zeros(0, np.int32), 4), np.zeros(4, np.int64))


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float64])
def test_vote_counts_a_class_at_a_time_equal_the_keyed_bincount(dtype):
    votes = _votes(shuffled=True)
    keyed = np.bincount(votes.items.astype(np.int64) * CLASSES + votes.values, minlength=votes.n_items * CLASSES)
    got = vote_counts(votes, dtype)
    assert got.dtype == dtype and np.array_equal(got, keyed.reshape(-1, CLASSES))


@pytest.mark.parametrize("shuffled", [False, True])
def test_finish_in_blocks_equals_finish_in_one_block(monkeypatch, shuffled):
    """Gold items, items without votes, a posterior argmax and a given winner (the majority's tie rule): every
    field of the consensus is the same whether finish takes 7 items at a time or all of them."""
    votes = _votes(shuffled=shuffled)
    posterior = DawidSkene().fit(votes).posterior_
    sizes = []
    blocks = PairwiseVotes.item_blocks
    monkeypatch.setattr(PairwiseVotes, "item_blocks", lambda self, size: (sizes.append(size), blocks(self, size))[1])
    out = {}
    for rows in (7, 10**9):
        monkeypatch.setattr(_common, "FINISH_ROWS", rows)
        out[rows] = (finish("dawid_skene", votes, posterior.copy(), np.arange(9.0)),
                     finish("majority", votes, majority_posterior(votes), np.arange(9.0),
                            winner=majority_winner(votes)))
    assert sizes == [7, 7, 10**9, 10**9]  # finish did work in the blocks asked for
    for blocked, whole in zip(out[7], out[10**9]):
        for name in ("winner", "posterior", "probability", "agreement", "n_votes", "n_human", "n_judge", "source",
                     "is_gold", "competence"):
            assert _equal(getattr(blocked, name), getattr(whole, name)), name
        assert blocked.n_votes.dtype == blocked.n_human.dtype == np.int32
        assert (blocked.winner[280:299] == NONE).all() and blocked.winner[299] == 1  # no votes; gold without votes
        assert blocked.probability[50] == 1.0 and blocked.winner[50] == 2  # gold decides


def test_dawid_skene_in_small_e_step_blocks_is_the_same_fit(monkeypatch):
    votes = _votes()
    fits = []
    for rows in (13, 10**9):
        monkeypatch.setattr(dawid_skene, "E_STEP_ROWS", rows)
        fits.append(DawidSkene().fit(votes))
    assert fits[0].n_iter_ == fits[1].n_iter_ and fits[0].log_likelihood_ == fits[1].log_likelihood_
    for name in ("posterior_", "priors_", "confusion_", "competence_"):
        assert _equal(getattr(fits[0], name), getattr(fits[1], name)), name


@pytest.mark.parametrize("shuffled", [False, True])
def test_consensus_agreement_and_kappa_pairs_in_item_blocks_equal_the_whole_set(monkeypatch, shuffled):
    votes = _votes(shuffled=shuffled)
    winner = DawidSkene().fit(votes).posterior_.argmax(axis=1).astype(np.int8)
    winner[280:290] = NONE
    got, ranges = {}, []
    item_range = PairwiseVotes.item_range
    monkeypatch.setattr(PairwiseVotes, "item_range",
                        lambda self, start, stop: (ranges.append((start, stop)), item_range(self, start, stop))[1])
    for block in (17, 10**9):
        monkeypatch.setattr(reliability, "KAPPA_BLOCK", block)
        got[block] = consensus_agreement(votes, winner), kappa_pairs(votes, min_common=5)
    assert ranges.count((0, 17)) == 2 and (289, 300) in ranges  # both worked in 17-item blocks
    assert got[17][0] == got[10**9][0]  # per_item to the bit, the counts, the proportions
    assert got[17][1] == got[10**9][1] and len(got[17][1]) > 20
    whole = votes.values == winner[votes.items]
    assert got[17][0].per_vote.n == int((winner[votes.items] != NONE).sum())
    assert got[17][0].per_vote.k == int((whole & (winner[votes.items] != NONE)).sum())


def test_a_range_of_votes_in_item_order_reads_no_copy_of_every_vote():
    """item_range bounds its slice with searchsorted in the indices' own dtype: int64 bounds made numpy copy the
    (N,) int32 indices to int64 first (24 MB at 3M votes, on each of a refresh's chunks)."""
    n = 3_000_000
    votes = PairwiseVotes(items=np.repeat(np.arange(n // 3, dtype=np.int32), 3),
                          annotators=np.tile(np.arange(3, dtype=np.int32), n // 3), values=np.zeros(n, np.int8),
                          item_ids=np.arange(n // 3, dtype=np.int64), annotator_ids=np.arange(3),
                          annotator_is_judge=np.zeros(3, bool))
    assert votes.in_item_order
    tracemalloc.start()
    try:
        part = votes.item_range(500_000, 500_010)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(part.values) == 30 and part.items.tolist() == np.repeat(np.arange(10), 3).tolist()
    assert peak < 1_000_000, f"item_range allocated {peak} bytes"


def test_reward_margins_with_nothing_to_score_are_none():
    winner = np.array([0, 1, 1, 0, 2] * 10, dtype=np.int8)
    assert crossfit_margins(winner) is None
    assert crossfit_margins(winner, embeddings=np.zeros((50, 2, 4)), min_pairs=100) is None


def test_freed_large_arrays_leave_the_process_once_the_mmap_threshold_is_fixed():
    """common.memory.unmap_large_blocks: glibc's dynamic threshold puts 8 MB arrays on the heap once a 16 MB block
    was freed, and freeing all but the last of twenty leaves ~150 MB resident; with the threshold fixed they are
    unmapped as they are freed. Each case runs in a fresh interpreter (malloc's state is per process)."""
    script = textwrap.dedent("""
        import sys
        import numpy as np
        from common.memory import unmap_large_blocks
        if sys.argv[1] == "fixed":
            assert unmap_large_blocks()
        def rss():
            return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS")) // 1024
        big = np.ones(2 << 20)  # 16 MB, mapped; its free raises glibc's dynamic threshold to 16 MB
        del big
        before = rss()
        arrays = [np.ones(1 << 20) for _ in range(20)]  # 20 x 8 MB, touched
        keep = arrays[-1]
        del arrays
        print(rss() - before)
    """)
    grown = {}
    for case in ("dynamic", "fixed"):
        out = subprocess.run([sys.executable, "-c", script, case], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).resolve().parents[3])
        grown[case] = int(out.stdout.strip())
    assert grown["dynamic"] > 100, grown  # the glibc behaviour this works around
    assert grown["fixed"] < 30, grown
