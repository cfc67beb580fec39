"""Weak, correlated judges plus a few strong ones (the issue-14 failure), small enough for unit tests."""
from __future__ import annotations

import numpy as np

from annotation.curation.votes import PairwiseVotes


def weak_judges(*, n_items=400, n_weak=12, n_strong=3, trap=0.6, seed=0):
    """Every judge votes A/B on every item. Weak judges: right 70 % on plain items and 20 % on the adversarial
    ones (the same items for all: correlated errors, majority ~40 %); strong: right 85 % everywhere.
    Returns (votes, truth (I,), true accuracy (J,))."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n_items)
    is_trap = rng.random(n_items) < trap
    n_annot = n_weak + n_strong
    p = np.where(is_trap[:, None], np.r_[np.full(n_weak, 0.2), np.full(n_strong, 0.85)],
                 np.r_[np.full(n_weak, 0.7), np.full(n_strong, 0.85)])
    right = rng.random((n_items, n_annot)) < p
    values = np.where(right, truth[:, None], 1 - truth[:, None])
    items, annotators = np.divmod(np.arange(n_items * n_annot), n_annot)
    votes = PairwiseVotes(
        items=items, annotators=annotators, values=values.ravel().astype(np.int8), item_ids=np.arange(n_items),
        annotator_ids=np.arange(n_annot), annotator_is_judge=np.ones(n_annot, bool),
        annotator_names=tuple(f"weak{j}" for j in range(n_weak)) + tuple(f"strong{j}" for j in range(n_strong)),
    )
    return votes, truth, right.mean(axis=0)


def references(truth, share, seed=0):
    """(I,) the truth on a random `share` of the items, -1 elsewhere."""
    out = np.full(len(truth), -1, dtype=np.int64)
    pick = np.random.default_rng(seed + 7).permutation(len(truth))[: int(round(share * len(truth)))]
    out[pick] = truth[pick]
    return out
