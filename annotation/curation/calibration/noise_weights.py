"""A noise score whose parts are checked: each signal's direction and AUROC against references, weights learned
from them (or the documented defaults with the wrong-way signals dropped), and a flagged share instead of a
threshold.

"Wrong" items are those whose consensus winner differs from the reference. For each signal s, over the items
with a reference where s applies:

    AUROC_s = P(sev_s[wrong item] > sev_s[right item])   (ties count one half; sklearn's roc_auc_score)

with the Hanley-McNeil standard error; the direction is "right" when AUROC_s - 1.96 SE > 0.5, "wrong" when
AUROC_s + 1.96 SE < 0.5, else "unclear" (and "n/a" with no wrong or no right item).

Combiners (noise_choice.py: every single signal, rank_mean, learned, and default when the run set weights):
with at least min_references labelled items and n_folds wrong and right ones, each is scored out of fold and
the best single signal is used unless a combination beats it by more than one standard error (the choice and
why are in `reason`, every candidate's cross-validated AUROC in `cv`). The reported AUROC is that of the whole
procedure, nested: each outer fold's rows are scored by a combiner chosen (inner 3-fold CV) and fitted without
them, each fold's scores mapped to percentiles of its training scores so folds whose combiners differ rank on
one scale. The final score of every item comes from the choice made on all labelled rows. With fewer labels
(none included) the prior signal of noise_choice is used, or, where the run set weights by hand, their weighted
mean with the wrong-way signals at 0; the labels there are still judge the directions.

Soft labels (`expected_wrong`, optional) fill in only when the references hold too few wrong (or right)
labels to learn from (5 % of 1,200 items at 95 % consensus accuracy: about three), and only when they vary.
When the consensus posterior has itself been validated on references (aggregation_choose picked it by
cross-validation), its P(winner is wrong) = 1 - probability is an expected label for every other item: each
enters as a wrong row of weight q and a right row of weight 1 - q, so AUROCs become expected AUROCs under that
posterior and the logistic fit uses all items.
Never pass an unsupervised posterior here: its confidence is exactly what fails when competences are inverted.
No Django.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..noise import DEFAULT_WEIGHTS, NoiseReport
from ._stats import auroc, folds
from .noise_choice import (
    PRIOR_ORDER,
    UNTRUSTED_ORDER,
    Fitted,
    Selection,
    direction,
    percentile,
    prior_signal,
    select_combiner,
)

__all__ = ["SignalCheck", "NoiseCalibration", "NoiseFit", "SignalStats", "signal_checks", "noise_calibrate",
           "noise_fit", "noise_keep", "severity_matrix", "flag_top_share"]


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
    """checks: every signal's SignalCheck; combiner: "signal:<name>" | "rank_mean" | "learned" | "default";
    weights: the weights of the final combiner ({name: 1}, 1/k for each of rank_mean's k signals, the logistic
    coefficients, or default weights with drops); reason: why this combiner (a sentence); cv: each candidate's
    cross-validated (AUROC, SE) on the labelled rows (empty when there were too few);
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
    reason: str = ""
    cv: dict[str, tuple[float, float]] = field(default_factory=dict)


def signal_checks(report: NoiseReport, wrong: np.ndarray, mask: np.ndarray) -> dict[str, SignalCheck]:
    """Every signal of `report` against `wrong` (I,) bool on the items where `mask` (I,) bool."""
    out = {}
    for name, s in report.signals.items():
        ok = mask & ~np.isnan(s.severity)
        a, se = auroc(s.severity[ok], wrong[ok])
        out[name] = SignalCheck(name, a, se, int(ok.sum()), int(wrong[ok].sum()), direction(a, se))
    return out


def severity_matrix(report: NoiseReport, names: list[str] | None = None) -> np.ndarray:
    """(I, S) the severities of `names` (default: every signal of the report, in its order)."""
    names = list(report.signals) if names is None else names
    return np.stack([report.signals[n].severity for n in names], axis=1)


# Items per block of the whole-set sums: a sum is taken per block and the blocks' sums added in order, so the
# figures are the same however the items were handed in (a refresh's chunks are multiples of it). 16,384: a refresh
# holds one chunk's noise report (~200 bytes an item) while it writes, ~3 MB.
SUM_BLOCK = 16_384


class SignalStats:
    """What noise_fit reads of a whole set's noise report, gathered a chunk of items at a time (`add`, in item
    order), so the (I, S) severity matrix of a million items never has to exist: per signal, how many items it
    applies to and the sum of its severities there (each signal's `fill`), over the decided items how many it
    applies to and its lowest and highest severity (noise_choice.prior_signal), and the severities of the items
    in `keep` (sorted item indices: the labelled ones), read back by item index with `stats[items]`."""

    def __init__(self, names: list[str], keep: np.ndarray) -> None:
        self.names = list(names)
        self.keep = np.asarray(keep, dtype=np.int64)
        s = len(self.names)
        self.kept = np.full((len(self.keep), s), np.nan)
        self.applies, self.total = np.zeros(s, np.int64), np.zeros(s)
        self.decided, self.decided_applies = 0, np.zeros(s, np.int64)
        self.low, self.high = np.full(s, np.inf), np.full(s, -np.inf)
        self.n = 0

    @classmethod
    def of(cls, report: NoiseReport, winner: np.ndarray, keep: np.ndarray) -> "SignalStats":
        stats = cls(list(report.signals), keep)
        stats.add(report, np.asarray(winner))
        return stats

    def add(self, report: NoiseReport, winner: np.ndarray) -> None:
        """The next chunk of items: `report` and its consensus `winner` (B,). Every chunk but the last must be a
        multiple of SUM_BLOCK items."""
        if self.n % SUM_BLOCK:
            raise ValueError(f"chunks before the last must be multiples of {SUM_BLOCK} items")
        sev = severity_matrix(report, self.names)
        start, stop = self.n, self.n + len(sev)
        for b in range(0, len(sev), SUM_BLOCK):
            self.total += np.nansum(sev[b:b + SUM_BLOCK], axis=0)
        applies = ~np.isnan(sev)
        self.applies += applies.sum(axis=0)
        decided = np.asarray(winner) >= 0
        self.decided += int(decided.sum())
        self.decided_applies += applies[decided].sum(axis=0)
        on = np.where(applies & decided[:, None], sev, np.nan)
        if on.size:
            seen = ~np.isnan(on).all(axis=0)
            with np.errstate(invalid="ignore"):
                self.low = np.where(seen, np.fmin(self.low, np.nanmin(np.where(seen, on, 0.0), axis=0)), self.low)
                self.high = np.where(seen, np.fmax(self.high, np.nanmax(np.where(seen, on, 0.0), axis=0)),
                                     self.high)
        lo, hi = np.searchsorted(self.keep, [start, stop])
        self.kept[lo:hi] = sev[self.keep[lo:hi] - start]
        self.n = stop

    @property
    def fill(self) -> np.ndarray:
        """(S,) each signal's mean severity over the items where it applies (0 where it applies nowhere)."""
        return np.where(self.applies > 0, self.total / np.maximum(self.applies, 1), 0.0)

    def __getitem__(self, items) -> np.ndarray:
        """(R, S) the severities of item indices `items` (each one of `keep`)."""
        items = np.asarray(items, dtype=np.int64)
        rows = np.searchsorted(self.keep, items)
        if len(items) and (rows.max() >= len(self.keep) or (self.keep[np.minimum(rows, len(self.keep) - 1)]
                                                           != items).any()):
            raise KeyError("severities asked of items not kept")
        return self.kept[rows]


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


def _unlearned(names: list[str], base: np.ndarray, stats: SignalStats, checks: dict[str, SignalCheck],
               explicit: bool, seed: int, order: tuple[str, ...] = PRIOR_ORDER,
               fill: np.ndarray | None = None) -> tuple[Fitted, str]:
    """The combiner without enough labels to choose by (noise_choice's prior), and why. Weights set by hand are
    kept (the default mean of them, wrong-way signals at 0); otherwise the prior signal, or that default mean of
    the documented weights when no prior signal applies."""
    dropped = [c.name for c in checks.values() if c.direction == "wrong"]
    directions = {c.name: c.direction for c in checks.values()}
    prior = None if explicit else prior_signal(names, stats, directions, order)
    none = np.zeros((0, len(names)))
    if prior is not None:
        fitted = Fitted(f"signal:{prior}", names, base, none, np.zeros(0, bool), np.zeros(0), seed, fill)
        return fitted, (f"too few labelled items to choose by: the prior signal {prior} (the first of "
                        f"{', '.join(order)} that applies to most decided items, varies and is not "
                        f"judged the wrong way)")
    fitted = Fitted("default", names, base, none, np.zeros(0, bool), np.zeros(0), seed)
    fitted.weights = np.where(np.isin(names, dropped), 0.0, base)
    why = "the weights set for this run" if explicit else "no prior signal applies here: the documented weights"
    return fitted, f"too few labelled items to choose by: {why}, wrong-way signals at 0"


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


def _soft_items(winner: np.ndarray, usable: np.ndarray, expected_wrong: np.ndarray, seed: int) -> np.ndarray:
    """The items that may enter as soft labels (decided, not a usable reference, a P(wrong)): at most MAX_SOFT."""
    q = np.asarray(expected_wrong, dtype=np.float64)
    soft = np.flatnonzero(~usable & (winner >= 0) & ~np.isnan(q))
    if len(soft) > MAX_SOFT:
        soft = np.sort(np.random.default_rng(seed).choice(soft, MAX_SOFT, replace=False))
    return soft


def _rows(winner, references, usable, expected_wrong, seed: int = 0) -> _Rows:
    ref = np.flatnonzero(usable)
    item, y, w = [ref], [winner[ref] != references[ref]], [np.ones(len(ref))]
    if expected_wrong is not None:
        q = np.clip(np.asarray(expected_wrong, dtype=np.float64), 0.0, 1.0)
        soft = _soft_items(winner, usable, expected_wrong, seed)
        item += [soft, soft]
        y += [np.ones(len(soft), bool), np.zeros(len(soft), bool)]
        w += [q[soft], 1.0 - q[soft]]
    return _Rows(np.concatenate(item), np.concatenate(y).astype(bool), np.concatenate(w))


@dataclass
class _Labels:
    """The checked arguments of noise_fit over the I items."""

    winner: np.ndarray
    references: np.ndarray
    calibration: np.ndarray
    expected_wrong: np.ndarray | None
    seed: int

    @classmethod
    def of(cls, winner, references, calibration, expected_wrong, seed: int) -> "_Labels":
        winner = np.asarray(winner, dtype=np.int64)
        n = len(winner)
        references = np.full(n, -1, np.int64) if references is None else np.asarray(references, dtype=np.int64)
        calibration = (references >= 0) if calibration is None else np.asarray(calibration, dtype=bool)
        if len(references) != n or len(calibration) != n or (expected_wrong is not None
                                                             and len(expected_wrong) != n):
            raise ValueError(f"references, calibration and expected_wrong must cover the {n} items of the report")
        return cls(winner, references, calibration, expected_wrong, seed)

    @property
    def usable(self) -> np.ndarray:
        return self.calibration & (self.references >= 0) & (self.winner >= 0)

    def keep(self) -> np.ndarray:
        """The items whose severities noise_fit may read: every reference (checks) and the soft candidates."""
        items = np.flatnonzero(self.references >= 0)
        if self.expected_wrong is not None:
            items = np.union1d(items, _soft_items(self.winner, self.usable, self.expected_wrong, self.seed))
        return items


def noise_keep(*, winner: np.ndarray, references: np.ndarray | None = None, calibration: np.ndarray | None = None,
               expected_wrong: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """(sorted item indices) the items whose severities the SignalStats handed to noise_fit must keep."""
    return _Labels.of(winner, references, calibration, expected_wrong, seed).keep()


@dataclass
class NoiseFit:
    """A chosen and fitted combiner (noise_fit): `score(report)` of any chunk of items, and what NoiseCalibration
    reports of it."""

    fitted: Fitted
    checks: dict[str, SignalCheck]
    weights: dict[str, float]
    dropped: list[str]
    auroc: float
    auroc_se: float
    n: int
    reason: str
    cv: dict[str, tuple[float, float]]

    @property
    def combiner(self) -> str:
        return self.fitted.kind

    def score(self, report: NoiseReport, is_gold: np.ndarray | None = None) -> np.ndarray:
        """(B,) the combined score of a report's B items (0 where is_gold)."""
        score = self.fitted.score(severity_matrix(report, self.fitted.names))
        if self.fitted.kind == "learned":
            score = 1.0 / (1.0 + np.exp(-score))  # a probability of "wrong" to show, same order
        return score if is_gold is None else np.where(np.asarray(is_gold, bool), 0.0, score)


def noise_fit(stats: SignalStats, *, winner: np.ndarray, references: np.ndarray | None = None,
              calibration: np.ndarray | None = None, expected_wrong: np.ndarray | None = None,
              weights: dict[str, float] | None = None, n_folds: int = 5, seed: int = 0, min_references: int = 20,
              margin_trusted: bool = True) -> NoiseFit:
    """The combiner of noise_calibrate (arguments as there), chosen and fitted from `stats` (the whole set's
    SignalStats, keeping at least noise_keep(...)'s items) instead of the whole report."""
    labels = _Labels.of(winner, references, calibration, expected_wrong, seed)
    winner, references = labels.winner, labels.references
    names = stats.names
    weights_set = dict(weights or {})
    weights = {**DEFAULT_WEIGHTS, **weights_set}
    unknown = set(weights) - set(DEFAULT_WEIGHTS)
    if unknown:
        raise ValueError(f"unknown noise signal(s) in weights: {', '.join(sorted(unknown))}")
    base = np.array([float(weights.get(name, 0.0)) for name in names])
    usable = labels.usable
    checks = checks_on(stats, np.flatnonzero(usable), winner != references)
    dropped = [c.name for c in checks.values() if c.direction == "wrong"]
    rows = _rows(winner, references, usable, None)
    if expected_wrong is not None and not (usable.sum() >= min_references and rows.enough(n_folds)):
        soft = _rows(winner, references, usable, expected_wrong, seed)
        spread = np.nanstd(np.asarray(expected_wrong, dtype=np.float64)[soft.item[len(rows.item):]]) if (
            len(soft.item) > len(rows.item)) else 0.0
        if spread > 0.01:  # a constant P(wrong) (e.g. one annotator's votes as the consensus) ranks nothing
            rows = soft
    explicit = bool(weights_set)
    order = PRIOR_ORDER if margin_trusted else UNTRUSTED_ORDER
    fill = stats.fill  # (S,) what stands in where a signal does not apply (noise_choice)
    a, se = float("nan"), float("nan")
    if len(np.unique(rows.item)) >= min_references and rows.enough(n_folds):
        sev = stats

        def choose(fit: _Rows, k: int) -> tuple[Fitted, Selection]:
            chosen = select_combiner(names, base, sev, fit, seed, k, explicit, order, fill)
            return Fitted(chosen.kind, names, base, sev[fit.item], fit.y, fit.w, seed, fill), chosen

        # The reported AUROC is that of the whole procedure (choice included), each outer fold's rows scored by
        # a combiner chosen and fitted without them.
        cross = np.zeros(len(rows.item))
        for tr, te in rows.folds(n_folds, seed):
            fit_rows, test = rows.take(tr), np.isin(rows.item, te)
            fitted = choose(fit_rows, 3)[0] if fit_rows.enough(3) else _unlearned(
                names, base, stats, {}, explicit, seed, order, fill)[0]
            cross[test] = percentile(fitted.score(sev[tr]), fitted.score(sev[rows.item[test]]))
        a, se = auroc(cross, rows.y, rows.w)
        final, selection = choose(rows, n_folds)
        reason, cv = selection.reason, selection.cv
    else:
        final, reason = _unlearned(names, base, stats, checks, explicit, seed, order, fill)
        cv = {}
    used = ({names[final.column]: 1.0} if final.kind.startswith("signal:")
            else {name: float(w) for name, w in zip(names, final.weights)})
    return NoiseFit(final, checks, used, dropped, a, se, int(usable.sum()), reason,
                    {k: (float(v[0]), float(v[1])) for k, v in cv.items()})


def checks_on(stats: SignalStats, items: np.ndarray, wrong: np.ndarray) -> dict[str, SignalCheck]:
    """signal_checks on the kept items `items` (sorted indices; wrong (I,) bool)."""
    sev, wrong = stats[items], np.asarray(wrong, bool)[items]
    out = {}
    for k, name in enumerate(stats.names):
        ok = ~np.isnan(sev[:, k])
        a, se = auroc(sev[ok, k], wrong[ok])
        out[name] = SignalCheck(name, a, se, int(ok.sum()), int(wrong[ok].sum()), direction(a, se))
    return out


def noise_calibrate(report: NoiseReport, *, winner: np.ndarray, references: np.ndarray | None = None,
                    calibration: np.ndarray | None = None, expected_wrong: np.ndarray | None = None,
                    weights: dict[str, float] | None = None, flag_share: float = 0.1, n_folds: int = 5,
                    seed: int = 0, min_references: int = 20, is_gold: np.ndarray | None = None,
                    margin_trusted: bool = True) -> NoiseCalibration:
    """The checked noise score of `report` for the consensus `winner` (I,) (module docstring).

    references (I,) int (-1 = none) and calibration (I,) bool as in choice.aggregation_choose. expected_wrong
    (I,): soft labels (module docstring), optional, used only where the references are too few. With fewer
    than min_references labelled items, or fewer than n_folds (weighted) wrong or right ones, the labels only
    judge the directions and the prior signal is used. weights: set by hand for this run (the rest take
    noise.DEFAULT_WEIGHTS): kept where there are too few labels, a candidate ("default") where there are enough.
    flag_share: the top share of non-gold items flagged. is_gold (I,): reviewer-resolved items, never flagged. The
    checks use the hard references only. margin_trusted: False where the consensus was not validated
    by references and reliability_check warned that annotators may be inverted: its own margin (small_margin)
    then comes last among the prior signals (noise_choice.UNTRUSTED_ORDER).

    The whole report at once; a set too large for that gathers SignalStats a chunk at a time and calls noise_fit
    (annotation/services/curation.py), with the same result.
    """
    winner = np.asarray(winner, dtype=np.int64)
    keep = noise_keep(winner=winner, references=references, calibration=calibration,
                      expected_wrong=expected_wrong, seed=seed)
    fit = noise_fit(SignalStats.of(report, winner, keep), winner=winner, references=references,
                    calibration=calibration, expected_wrong=expected_wrong, weights=weights, n_folds=n_folds,
                    seed=seed, min_references=min_references, margin_trusted=margin_trusted)
    gold = np.zeros(len(winner), bool) if is_gold is None else np.asarray(is_gold, bool)
    score = fit.score(report, gold)
    return NoiseCalibration(fit.checks, fit.combiner, fit.weights, fit.dropped, score, fit.auroc, fit.auroc_se,
                            fit.n, flag_top_share(score, flag_share, eligible=~gold), fit.reason, fit.cv)
