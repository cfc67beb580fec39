"""Which noise combiner to use: every single signal, or a combination only where it is clearly better, judged by
cross-validated AUROC on labelled rows; a prior signal where there are too few labels to judge.

Candidates (each a score (I,) where higher = more likely wrong): where a signal does not apply (NaN), a single
signal and the logistic fit read `fill`, the signal's mean severity over the items where it applies (computed
without labels): no evidence either way ranks an item as the average one, not as the cleanest (people vs judges
does not apply where the judges split, which is itself a sign of a hard item):
  signal:<s>   one signal's severity alone, in its own direction (a severity is built to rise with noise)
  rank_mean    the mean of the per-signal percentiles (ranks within the training rows' severities) over the
               signals whose direction is "right" on the training rows and that apply to the item (0 where none
               does): a combination with no fitted weight, robust to scales
  learned      logistic regression (L2, balanced classes) on the severities, so a wrong-way signal gets a
               negative or small weight instead of dragging the sum down
  default      the weighted mean of noise.combine_signals with the caller's weights, wrong-way signals at 0:
               a candidate only when the run set weights by hand
Every candidate is scored out of fold on the same folds (each fold's scores mapped to percentiles of its
training scores, so folds rank on one scale): AUROC_c with its Hanley-McNeil SE over the pooled rows.

Choice (the one-standard-error rule: the simplest model unless a richer one is clearly better): the single signal
s* is the best one (highest cross-validated AUROC), or the first prior signal (below) within one standard error
of it, as the references cannot tell them apart; the best combination c* is taken only when AUROC_c* - AUROC_s*
exceeds one standard error of that difference (both SEs: a paired bootstrap over the labelled items, paired_se).
A single signal has nothing fitted to the references but its choice; a combination that beats it by less than
the noise of the comparison most often only fits the references it saw (PandaLM 10 %: logistic 0.900 held out against
human_vs_judge alone 0.926, bench/RESULTS.md).

Prior (no labels, or too few to cross-validate): the first signal of PRIOR_ORDER (UNTRUSTED_ORDER where the
consensus was not validated by references and reliability_check warned that annotators may be inverted) that
applies to at least half of the decided items, varies there and is not judged "wrong" by the labels there are.
These signals read only the votes and the consensus' own certainty; the others need a model (rm_ensemble,
low_competence: both point the wrong way exactly when the annotators' competences are inverted) or measure
something other than a wrong label (weak_strength, near_duplicate, length_only). An equal-weight sum of all of
them is what the issue measured at 0.52-0.72 while small_margin alone reached 0.83-0.93.
No Django.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from ._stats import auroc

__all__ = ["PRIOR_ORDER", "Fitted", "Selection", "select_combiner", "prior_signal", "direction", "percentile",
           "paired_se"]

# People against judges first: two independent kinds of annotator disagreeing reads no model at all; then the
# consensus' own margin (continuous, it applies wherever there is a winner: a flag share cuts it anywhere), then
# the other disagreement between labels. The margin is only as good as the consensus: where that was not
# validated and reliability_check warned of inversion (opposed camps, below-chance annotators: a confidently
# wrong consensus), it goes last
# (UNTRUSTED_ORDER; bench_weak_judges, 4 judges, 0 %: small_margin 0.22, swap 0.66).
PRIOR_ORDER = ("human_vs_judge", "small_margin", "annotator_disagreement", "judge_swap_inconsistent")
UNTRUSTED_ORDER = ("human_vs_judge", "judge_swap_inconsistent", "annotator_disagreement", "small_margin")
COMBINATIONS = ("rank_mean", "learned", "default")


def direction(a: float, se: float) -> str:
    """"right" when AUROC - 1.96 SE > 0.5, "wrong" when AUROC + 1.96 SE < 0.5, else "unclear"; "n/a" for NaN."""
    if np.isnan(a):
        return "n/a"
    if a - 1.96 * se > 0.5:
        return "right"
    if a + 1.96 * se < 0.5:
        return "wrong"
    return "unclear"


def percentile(train_scores: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Share of the training scores below each score (ties half): a common scale across folds."""
    ordered = np.sort(train_scores)
    lo = np.searchsorted(ordered, scores, side="left")
    hi = np.searchsorted(ordered, scores, side="right")
    return (lo + hi) / (2.0 * max(len(ordered), 1))


def default_score(sev: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(I,) weighted mean of the applicable severities (noise.combine_signals' formula), 0 where none applies."""
    applies = ~np.isnan(sev) & (weights > 0)
    total = (np.where(applies, sev, 0.0) * weights).sum(axis=1)
    mass = (applies * weights).sum(axis=1)
    return np.where(mass > 0, total / np.where(mass > 0, mass, 1.0), 0.0)


class Fitted:
    """A combiner fitted on weighted rows (sev (R, S), y (R,) bool, w (R,)); `score(sev (R', S)) -> (R',)`;
    `weights` (S,): what the report shows per signal (1 for the single one, 1/k for the k signals of rank_mean,
    the logistic coefficients, or the default weights with the wrong-way ones at 0)."""

    def __init__(self, kind: str, names: list[str], base_weights: np.ndarray, sev: np.ndarray,
                 y: np.ndarray, w: np.ndarray, seed: int, fill: np.ndarray | None = None) -> None:
        self.kind, self.names = kind, names
        self.fill = np.zeros(len(names)) if fill is None else fill
        self.weights = np.zeros(len(names))
        if kind == "default":
            self.weights = base_weights.copy()
            for k in range(len(names)):
                ok = ~np.isnan(sev[:, k])
                if direction(*auroc(sev[ok, k], y[ok], w[ok])) == "wrong":
                    self.weights[k] = 0.0
        elif kind == "rank_mean":
            self.columns = [k for k in range(len(names)) if direction(*_column_auroc(sev[:, k], y, w)) == "right"]
            self.train = [np.sort(sev[~np.isnan(sev[:, k]), k]) for k in self.columns]
            self.weights[self.columns] = 1.0 / max(len(self.columns), 1)
        elif kind == "learned":
            self.model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000, random_state=seed)
            with threadpool_limits(limits=1):  # small fits: BLAS threads cost more than they save
                self.model.fit(self._filled(sev), y, sample_weight=w)
            self.weights = self.model.coef_[0].copy()
        else:
            self.column = names.index(kind.split(":", 1)[1])
            self.weights[self.column] = 1.0

    def score(self, sev: np.ndarray) -> np.ndarray:
        if self.kind == "default":
            return default_score(sev, self.weights)
        if self.kind == "rank_mean":
            total, count = np.zeros(len(sev)), np.zeros(len(sev))
            for k, ordered in zip(self.columns, self.train):
                applies = ~np.isnan(sev[:, k])
                total += np.where(applies, percentile(ordered, np.nan_to_num(sev[:, k], nan=0.0)), 0.0)
                count += applies
            return np.where(count > 0, total / np.maximum(count, 1), 0.0)
        if self.kind == "learned":
            return self.model.decision_function(self._filled(sev))
        return self._filled(sev)[:, self.column]

    def _filled(self, sev: np.ndarray) -> np.ndarray:
        """sev with each signal's `fill` where it does not apply (NaN)."""
        return np.where(np.isnan(sev), self.fill, sev)


def _column_auroc(column: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    ok = ~np.isnan(column)
    return auroc(column[ok], y[ok], w[ok])


def _varies(column: np.ndarray) -> bool:
    values = column[~np.isnan(column)]
    return len(values) > 1 and float(values.max() - values.min()) > 1e-9


@dataclass
class Selection:
    """The chosen kind, why (a sentence), and each candidate's cross-validated (AUROC, SE) on the rows."""

    kind: str
    reason: str
    cv: dict[str, tuple[float, float]]


def _candidates(names: list[str], sev: np.ndarray, y: np.ndarray, w: np.ndarray, with_default: bool) -> list[str]:
    singles = [f"signal:{n}" for k, n in enumerate(names) if _varies(sev[:, k])]
    right = sum(direction(*_column_auroc(sev[:, k], y, w)) == "right" for k in range(len(names)))
    combos = (["rank_mean"] if right >= 2 else []) + ["learned"] + (["default"] if with_default else [])
    return singles + combos


def select_combiner(names: list[str], base: np.ndarray, sev: np.ndarray, rows, seed: int, n_folds: int,
                    with_default: bool, order: tuple[str, ...] = PRIOR_ORDER,
                    fill: np.ndarray | None = None) -> Selection:
    """The combiner for `rows` (noise_weights._Rows over the items of sev (I, S)) by the rule of the module
    docstring. Precondition: rows.enough(n_folds) (each fold sees both labels)."""
    kinds = _candidates(names, sev[rows.item], rows.y, rows.w, with_default)
    oof = {kind: np.zeros(len(rows.item)) for kind in kinds}
    for tr, te in rows.folds(n_folds, seed):
        fit_rows, test = rows.take(tr), np.isin(rows.item, te)
        for kind in kinds:
            fitted = Fitted(kind, names, base, sev[fit_rows.item], fit_rows.y, fit_rows.w, seed, fill)
            oof[kind][test] = percentile(fitted.score(sev[tr]), fitted.score(sev[rows.item[test]]))
    cv = {kind: auroc(scores, rows.y, rows.w) for kind, scores in oof.items()}
    rank = lambda kind: -1.0 if np.isnan(cv[kind][0]) else cv[kind][0]  # noqa: E731
    singles = [k for k in kinds if k.startswith("signal:")]
    combos = [k for k in kinds if k in COMBINATIONS]
    n_wrong = float(rows.w[rows.y].sum())
    on = f"on {len(np.unique(rows.item))} labelled items ({n_wrong:g} wrong)"
    if not singles:
        best = max(combos, key=rank)
        return Selection(best, f"no single signal varies; {best} has cross-validated AUROC {_a(cv[best])} {on}", cv)
    best = max(singles, key=rank)  # ties: the first in SIGNALS order
    single, why = best, "the best single signal"
    for name in order:  # a prior signal within one (paired) SE of the best is as good as the references can tell
        kind = f"signal:{name}"
        if kind == best:
            break
        if kind in singles and cv[best][0] - cv[kind][0] <= paired_se(oof[best], oof[kind], rows.y, rows.w,
                                                                      rows.item, seed):
            single, why = kind, f"the prior signal {name}, within one standard error of the best, {best[7:]} " \
                                f"({_a(cv[best])}),"
            break
    combo = max(combos, key=rank)
    gain = cv[combo][0] - cv[single][0]
    se = paired_se(oof[combo], oof[single], rows.y, rows.w, rows.item, seed)
    if not np.isnan(gain) and gain > se:
        return Selection(combo, f"{combo} (cross-validated AUROC {_a(cv[combo])}) beats the single signal "
                                f"{single[7:]} ({_a(cv[single])}) by {gain:.3f}, more than one standard error of the "
                                f"difference ({se:.3f}) {on}", cv)
    return Selection(single, f"{why} {single[7:]} (cross-validated AUROC {_a(cv[single])}); the "
                             f"best combination {combo} ({_a(cv[combo])}) is not better by more than one standard "
                             f"error of the difference ({se:.3f}) {on}", cv)


# Bootstrap replicates of the paired AUROC difference, drawn in blocks (a block of (25, rows) floats at a time).
N_BOOTSTRAP, BLOCK = 200, 25


def paired_se(a: np.ndarray, b: np.ndarray, y: np.ndarray, w: np.ndarray, item: np.ndarray, seed: int) -> float:
    """Bootstrap standard error of AUROC(a) - AUROC(b), both scores (R,) of the same rows (y (R,) bool, w (R,)
    weights, item (R,): the rows of one item are resampled together). Paired: the two scores are judged on the
    same resamples, so what they share (the same hard items) cancels; an unpaired SE would be several times
    larger for two correlated scores. Poisson(1) weights per item stand in for resampling with replacement."""
    rng = np.random.default_rng(seed)
    distinct, row_item = np.unique(item, return_inverse=True)
    prep = [_sorted_groups(s) for s in (a, b)]
    diffs = []
    for start in range(0, N_BOOTSTRAP, BLOCK):
        k = min(BLOCK, N_BOOTSTRAP - start)
        boot = rng.poisson(1.0, (k, len(distinct))).astype(np.float64)[:, row_item] * w  # (k, R)
        diffs.append(_weighted_auroc(prep[0], y, boot) - _weighted_auroc(prep[1], y, boot))
    d = np.concatenate(diffs)
    d = d[~np.isnan(d)]
    return float(np.std(d, ddof=1)) if len(d) > 1 else float("nan")


def _sorted_groups(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order (R,) sorting the scores, starts (G,) of the runs of equal scores in that order)."""
    order = np.argsort(score, kind="stable")
    ordered = score[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return order, starts


def _weighted_auroc(groups: tuple[np.ndarray, np.ndarray], y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(k,) AUROC of one score under k weightings (k, R) of its rows: P(score of a positive > a negative's),
    ties one half (as roc_auc_score with sample weights), NaN where a class has no weight."""
    order, starts = groups
    pos = np.add.reduceat((weights * y)[:, order], starts, axis=1)  # (k, G)
    neg = np.add.reduceat((weights * ~y)[:, order], starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    total = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (pos * (below + 0.5 * neg)).sum(axis=1) / total, np.nan)


def _a(pair: tuple[float, float]) -> str:
    a, se = pair
    return "n/a" if np.isnan(a) else f"{a:.3f} ± {se:.3f}"


def prior_signal(names: list[str], stats, directions: dict[str, str],
                 order: tuple[str, ...] = PRIOR_ORDER) -> str | None:
    """The first signal of `order` (PRIOR_ORDER or UNTRUSTED_ORDER) that applies to at least half of the decided
    items (winner >= 0), varies there and whose direction (from whatever labels there are) is not "wrong"; None if
    no signal qualifies. `stats`: the whole set's noise_weights.SignalStats (per signal, over the decided items:
    how many it applies to, its lowest and highest severity)."""
    if not stats.decided:
        return None
    for name in order:
        if name not in names or directions.get(name) == "wrong":
            continue
        k = names.index(name)
        if stats.decided_applies[k] / stats.decided >= 0.5 and float(stats.high[k] - stats.low[k]) > 1e-9:
            return name
    return None
