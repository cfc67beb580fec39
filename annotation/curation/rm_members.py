"""Join trained reward models to the in-house reward-model ensemble (rm_ensemble.py) as extra members.

noise.py's rm_ensemble signal reads margins as a (K, I) array, one row per member: its value is the mean over
members, its flag looks at the spread. A trained reward model scores a pair in its own logits, whose scale has
nothing to do with a linear head on frozen embeddings (a trained RM's margins may spread over ±10, a head's
over ±1), so averaging raw rows would let the member with the widest scale decide alone and would inflate the
spread. Each member's row is therefore divided by its own standard deviation over the items (not centred: the
sign says which response it prefers) and multiplied by a common reference scale: the mean spread of the
in-house heads when there are any (so the thresholds of NoiseConfig, in the heads' logits, keep their meaning),
else the mean spread of the trained members. No Django.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .rm_ensemble import EnsembleMargins

__all__ = ["member_scales", "combine_members"]


def _spread(row: np.ndarray) -> float:
    """Standard deviation over the items where the member has a margin (NaN when fewer than two)."""
    finite = row[np.isfinite(row)]
    return float(finite.std()) if len(finite) >= 2 else float("nan")


def member_scales(rows: np.ndarray, reference: float) -> np.ndarray:
    """(K,) factors reference / std_k that bring each member row of `rows` (K, I) to the spread `reference`;
    1 where a row's spread is 0 or unknown, or the reference is (nothing to standardise by)."""
    scales = np.ones(len(rows))
    if not np.isfinite(reference) or reference <= 0:
        return scales
    for k, row in enumerate(rows):
        spread = _spread(row)
        if np.isfinite(spread) and spread > 0:
            scales[k] = reference / spread
    return scales


def combine_members(ensemble: EnsembleMargins | None, trained: Sequence[np.ndarray], n: int) -> EnsembleMargins | None:
    """The in-house ensemble (K, I) plus the trained members (each (I,), NaN where not scored) as one
    EnsembleMargins of K + M rows, every row standardised to the common scale (see the module docstring).

    `n` = I, the number of items. Without trained members the ensemble is returned unchanged (possibly None).
    Trained members count as not trained on any item (in_train False): which items they saw is unknown here.
    """
    if not trained:
        return ensemble
    extra = np.stack([np.asarray(row, dtype=np.float64) for row in trained])
    if extra.shape != (len(trained), n):
        raise ValueError(f"trained members must be ({n},) margins each, got {extra.shape[1:]}")
    own = ensemble.margins if ensemble is not None else np.empty((0, n))
    if own.shape[1] != n:
        raise ValueError(f"the ensemble covers {own.shape[1]} items, expected {n}")
    spreads = [_spread(row) for row in (own if len(own) else extra)]
    spreads = [s for s in spreads if np.isfinite(s) and s > 0]
    reference = float(np.mean(spreads)) if spreads else float("nan")
    margins = np.concatenate([own, extra])
    margins = margins * member_scales(margins, reference)[:, None]
    in_train = np.zeros(margins.shape, dtype=bool)
    if ensemble is not None:
        in_train[: len(own)] = ensemble.in_train
    return EnsembleMargins(margins=margins, in_train=in_train)
