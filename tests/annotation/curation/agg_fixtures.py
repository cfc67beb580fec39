"""Small builders of PairwiseVotes for the curation tests (no database involved)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from annotation.curation.votes import PairwiseVotes


def pairwise(rows, *, n_items=None, judges=(), gold=None, swap=None, strength=None, n_annotators=None):
    """rows = [(item, annotator, class), ...]; `judges` = annotator indices that are LLM judges."""
    rows = np.array(rows, dtype=np.int64).reshape(-1, 3)
    n_items = int(rows[:, 0].max() + 1) if n_items is None else n_items
    n_annot = (int(rows[:, 1].max() + 1) if len(rows) else 0) if n_annotators is None else n_annotators
    return PairwiseVotes(
        items=rows[:, 0], annotators=rows[:, 1], values=rows[:, 2].astype(np.int8),
        item_ids=np.arange(n_items) + 1000, annotator_ids=np.arange(n_annot) + 1,
        annotator_is_judge=np.isin(np.arange(n_annot), judges),
        gold=None if gold is None else np.array(gold, dtype=np.int8),
        swap_consistent=None if swap is None else np.array(swap, dtype=float),
        strength=None if strength is None else np.array(strength, dtype=float),
        annotator_names=tuple(f"ann{j}" for j in range(n_annot)),
    )


def synthetic(*, n_items, n_annotators, per_item, accuracy, priors=(0.45, 0.45, 0.10), seed=0):
    """Votes of annotators with the given accuracies (array (J,)); a wrong vote is one of the other two classes
    at random. Returns (votes, truth (I,))."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(3, size=n_items, p=priors)
    items = np.repeat(np.arange(n_items), per_item)
    annot = np.concatenate([rng.choice(n_annotators, size=per_item, replace=False) for _ in range(n_items)])
    right = rng.random(len(items)) < np.asarray(accuracy)[annot]
    values = np.where(right, truth[items], (truth[items] + rng.integers(1, 3, size=len(items))) % 3)
    votes = PairwiseVotes(items=items, annotators=annot, values=values.astype(np.int8), item_ids=np.arange(n_items),
                          annotator_ids=np.arange(n_annotators), annotator_is_judge=np.zeros(n_annotators, bool))
    return votes, truth


def crowdkit_frame(votes: PairwiseVotes) -> pd.DataFrame:
    """The votes as crowd-kit's (task, worker, label) frame, workers numbered in order of first appearance.

    crowd-kit 1.4's MACE indexes its strategy counts by sorted worker id and label but its parameters by order
    of first appearance (pd.factorize), so it is only right when the two coincide: rows go in label order and
    workers are renumbered by first appearance. `worker_index` keeps our annotator index of each code.
    """
    order = np.argsort(votes.values, kind="stable")
    codes, names = pd.factorize(votes.annotators[order])
    frame = pd.DataFrame({"task": votes.items[order], "worker": codes, "label": votes.values[order].astype(np.int64)})
    frame.attrs["worker_index"] = np.asarray(names)
    return frame


def by_appearance(frame: pd.DataFrame, per_worker_codes: np.ndarray, n_annotators: int) -> np.ndarray:
    """Reorder a crowd-kit per-worker array (indexed by the frame's worker codes) to annotator index order."""
    out = np.full(n_annotators, np.nan)
    out[frame.attrs["worker_index"]] = per_worker_codes
    return out
