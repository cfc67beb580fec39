"""Cross-fitted reward margins: no model scores a pair it was trained on. No Django.

A reward model's margin on a pair it learned from says what the label said, not whether the label is right: a
head fitted on all the project's pairs gives its own training labels positive margins, flipped ones included
(in-sample margins rank injected flips at chance or worse, bench/RESULTS.md). Curation's reward-model signal
(noise.py, rm_ensemble; its value is the preference strength) therefore reads only out-of-sample margins:

  Frozen-embedding heads (rm_ensemble.BTHead), cross-fitted: the decided pairs are split into `folds` folds; the
  head that scores fold f is trained on the other folds only. Repeated `repeats` times with different seeded
  partitions, so every pair gets `repeats` out-of-fold margins (R, I): their mean is the signal's value, their
  spread its uncertainty, as the bootstrap ensemble's were. Cost: folds × repeats logistic fits on (I, d) --
  milliseconds per thousand pairs.

  A fine-tuned reward model (the training app's train_rm result): cross-fitting it would mean K fine-tuning runs
  per curation run, which is far too expensive. Instead its training job records the dataset version it
  learned from; its margins are used as given for the pairs that were NOT in that version's train split (new
  items, the version's test split, items the version dropped), and the cross-fitted heads score the rest. Its
  margins are divided by their own spread and multiplied by the heads' (the same convention as rm_members.py,
  so NoiseConfig's thresholds keep their meaning); with no heads (no embeddings) they keep their own scale and
  the pairs it trained on get no margin at all. One model has no spread, so on its pairs every one of the R rows
  holds the same (mean of the usable fine-tuned models') margin.

`RMMargins.summary()` says which was used, for the curation run's report and the pages that show it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .rm_ensemble import BTHead, EnsembleMargins, pair_features

__all__ = ["FOLDS", "REPEATS", "FineTuned", "RMMargins", "crossfit_fold_ids", "crossfit_head_margins",
           "crossfit_margins"]

FOLDS = 5
REPEATS = 3
# Source codes of RMMargins.source
NONE, HEADS, FINE_TUNED = 0, 1, 2
SOURCE_NAMES = {NONE: "none", HEADS: "heads", FINE_TUNED: "fine_tuned"}


@dataclass(frozen=True)
class FineTuned:
    """A fine-tuned reward model's margins winner − loser (I,) (NaN where it did not score) and trained (I,) bool:
    the pairs it learned from (its training job's version's train split)."""

    model_id: int
    margins: np.ndarray
    trained: np.ndarray
    trained_on_version: int | None = None


@dataclass(frozen=True)
class RMMargins:
    """margins (R, I): out-of-sample margins winner − loser in heads' logits (NaN where no pair or no model
    applies); source (I,) NONE / HEADS / FINE_TUNED: which model scored the item."""

    margins: np.ndarray
    source: np.ndarray
    folds: int
    repeats: int
    fine_tuned: list[dict] = field(default_factory=list)

    def as_ensemble(self) -> EnsembleMargins:
        """For noise.noise_report: every margin is out of sample, so in_train is False throughout."""
        return EnsembleMargins(margins=self.margins, in_train=np.zeros(self.margins.shape, dtype=bool))

    def summary(self) -> dict:
        """{"source": "fine_tuned" | "heads" | "fine_tuned+heads" | "none", "fine_tuned_pairs", "head_pairs",
        "folds", "repeats", "fine_tuned_models": [{"model_id", "trained_on_version", "trained_pairs",
        "scored_pairs"}]} -- "fine_tuned_pairs" counts pairs scored by a fine-tuned model, "head_pairs" those
        scored by the cross-fitted heads."""
        n_fine, n_heads = int((self.source == FINE_TUNED).sum()), int((self.source == HEADS).sum())
        used = [name for name, n in (("fine_tuned", n_fine), ("heads", n_heads)) if n]
        return {"source": "+".join(used) or "none", "fine_tuned_pairs": n_fine, "head_pairs": n_heads,
                "folds": self.folds, "repeats": self.repeats, "fine_tuned_models": list(self.fine_tuned)}


def crossfit_fold_ids(n: int, *, folds: int = FOLDS, repeats: int = REPEATS, seed: int = 0) -> np.ndarray:
    """(R, n) fold number of each of n pairs in each of R seeded random partitions into `folds` near-equal folds."""
    if folds < 2:
        raise ValueError(f"cross-fitting needs folds >= 2, got {folds}")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if n < folds:
        raise ValueError(f"{n} pairs are too few for {folds} folds")
    rng = np.random.default_rng(seed)
    out = np.empty((repeats, n), dtype=np.int64)
    for r in range(repeats):
        out[r, rng.permutation(n)] = np.arange(n) % folds
    return out


def crossfit_head_margins(chosen: np.ndarray, rejected: np.ndarray, *, folds: int = FOLDS, repeats: int = REPEATS,
                          l2: float = 1.0, seed: int = 0, fold_ids: np.ndarray | None = None) -> np.ndarray:
    """(R, P) out-of-fold margins chosen − rejected of P pairs (frozen embeddings (P, d) each): pair p's margin in
    repeat r comes from a head trained on the pairs outside p's fold. `fold_ids` (R, P) overrides the partitions."""
    delta = pair_features(chosen, rejected)
    ids = crossfit_fold_ids(len(delta), folds=folds, repeats=repeats, seed=seed) if fold_ids is None else fold_ids
    out = np.empty(ids.shape)
    for r, assignment in enumerate(ids):
        for f in np.unique(assignment):
            held = assignment == f
            out[r, held] = BTHead(l2=l2).fit(delta[~held]).margin(delta[held])
    return out


def _spread(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.std()) if len(finite) >= 2 else float("nan")


def crossfit_margins(
    winner: np.ndarray,
    *,
    embeddings: np.ndarray | None = None,
    fine_tuned: Sequence[FineTuned] = (),
    folds: int = FOLDS,
    repeats: int = REPEATS,
    min_pairs: int = 20,
    l2: float = 1.0,
    seed: int = 0,
) -> RMMargins | None:
    """Out-of-sample reward margins of I items (see the module docstring).

    winner (I,): consensus class (0 = A, 1 = B; others have no pair and get NaN). embeddings (I, 2, d) or None:
    the frozen response embeddings the heads read; fewer than `min_pairs` decided pairs fit no heads.
    fine_tuned: the project's fine-tuned reward models, each used on the pairs it did not train on.
    Returns None when nothing scored any pair.
    """
    winner = np.asarray(winner)
    n = len(winner)
    decided = np.isin(winner, (0, 1))
    heads = embeddings is not None and int(decided.sum()) >= max(min_pairs, folds)
    if not heads and not fine_tuned:  # nothing can score a pair: no (repeats, I) arrays to find that out
        return None
    margins = np.full((repeats, n), np.nan)
    source = np.full(n, NONE, dtype=np.int64)
    rows = np.flatnonzero(decided)
    reference = float("nan")
    if heads:
        if embeddings.ndim != 3 or embeddings.shape[:2] != (n, 2):
            raise ValueError(f"embeddings must be (I={n}, 2, d), got {embeddings.shape}")
        w = winner[rows].astype(int)
        margins[:, rows] = crossfit_head_margins(embeddings[rows, w], embeddings[rows, 1 - w], folds=folds,
                                                 repeats=repeats, l2=l2, seed=seed)
        source[rows] = HEADS
        spreads = [s for s in (_spread(row) for row in margins[:, rows]) if np.isfinite(s) and s > 0]
        reference = float(np.mean(spreads)) if spreads else float("nan")
    usable_rows, details = [], []
    for model in fine_tuned:
        m = np.asarray(model.margins, dtype=np.float64)
        trained = np.asarray(model.trained, dtype=bool)
        if m.shape != (n,) or trained.shape != (n,):
            raise ValueError(f"fine-tuned model {model.model_id}: margins and trained must be ({n},)")
        usable = decided & np.isfinite(m) & ~trained
        scale = _spread(m[usable])
        factor = reference / scale if np.isfinite(reference) and np.isfinite(scale) and scale > 0 else 1.0
        usable_rows.append(np.where(usable, m * factor, np.nan))
        details.append({"model_id": model.model_id, "trained_on_version": model.trained_on_version,
                        "trained_pairs": int((trained & decided).sum()), "scored_pairs": int(usable.sum())})
    if usable_rows:
        stacked = np.stack(usable_rows)
        has = np.isfinite(stacked).any(axis=0)
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(np.where(has, stacked, 0.0), axis=0)
        margins[:, has] = mean[has]
        source[has] = FINE_TUNED
    if not (source != NONE).any():
        return None
    return RMMargins(margins=margins, source=source, folds=folds, repeats=repeats, fine_tuned=details)
