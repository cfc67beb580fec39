"""Preference strength from an ensemble of small reward models ("Secrets of RLHF in LLMs Part II", Wang et al.
2024, §2: train K reward models on different splits of the preference data; the mean of their reward
differences r(x, y_chosen) − r(x, y_rejected) measures how strong a preference is, its spread how uncertain;
pairs with a negative mean are probably mislabelled).

Cheap version, CPU-only: each reward model is a linear Bradley–Terry head on frozen sentence embeddings,
r(x, y) = w · φ(y), so the margin of a pair is w · (φ(chosen) − φ(rejected)) and

    P(chosen ≻ rejected) = σ(w · Δ),   Δ = φ(chosen) − φ(rejected)      (I, d)

fitted by L2-regularised logistic regression without intercept (BT has none: swapping the pair must flip
the probability). A prompt term u · φ(x) would cancel in the difference, so the prompt is not concatenated;
`prompt` may instead add the interaction φ(x) ⊙ Δ (a prompt-dependent direction), which costs d more
weights per model and is off by default: a project has a few thousand labels, and on 2,000 HH-RLHF pairs it
did not raise clean test accuracy (0.545 with or without it; `bench/bench_noise_hh.py --prompt-interaction`).

Margins are in logits (BT log-odds), so σ(−mean) is the ensemble's probability that the label is flipped.
No Django.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["EnsembleMargins", "BTHead", "pair_features", "ensemble_splits", "rm_ensemble_margins",
           "rm_ensemble_for_items"]


@dataclass(frozen=True)
class EnsembleMargins:
    """Per-model and summary reward margins (chosen minus rejected, in logits).

    margins  (K, I)  model k's margin for item i
    in_train (K, I)  bool: item i was in model k's training split
    mean, std (I,)   over the K models
    """

    margins: np.ndarray
    in_train: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        return self.margins.mean(axis=0)

    @property
    def std(self) -> np.ndarray:
        return self.margins.std(axis=0)

    @property
    def k(self) -> int:
        return len(self.margins)

    def held_out_mean(self) -> np.ndarray:
        """(I,) mean margin over the models that did not train on the item (NaN where all did)."""
        out_of_bag = ~self.in_train
        with np.errstate(invalid="ignore"):
            return (self.margins * out_of_bag).sum(axis=0) / out_of_bag.sum(axis=0)


def pair_features(chosen: np.ndarray, rejected: np.ndarray, prompt: np.ndarray | None = None) -> np.ndarray:
    """Δ = chosen − rejected (I, d), with φ(x) ⊙ Δ appended (I, 2d) when `prompt` (I, d) is given."""
    if chosen.shape != rejected.shape or chosen.ndim != 2:
        raise ValueError(f"chosen {chosen.shape} and rejected {rejected.shape} must be equal (I, d) arrays")
    delta = np.asarray(chosen, dtype=np.float64) - np.asarray(rejected, dtype=np.float64)
    if prompt is None:
        return delta
    if prompt.shape != chosen.shape:
        raise ValueError(f"prompt {prompt.shape} must match chosen {chosen.shape}")
    return np.concatenate([delta, prompt * delta], axis=1)


class BTHead:
    """A linear Bradley–Terry reward head: fit(Δ, weights) -> self; margin(Δ) = Δ · coef_ (logits).

    `l2` is the inverse of sklearn's C: the penalty ½·l2·‖w‖² against the summed log-loss. The symmetric
    fit (each pair once as (Δ, 1) and once as (−Δ, 0)) keeps the solution odd in Δ without an intercept.
    """

    def __init__(self, *, l2: float = 1.0, max_iter: int = 500) -> None:
        if l2 <= 0:
            raise ValueError(f"l2 must be > 0, got {l2}")
        self.l2 = l2
        self.max_iter = max_iter

    def fit(self, delta: np.ndarray, sample_weight: np.ndarray | None = None) -> "BTHead":
        if len(delta) == 0:
            raise ValueError("a reward head needs at least one pair to train on")
        x = np.concatenate([delta, -delta])
        y = np.concatenate([np.ones(len(delta)), np.zeros(len(delta))])
        w = None if sample_weight is None else np.concatenate([sample_weight, sample_weight])
        # Imported here: scikit-learn takes ~1.5 s to load, and every curate run imports this module
        # (noise.py reads EnsembleMargins) while only runs with embeddings fit heads.
        from sklearn.linear_model import LogisticRegression

        # Each pair appears twice, so C = 1 / (2·l2) gives the penalty l2 per original pair.
        model = LogisticRegression(C=1.0 / (2.0 * self.l2), fit_intercept=False, max_iter=self.max_iter)
        model.fit(x, y, sample_weight=w)
        self.coef_ = model.coef_[0]
        return self

    def margin(self, delta: np.ndarray) -> np.ndarray:
        """(I,) reward margin chosen − rejected, in logits."""
        return delta @ self.coef_


def ensemble_splits(n: int, *, k: int = 5, split: str = "bootstrap", seed: int = 0) -> list[np.ndarray]:
    """K training index sets over n pairs: bootstrap samples (with replacement; ~63% distinct each) or the
    K−1-fold complements of a K-fold partition. Deterministic in `seed`."""
    if k < 2:
        raise ValueError(f"an ensemble needs k >= 2 models, got {k}")
    if n < k:
        raise ValueError(f"{n} pairs are too few for {k} models")
    rng = np.random.default_rng(seed)
    if split == "bootstrap":
        return [rng.integers(0, n, size=n) for _ in range(k)]
    if split == "kfold":
        folds = np.array_split(rng.permutation(n), k)
        return [np.concatenate([f for j, f in enumerate(folds) if j != i]) for i in range(k)]
    raise ValueError(f"split must be 'bootstrap' or 'kfold', got {split!r}")


def rm_ensemble_margins(
    chosen: np.ndarray,
    rejected: np.ndarray,
    *,
    prompt: np.ndarray | None = None,
    k: int = 5,
    split: str = "bootstrap",
    l2: float = 1.0,
    sample_weight: np.ndarray | None = None,
    seed: int = 0,
) -> EnsembleMargins:
    """Train K BT heads on different splits of the labelled pairs and score every pair with each.

    chosen, rejected: (I, d) frozen embeddings of the consensus winner and loser of each pair (ties and
    unlabelled items left out by the caller); prompt: (I, d) or None (see the module docstring).
    Returns EnsembleMargins with margins (K, I) in logits.
    """
    delta = pair_features(chosen, rejected, prompt)
    splits = ensemble_splits(len(delta), k=k, split=split, seed=seed)
    margins = np.empty((k, len(delta)))
    in_train = np.zeros((k, len(delta)), dtype=bool)
    for m, rows in enumerate(splits):
        weight = None if sample_weight is None else sample_weight[rows]
        head = BTHead(l2=l2).fit(delta[rows], weight)
        margins[m] = head.margin(delta)
        in_train[m, rows] = True
    return EnsembleMargins(margins=margins, in_train=in_train)


def rm_ensemble_for_items(
    embeddings: np.ndarray, winner: np.ndarray, *, prompt: np.ndarray | None = None, **options
) -> EnsembleMargins:
    """The ensemble over a project's items: embeddings (I, 2, d) of responses A and B, winner (I,) the
    consensus class (0 = A, 1 = B; ties and -1 are not trained on and get NaN margins).

    Returns EnsembleMargins over all I items; `options` go to `rm_ensemble_margins`.
    """
    if embeddings.ndim != 3 or embeddings.shape[1] < 2 or len(embeddings) != len(winner):
        raise ValueError(f"embeddings must be (I={len(winner)}, 2, d), got {embeddings.shape}")
    rows = np.flatnonzero(np.isin(winner, (0, 1)))
    w = winner[rows].astype(int)
    chosen = embeddings[rows, w]
    rejected = embeddings[rows, 1 - w]
    fitted = rm_ensemble_margins(chosen, rejected, prompt=None if prompt is None else prompt[rows], **options)
    k, n = fitted.k, len(winner)
    margins = np.full((k, n), np.nan)
    in_train = np.zeros((k, n), dtype=bool)
    margins[:, rows] = fitted.margins
    in_train[:, rows] = fitted.in_train
    return EnsembleMargins(margins=margins, in_train=in_train)
