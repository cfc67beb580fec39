"""Dataset versions: a curation run freezes a project's curated rows under a filter config.

`dataset_version_create` validates the config (annotation.curation.dataset.CurationConfig), refreshes the
consensus (annotation.services.curation), then streams the items in order of external id a chunk at a time
(a fixed number of queries per chunk), builds each chunk's rows (Django-free `RowBuilder`, the chunked form of
`build_rows`) and COPYs them, all in one transaction with the DatasetVersion: memory stays flat however large
the project. Nothing updates a version afterwards: a different config makes a new version.
"""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Avg, Count, Max
from django.db.models.expressions import RawSQL
from django.db.models.functions import Collate

from common.config import ConfigError, config_from_dict
from common.progress import NullProgress, Progress

from ..curation.dataset import CurationConfig, CurationItem, RowBuilder
from ..errors import PrefStudioError
from ..models import (
    AnnotatorKind,
    DatasetRow,
    DatasetVersion,
    DroppedItem,
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
from .curation_report import DROPPED_COLUMNS, calibration_options, run_report

__all__ = ["config_hash", "curation_config", "dataset_version_create"]

MAX_NAME = DatasetVersion._meta.get_field("name").max_length
ROW_COLUMNS = ("version_id", "index", "split", "kind", "item_id", "data", "weight", "provenance")
# Items read, built and written at once: ~5 MB of texts and rows, whatever the project's size.
ITEM_CHUNK = 5000
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


def _item_chunks(*, project: Project, chunk_size: int) -> Iterator[list[tuple[int, str, str, list | None]]]:
    """The project's items but the excluded ones as (pk, external id, kind, prompt messages), in lists of
    `chunk_size`, in order of external id by code point (COLLATE "C": Python's string order, which
    `build_rows` always used), sorted by PostgreSQL and read through one server-side cursor."""
    # SQLite (make run) compares text bytewise already, and knows no collation "C".
    order = Collate("external_id", "C") if connection.vendor == "postgresql" else "external_id"
    rows = (Item.objects.filter(project=project).exclude(state=ItemState.EXCLUDED)
            .order_by(order, "pk").values_list("pk", "external_id", "kind", "prompt__messages"))
    chunk: list = []
    for row in rows.iterator(chunk_size=chunk_size):
        chunk.append(row)
        if len(chunk) >= chunk_size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _among(pks: list[int]):
    """The right side of `item_id__in` for a chunk's ids: on PostgreSQL one array parameter (`IN (SELECT
    unnest(%s::bigint[]))`), not 5,000 placeholders that Django and psycopg build and parse per query (a
    quarter of a 100k freeze's CPU); elsewhere (SQLite in `make run`) the list itself."""
    return RawSQL("SELECT unnest(%s::bigint[])", (pks,)) if connection.vendor == "postgresql" else pks


def _curation_items(*, project: Project, include_judges: bool,
                    rows: list[tuple[int, str, str, list | None]]) -> list[CurationItem]:
    """The CurationItems of one chunk of `_item_chunks`, in its order.

    At most six queries per chunk (responses, consensus, flags; then pairwise vote counts, edits, thumbs,
    each only if the chunk holds items of that kind), each limited to the chunk's items; no query per item.
    """
    pks = _among([pk for pk, _, _, _ in rows])
    of_kind: dict[str, list[int]] = defaultdict(list)
    for pk, _, kind, _ in rows:
        of_kind[kind].append(pk)
    among = {kind: _among(ids) for kind, ids in of_kind.items()}
    texts: dict[int, list[str]] = defaultdict(list)
    slots = (ItemResponse.objects.filter(item_id__in=pks).order_by("item_id", "position")
             .values_list("item_id", "response__text"))
    for item_id, text in slots:
        texts[item_id].append(text)
    consensus = {
        c["item_id"]: c for c in ItemConsensus.objects.filter(item_id__in=pks).values(
            "item_id", "winner", "ranking", "probability", "agreement", "source", "noise_score", "signals", "severities", "n_votes")
    }
    flagged: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for item_id, name, reason in (ItemFlag.objects.filter(item_id__in=pks).order_by("item_id", "name")
                                  .values_list("item_id", "name", "reason")):
        flagged[item_id].append((name.removeprefix(NOISE_FLAG_PREFIX), reason))
    labels = Label.objects.filter(status=LabelStatus.OK)
    if not include_judges:
        labels = labels.exclude(annotator__kind=AnnotatorKind.JUDGE, role=LabelRole.ANNOTATION)

    def labels_of(kind: str):
        """The chunk's labels of `kind` (on its items of that kind): no query when it has none."""
        return labels.filter(kind=kind, item_id__in=among[kind]) if of_kind.get(kind) else labels.none()

    votes: dict[int, dict[str, int]] = defaultdict(lambda: {"A": 0, "B": 0, "tie": 0})
    strength: dict[tuple[int, str], list[tuple[float, int]]] = defaultdict(list)
    pairwise = (labels_of(TaskKind.PAIRWISE).filter(role=LabelRole.ANNOTATION)
                .values_list("item_id", "winner").annotate(n=Count("id"), s=Avg("strength")).order_by())
    for item_id, winner, n, mean_strength in pairwise:
        votes[item_id][VOTE_KEY[winner]] += n
        if mean_strength is not None:
            strength[(item_id, VOTE_KEY[winner])].append((mean_strength, n))
    edits: dict[int, list[str]] = defaultdict(list)
    for item_id, text in (labels_of(TaskKind.EDIT).order_by("item_id", "id")
                          .values_list("item_id", "edited_response__text")):
        edits[item_id].append(text)
    thumbs: dict[int, dict[str, int]] = defaultdict(lambda: {"up": 0, "down": 0})
    gold_thumbs: dict[int, bool] = {}
    for item_id, up, role in labels_of(TaskKind.THUMBS).values_list("item_id", "thumbs_up", "role"):
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
    return items


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
                                progress=_Part(progress, 0.0, 0.7), options=calibration_options(cfg))
    progress.check_cancelled()
    progress.update(0.75, "building rows")
    total = Item.objects.filter(project=project).exclude(state=ItemState.EXCLUDED).count()
    dropped: list[tuple[str, str]] = []  # (external id, reason) of the chunk's dropped items
    builder = RowBuilder(cfg, on_drop=lambda item, reason: dropped.append((item.external_id, reason)))
    with transaction.atomic():
        # Numbers are per project: lock the project so two runs never take the same one.
        Project.objects.select_for_update().filter(pk=project.pk).first()
        last = DatasetVersion.objects.filter(project=project).aggregate(n=Max("number"))["n"] or 0
        version = DatasetVersion.objects.create(
            project=project, number=last + 1, name=name, filter_config=asdict(cfg), config_hash=config_hash(cfg),
            stats={}, n_rows=0, created_by=user,
        )
        # A chunk of items at a time: read, build its rows, COPY them; nothing grows with the project but
        # the builder's counters (annotation.curation.dataset.RowBuilder).
        sink = default_sink()
        with sink.session():
            for chunk in _item_chunks(project=project, chunk_size=ITEM_CHUNK):
                pks = {external_id: pk for pk, external_id, _, _ in chunk}
                index = len(builder.weights)
                rows = builder.add(_curation_items(project=project, include_judges=cfg.include_judges, rows=chunk))
                sink.insert(DatasetRow, ROW_COLUMNS, [
                    (version.pk, index + k, r.split, r.kind, pks.get(r.item), r.data, r.weight, r.provenance)
                    for k, r in enumerate(rows)
                ])
                sink.insert(DroppedItem, DROPPED_COLUMNS, [(version.pk, pks.get(e), e, r) for e, r in dropped])
                dropped.clear()
                progress.check_cancelled()
                progress.update(0.75 + 0.25 * min(1.0, builder.items / max(1, total)),
                                f"{builder.items} of {total} items: {index + len(rows)} rows")
        stats = builder.stats()
        stats.update(run_report(project=project, version=version, cfg=cfg, stats=stats, summary=summary))
        # The version never changes: its pages read these counts instead of counting a million rows each time.
        row_counts = [[split, kind, source or "", n] for split, kind, source, n in (
            DatasetRow.objects.filter(version=version).values_list("split", "kind", "provenance__source")
            .annotate(n=Count("id")).order_by("split", "kind", "provenance__source"))]
        version.stats, version.n_rows = {**stats, "consensus": summary, "row_counts": row_counts}, stats["rows"]
        version.save(update_fields=["stats", "n_rows"])
    progress.update(1.0, f"version {version.number}: {version.n_rows} rows")
    return version
