"""Aggregation speed (issue 5, 8d): 1,000,000 pairwise labels by 10,000 annotators, ours against crowd-kit.

    .venv/bin/python bench/bench_aggregation.py                            # everything on the full size
    BENCH_REFERENCE_SUBSET=1 .venv/bin/python bench/bench_aggregation.py   # crowd-kit on a 10 % subset

Synthetic data, seeded: 200,000 items x 5 votes (1,000,000 labels) by 10,000 annotators whose accuracy is
uniform in [0.35, 0.95] (a wrong vote is one of the other two classes at random; true classes A / B / tie
with priors 0.45 / 0.45 / 0.10). Times our majority, Dawid-Skene (default smoothing 0.5, and smoothing 0 =
crowd-kit's model) and MACE, each to its own convergence; then crowd-kit's DawidSkene with its defaults
(at most 100 iterations, tol 1e-5 on the ELBO; about half a minute here) and ours with the same model
(smoothing 0) for the same number of EM iterations, for a like-for-like ratio and label agreement.
BENCH_REFERENCE_SUBSET=1 runs that comparison on the first 10 % of the items instead. Prints wall and CPU
seconds (the machine is shared, so CPU seconds are the steadier figure), accuracy against the planted
truth, and the share of items where ours and crowd-kit pick the same class. No database needed.
"""
from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from annotation.curation.aggregation import aggregate_pairwise  # noqa: E402
from annotation.curation.votes import PairwiseVotes  # noqa: E402

N_ITEMS, PER_ITEM, N_ANNOTATORS, SEED = 200_000, 5, 10_000, 20261123
SUBSET = 0.10


def synthetic(n_items: int = N_ITEMS) -> tuple[PairwiseVotes, np.ndarray, np.ndarray]:
    """(votes, truth (I,), accuracy (J,)); each item gets PER_ITEM distinct annotators."""
    rng = np.random.default_rng(SEED)
    truth = rng.choice(3, size=n_items, p=[0.45, 0.45, 0.10])
    accuracy = rng.uniform(0.35, 0.95, size=N_ANNOTATORS)
    items = np.repeat(np.arange(n_items), PER_ITEM)
    # distinct annotators per item: a random offset walk modulo J (draws of 5 from 10,000 rarely collide;
    # the walk makes it never)
    start = rng.integers(0, N_ANNOTATORS, size=n_items)[:, None]
    steps = np.cumsum(rng.integers(1, N_ANNOTATORS // PER_ITEM, size=(n_items, PER_ITEM)), axis=1)
    annotators = ((start + steps) % N_ANNOTATORS).ravel()
    right = rng.random(len(items)) < accuracy[annotators]
    values = np.where(right, truth[items], (truth[items] + rng.integers(1, 3, size=len(items))) % 3)
    votes = PairwiseVotes(items=items, annotators=annotators, values=values.astype(np.int8),
                          item_ids=np.arange(n_items), annotator_ids=np.arange(N_ANNOTATORS),
                          annotator_is_judge=np.zeros(N_ANNOTATORS, dtype=bool))
    return votes, truth, accuracy


def subset(votes: PairwiseVotes, n_items: int) -> PairwiseVotes:
    keep = votes.items < n_items
    return PairwiseVotes(items=votes.items[keep], annotators=votes.annotators[keep], values=votes.values[keep],
                         item_ids=votes.item_ids[:n_items], annotator_ids=votes.annotator_ids,
                         annotator_is_judge=votes.annotator_is_judge)


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def crowdkit_ds(votes: PairwiseVotes):
    from crowdkit.aggregation import DawidSkene

    frame = pd.DataFrame({"task": votes.items, "worker": votes.annotators, "label": votes.values.astype(np.int64)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 deprecation warnings from inside crowd-kit
        model = DawidSkene().fit(frame)
    labels = np.full(votes.n_items, -1)
    labels[model.labels_.index.to_numpy()] = model.labels_.to_numpy()
    return labels, len(model.loss_history_)


def main() -> None:
    votes, truth, accuracy = synthetic()
    print(f"data: {len(votes.values):,} labels, {votes.n_items:,} items, {votes.n_annotators:,} annotators; "
          f"{os.cpu_count()} CPUs", file=sys.stderr)
    rows = []
    for name, kwargs in (("majority", {"method": "majority"}), ("dawid_skene", {"method": "dawid_skene"}),
                         ("dawid_skene smoothing=0", {"method": "dawid_skene", "smoothing": 0.0}),
                         ("mace", {"method": "mace"})):
        c, wall, cpu = timed(lambda: aggregate_pairwise(votes, **kwargs))
        corr = np.corrcoef(c.competence, accuracy)[0, 1]
        rows.append((f"ours {name}", "full", wall, cpu, (c.winner == truth).mean(), corr, c.details.get("n_iter")))

    n_sub = int(N_ITEMS * SUBSET) if os.environ.get("BENCH_REFERENCE_SUBSET") else N_ITEMS
    small = votes if n_sub == N_ITEMS else subset(votes, n_sub)
    where = "full" if n_sub == N_ITEMS else f"{n_sub:,} items"
    (ref, ref_iter), r_wall, r_cpu = timed(lambda: crowdkit_ds(small))
    # the same model for as many EM iterations as crowd-kit ran: a like-for-like time and label comparison
    same_model = {"method": "dawid_skene", "smoothing": 0.0, "max_iter": ref_iter, "tol": 0.0}
    ours, o_wall, o_cpu = timed(lambda: aggregate_pairwise(small, **same_model))
    truth_s = truth[:n_sub]
    rows.append((f"ours dawid_skene smoothing=0, {ref_iter} iterations", where, o_wall, o_cpu,
                 (ours.winner == truth_s).mean(), None, ours.details["n_iter"]))
    rows.append(("crowd-kit DawidSkene (defaults)", where, r_wall, r_cpu, (ref == truth_s).mean(), None, ref_iter))

    print("| run | data | wall s | CPU s | accuracy vs truth | corr(competence, true accuracy) | EM iterations |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, data, wall, cpu, acc, corr, iters in rows:
        corr_s = "" if corr is None else f"{corr:.3f}"
        print(f"| {name} | {data} | {wall:.2f} | {cpu:.2f} | {acc:.4f} | {corr_s} | {iters or ''} |")
    same = (ours.winner == ref).mean()
    print(f"\nDawid-Skene, {where}, {ref_iter} EM iterations each: crowd-kit {r_wall:.1f} s / ours {o_wall:.2f} s "
          f"= {r_wall / o_wall:.0f}x wall ({r_cpu / o_cpu:.0f}x CPU); the same class on {same:.2%} of items")
    full_ds = rows[1]
    print(f"RESULT aggregation: Dawid-Skene on 1,000,000 labels / 10,000 annotators in {full_ds[2]:.2f} s wall "
          f"({full_ds[3]:.2f} s CPU); {r_wall / o_wall:.0f}x faster than crowd-kit per run of equal iterations")


if __name__ == "__main__":
    main()
