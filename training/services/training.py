"""Training use cases around the Django-free engines (training/engine/trainers/): read a dataset version's rows
in the shape the engines take, estimate its noise rate, and register a finished run as a ModelArtifact.

Which rows a trainer reads (DatasetRow.kind, written by curation) is its TrainerSpec's `row_kind`
(training/engine/trainers/registry.py): "pairwise" (listwise items and edit pairs were expanded to pairs by
curation), "listwise", or "unpaired" (thumbs).

A row becomes one dict: its `data` (prompt, chosen, rejected, margin / responses, ranking / completion, label)
plus "weight", "split", and from its provenance "source" ("human" | "ai" | "hybrid" | "gold" | None) and
"noise_score" (float in [0, 1] or None).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, fields, is_dataclass
from typing import Any

from django.db import transaction

from annotation.errors import PrefStudioError
from annotation.models import DatasetRow, DatasetVersion

from ..engine.trainers.registry import trainer_spec
from ..engine.backends.registry import backend_entry, backend_is_remote
from ..models import ArtifactKind, Backend, Job, ModelArtifact
from .model_facts import model_check_for_kind

__all__ = [
    "training_rows", "dataset_version_row_counts", "dataset_version_noise_rate", "training_config_hash",
    "training_base_location", "training_result_register", "training_config_resolve", "dataset_version_zero_rows_reason",
]

ROW_CHUNK = 2000  # rows fetched per round trip: a 100k-row version never sits in memory as model instances
MAX_NOISE_RATE = 0.49  # rDPO's epsilon must stay below 1/2 (at 1/2 the corrected loss divides by zero)


def training_rows(*, dataset_version_id: int, kind: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train rows, test rows) of the version's rows of DatasetRow.kind `kind`, in row order.

    Read with a chunked iterator (ROW_CHUNK rows per fetch). Raises PrefStudioError when the version is missing
    or has no train rows of that kind (a job with nothing to learn from must fail at once, saying why).
    """
    if not DatasetVersion.objects.filter(pk=dataset_version_id).exists():
        raise PrefStudioError(f"no dataset version {dataset_version_id}", field="dataset_version")
    rows = (
        DatasetRow.objects.filter(version_id=dataset_version_id, kind=kind)
        .order_by("index")
        .values_list("data", "weight", "split", "provenance")
    )
    train: list[dict[str, Any]] = []
    test: list[dict[str, Any]] = []
    for data, weight, split, provenance in rows.iterator(chunk_size=ROW_CHUNK):
        provenance = provenance or {}
        row = {**data, "weight": float(weight), "split": split, "source": provenance.get("source"),
               "noise_score": provenance.get("noise_score")}
        (test if split == DatasetRow.Split.TEST else train).append(row)
    if not train:
        raise PrefStudioError(
            f"dataset version {dataset_version_id} has no {kind} rows in its train split", field="dataset_version"
        )
    return train, test


def dataset_version_row_counts(*, dataset_version_ids: list[int]) -> dict[int, dict[str, int]]:
    """{version id: {row kind: number of train rows}} for the given versions (kinds with no rows are absent)."""
    from django.db.models import Count

    counts: dict[int, dict[str, int]] = {pk: {} for pk in dataset_version_ids}
    rows = (
        DatasetRow.objects.filter(version_id__in=dataset_version_ids, split=DatasetRow.Split.TRAIN)
        .values("version_id", "kind")
        .annotate(n=Count("pk"))
    )
    for row in rows:
        counts[row["version_id"]][row["kind"]] = row["n"]
    return counts


def dataset_version_noise_rate(*, dataset_version_id: int, kind: str = "pairwise") -> float | None:
    """The estimated share of flipped labels among the version's train rows of `kind`, or None if unknown.

    Definition (what rDPO's epsilon needs: P(a kept row's label is wrong)): the version's `stats["noise_rate"]`
    when curation recorded one; else the mean `provenance.noise_score` of the train rows that carry a score --
    the noise score is curation's per-row estimate that the row's label is wrong. Rows that curation dropped are
    not in the version and do not count: the share of dropped pairs says how noisy the raw data was, not the
    rows left. Clamped to [0, MAX_NOISE_RATE].
    """
    version = DatasetVersion.objects.filter(pk=dataset_version_id).only("stats").first()
    if version is None:
        raise PrefStudioError(f"no dataset version {dataset_version_id}", field="dataset_version")
    stated = (version.stats or {}).get("noise_rate")
    if isinstance(stated, (int, float)) and not isinstance(stated, bool):
        return min(MAX_NOISE_RATE, max(0.0, float(stated)))
    scores = (
        DatasetRow.objects.filter(version_id=dataset_version_id, kind=kind, split=DatasetRow.Split.TRAIN)
        .values_list("provenance__noise_score", flat=True)
    )
    values = [float(s) for s in scores.iterator(chunk_size=ROW_CHUNK) if isinstance(s, (int, float))]
    if not values:
        return None
    return min(MAX_NOISE_RATE, max(0.0, sum(values) / len(values)))


def training_config_hash(*, config: Any, dataset_version_id: int) -> str:
    """sha256 (hex) of the trainer config (a dataclass or dict) and the dataset version: what the run learned
    from and how. Two runs with the same hash were asked to do the same thing."""
    data = asdict(config) if is_dataclass(config) else dict(config)
    payload = json.dumps({"config": data, "dataset_version": dataset_version_id}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def training_base_location(*, model_id: int) -> str:
    """The local directory of base ModelArtifact `model_id` (what the engine loads with from_pretrained).

    Raises PrefStudioError naming "config.base_model_id" for a missing model or one that is not a local model
    (a remote backend's server, e.g. an OpenAI-compatible one, cannot be fine-tuned here).
    """
    model = ModelArtifact.objects.filter(pk=model_id).first()
    if model is None:
        raise PrefStudioError(f"no model {model_id}", field="config.base_model_id")
    if backend_is_remote(model.backend):
        raise PrefStudioError(
            f"model {model.name!r} is served by a remote server (backend {model.backend}: "
            f"{backend_entry(model.backend).label}): training needs local weights",
            field="config.base_model_id",
        )
    return model.location


@transaction.atomic
def training_result_register(
    *, job_id: int, kind: str, dataset_version_id: int, config: Any, model_dir: str, metrics: dict[str, Any],
    lora: bool, base_model_id: int,
) -> ModelArtifact:
    """The ModelArtifact of a finished training job (created once: a re-run of the job returns the same row).

    Reward models are ArtifactKind.REWARD (usable as a reward-model judge and in curation's RM ensemble);
    policies are ADAPTER when trained with LoRA (their settings name the base model), else BASE.
    settings = {"trained_on": version id, "config_hash": ..., "metrics": final eval metrics, "job": job id,
    "base_model_id": ...}.
    """
    existing = ModelArtifact.objects.filter(produced_by_id=job_id).first()
    if existing is not None:
        return existing
    if trainer_spec(kind).model == "score":
        artifact_kind = ArtifactKind.REWARD
    else:
        artifact_kind = ArtifactKind.ADAPTER if lora else ArtifactKind.BASE
    settings = {
        "trained_on": dataset_version_id,
        "config_hash": training_config_hash(config=config, dataset_version_id=dataset_version_id),
        "metrics": metrics,
        "job": job_id,
        "base_model_id": base_model_id,
    }
    name = f"{kind.removeprefix('train_')}-job{job_id}"
    job = Job.objects.filter(pk=job_id).values("project_id", "created_by_id").first() or {}
    return ModelArtifact.objects.create(  # the job's project's model, like the data it was trained on
        name=name, kind=artifact_kind, backend=Backend.HF, location=str(model_dir), settings=settings,
        produced_by_id=job_id, project_id=job.get("project_id"), created_by_id=job.get("created_by_id"),
    )


# -- what a training job may ask for (job_start calls this before it parses the config) -------------------------
# Fields job_start fills in when the config leaves them out (or null): the dataclass default, capped by what the
# model and the version allow, so the defaults of a form never ask for more than the job can have.
AUTO_FIELDS = ("max_length", "batch_size")


def training_config_resolve(*, kind: str, config: dict[str, Any], dataset_version: DatasetVersion) -> dict[str, Any]:
    """`config` with max_length and batch_size filled in where missing, after refusing what cannot run.

    Refuses (PrefStudioError naming the field): a base model that cannot be trained this way (DPO / KTO / listwise
    need a causal LM, a reward model needs a model that can carry a score head); a max_length above the model's
    limit; a version with no train rows for the trainer (saying why: "all 37 rows are ties"); a batch_size larger
    than the train rows. Missing max_length = min(the default, the model's limit); missing batch_size =
    min(the default, the train rows). Facts of a model not on this disk are unknown, and those checks are skipped.
    """
    from ..jobs.registry import job_type  # here: the registry imports the runners, which import this module

    config = dict(config)
    defaults = {f.name: f.default for f in fields(job_type(kind).config_class)}
    row_kind = trainer_spec(kind).row_kind
    n_rows = dataset_version_row_counts(dataset_version_ids=[dataset_version.pk])[dataset_version.pk].get(row_kind, 0)
    if n_rows == 0:
        raise PrefStudioError(
            f"{_version_name(dataset_version)} leaves no rows for {kind}: "
            f"{dataset_version_zero_rows_reason(version=dataset_version, row_kind=row_kind)}",
            field="dataset_version",
        )
    facts = None
    base_id = config.get("base_model_id")
    if isinstance(base_id, int) and not isinstance(base_id, bool):
        model = ModelArtifact.objects.filter(pk=base_id).first()
        if model is not None:
            facts = model_check_for_kind(model=model, kind=kind, field="config.base_model_id")
    limit = facts.max_length if facts is not None else None
    if config.get("max_length") is None:
        default = defaults["max_length"]
        config["max_length"] = min(default, limit) if limit else default
    elif limit and isinstance(config["max_length"], int) and config["max_length"] > limit:
        raise PrefStudioError(
            f"config.max_length: {config['max_length']} is more than the base model's limit of {limit} tokens "
            f"(its max_position_embeddings / model_max_length); use {limit} or less",
            field="config.max_length",
        )
    if config.get("batch_size") is None:
        config["batch_size"] = min(defaults["batch_size"], n_rows)
    elif isinstance(config["batch_size"], int) and config["batch_size"] > n_rows:
        raise PrefStudioError(
            f"config.batch_size: {config['batch_size']} is more than the {n_rows} {row_kind} train rows of "
            f"{_version_name(dataset_version)}; use {n_rows} or less",
            field="config.batch_size",
        )
    return config


def _version_name(version: DatasetVersion) -> str:
    return f"{version.project.slug} v{version.number}"


def dataset_version_zero_rows_reason(*, version: DatasetVersion, row_kind: str) -> str:
    """Why `version` has no train rows of `row_kind`, in words, from its rows and curation's statistics.

    Precondition: it has none. E.g. "all 37 rows are ties", "all 12 items were dropped (9 tie, 3 no consensus)",
    "its 5 pairwise rows are all in the test split".
    """
    from django.db.models import Count

    by_split = dict(
        DatasetRow.objects.filter(version=version, kind=row_kind).order_by().values_list("split")
        .annotate(n=Count("pk"))
    )
    if by_split.get(DatasetRow.Split.TEST):
        return (f"its {by_split[DatasetRow.Split.TEST]} {row_kind} rows are all in the test split "
                "(curate again with a smaller test_fraction)")
    by_kind = dict(DatasetRow.objects.filter(version=version).order_by().values_list("kind").annotate(n=Count("pk")))
    stats = version.stats or {}
    dropped = {str(k): int(v) for k, v in (stats.get("dropped") or {}).items() if isinstance(v, int)}
    if by_kind:
        total = sum(by_kind.values())
        if set(by_kind) == {"tie"}:
            return f"all {total} rows are ties (kept as rows of kind tie, which no trainer reads)"
        other = ", ".join(f"{n} {k}" for k, n in sorted(by_kind.items()))
        return f"its {total} rows are of other kinds ({other}), none {row_kind}"
    if dropped:
        total = sum(dropped.values())
        if len(dropped) == 1:
            reason, n = next(iter(dropped.items()))
            if reason == "tie":
                return f"all {n} items are ties, and curation drops ties (ties=drop)"
            return f"all {n} items were dropped as {reason.replace('_', ' ')}"
        ranked = sorted(dropped.items(), key=lambda kv: -kv[1])
        parts = ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in ranked)
        return f"all {total} items were dropped ({parts})"
    return "it has no rows at all"
