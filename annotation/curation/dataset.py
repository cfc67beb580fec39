"""Curated dataset rows from per-item consensus: filter, weight, expand, split. No Django.

`build_rows(items, config)` turns plain `CurationItem`s (what the service read from the database) into the rows
of a DatasetVersion and the statistics of how they were made. The row shapes are the ones training reads:

    pairwise  {"prompt": [messages], "chosen": str, "rejected": str, "margin": float | None}
    listwise  {"prompt": [messages], "responses": [str, ...], "ranking": [[pos, ...], ...]}   (best first)
    unpaired  {"prompt": [messages], "completion": str, "label": bool}                        (thumbs)
    tie       {"prompt": [messages], "responses": [a, b]}     (only with ties="keep_as_tie_rows"; no preference)

Deterministic: items are processed in order of external id and the split depends only on (seed, external id),
so the same config on the same items gives the same rows in the same order, whatever order the items came in,
and adding items later never moves an old item to the other split.
"""
from __future__ import annotations

import hashlib
import math
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from .shapes import row_plain
from .noise import SIGNALS

__all__ = ["SOURCES", "CurationConfig", "CurationItem", "Row", "RowBuilder", "build_rows", "expand_ranking",
           "item_split", "row_weight"]

SOURCES = ("human", "ai", "hybrid", "gold")
METHODS = ("majority", "dawid_skene", "mace", "weighted", "supervised", "auto")
ORDERS = ("one", "two")
TIE_POLICIES = ("drop", "keep_as_tie_rows", "review")
TOP_SHARE = "top_share"  # the noise flag of the items in the run's flag_share (services.curation writes it)
EXPANSIONS = ("all_pairs", "adjacent", "best_vs_rest", "none")
SCORE_RULE = "noise_score"  # the drop rule on the combined score; every other rule names a signal


@dataclass
class CurationConfig:
    """How a curation run turns consensus into rows. `asdict()` of it is the DatasetVersion's filter config."""

    method: Literal["majority", "dawid_skene", "mace", "weighted", "supervised", "auto"] = "dawid_skene"
    """Pairwise aggregation: "majority", "dawid_skene", "mace" (competence-weighted, humans and judges alike),
    "weighted" (log-odds of each annotator's accuracy), "supervised" (learned from calibration references) or
    "auto": the most accurate of them in cross-validation on calibration references, or the best single annotator
    when none beats it (the choice and every method's accuracy are reported)."""
    priors: dict[str, float] = field(default_factory=dict)
    """Prior accuracy (0..1, exclusive) per annotator kind or name, e.g. {"human": 0.8, "judge": 0.6,
    "gpt-4o": 0.75}: Dawid-Skene and the weighted vote start from it (ten pseudo-votes)."""
    include_annotators: list[str] = field(default_factory=list)
    """Only these annotators' votes count (names); empty = everyone."""
    exclude_annotators: list[str] = field(default_factory=list)
    """These annotators' votes are left out (names), e.g. a judge near chance."""
    judge_orders: Literal["one", "two"] | None = None
    """A swap-checked judge verdict as one vote ("one", also when empty) or as two, one per presentation order
    ("two": two agreeing orders weigh twice, a position-biased contradiction cancels out)."""
    noise_weights: dict[str, float] = field(default_factory=dict)
    """Weights of the noise signals in the combined score (missing ones keep their defaults), e.g.
    {"rm_ensemble": 0, "small_margin": 2}."""
    learn_noise: bool = True
    """With calibration references: learn the combined noise score from them (each signal's AUROC and direction
    checked; wrong-way signals dropped). Without them, or off, the weights above are used as they are."""
    flag_share: float | None = None
    """Drop the noisiest share of the non-gold items by the checked noise score, e.g. 0.1 = the top 10 %
    (a share, not a threshold). Empty or 0 = none."""
    include_judges: bool = True
    """Count LLM judges' verdicts as votes. False: people only (items only judges labeled then have no consensus)."""
    embeddings: bool = True
    """Compute the embedding-based noise signals (near-duplicates, reward-model ensemble) with all-MiniLM
    where the ML stack is installed. False: text signals only (faster; the score then lacks those signals)."""
    reward_models: list[int] = field(default_factory=list, metadata={"options_from": "reward_models"})
    """Ids of trained reward models (ModelArtifacts of kind "reward") that join the reward-model ensemble of the
    noise signals: each scores every decided pair (winner minus loser) and counts as one more member. Each
    member's margins are rescaled to the in-house heads' spread first (their scales differ). Empty: in-house
    heads only."""
    sources: list[str] = field(default_factory=lambda: list(SOURCES))
    """Keep items whose consensus came from these sources: "human", "ai", "hybrid", "gold" (a reviewer's)."""
    drop: dict[str, Any] = field(default_factory=dict)
    """Rules that drop an item. {"noise_score": 0.7} drops items whose combined noise score is >= 0.7;
    {"<signal>": true} drops items that signal flagged; {"<signal>": 0.4} drops items whose signal severity
    is >= 0.4 -- severity is each signal's own 0..1 scale, 0 = clean, 1 = as noisy as it says (e.g.
    "annotator_disagreement": 2 people against 1 is 0.67); false or null turns a rule off. Gold items are never dropped by noise."""
    downweight: float = 0.0
    """Down-weighting strength a in [0, 1]: weight = max(min_weight, 1 - a * noise_score) (noise score 0 when
    unknown; gold items keep weight 1). 0 turns it off, 1 gives weight 1 - score."""
    min_weight: float = 0.1
    """Floor of the weight in [0, 1], so a kept row never vanishes from the loss."""
    min_agreement: float | None = None
    """Drop items whose agreement is below this (pairwise: share of votes equal to the winner, 0..1; listwise:
    mean Kendall tau-b, -1..1). Items with one vote have agreement 1. None: no rule."""
    min_probability: float | None = None
    """Drop pairwise items whose consensus probability is below this (0..1). None: no rule."""
    ties: Literal["drop", "keep_as_tie_rows", "review"] = "drop"
    """A tie cannot be a chosen/rejected pair: "drop" it (counted as dropped "tie"), keep it as a row of
    kind "tie" (exports and trainers that want only preferences skip that kind), or "review": leave it out of
    the version (counted as dropped "tie_review") and flag it for a reviewer's verdict. The counts are in the
    version's statistics under "ties"."""
    listwise_pairs: Literal["all_pairs", "adjacent", "best_vs_rest", "none"] = "all_pairs"
    """Expand a consensus ranking into pairwise rows: every implied pair, adjacent tie groups only, the best
    group against every other, or none."""
    listwise_rows: bool = False
    """Also keep each listwise item as one row of kind "listwise" (for listwise losses)."""
    edit_pairs: bool = True
    """For edit items: one pairwise row per edit, edited text chosen over the original."""
    thumbs: bool = True
    """For thumbs items: one unpaired row (KTO) with the majority verdict (a gold verdict wins; a tie drops it)."""
    test_fraction: float = 0.1
    """Share of items (not rows) put in the test split, in [0, 1). All rows of an item share its split."""
    seed: int = 0
    """Seed of the split: an item is in test when hash(seed, external id) < test_fraction."""

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if not isinstance(self.reward_models, list) or any(
                isinstance(m, bool) or not isinstance(m, int) or m <= 0 for m in self.reward_models):
            raise ValueError(f"reward_models must be a list of model ids, got {self.reward_models!r}")
        unknown = sorted(set(self.sources) - set(SOURCES))
        if unknown or not self.sources:
            raise ValueError(f"sources must name some of {', '.join(SOURCES)}, got {self.sources!r}")
        for name, rule in self.drop.items():
            if name != SCORE_RULE and name not in SIGNALS:  # a typo would silently drop nothing
                raise ValueError(f"drop rule {name!r} names no signal; the rules are {SCORE_RULE}, {', '.join(SIGNALS)}")
            if rule is None or isinstance(rule, bool):
                continue
            if not isinstance(rule, (int, float)) or math.isnan(rule):
                raise ValueError(f"drop rule {name!r} must be a threshold number, true or false, got {rule!r}")
            if not 0 <= rule <= 1:  # the combined score and every severity are in [0, 1]
                raise ValueError(f"drop threshold on {name} must be in [0, 1], got {rule}")
        if not 0 <= self.downweight <= 1:
            raise ValueError(f"downweight must be in [0, 1], got {self.downweight}")
        if not 0 <= self.min_weight <= 1:
            raise ValueError(f"min_weight must be in [0, 1], got {self.min_weight}")
        if self.min_agreement is not None and not -1 <= self.min_agreement <= 1:
            raise ValueError(f"min_agreement must be in [-1, 1], got {self.min_agreement}")
        if self.min_probability is not None and not 0 <= self.min_probability <= 1:
            raise ValueError(f"min_probability must be in [0, 1], got {self.min_probability}")
        if self.ties not in TIE_POLICIES:
            raise ValueError(f"ties must be one of {', '.join(TIE_POLICIES)}, got {self.ties!r}")
        if self.judge_orders is not None and self.judge_orders not in ORDERS:
            raise ValueError(f"judge_orders must be 'one' or 'two', got {self.judge_orders!r}")
        for name, value in self.priors.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
                raise ValueError(f"priors: the prior accuracy of {name!r} must be a number between 0 and 1 "
                                 f"(exclusive), got {value!r}")
        for name, value in self.noise_weights.items():
            if name not in SIGNALS:
                raise ValueError(f"noise_weights names no signal: {name!r}; the signals are {', '.join(SIGNALS)}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
                raise ValueError(f"noise_weights: the weight of {name} must be a number from 0 to 100, got {value!r}")
        names = [*self.include_annotators, *self.exclude_annotators]
        if any(not isinstance(n, str) or not n.strip() for n in names):
            raise ValueError("include_annotators and exclude_annotators must be lists of annotator names")
        if self.flag_share is not None and (isinstance(self.flag_share, bool) or not isinstance(
                self.flag_share, (int, float)) or not 0 <= self.flag_share <= 0.9):
            raise ValueError(f"flag_share must be a share from 0 to 0.9, got {self.flag_share!r}")
        if self.listwise_pairs not in EXPANSIONS:
            raise ValueError(f"listwise_pairs must be one of {', '.join(EXPANSIONS)}, got {self.listwise_pairs!r}")
        if not 0 <= self.test_fraction < 1:
            raise ValueError(f"test_fraction must be in [0, 1), got {self.test_fraction}")


@dataclass
class CurationItem:
    """One item as curation needs it. Pairwise items have `winner`; listwise ones `ranking`; edit items
    `edits`; thumbs items `thumbs`. Every verdict names response positions (0 = "A")."""

    external_id: str
    kind: str  # "pairwise" | "listwise" | "edit" | "thumbs"
    prompt: list[dict[str, str]]  # chat messages
    responses: list[str]  # texts by position
    winner: str | None = None  # pairwise consensus: "A" | "B" | "tie"; None = no consensus (no votes)
    ranking: list[list[int]] | None = None  # listwise consensus: tie groups of positions, best first
    probability: float | None = None
    agreement: float | None = None
    margin: float | None = None  # pairwise: mean normalised strength (0, 1] of the votes for the winner
    source: str = ""  # "human" | "ai" | "hybrid" | "gold" | "" (no votes)
    votes: dict[str, int] = field(default_factory=dict)  # {"A": n, "B": n, "tie": n}; listwise {"n": n}
    noise_score: float | None = None  # combined score in [0, 1]; None where not computed
    signals: dict[str, float] = field(default_factory=dict)  # every signal's value (NaN left out)
    severities: dict[str, float] = field(default_factory=dict)  # every signal's severity in [0, 1] (NaN left out)
    flagged: list[str] = field(default_factory=list)  # names of the signals that flagged the item
    reasons: list[str] = field(default_factory=list)  # the flagged signals' reasons, in words
    edits: list[str] = field(default_factory=list)  # edit items: edited texts of responses[0]
    thumbs: dict[str, int] = field(default_factory=dict)  # thumbs items: {"up": n, "down": n}
    gold_thumbs: bool | None = None  # thumbs items: a reviewer's verdict


@dataclass
class Row:
    """One dataset row; `item` is the external id it came from (the service maps it to the Item)."""

    kind: str
    data: dict[str, Any]
    weight: float
    split: str
    item: str
    provenance: dict[str, Any]


def item_split(external_id: str, *, seed: int, test_fraction: float) -> str:
    """"test" or "train" by a hash of (seed, external id): stable however many items are added later."""
    digest = hashlib.sha256(f"{seed}\x1f{external_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64  # uniform in [0, 1)
    return "test" if u < test_fraction else "train"


def row_weight(noise_score: float | None, *, downweight: float, min_weight: float) -> float:
    """max(min_weight, 1 - downweight * noise_score); an unknown score counts as 0 (weight 1)."""
    score = 0.0 if noise_score is None or math.isnan(noise_score) else noise_score
    return max(min_weight, 1.0 - downweight * score)


def expand_ranking(ranking: list[list[int]], how: str) -> list[tuple[int, int]]:
    """(better, worse) position pairs a ranking implies; positions tied in a group give no pair.

    [[2], [0, 1]] → all_pairs / best_vs_rest: (2, 0), (2, 1); [[0], [1], [2]] → adjacent: (0, 1), (1, 2).
    """
    groups = [sorted(g) for g in ranking if g]
    if how == "none" or len(groups) < 2:
        return []
    if how == "adjacent":
        pairs = zip(groups, groups[1:])
    elif how == "best_vs_rest":
        pairs = ((groups[0], g) for g in groups[1:])
    else:
        pairs = ((groups[i], g) for i in range(len(groups)) for g in groups[i + 1:])
    return [(b, w) for better, worse in pairs for b in better for w in worse]


def _drop_reason(item: CurationItem, config: CurationConfig) -> str | None:
    """Why the item is left out, or None. The first rule that applies names the reason."""
    if item.kind == "pairwise" and item.winner is None or item.kind == "listwise" and not item.ranking:
        return "no_consensus"
    if item.kind in ("pairwise", "listwise") and item.source not in config.sources:
        return f"source:{item.source or 'none'}"
    if item.source == "gold":
        return None  # a reviewer's verdict is the truth: no noise rule applies to it
    if config.min_agreement is not None and item.agreement is not None and item.agreement < config.min_agreement:
        return "min_agreement"
    low = config.min_probability
    if low is not None and item.probability is not None and item.probability < low:
        return "min_probability"
    if config.flag_share and TOP_SHARE in item.flagged:
        return "flag_share"
    for name in sorted(config.drop):
        rule = config.drop[name]
        if rule is None or rule is False:
            continue
        if name == SCORE_RULE:
            if item.noise_score is not None and item.noise_score >= rule:
                return SCORE_RULE
        elif rule is True:
            if name in item.flagged:
                return f"signal:{name}"
        elif name in item.severities and item.severities[name] >= rule:
            return f"signal:{name}"
    return None


def _provenance(item: CurationItem, origin: str) -> dict[str, Any]:
    return {
        "item": item.external_id, "origin": origin, "source": item.source, "votes": dict(item.votes),
        "agreement": item.agreement, "probability": item.probability, "noise_score": item.noise_score,
        "reasons": list(item.reasons),
    }


def _item_rows(item: CurationItem, config: CurationConfig) -> tuple[list[tuple[str, dict, str]], str | None]:
    """(kind, data, origin) rows of one kept item; ([], reason) when it gives none."""
    prompt = item.prompt
    if item.kind == "pairwise":
        if item.winner == "tie":
            if config.ties != "keep_as_tie_rows":
                return [], "tie" if config.ties == "drop" else "tie_review"
            return [("tie", {"prompt": prompt, "responses": list(item.responses)}, "pairwise")], None
        chosen, rejected = (0, 1) if item.winner == "A" else (1, 0)
        data = {"prompt": prompt, "chosen": item.responses[chosen], "rejected": item.responses[rejected],
                "margin": item.margin}
        return [("pairwise", data, "pairwise")], None
    if item.kind == "listwise":
        rows = [("pairwise", {"prompt": prompt, "chosen": item.responses[b], "rejected": item.responses[w],
                              "margin": None}, "listwise")
                for b, w in expand_ranking(item.ranking or [], config.listwise_pairs)]
        if config.listwise_rows:
            rows.append(("listwise", {"prompt": prompt, "responses": list(item.responses),
                                      "ranking": [sorted(g) for g in item.ranking or []]}, "listwise"))
        return rows, (None if rows else "no_pairs")
    if item.kind == "edit":
        if not config.edit_pairs:
            return [], "edit_pairs_off"
        original = item.responses[0]
        edits = sorted({e for e in item.edits if e.strip() != original.strip()})
        rows = [("pairwise", {"prompt": prompt, "chosen": e, "rejected": original, "margin": None}, "edit")
                for e in edits]
        return rows, (None if rows else "no_edits")
    if item.kind == "thumbs":
        if not config.thumbs:
            return [], "thumbs_off"
        up, down = item.thumbs.get("up", 0), item.thumbs.get("down", 0)
        label = item.gold_thumbs if item.gold_thumbs is not None else (up > down if up != down else None)
        if label is None:
            return [], "no_consensus" if up == down == 0 else "tie"
        return [("unpaired", {"prompt": prompt, "completion": item.responses[0], "label": label}, "thumbs")], None
    return [], f"kind:{item.kind}"


class RowBuilder:
    """`build_rows` a piece at a time: `add(items)` returns the rows of those items, `stats()` the statistics
    of everything added so far. Precondition: items arrive in order of external id across all calls (the
    caller reads them sorted, in chunks), so the rows come out exactly as `build_rows` orders them. Holds
    counters and one float per row (the weights, summed at the end as `build_rows` sums them), not the rows.
    """

    def __init__(self, config: CurationConfig, on_drop: Callable[[CurationItem, str], None] | None = None) -> None:
        self.config = config
        self.on_drop = on_drop  # called with each dropped item and its reason (the service keeps them)
        self.items = self.kept_items = self.test_items = 0
        self.dropped: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()
        self.origins: Counter[str] = Counter()
        self.sources: Counter[str] = Counter()
        self.splits: Counter[str] = Counter({"train": 0, "test": 0})
        self.weights = array("d")
        self.unplain: set[str] = set()  # kinds with a row the SQL line export must check (shapes.row_plain)

    def add(self, items: Iterable[CurationItem]) -> list[Row]:
        config = self.config
        rows: list[Row] = []
        for item in items:
            self.items += 1
            reason = _drop_reason(item, config)
            made: list[tuple[str, dict, str]] = []
            if reason is None:
                is_gold = item.source == "gold" or item.gold_thumbs is not None
                weight = 1.0 if is_gold else row_weight(item.noise_score, downweight=config.downweight,
                                                        min_weight=config.min_weight)
                made, reason = _item_rows(item, config)
            if reason is not None:
                self.dropped[reason] += 1
                if self.on_drop is not None:
                    self.on_drop(item, reason)
                continue
            self.kept_items += 1
            split = item_split(item.external_id, seed=config.seed, test_fraction=config.test_fraction)
            self.test_items += split == "test"
            for kind, data, origin in made:
                provenance = _provenance(item, origin)
                if item.kind == "thumbs":
                    provenance["source"] = "gold" if item.gold_thumbs is not None else (item.source or "human")
                rows.append(Row(kind=kind, data=data, weight=weight, split=split, item=item.external_id,
                                provenance=provenance))
                if kind not in self.unplain and not row_plain(kind, data, provenance):
                    self.unplain.add(kind)
                self.kinds[kind] += 1
                self.origins[origin] += 1
                self.sources[provenance["source"]] += 1
                self.splits[split] += 1
                self.weights.append(weight)
        return rows

    def stats(self) -> dict[str, Any]:
        """The statistics `build_rows` returns, of every item added so far."""
        n = len(self.weights)
        return {
            "items": self.items,
            "kept_items": self.kept_items,
            "rows": n,
            "dropped": dict(sorted(self.dropped.items())),
            "rows_by_kind": dict(sorted((+self.kinds).items())),
            "rows_by_origin": dict(sorted((+self.origins).items())),
            "sources": dict(sorted((+self.sources).items())),
            "splits": {"train": self.splits["train"], "test": self.splits["test"]},
            "test_items": self.test_items,
            # sum() of the floats in row order, as build_rows always summed them: the same rounding.
            "mean_weight": round(sum(self.weights) / n, 6) if n else None,
            # Kinds whose every row the SQL line export renders as it is (shapes.row_plain): it skips its check.
            "sql_lines": sorted(k for k in +self.kinds if k not in self.unplain),
        }


def build_rows(items: Iterable[CurationItem], config: CurationConfig) -> tuple[list[Row], dict[str, Any]]:
    """The rows of a dataset version and its statistics.

    stats = {"items": n, "kept_items": n, "rows": n, "dropped": {reason: items}, "rows_by_kind": {kind: n},
             "rows_by_origin": {...}, "sources": {source: rows}, "splits": {"train": rows, "test": rows},
             "test_items": n, "mean_weight": float | None, "sql_lines": [kind, ...]}
    """
    builder = RowBuilder(config)
    rows = builder.add(sorted(items, key=lambda it: it.external_id))
    return rows, builder.stats()
