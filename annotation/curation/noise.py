"""Noise signals for pairwise items, each with a value, a flag and a reason, and one combined score per item.

Every signal s gives, per item i, a value v_s[i] (its own unit, NaN where it does not apply), a severity
sev_s[i] in [0, 1] (NaN where it does not apply), a flag and, where flagged, a sentence naming the numbers.
The combined score is the weighted mean of the severities over the signals that apply to the item:

    score[i] = Σ_s w_s · sev_s[i] / Σ_s w_s · [sev_s[i] is not NaN]        (0 where no signal applies)

with the weights w_s of NoiseConfig.weights. Items a reviewer resolved (consensus.is_gold) are ground truth:
with `gold_is_clean` their flags are cleared and their score is 0.

Signals (I = items; "winner" = consensus.winner, 0 = A, 1 = B, 2 = tie):
  annotator_disagreement  value = human agreement: share of the item's human votes in the most voted class
                          (needs >= 2 human votes); severity = min(1, 2·(1 − agreement)); flag < agreement_min.
  human_vs_judge          value = 1.0 if the humans' majority class differs from the judges' majority class,
                          0.0 if equal (needs a strict majority on both sides); severity = value.
  judge_swap_inconsistent value = share of judge verdicts with swap_consistent == 0 among those that checked
                          both orders; severity = value; flag when any verdict changed.
  low_competence          value = share of the winner's votes cast by annotators with competence <
                          competence_min; severity = value; flag when there are such votes and, without them,
                          the winner is no longer the strict majority ("the winner is carried by low-competence votes").
  weak_strength           value = mean normalised strength (0, 1] of the votes for the winner; severity =
                          1 − value; flag < strength_min.
  small_margin            value = min(consensus.probability − 0.5 (floored at 0), |mean judge P(A) − 0.5|) over
                          those available, in [0, 0.5]; severity = 1 − 2·value; flag < margin_min.
  rm_ensemble             value = mean reward margin winner − loser (logits) of the ensemble (rm_ensemble.py);
                          severity = σ(−mean), the ensemble's probability that the label is flipped; flag when
                          mean < 0 or the spread (std over models) >= rm_std_max.
  near_duplicate          value = similarity of A and B (1.0 if identical ignoring case/space/punctuation,
                          else embedding cosine); severity ramps linearly from 0 at duplicate_floor to 1 at
                          duplicate_cosine; flag >= duplicate_cosine.
  length_only             value = token length of the winner / the loser; with sim = max(token containment
                          of the shorter in the longer, embedding cosine), severity = L · S where
                          L = clip((ratio − 1) / length_excess, 0, 1) and S = clip((sim − 0.5) /
                          (length_similarity − 0.5), 0, 1); flag when L = S = 1, i.e. the winner is longer by
                          >= length_excess and otherwise similar — nothing but length separates them. Where
                          the RM ensemble backs the winner by >= length_rm_weak logits, the preference has
                          more than length behind it: severity 0, no flag.
Listwise (ranking) items have their own signals in noise_rankings.py, scored by the same `combine_signals`.
No Django.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .aggregation._common import strict_majority
from .identities import annotator_token
from .rm_ensemble import EnsembleMargins
from .text import ItemTexts, TextFeatures, rowwise_cosine
from .votes import CLASS_TO_WINNER, CLASSES, NONE, PairwiseVotes

__all__ = ["NoiseConfig", "Signal", "NoiseReport", "noise_report", "SIGNALS", "PAIRWISE_SIGNALS", "LISTWISE_SIGNALS",
           "DEFAULT_WEIGHTS", "build_signal", "combine_signals", "ChunkedNoise"]

PAIRWISE_SIGNALS = ("annotator_disagreement", "human_vs_judge", "judge_swap_inconsistent", "low_competence",
                    "weak_strength", "small_margin", "rm_ensemble", "near_duplicate", "length_only")
LISTWISE_SIGNALS = ("annotator_disagreement", "human_vs_judge", "top_disagreement")  # see noise_rankings.py
# Every signal name an item can carry (drop rules and weights name these).
SIGNALS = PAIRWISE_SIGNALS + tuple(s for s in LISTWISE_SIGNALS if s not in PAIRWISE_SIGNALS)

# Signals that say the label itself is likely wrong weigh 1; those that only say it is uncertain or
# uninformative weigh 0.5.
DEFAULT_WEIGHTS = {
    "annotator_disagreement": 1.0, "human_vs_judge": 1.0, "judge_swap_inconsistent": 0.5, "low_competence": 0.5,
    "weak_strength": 0.5, "small_margin": 0.5, "rm_ensemble": 1.0, "near_duplicate": 1.0, "length_only": 0.5,
    "top_disagreement": 0.5,
}


@dataclass(frozen=True)
class NoiseConfig:
    """Thresholds (which value raises a flag) and weights (share in the combined score) of the signals."""

    agreement_min: float = 0.75  # annotator_disagreement: a 2–1 split (0.67) is flagged, 3–1 (0.75) is not
    competence_min: float = 0.6  # low_competence: annotators right less often than this are "low"
    strength_min: float = 0.4  # weak_strength: below "clearly better" on a 3-level scale (1/3, 2/3, 1)
    margin_min: float = 0.1  # small_margin: probability within 0.4–0.6
    rm_std_max: float = 1.0  # rm_ensemble: spread in logits (1 logit ≈ 0.5 → 0.73 in BT probability)
    duplicate_cosine: float = 0.95  # near_duplicate: see text.NEAR_DUPLICATE_COSINE for the evidence
    duplicate_floor: float = 0.85  # near_duplicate severity is 0 below this cosine
    length_excess: float = 0.5  # length_only: the winner is >= 50% longer (tokens)
    length_similarity: float = 0.8  # length_only: and at least this similar
    length_rm_weak: float = 1.0  # length_only: unless the RM ensemble backs the winner by this many logits
    ranking_tau_min: float = 0.5  # listwise annotator_disagreement: two votes one adjacent swap apart of 3 (tau 1/3)
    # are flagged; three votes, one of them a swap away (mean tau 5/9), are not
    gold_is_clean: bool = True  # reviewer-resolved items get score 0 and no flags
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(SIGNALS)
        if unknown:
            raise ValueError(f"unknown noise signal(s) in weights: {', '.join(sorted(unknown))}")
        if any(w < 0 for w in self.weights.values()):
            raise ValueError("noise signal weights must be >= 0")
        if not 0 < self.agreement_min <= 1 or not 0 <= self.margin_min <= 0.5:
            raise ValueError("agreement_min must be in (0, 1] and margin_min in [0, 0.5]")
        if self.duplicate_floor >= self.duplicate_cosine or self.length_excess <= 0:
            raise ValueError("duplicate_floor must be < duplicate_cosine and length_excess > 0")
        if not 0.5 < self.length_similarity <= 1:
            raise ValueError("length_similarity must be in (0.5, 1]")
        if not -1 < self.ranking_tau_min <= 1:
            raise ValueError("ranking_tau_min must be in (-1, 1]")


class Reasons(Sequence):
    """The reasons of a signal's I items, written when read: `reasons[i]` is `reason(i)` where `flagged[i]`, else
    None. A million items with half of them flagged would otherwise hold half a million sentences (and a list of
    a million pointers) for the whole refresh; this holds the function and the signal's own flag array, so an
    item's flag cleared later (a gold item) has no reason either."""

    def __init__(self, flagged: np.ndarray, reason: Callable[[int], str]) -> None:
        self._flagged, self._reason = flagged, reason

    def __len__(self) -> int:
        return len(self._flagged)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        return self._reason(int(i)) if self._flagged[i] else None


@dataclass
class Signal:
    """One noise signal over I items: values (I,) (NaN = not applicable), flagged (I,) bool, reasons (I,)
    (a sentence where flagged, else None: a `Reasons` or a list), weight in the combined score, severity (I,)
    in [0, 1] or NaN. A signal that applies to no item holds read-only all-NaN views (no memory) as values
    and severity."""

    name: str
    values: np.ndarray
    flagged: np.ndarray
    reasons: Sequence[str | None]
    weight: float
    severity: np.ndarray


@dataclass
class NoiseReport:
    signals: dict[str, Signal]
    score: np.ndarray  # (I,) in [0, 1]

    def reasons(self, i: int) -> list[str]:
        """The reasons of every flagged signal of item i, in SIGNALS order."""
        return [s.reasons[i] for s in self.signals.values() if s.flagged[i] and s.reasons[i]]


def _f(x: float) -> str:
    """A figure in a reason: two decimals and a true minus sign (noise_rankings words its reasons alike)."""
    return f"{float(x):.2f}".replace("-", "−")


class _Votes:
    """Per-item vote counts split by humans and judges (I, 3)."""

    def __init__(self, votes: PairwiseVotes) -> None:
        self.votes = votes
        judge = votes.vote_is_judge
        self.human = self.counts(~judge)
        self.judge = self.counts(judge)
        # vote indices grouped by item, so a reason looks up its item's votes without scanning all N (int32
        # while N fits: reasons are written when read, so these live as long as the report)
        small = np.int32 if len(votes.items) < 2**31 - 1 else np.int64
        self._order = np.argsort(votes.items, kind="stable").astype(small)
        self._starts = np.searchsorted(votes.items, np.arange(votes.n_items + 1), sorter=self._order).astype(small)

    def of(self, i: int) -> np.ndarray:
        """Indices of item i's votes."""
        return self._order[self._starts[i]:self._starts[i + 1]]

    def counts(self, mask: np.ndarray) -> np.ndarray:
        v = self.votes
        flat = v.items[mask] * CLASSES + v.values[mask].astype(np.int64)
        counts = np.bincount(flat, minlength=v.n_items * CLASSES).reshape(v.n_items, CLASSES)
        return counts.astype(np.int32) if len(v.items) < 2**31 - 1 else counts  # kept with the report

    def per_item_mean(self, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """(I,) mean of `values` (N,) over each item's votes where mask and not NaN (NaN where none)."""
        ok = mask & ~np.isnan(values)
        n = np.bincount(self.votes.items[ok], minlength=self.votes.n_items)
        total = np.bincount(self.votes.items[ok], weights=values[ok], minlength=self.votes.n_items)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, total / np.maximum(n, 1), np.nan)

    def name(self, j: int) -> str:
        """A token for annotator j, never its name: reasons are stored and rendered per viewer (identities.py)."""
        return annotator_token(int(self.votes.annotator_ids[j]))


def build_signal(name: str, values, severity, flagged, reason, config: NoiseConfig) -> Signal:
    """Assemble a Signal; `reason(i)` is called only for flagged items."""
    severity = np.clip(np.asarray(severity, dtype=float), 0.0, 1.0)
    flagged = np.asarray(flagged, dtype=bool) & ~np.isnan(severity)
    values = np.asarray(values, dtype=float)
    if np.isnan(severity).all() and np.isnan(values).all():  # applies nowhere: no per-item memory
        values = severity = _nan(len(values))
    return Signal(name, values, flagged, Reasons(flagged, reason), config.weights.get(name, 0.0), severity)


def _nan(n: int) -> np.ndarray:
    """(n,) NaN as a read-only view of one float: a signal that does not apply costs no memory per item."""
    return np.broadcast_to(np.float64(np.nan), (n,))


def _vote_signals(v: _Votes, consensus: Any, config: NoiseConfig) -> list[Signal]:
    votes, n = v.votes, v.votes.n_items
    winner = np.asarray(consensus.winner, dtype=np.int64)
    out = []

    n_h = v.human.sum(axis=1)
    agreement = np.where(n_h >= 2, v.human.max(axis=1) / np.maximum(n_h, 1), np.nan)
    split = lambda i: "–".join(map(str, sorted((c for c in v.human[i].tolist() if c), reverse=True)))  # noqa: E731
    out.append(build_signal(
        "annotator_disagreement", agreement, 2 * (1 - agreement), agreement < config.agreement_min,
        lambda i: f"annotators split {split(i)} (agreement {_f(agreement[i])} < {_f(config.agreement_min)})", config))

    human_major, judge_major = strict_majority(v.human), strict_majority(v.judge)
    both = (human_major != NONE) & (judge_major != NONE)
    differ = np.where(both, (human_major != judge_major).astype(float), np.nan)
    out.append(build_signal(
        "human_vs_judge", differ, differ, differ == 1,
        lambda i: (f"humans chose {CLASS_TO_WINNER[human_major[i]]} ({v.human[i].max()} of {v.human[i].sum()} votes) "
                   f"but judges chose {CLASS_TO_WINNER[judge_major[i]]} ({v.judge[i].max()} of {v.judge[i].sum()})"),
        config))

    checked = votes.vote_is_judge & ~np.isnan(votes.swap_consistent)
    share = v.per_item_mean(1.0 - votes.swap_consistent, checked)
    changed = checked & (votes.swap_consistent == 0)

    def swap_reason(i: int) -> str:
        mine = v.of(i)
        who = sorted({v.name(j) for j in votes.annotators[mine[changed[mine]]]})
        total, k = int(checked[mine].sum()), int(changed[mine].sum())
        return f"{k} of {total} judge verdicts changed when the responses were swapped ({', '.join(who)})"
    out.append(build_signal("judge_swap_inconsistent", share, share, share > 0, swap_reason, config))

    competence = np.asarray(getattr(consensus, "competence", None) if consensus is not None else None, dtype=float)
    if competence.ndim == 1 and len(competence) == votes.n_annotators:
        low_vote = np.nan_to_num(competence, nan=1.0)[votes.annotators] < config.competence_min
        for_winner = votes.values.astype(np.int64) == winner[votes.items]
        share_low = v.per_item_mean(low_vote.astype(float), for_winner)
        remaining = v.counts(~low_vote)
        has_winner = winner >= 0
        carried = has_winner & (share_low > 0) & (strict_majority(remaining) != winner)
        share_low = np.where(has_winner, share_low, np.nan)

        def low_reason(i: int) -> str:
            mine = v.of(i)
            who = sorted({f"{v.name(j)} {_f(competence[j])}" for j in votes.annotators[
                mine[low_vote[mine] & for_winner[mine]]]})
            return (f"the winner {CLASS_TO_WINNER[winner[i]]} rests on low-competence votes ({', '.join(who)}; "
                    f"< {_f(config.competence_min)}): without them it is not the majority")
        out.append(build_signal("low_competence", share_low, share_low, carried, low_reason, config))
    else:
        out.append(build_signal("low_competence", _nan(n), _nan(n), np.zeros(n, bool), str, config))

    for_winner = votes.values.astype(np.int64) == winner[votes.items]
    strength = v.per_item_mean(votes.strength, for_winner)
    out.append(build_signal(
        "weak_strength", strength, 1 - strength, strength < config.strength_min,
        lambda i: f"mean preference strength {_f(strength[i])} < {_f(config.strength_min)}", config))

    prob = np.asarray(consensus.probability, dtype=float)
    consensus_margin = np.where(winner >= 0, np.maximum(prob - 0.5, 0.0), np.nan)
    judge_p = v.per_item_mean(votes.probability, votes.vote_is_judge)
    judge_margin = np.abs(judge_p - 0.5)
    margin = np.fmin(consensus_margin, judge_margin)

    def margin_reason(i: int) -> str:
        parts = []
        if consensus_margin[i] < config.margin_min:
            parts.append(f"consensus probability {_f(prob[i])}")
        if judge_margin[i] < config.margin_min:
            parts.append(f"judge P(A) {_f(judge_p[i])}")
        return f"{' and '.join(parts)} within {_f(config.margin_min)} of 0.5"
    out.append(build_signal("small_margin", margin, 1 - 2 * margin, margin < config.margin_min, margin_reason, config))
    return out


def _rm_signal(rm: EnsembleMargins | np.ndarray | None, n: int, config: NoiseConfig) -> Signal:
    if rm is None:
        return build_signal("rm_ensemble", _nan(n), _nan(n), np.zeros(n, bool), str, config)
    margins = rm.margins if isinstance(rm, EnsembleMargins) else np.atleast_2d(np.asarray(rm, dtype=float))
    if margins.shape[1] != n:
        raise ValueError(f"rm_margins covers {margins.shape[1]} items, the report has {n}")
    with np.errstate(invalid="ignore"):
        mean, std = margins.mean(axis=0), margins.std(axis=0)
    severity = 1.0 / (1.0 + np.exp(mean))  # σ(−mean)

    def reason(i: int) -> str:
        head = (f"the reward-model ensemble prefers the other response (mean margin {_f(mean[i])} over "
                f"{len(margins)} models)" if mean[i] < 0 else f"reward models disagree (mean margin {_f(mean[i])})")
        tail = f"; spread {_f(std[i])} >= {_f(config.rm_std_max)}" if std[i] >= config.rm_std_max else ""
        return head + tail
    return build_signal("rm_ensemble", mean, severity, (mean < 0) | (std >= config.rm_std_max), reason, config)


def _text_signals(texts: ItemTexts | TextFeatures | None, embeddings: np.ndarray | None, winner: np.ndarray,
                  rm: EnsembleMargins | np.ndarray | None, n: int, config: NoiseConfig) -> list[Signal]:
    off = np.zeros(n, bool)
    if texts is None and embeddings is None:
        return [build_signal(name, _nan(n), _nan(n), off, str, config) for name in ("near_duplicate", "length_only")]
    cosine = _nan(n)
    if embeddings is not None:
        if embeddings.ndim != 3 or embeddings.shape[:2] != (n, 2):
            raise ValueError(f"embeddings must be (I={n}, 2, d), got {embeddings.shape}")
        cosine = rowwise_cosine(embeddings[:, 0], embeddings[:, 1])
    similarity = cosine.copy()
    identical = np.zeros(n, bool)
    if texts is not None:
        if len(texts) != n:
            raise ValueError(f"texts has {len(texts)} items, the report has {n}")
        features = texts if isinstance(texts, TextFeatures) else TextFeatures.of(texts)
        identical = features.identical
        similarity[identical] = 1.0
    dup_sev = (similarity - config.duplicate_floor) / (config.duplicate_cosine - config.duplicate_floor)
    dup = build_signal(
        "near_duplicate", similarity, dup_sev, similarity >= config.duplicate_cosine,
        lambda i: ("the responses are identical once case, spacing and punctuation are ignored" if identical[i]
                   else f"the responses are near-duplicates (cosine {_f(similarity[i])} >= "
                        f"{_f(config.duplicate_cosine)})"), config)
    if texts is None:
        return [dup, build_signal("length_only", _nan(n), _nan(n), off, str, config)]

    toks = np.asarray(features.tokens, dtype=np.float64)  # held as float32 (exact counts); ratios in float64
    pairwise = np.isin(winner, (0, 1)) & features.has_pair
    w = np.where(pairwise, winner, 0).astype(int)
    win_len, lose_len = toks[np.arange(n), w], toks[np.arange(n), 1 - w]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(pairwise, win_len / np.maximum(lose_len, 1.0), np.nan)
    content = np.fmax(features.containment, cosine)
    long_enough = np.clip((ratio - 1) / config.length_excess, 0, 1)
    alike = np.clip((content - 0.5) / (config.length_similarity - 0.5), 0, 1)
    severity = long_enough * alike
    if rm is not None:
        margins = rm.margins if isinstance(rm, EnsembleMargins) else np.atleast_2d(np.asarray(rm, dtype=float))
        with np.errstate(invalid="ignore"):
            backed = margins.mean(axis=0) >= config.length_rm_weak
        severity = np.where(backed & pairwise, 0.0, severity)
    length = build_signal(
        "length_only", ratio, severity, severity >= 1.0,
        lambda i: (f"the chosen response is {ratio[i]:.1f}× as long as the other (>= {1 + config.length_excess:.1f}×) "
                   f"and otherwise similar (similarity {_f(content[i])} >= {_f(config.length_similarity)})"), config)
    return [dup, length]


def noise_report(
    votes: PairwiseVotes | None,
    consensus: Any,
    *,
    texts: ItemTexts | TextFeatures | None = None,
    embeddings: np.ndarray | None = None,
    rm_margins: EnsembleMargins | np.ndarray | None = None,
    config: NoiseConfig | None = None,
) -> NoiseReport:
    """Every signal of SIGNALS for the I items of `consensus` (a PairwiseConsensus of `votes`).

    consensus: uses winner (I,), probability (I,), is_gold (I,) and competence (J,) only.
    texts: ItemTexts (I items, responses A and B), or their TextFeatures (the same signals from compact
    arrays, for projects too large to hold every text); embeddings: (I, 2, d) normalised response embeddings;
    rm_margins: EnsembleMargins or (K, I) margins winner − loser in logits (NaN where no winner).
    votes may be None (e.g. imported pairs without per-annotator votes): vote signals then do not apply.
    """
    config = config or NoiseConfig()
    n = len(consensus.winner)
    if votes is not None and votes.n_items != n:
        raise ValueError(f"votes cover {votes.n_items} items, consensus {n}")
    winner = np.asarray(consensus.winner, dtype=np.int64)
    if votes is not None:
        signals = _vote_signals(_Votes(votes), consensus, config)
    else:
        signals = [build_signal(s, _nan(n), _nan(n), np.zeros(n, bool), str, config) for s in PAIRWISE_SIGNALS[:6]]
    signals.append(_rm_signal(rm_margins, n, config))
    signals += _text_signals(texts, embeddings, winner, rm_margins, n, config)

    return combine_signals(signals, getattr(consensus, "is_gold", np.zeros(n, bool)), config)


def combine_signals(signals: list[Signal], is_gold: np.ndarray, config: NoiseConfig) -> NoiseReport:
    """The NoiseReport of `signals` (each over the same I items): the weighted mean of the applicable severities
    (module docstring), 0 where none applies; with config.gold_is_clean, items where `is_gold` (I,) bool get
    score 0 and no flags or reasons."""
    n = len(is_gold)
    total, mass = np.zeros(n), np.zeros(n)  # summed a signal at a time: no (S, I) temporaries
    for s in signals:
        if s.weight <= 0:
            continue
        applies = ~np.isnan(s.severity)
        total += np.where(applies, s.severity, 0.0) * s.weight
        mass += applies * s.weight
    score = np.where(mass > 0, total / np.where(mass > 0, mass, 1.0), 0.0)
    if config.gold_is_clean:
        gold = np.asarray(is_gold, dtype=bool)
        score[gold] = 0.0
        for s in signals:
            s.flagged[gold] = False  # a Reasons reads the flags: no reason where no flag
            if isinstance(s.reasons, list):
                for i in np.flatnonzero(gold):
                    s.reasons[i] = None
    return NoiseReport(signals={s.name: s for s in signals}, score=np.clip(score, 0.0, 1.0))


@dataclass(frozen=True)
class _ConsensusSlice:
    """What noise_report reads of a consensus, for a range of its items (competence is per annotator)."""

    winner: np.ndarray
    probability: np.ndarray
    is_gold: np.ndarray
    competence: Any


class ChunkedNoise:
    """`noise_report` of any range of items [start, stop) of the whole set, equal (bit for bit) to that range of
    the whole set's report: every signal is computed per item, from the item's own votes, texts and margins and
    the per-annotator competence. So a report of a million items never has to exist at once: a refresh computes
    it a chunk at a time (annotation/services/curation.py), holding a chunk's report instead of ~200 bytes an item.
    Arguments as noise_report's, for the whole set."""

    def __init__(self, votes: PairwiseVotes | None, consensus: Any, *, texts: ItemTexts | TextFeatures | None = None,
                 embeddings: np.ndarray | None = None, rm_margins: EnsembleMargins | np.ndarray | None = None,
                 config: NoiseConfig | None = None) -> None:
        self.votes, self.consensus = votes, consensus
        if isinstance(texts, ItemTexts):  # what noise_report computes of them, once
            texts = TextFeatures.of(texts)
        self.texts, self.embeddings, self.config = texts, embeddings, config or NoiseConfig()
        self.n = len(consensus.winner)
        if votes is not None and votes.n_items != self.n:
            raise ValueError(f"votes cover {votes.n_items} items, consensus {self.n}")
        if texts is not None and len(texts) != self.n:
            raise ValueError(f"texts has {len(texts)} items, the report has {self.n}")
        self.rm = None if rm_margins is None else (
            rm_margins.margins if isinstance(rm_margins, EnsembleMargins) else
            np.atleast_2d(np.asarray(rm_margins, dtype=float)))

    def report(self, start: int, stop: int) -> NoiseReport:
        """The NoiseReport of items [start, stop) (their indices in it start at 0)."""
        c = self.consensus
        part = _ConsensusSlice(np.asarray(c.winner)[start:stop], np.asarray(c.probability)[start:stop],
                               np.asarray(getattr(c, "is_gold", np.zeros(self.n, bool)))[start:stop],
                               getattr(c, "competence", None))
        return noise_report(
            None if self.votes is None else self.votes.item_range(start, stop), part,
            texts=None if self.texts is None else self.texts.slice(start, stop),
            embeddings=None if self.embeddings is None else self.embeddings[start:stop],
            rm_margins=None if self.rm is None else self.rm[:, start:stop], config=self.config)
