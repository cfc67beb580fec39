"""Agreement among annotators and between people and LLM judges, per project, per annotator and per judge.

Each figure comes with the number of items (or pairs) it rests on and, where it cannot be computed, a reason
instead of an exception (empty project, one annotator, nothing pairable). Pure numpy / scipy; the libraries
are the reference: Cohen's kappa is checked against sklearn, Krippendorff's alpha is the `krippendorff`
package fed a value-count matrix (units x values, the same coincidences as its raters x units reliability
matrix, without a 10,000 x 200,000 array), Kendall tau-b is written out for
2-10 element rankings (scipy's kendalltau costs ~2 ms a call) and tested against scipy's.

Definitions (pairwise classes 0 = A, 1 = B, 2 = tie; counts c_ik = votes of class k on item i, n_i = sum_k c_ik):
  raw agreement      mean over items with n_i >= 2 of sum_k c_ik (c_ik - 1) / (n_i (n_i - 1)): the share of
                     agreeing vote pairs (Fleiss' P_i), so 3 votes A, A, B give 1/3.
  Fleiss' kappa      (P - P_e) / (1 - P_e) on the items rated by the most common number of raters.
  Krippendorff alpha nominal on the class; ordinal on the signed strength (+s for A, -s for B, 0 for tie).
  Cohen's kappa      per annotator pair with >= min_common shared items (their two votes on each).
  human reference    an item's gold class where a reviewer resolved it, else the strict majority of the
                     in-scope votes; items whose majority is a draw are left out and counted.

J. L. Fleiss. Measuring nominal scale agreement among many raters. Psychological Bulletin 76(5), 1971.
K. Krippendorff. Computing Krippendorff's Alpha-Reliability. 2011. J. Cohen, Educ. Psychol. Meas. 20(1), 1960.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any

import krippendorff
import numpy as np

from .aggregation import ranking_tau
from .aggregation._common import gold_mask, loo_majority_agreement, per_annotator_mean, strict_majority, vote_counts
from .votes import CLASSES, NONE, TIE, PairwiseVotes, RankingVotes

__all__ = ["Figure", "KappaPair", "AnnotatorAgreement", "JudgeAgreement", "AgreementReport", "RankingAgreement",
           "agreement_report", "ranking_agreement", "raw_agreement", "fleiss_kappa", "cohen_kappa", "cohen_kappa_pairs",
           "krippendorff_alpha", "judge_agreement", "vote_pairs", "jsonable"]


def jsonable(value: Any) -> Any:
    """Plain JSON types: dataclasses and arrays unpacked, NaN and inf -> None."""
    if is_dataclass(value) and not isinstance(value, type):
        return {k: jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    return value


class _Json:
    def to_dict(self) -> dict[str, Any]:
        return jsonable(self)


@dataclass
class Figure(_Json):
    """A statistic, the number of units it rests on, and why it is NaN when it is."""

    value: float
    n: int
    reason: str | None = None


def _missing(reason: str, n: int = 0) -> Figure:
    return Figure(float("nan"), n, reason)


@dataclass
class KappaPair(_Json):
    a: int  # annotator indices into votes.annotator_ids, a < b
    b: int
    n_common: int
    kappa: float
    agreement: float  # raw share of the common items where both voted the same


@dataclass
class AnnotatorAgreement(_Json):
    """One row of the per-annotator chart. `majority_agreement`: share of the annotator's votes equal to the
    majority of the other in-scope votes (leave-one-out; for an annotator outside the scope, e.g. a judge when
    judges are excluded, the majority of the in-scope votes), gold where resolved, draws left out."""

    index: int
    annotator_id: int
    name: str
    is_judge: bool
    n_votes: int
    raw_agreement: float  # share of agreeing vote pairs this annotator's votes take part in
    majority_agreement: float
    n_majority: int
    mean_kappa: float
    n_kappa_pairs: int


@dataclass
class JudgeAgreement(_Json):
    """A judge against the human reference: counts, accuracy, confusion[human class][judge class], swap rate."""

    index: int
    annotator_id: int
    name: str
    n_votes: int
    n_compared: int
    n_agree: int
    accuracy: float
    n_no_majority: int  # items the judge voted on whose human votes tie for the lead (left out)
    confusion: list[list[int]]
    swap_consistency: float  # share of its swap-checked verdicts that held in both orders
    n_swap_checked: int


@dataclass
class AgreementReport(_Json):
    n_items: int
    n_votes: int
    n_annotators: int
    include_judges: bool
    raw_agreement: Figure
    fleiss_kappa: Figure
    fleiss_raters: int
    krippendorff_nominal: Figure
    krippendorff_ordinal: Figure
    mean_cohen_kappa: Figure
    cohen: list[KappaPair] = field(default_factory=list)
    annotators: list[AnnotatorAgreement] = field(default_factory=list)
    judges: list[JudgeAgreement] = field(default_factory=list)


def raw_agreement(counts: np.ndarray) -> np.ndarray:
    """(I,) share of agreeing vote pairs per item from counts (I, K); NaN where fewer than two votes."""
    counts = np.asarray(counts, dtype=np.float64)
    n = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n >= 2, (counts * (counts - 1)).sum(axis=1) / (n * (n - 1)), np.nan)


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa of counts (I, K), every row summing to the same number of raters n >= 2 (NaN if P_e = 1)."""
    counts = np.asarray(counts, dtype=np.float64)
    n = counts.sum(axis=1)
    if len(counts) == 0 or n[0] < 2 or not np.all(n == n[0]):
        raise ValueError("fleiss_kappa needs at least one item and the same number (>= 2) of raters per item")
    p_bar = raw_agreement(counts).mean()
    p_k = counts.sum(axis=0) / counts.sum()
    p_e = float((p_k ** 2).sum())
    return float("nan") if p_e >= 1.0 else float((p_bar - p_e) / (1.0 - p_e))


def cohen_kappa(table: np.ndarray) -> np.ndarray:
    """Cohen's kappa of contingency tables (..., K, K) [rater a's class, rater b's class]; NaN where P_e = 1."""
    table = np.asarray(table, dtype=np.float64)
    total = table.sum(axis=(-2, -1))
    p_o = np.trace(table, axis1=-2, axis2=-1) / total
    p_e = (table.sum(axis=-1) * table.sum(axis=-2)).sum(axis=-1) / total ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(p_e < 1.0, (p_o - p_e) / (1.0 - p_e), np.nan)


def vote_pairs(items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of votes on the same item: (first (P,), second (P,)) indices into the votes, first < second
    in item order. Loops over the offset within an item (at most the largest vote count), not over items."""
    order = np.argsort(items, kind="stable")
    ordered = np.asarray(items)[order]
    firsts, seconds = [], []
    d = 1
    while d < len(ordered):
        same = ordered[:-d] == ordered[d:]
        if not same.any():
            break
        firsts.append(order[:-d][same])
        seconds.append(order[d:][same])
        d += 1
    if not firsts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(firsts), np.concatenate(seconds)


def cohen_kappa_pairs(votes: PairwiseVotes, *, min_common: int = 10) -> list[KappaPair]:
    """Cohen's kappa of every annotator pair that voted on at least `min_common` of the same items."""
    first, second = vote_pairs(votes.items)
    a, b = votes.annotators[first], votes.annotators[second]
    va, vb = votes.values[first].astype(np.int64), votes.values[second].astype(np.int64)
    swap = a > b
    a, b, va, vb = np.where(swap, b, a), np.where(swap, a, b), np.where(swap, vb, va), np.where(swap, va, vb)
    distinct = a != b  # an annotator who voted twice on an item is not a pair
    a, b, va, vb = a[distinct], b[distinct], va[distinct], vb[distinct]
    keys, pair_index, n_common = np.unique(a * votes.n_annotators + b, return_inverse=True, return_counts=True)
    tables = np.bincount(pair_index * CLASSES * CLASSES + va * CLASSES + vb,
                         minlength=len(keys) * CLASSES * CLASSES).reshape(len(keys), CLASSES, CLASSES)
    keep = np.flatnonzero(n_common >= min_common)
    kappas = cohen_kappa(tables[keep])
    raw = np.trace(tables[keep], axis1=1, axis2=2) / np.maximum(n_common[keep], 1)
    return [KappaPair(a=int(keys[p] // votes.n_annotators), b=int(keys[p] % votes.n_annotators),
                      n_common=int(n_common[p]), kappa=float(k), agreement=float(r))
            for p, k, r in zip(keep, kappas, raw)]


def _signed_strength(votes: PairwiseVotes) -> np.ndarray:
    """(N,) +strength for A, -strength for B, 0 for a tie; NaN where an A/B vote has no strength."""
    sign = np.select([votes.values == 0, votes.values == 1], [1.0, -1.0], 0.0)
    return np.where(votes.values == TIE, 0.0, sign * votes.strength)


def krippendorff_alpha(items: np.ndarray, values: np.ndarray, n_items: int, *, level: str) -> Figure:
    """Krippendorff's alpha of the votes (items (N,), values (N,) float, NaN = missing) at `level`.

    The value-count matrix (units, values) holds what the raters x units reliability matrix would, one entry
    per vote; units with fewer than two values are not pairable and drop out, as in the library.
    """
    ok = ~np.isnan(values)
    items, values = np.asarray(items)[ok], np.asarray(values)[ok]
    domain, code = np.unique(values, return_inverse=True)
    counts = np.bincount(items * len(domain) + code, minlength=n_items * len(domain)).reshape(n_items, len(domain))
    pairable = counts[counts.sum(axis=1) >= 2]
    if len(pairable) == 0:
        return _missing("no item has two votes")
    if len(domain) < 2:
        return _missing("every vote has the same value", len(pairable))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value = krippendorff.alpha(value_counts=pairable, value_domain=domain, level_of_measurement=level)
    return Figure(float(value), len(pairable))


def _reference(votes: PairwiseVotes, scope: np.ndarray) -> np.ndarray:
    """(I,) gold class where resolved, else the strict majority of the votes in `scope` (N,); -1 = none/draw."""
    reference = strict_majority(vote_counts(votes.subset(scope)))
    gold = np.asarray(votes.gold)
    return np.where(gold_mask(votes), gold, reference).astype(np.int64)


def judge_agreement(votes: PairwiseVotes) -> list[JudgeAgreement]:
    """Every judge against the human reference (gold, else the strict human majority), with a 3x3 confusion."""
    is_judge_vote = votes.vote_is_judge
    reference = _reference(votes, ~is_judge_vote)
    has_humans = (np.bincount(votes.items[~is_judge_vote], minlength=votes.n_items) > 0) | gold_mask(votes)
    names = votes.annotator_names
    rows = []
    for j in np.flatnonzero(votes.annotator_is_judge):
        mine = votes.annotators == j
        ref = reference[votes.items[mine]]
        judged = votes.values[mine].astype(np.int64)
        compared = ref != NONE
        confusion = np.bincount(ref[compared] * CLASSES + judged[compared], minlength=CLASSES * CLASSES)
        n_agree = int((ref[compared] == judged[compared]).sum())
        swaps = votes.swap_consistent[mine]
        swaps = swaps[~np.isnan(swaps)]
        rows.append(JudgeAgreement(
            index=int(j), annotator_id=int(votes.annotator_ids[j]), name=names[j] if j < len(names) else "",
            n_votes=int(mine.sum()), n_compared=int(compared.sum()), n_agree=n_agree,
            accuracy=n_agree / compared.sum() if compared.any() else float("nan"),
            n_no_majority=int((~compared & has_humans[votes.items[mine]]).sum()),
            confusion=confusion.reshape(CLASSES, CLASSES).tolist(),
            swap_consistency=float(swaps.mean()) if len(swaps) else float("nan"), n_swap_checked=len(swaps),
        ))
    return rows


def _annotator_rows(votes: PairwiseVotes, scope: np.ndarray, pairs: list[KappaPair]) -> list[AnnotatorAgreement]:
    scoped = votes.subset(scope)
    counts = vote_counts(scoped)
    n = counts.sum(axis=1)[votes.items]
    own = counts[votes.items, votes.values.astype(np.int64)] - scope  # same-class votes besides this one
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = np.where(n - scope >= 1, own / (n - scope), np.nan)  # out-of-scope votes meet all n in-scope ones
    majority = np.full(len(votes.values), np.nan)
    majority[scope] = loo_majority_agreement(scoped)
    reference = _reference(votes, scope)[votes.items[~scope]]
    majority[~scope] = np.where(reference == NONE, np.nan, (votes.values[~scope] == reference).astype(float))
    raw_mean, _ = per_annotator_mean(votes, raw)
    maj_mean, maj_n = per_annotator_mean(votes, majority)
    n_votes = np.bincount(votes.annotators, minlength=votes.n_annotators)
    kappa_sum, kappa_n = np.zeros(votes.n_annotators), np.zeros(votes.n_annotators, dtype=np.int64)
    for p in pairs:
        if not math.isnan(p.kappa):
            for j in (p.a, p.b):
                kappa_sum[j] += p.kappa
                kappa_n[j] += 1
    names = votes.annotator_names
    return [AnnotatorAgreement(
        index=j, annotator_id=int(votes.annotator_ids[j]), name=names[j] if j < len(names) else "",
        is_judge=bool(votes.annotator_is_judge[j]), n_votes=int(n_votes[j]), raw_agreement=float(raw_mean[j]),
        majority_agreement=float(maj_mean[j]), n_majority=int(maj_n[j]),
        mean_kappa=kappa_sum[j] / kappa_n[j] if kappa_n[j] else float("nan"), n_kappa_pairs=int(kappa_n[j]),
    ) for j in range(votes.n_annotators) if n_votes[j]]


def _fleiss(counts: np.ndarray) -> tuple[Figure, int]:
    n = counts.sum(axis=1)
    sizes = np.bincount(n[n >= 2].astype(np.int64))
    if sizes.sum() == 0:
        return _missing("no item has two votes"), 0
    raters = int(sizes.argmax())  # the most common number of raters; ties -> the smaller number
    rows = counts[n == raters]
    value = fleiss_kappa(rows)
    return Figure(value, len(rows), None if not math.isnan(value) else "every vote is the same class"), raters


def agreement_report(votes: PairwiseVotes, *, include_judges: bool = False, min_common: int = 10) -> AgreementReport:
    """All pairwise agreement figures of `votes`. The project figures use the human votes (plus the judges'
    with include_judges); per-annotator rows cover everyone, and every judge is measured against people."""
    scope = np.ones(len(votes.values), dtype=bool) if include_judges else ~votes.vote_is_judge
    scoped = votes.subset(scope)
    counts = vote_counts(scoped)
    per_item = raw_agreement(counts)
    raw = (Figure(float(np.nanmean(per_item)), int((~np.isnan(per_item)).sum()))
           if (~np.isnan(per_item)).any() else _missing("no item has two votes"))
    fleiss, raters = _fleiss(counts)
    pairs = cohen_kappa_pairs(votes, min_common=min_common)  # judge pairs too: the page shows them all
    judge = votes.annotator_is_judge
    scoped_pairs = [p for p in pairs if include_judges or not (judge[p.a] or judge[p.b])]
    kappas = np.array([p.kappa for p in scoped_pairs], dtype=np.float64)
    mean_kappa = (Figure(float(np.nanmean(kappas)), int((~np.isnan(kappas)).sum()))
                  if (~np.isnan(kappas)).any() else _missing(f"no annotator pair shares {min_common} items"))
    signed = _signed_strength(scoped)
    ordinal = (krippendorff_alpha(scoped.items, signed, votes.n_items, level="ordinal")
               if (~np.isnan(signed)).any() else _missing("no vote has a strength"))
    return AgreementReport(
        n_items=votes.n_items, n_votes=len(scoped.values), n_annotators=int(len(np.unique(scoped.annotators))),
        include_judges=include_judges, raw_agreement=raw, fleiss_kappa=fleiss, fleiss_raters=raters,
        krippendorff_nominal=krippendorff_alpha(scoped.items, scoped.values.astype(np.float64), votes.n_items,
                                                level="nominal"),
        krippendorff_ordinal=ordinal, mean_cohen_kappa=mean_kappa, cohen=pairs,
        annotators=_annotator_rows(votes, scope, pairs), judges=judge_agreement(votes),
    )


@dataclass
class RankingAgreement(_Json):
    """Mean Kendall tau-b between the rankings two annotators gave the same item, overall and per annotator
    (annotators: dicts index / annotator_id / name / is_judge / n_pairs / mean_tau)."""

    mean_tau: Figure
    annotators: list[dict[str, Any]] = field(default_factory=list)


def ranking_agreement(votes: RankingVotes) -> RankingAgreement:
    """Kendall tau-b of every pair of votes on the same listwise item (positions both rank)."""
    first, second = vote_pairs(np.asarray(votes.items, dtype=np.int64))
    taus = np.array([ranking_tau(votes.rankings[f], votes.rankings[s]) for f, s in zip(first, second)])
    n_annot = len(votes.annotator_ids)
    total, count = np.zeros(n_annot), np.zeros(n_annot, dtype=np.int64)
    for f, s, tau in zip(first, second, taus):
        if not math.isnan(tau):
            for j in (votes.annotators[f], votes.annotators[s]):
                total[j] += tau
                count[j] += 1
    ok = ~np.isnan(taus)
    mean = Figure(float(taus[ok].mean()), int(ok.sum())) if ok.any() else _missing("no two rankings of one item")
    names = votes.annotator_names
    rows = [{"index": j, "annotator_id": int(votes.annotator_ids[j]), "name": names[j] if j < len(names) else "",
             "is_judge": bool(votes.annotator_is_judge[j]), "n_pairs": int(count[j]),
             "mean_tau": total[j] / count[j] if count[j] else float("nan")}
            for j in np.unique(np.asarray(votes.annotators, dtype=np.int64))]
    return RankingAgreement(mean_tau=mean, annotators=rows)
