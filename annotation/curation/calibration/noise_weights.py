"""A noise score whose parts are checked: each signal's direction and AUROC against references, weights learned
from them (or the documented defaults with the wrong-way signals dropped), and a flagged share instead of a
threshold.

"Wrong" items are those whose consensus winner differs from the reference. For each signal s, over the items
with a reference where s applies:

    AUROC_s = P(sev_s[wrong item] > sev_s[right item])   (ties count one half; sklearn's roc_auc_score)

with the Hanley-McNeil standard error; the direction is "right" when AUROC_s - 1.96 SE > 0.5, "wrong" when
AUROC_s + 1.96 SE < 0.5, else "unclear" (and "n/a" with no wrong or no right item).

Combiners (each a score (I,) where higher = more likely wrong):
  default      the weighted mean of noise.combine_signals with NoiseConfig weights, signals of direction
               "wrong" set to weight 0
  learned      logistic regression (L2, balanced classes) on the severities (NaN -> 0: no evidence), so a
               wrong-way signal gets a negative or small weight instead of dragging the sum down
  signal:<s>   one signal's severity alone (NaN -> 0)
With references, the combiner is chosen by AUROC on the training part of each cross-fitting fold (the learned
one scored by an inner cross-fit, never on its own training items) and applied to the held-out fold; the
reported AUROC is that of these cross-fitted scores, each fold's scores mapped to percentiles of its training
scores so folds whose combiners differ rank on one scale. The final score of every item comes from the
choice made on all references. Without references the default combiner is used, its directions judged
against held-out labels (e.g. the human majority of items whose consensus was built from judges) when given.

Soft labels (`expected_wrong`, optional) fill in only when the references hold too few wrong (or right)
labels to learn from (5 % of 1,200 items at 95 % consensus accuracy: about three), and only when they vary.
When the consensus posterior has itself been validated on references (aggregation_choose picked it by
cross-validation), its P(winner is wrong) = 1 - probability is an expected label for every other item: each
enters as a wrong row of weight q and a right row of weight 1 - q, so AUROCs become expected AUROCs under that posterior and the logistic fit uses all items.
Never pass an unsupervised posterior here: its confidence is exactly what fails when competences are inverted.
No Django.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from ..noise import DEFAULT_WEIGHTS, NoiseReport
from ._stats import auroc, folds

__all__ = ["SignalCheck", "NoiseCalibration", "signal_checks", "noise_calibrate", "flag_top_share"]


@dataclass
class SignalCheck:
    """One signal against the references: AUROC (NaN if n/a), its SE, items it applies to, wrong ones, direction."""

    name: str
    auroc: float
    se: float
    n: int
    n_wrong: int
    direction: str


@dataclass
class NoiseCalibration:
    """checks: every signal's SignalCheck; combiner: "default" | "learned" | "signal:<name>"; weights: the
    weights of the final combiner (default weights with drops, the logistic coefficients, or {name: 1});
    dropped: signals of direction "wrong"; score (I,): the calibrated noise score; auroc / auroc_se: of the
    cross-fitted score on the labelled items (an expected AUROC where soft labels take part; NaN when too few
    labels to cross-fit); n: usable references; flagged (I,): flag_top_share of score."""

    checks: dict[str, SignalCheck]
    combiner: str
    weights: dict[str, float]
    dropped: list[str]
    score: np.ndarray
    auroc: float
    auroc_se: float
    n: int
    flagged: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, bool))


def _direction(a: float, se: float) -> str:
    if np.isnan(a):
        return "n/a"
    if a - 1.96 * se > 0.5:
        return "right"
    if a + 1.96 * se < 0.5:
        return "wrong"
    return "unclear"


def signal_checks(report: NoiseReport, wrong: np.ndarray, mask: np.ndarray) -> dict[str, SignalCheck]:
    """Every signal of `report` against `wrong` (I,) bool on the items where `mask` (I,) bool."""
    out = {}
    for name, s in report.signals.items():
        ok = mask & ~np.isnan(s.severity)
        a, se = auroc(s.severity[ok], wrong[ok])
        out[name] = SignalCheck(name, a, se, int(ok.sum()), int(wrong[ok].sum()), _direction(a, se))
    return out


def _matrix(report: NoiseReport) -> tuple[list[str], np.ndarray]:
    names = list(report.signals)
    return names, np.stack([report.signals[n].severity for n in names], axis=1)  # (I, S)


def _default_score(sev: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(I,) weighted mean of the applicable severities (noise.combine_signals' formula), 0 where none applies."""
    applies = ~np.isnan(sev) & (weights > 0)
    total = (np.where(applies, sev, 0.0) * weights).sum(axis=1)
    mass = (applies * weights).sum(axis=1)
    return np.where(mass > 0, total / np.where(mass > 0, mass, 1.0), 0.0)


class _Fitted:
    """A combiner fitted on weighted rows (sev (R, S), y (R,) bool, w (R,)): score(sev) -> (R',)."""

    def __init__(self, kind: str, names: list[str], base_weights: np.ndarray, sev: np.ndarray,
                 y: np.ndarray, w: np.ndarray, seed: int) -> None:
        self.kind, self.names = kind, names
        self.weights = base_weights.copy()
        if kind == "default":
            for k in range(len(names)):
                ok = ~np.isnan(sev[:, k])
                if _direction(*auroc(sev[ok, k], y[ok], w[ok])) == "wrong":
                    self.weights[k] = 0.0
        elif kind == "learned":
            self.model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000, random_state=seed)
            with threadpool_limits(limits=1):  # small fits: BLAS threads cost more than they save
                self.model.fit(np.nan_to_num(sev, nan=0.0), y, sample_weight=w)
            self.weights = self.model.coef_[0]
        else:
            self.column = names.index(kind.split(":", 1)[1])

    def score(self, sev: np.ndarray) -> np.ndarray:
        if self.kind == "default":
            return _default_score(sev, self.weights)
        if self.kind == "learned":
            return self.model.decision_function(np.nan_to_num(sev, nan=0.0))
        return np.nan_to_num(sev[:, self.column], nan=0.0)


def _percentile(train_scores: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Share of the training scores below each score (ties half): a common scale across folds."""
    ordered = np.sort(train_scores)
    lo = np.searchsorted(ordered, scores, side="left")
    hi = np.searchsorted(ordered, scores, side="right")
    return (lo + hi) / (2.0 * max(len(ordered), 1))


@dataclass
class _Rows:
    """Labelled rows: item index, wrong?, weight (a reference is one row of weight 1, a soft label two)."""

    item: np.ndarray
    y: np.ndarray
    w: np.ndarray

    def take(self, items: np.ndarray) -> "_Rows":
        keep = np.isin(self.item, items)
        return _Rows(self.item[keep], self.y[keep], self.w[keep])

    def enough(self, n_folds: int) -> bool:
        return self.w[self.y].sum() >= n_folds and self.w[~self.y].sum() >= n_folds

    def folds(self, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """(train items, test items) over the distinct items (both rows of a soft item stay together)."""
        items = np.unique(self.item)
        pos = np.bincount(self.item, weights=self.w * self.y)[items]
        wrong = pos > 0.5 * np.bincount(self.item, weights=self.w)[items]  # the heavier label, to stratify by
        return [(items[tr], items[te]) for tr, te in folds(wrong, n_folds, seed)]


def _candidates(names: list[str], sev: np.ndarray) -> list[str]:
    applies = [n for k, n in enumerate(names) if (~np.isnan(sev[:, k])).any()]
    return ["default", "learned"] + [f"signal:{n}" for n in applies]


def _choose(names, base, sev, rows: _Rows, seed, n_inner: int) -> _Fitted:
    """The candidate combiner with the best AUROC on `rows`, the learned one judged by an inner cross-fit."""
    best, best_auc = "default", -1.0
    for kind in _candidates(names, sev[rows.item]):
        if kind == "learned":
            if not rows.enough(n_inner):
                continue
            inner = np.zeros(len(rows.item))
            for tr, te in rows.folds(n_inner, seed):
                fit_rows, test = rows.take(tr), np.isin(rows.item, te)
                fitted = _Fitted(kind, names, base, sev[fit_rows.item], fit_rows.y, fit_rows.w, seed)
                inner[test] = _percentile(fitted.score(sev[tr]), fitted.score(sev[rows.item[test]]))
            a = auroc(inner, rows.y, rows.w)[0]
        else:
            fitted = _Fitted(kind, names, base, sev[rows.item], rows.y, rows.w, seed)
            a = auroc(fitted.score(sev[rows.item]), rows.y, rows.w)[0]
        if not np.isnan(a) and a > best_auc + 1e-12:
            best, best_auc = kind, a
    return _Fitted(best, names, base, sev[rows.item], rows.y, rows.w, seed)


def flag_top_share(score: np.ndarray, share: float, *, eligible: np.ndarray | None = None) -> np.ndarray:
    """(I,) bool: the round(share * eligible items) highest-scoring eligible items (ties broken by item order).

    A share, not a threshold: "drop the noisiest 10 %" flags 10 % whatever the score's scale, where a fixed
    threshold flagged 418 of 419 items once every score sat above it.
    """
    if not 0 <= share <= 1:
        raise ValueError(f"flag share must be in [0, 1], got {share}")
    eligible = np.ones(len(score), bool) if eligible is None else np.asarray(eligible, bool)
    idx = np.flatnonzero(eligible)
    k = int(round(share * len(idx)))
    out = np.zeros(len(score), bool)
    if k:
        order = np.argsort(-np.asarray(score)[idx], kind="stable")
        out[idx[order[:k]]] = True
    return out


# Soft-labelled items used at most: 20,000 pin a dozen weights to within ~0.01 and keep the nested cross-fit
# of a 100,000-item project at a few seconds instead of half a minute.
MAX_SOFT = 20_000


def _rows(winner, references, usable, expected_wrong, seed: int = 0) -> _Rows:
    ref = np.flatnonzero(usable)
    item, y, w = [ref], [winner[ref] != references[ref]], [np.ones(len(ref))]
    if expected_wrong is not None:
        q = np.clip(np.asarray(expected_wrong, dtype=np.float64), 0.0, 1.0)
        soft = np.flatnonzero(~usable & (winner >= 0) & ~np.isnan(q))
        if len(soft) > MAX_SOFT:
            soft = np.sort(np.random.default_rng(seed).choice(soft, MAX_SOFT, replace=False))
        item += [soft, soft]
        y += [np.ones(len(soft), bool), np.zeros(len(soft), bool)]
        w += [q[soft], 1.0 - q[soft]]
    return _Rows(np.concatenate(item), np.concatenate(y).astype(bool), np.concatenate(w))


def noise_calibrate(report: NoiseReport, *, winner: np.ndarray, references: np.ndarray | None = None,
                    calibration: np.ndarray | None = None, expected_wrong: np.ndarray | None = None,
                    weights: dict[str, float] | None = None, flag_share: float = 0.1, n_folds: int = 5,
                    seed: int = 0, min_references: int = 20, is_gold: np.ndarray | None = None) -> NoiseCalibration:
    """The checked noise score of `report` for the consensus `winner` (I,) (module docstring).

    references (I,) int (-1 = none) and calibration (I,) bool as in choice.aggregation_choose. expected_wrong
    (I,): soft labels (module docstring), optional, used only where the references are too few. With fewer
    than min_references labelled items, or fewer than n_folds (weighted) wrong or right ones, the labels only
    judge the directions and the default combiner is used. weights: per-signal defaults (noise.DEFAULT_WEIGHTS).
    flag_share: the top share of non-gold items flagged. is_gold (I,): reviewer-resolved items, never flagged. The
    checks use the hard references only.
    """
    winner = np.asarray(winner, dtype=np.int64)
    n = len(winner)
    references = np.full(n, -1, dtype=np.int64) if references is None else np.asarray(references, dtype=np.int64)
    calibration = (references >= 0) if calibration is None else np.asarray(calibration, dtype=bool)
    if len(references) != n or len(calibration) != n or (expected_wrong is not None and len(expected_wrong) != n):
        raise ValueError(f"references, calibration and expected_wrong must cover the {n} items of the report")
    names, sev = _matrix(report)
    weights = {**DEFAULT_WEIGHTS, **(weights or {})}
    unknown = set(weights) - set(DEFAULT_WEIGHTS)
    if unknown:
        raise ValueError(f"unknown noise signal(s) in weights: {', '.join(sorted(unknown))}")
    base = np.array([float(weights.get(name, 0.0)) for name in names])
    usable = calibration & (references >= 0) & (winner >= 0)
    checks = signal_checks(report, usable & (winner != references), usable)
    dropped = [c.name for c in checks.values() if c.direction == "wrong"]
    rows = _rows(winner, references, usable, None)
    if expected_wrong is not None and not (usable.sum() >= min_references and rows.enough(n_folds)):
        soft = _rows(winner, references, usable, expected_wrong, seed)
        spread = np.nanstd(np.asarray(expected_wrong, dtype=np.float64)[soft.item[len(rows.item):]]) if (
            len(soft.item) > len(rows.item)) else 0.0
        if spread > 0.01:  # a constant P(wrong) (e.g. one annotator's votes as the consensus) ranks nothing
            rows = soft
    a, se = float("nan"), float("nan")
    if len(np.unique(rows.item)) >= min_references and rows.enough(n_folds):
        cross = np.zeros(len(rows.item))
        for tr, te in rows.folds(n_folds, seed):
            fit_rows, test = rows.take(tr), np.isin(rows.item, te)
            fitted = _choose(names, base, sev, fit_rows, seed, n_inner=3)
            cross[test] = _percentile(fitted.score(sev[tr]), fitted.score(sev[rows.item[test]]))
        a, se = auroc(cross, rows.y, rows.w)
        final = _choose(names, base, sev, rows, seed, n_inner=3)
    else:
        final = _Fitted("default", names, base, np.zeros((0, len(names))), np.zeros(0, bool), np.zeros(0), seed)
        final.weights = np.where(np.isin(names, dropped), 0.0, base)
    score = final.score(sev)
    if final.kind == "learned":
        score = 1.0 / (1.0 + np.exp(-score))  # a probability of "wrong" to show, same order
    gold = np.zeros(n, bool) if is_gold is None else np.asarray(is_gold, bool)
    score = np.where(gold, 0.0, score)
    used = ({names[final.column]: 1.0} if final.kind.startswith("signal:")
            else {name: float(w) for name, w in zip(names, final.weights)})
    return NoiseCalibration(checks, final.kind, used, dropped, score, a, se, int(usable.sum()),
                            flag_top_share(score, flag_share, eligible=~gold))
