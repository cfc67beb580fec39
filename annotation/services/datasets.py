"""Dataset versions: a curation run freezes a project's curated rows under a filter config.

`dataset_version_create` validates the config (annotation.curation.dataset.CurationConfig), refreshes the
consensus (annotation.services.curation), reads every item with what curation needs in a fixed number of
queries, builds the rows (Django-free `build_rows`) and writes the DatasetVersion and its rows in one
transaction. Nothing updates a version afterwards: a different config makes a new version.
"""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import asdict
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Avg, Count, Max

from common.config import ConfigError, config_from_dict
from common.progress import NullProgress, Progress

from ..curation.dataset import CurationConfig, CurationItem, build_rows
from ..errors import PrefStudioError
from ..models import (
    AnnotatorKind,
    DatasetRow,
    DatasetVersion,
    Item,
    ItemConsensus,
    ItemFlag,
    ItemResponse,
    ItemState,
    Label,
    LabelRole,
    LabelStatus,
    Project,
    TaskKind,
    Winner,
)
from .bulk import default_sink
from .curation import NOISE_FLAG_PREFIX, consensus_refresh

__all__ = ["config_hash", "curation_config", "dataset_version_create"]

MAX_NAME = DatasetVersion._meta.get_field("name").max_length
ROW_COLUMNS = ("version_id", "index", "split", "kind", "item_id", "data", "weight", "provenance")
ROW_BATCH = 5000
VOTE_KEY = {Winner.A: "A", Winner.B: "B", Winner.TIE: "tie", Winner.BOTH_BAD: "tie"}


def curation_config(data: Any) -> CurationConfig:
    """The CurationConfig of a JSON object; PrefStudioError naming the field ("config.min_agreement")."""
    try:
        return config_from_dict(CurationConfig, {} if data is None else data)
    except ConfigError as exc:
        raise PrefStudioError(f"config: {exc}", field=f"config.{exc.field}" if exc.field else "config") from exc


def config_hash(config: CurationConfig) -> str:
    """sha256 of the config's canonical JSON (sorted keys, no spaces): equal configs, equal hashes."""
    canonical = json.dumps(asdict(config), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


class _Part:
    """A Progress for one stretch [start, end) of a job's progress bar."""

    def __init__(self, progress: Progress, start: float, end: float) -> None:
        self.progress, self.start, self.end = progress, start, end

    def update(self, fraction: float, message: str = "") -> None:
        self.progress.update(self.start + (self.end - self.start) * min(1.0, max(0.0, fraction)), message)

    def metric(self, step: int, **values: float) -> None:
        self.progress.metric(step, **values)

    def log(self, line: str) -> None:
        self.progress.log(line)

    def check_cancelled(self) -> None:
        self.progress.check_cancelled()


def _curation_items(*, project: Project, include_judges: bool) -> tuple[list[CurationItem], dict[str, int]]:
    """Every item of the project but the excluded ones, as CurationItems; and external id -> item pk.

    Seven queries whatever the project's size (items, responses, consensus, flags, pairwise vote counts,
    edits, thumbs); no query per item.
    """
    rows = list(
        Item.objects.filter(project=project).exclude(state=ItemState.EXCLUDED)
        .order_by("pk").values_list("pk", "external_id", "kind", "prompt__messages")
    )
    texts: dict[int, list[str]] = defaultdict(list)
    slots = (ItemResponse.objects.filter(item__project=project).order_by("item_id", "position")
             .values_list("item_id", "response__text"))
    for item_id, text in slots.iterator(chunk_size=20_000):
        texts[item_id].append(text)
    consensus = {
        c["item_id"]: c for c in ItemConsensus.objects.filter(item__project=project).values(
            "item_id", "winner", "ranking", "probability", "agreement", "source", "noise_score", "signals", "severities", "n_votes")
    }
    flagged: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for item_id, name, reason in (ItemFlag.objects.filter(item__project=project).order_by("item_id", "name")
                                  .values_list("item_id", "name", "reason")):
        flagged[item_id].append((name.removeprefix(NOISE_FLAG_PREFIX), reason))
    labels = Label.objects.filter(item__project=project, status=LabelStatus.OK)
    if not include_judges:
        labels = labels.exclude(annotator__kind=AnnotatorKind.JUDGE, role=LabelRole.ANNOTATION)
    votes: dict[int, dict[str, int]] = defaultdict(lambda: {"A": 0, "B": 0, "tie": 0})
    strength: dict[tuple[int, str], list[tuple[float, int]]] = defaultdict(list)
    pairwise = (labels.filter(kind=TaskKind.PAIRWISE, role=LabelRole.ANNOTATION)
                .values_list("item_id", "winner").annotate(n=Count("id"), s=Avg("strength")).order_by())
    for item_id, winner, n, mean_strength in pairwise:
        votes[item_id][VOTE_KEY[winner]] += n
        if mean_strength is not None:
            strength[(item_id, VOTE_KEY[winner])].append((mean_strength, n))
    edits: dict[int, list[str]] = defaultdict(list)
    for item_id, text in (labels.filter(kind=TaskKind.EDIT).order_by("item_id", "id")
                          .values_list("item_id", "edited_response__text")):
        edits[item_id].append(text)
    thumbs: dict[int, dict[str, int]] = defaultdict(lambda: {"up": 0, "down": 0})
    gold_thumbs: dict[int, bool] = {}
    for item_id, up, role in labels.filter(kind=TaskKind.THUMBS).values_list("item_id", "thumbs_up", "role"):
        if role == LabelRole.REVIEW:
            gold_thumbs[item_id] = bool(up)
        else:
            thumbs[item_id]["up" if up else "down"] += 1
    levels = max(1, len(project.strength_levels or []))
    items: list[CurationItem] = []
    for pk, external_id, kind, messages in rows:
        c = consensus.get(pk, {})
        winner = c.get("winner") or None
        margin = None
        if winner in ("A", "B") and strength.get((pk, winner)):
            parts = strength[(pk, winner)]
            margin = round(min(1.0, sum(s * n for s, n in parts) / sum(n for _, n in parts) / levels), 6)
        item_flags = flagged.get(pk, [])
        items.append(CurationItem(
            external_id=external_id, kind=kind, prompt=list(messages or []), responses=texts[pk],
            winner=winner if kind == TaskKind.PAIRWISE else None,
            ranking=c.get("ranking") if kind == TaskKind.LISTWISE else None,
            probability=c.get("probability"), agreement=c.get("agreement"), margin=margin,
            source=c.get("source") or ("human" if kind == TaskKind.EDIT and edits.get(pk) else ""),
            votes=dict(votes[pk]) if kind == TaskKind.PAIRWISE else ({"n": c.get("n_votes", 0)} if c else {}),
            noise_score=c.get("noise_score"), signals=dict(c.get("signals") or {}),
            severities=dict(c.get("severities") or {}),
            flagged=[name for name, _ in item_flags], reasons=[reason for _, reason in item_flags],
            edits=edits.get(pk, []), thumbs=dict(thumbs[pk]) if kind == TaskKind.THUMBS else {},
            gold_thumbs=gold_thumbs.get(pk),
        ))
    return items, {external_id: pk for pk, external_id, _, _ in rows}


def dataset_version_create(
    *,
    project: Project,
    config: dict[str, Any] | None,
    user: AbstractBaseUser | None = None,
    name: str = "",
    progress: Progress | None = None,
) -> DatasetVersion:
    """Freeze a new DatasetVersion of `project` from its current labels under `config` (CurationConfig JSON).

    Refreshes the consensus first (with the config's method, judges and embeddings). The version gets the
    next number, `filter_config` = the full config with defaults filled in, `config_hash` = `config_hash()`,
    `stats` = build_rows' statistics plus the consensus summary under "consensus", and its rows. Raises
    PrefStudioError naming the field ("config.<field>", "name") for bad input; nothing is written then.
    """
    cfg = curation_config(config)
    name = (name or "").strip()
    if len(name) > MAX_NAME:
        raise PrefStudioError(f"the name may be at most {MAX_NAME} characters", field="name")
    progress = progress or NullProgress()
    summary = consensus_refresh(project=project, method=cfg.method, include_judges=cfg.include_judges,
                                embeddings=cfg.embeddings, reward_models=cfg.reward_models,
                                progress=_Part(progress, 0.0, 0.7))
    progress.check_cancelled()
    progress.update(0.75, "building rows")
    items, pks = _curation_items(project=project, include_judges=cfg.include_judges)
    rows, stats = build_rows(items, cfg)
    progress.check_cancelled()
    progress.update(0.85, f"writing {len(rows)} rows")
    with transaction.atomic():
        # Numbers are per project: lock the project so two runs never take the same one.
        Project.objects.select_for_update().filter(pk=project.pk).first()
        last = DatasetVersion.objects.filter(project=project).aggregate(n=Max("number"))["n"] or 0
        version = DatasetVersion.objects.create(
            project=project, number=last + 1, name=name, filter_config=asdict(cfg), config_hash=config_hash(cfg),
            stats={**stats, "consensus": summary}, n_rows=len(rows), created_by=user,
        )
        sink = default_sink()
        with sink.session():
            for start in range(0, len(rows), ROW_BATCH):
                sink.insert(DatasetRow, ROW_COLUMNS, [
                    (version.pk, start + k, r.split, r.kind, pks.get(r.item), r.data, r.weight, r.provenance)
                    for k, r in enumerate(rows[start:start + ROW_BATCH])
                ])
    progress.update(1.0, f"version {version.number}: {len(rows)} rows")
    return version
