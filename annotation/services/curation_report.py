"""The report layer of a curation run (issue 14): the run's calibration settings from its CurationConfig, the tie
policy's counts and review flags, the items it dropped with their reasons, and the curated and uncurated sets'
accuracy against gold references. services.datasets.dataset_version_create calls these around its row loop."""
from __future__ import annotations

from typing import Any

from ..curation.calibration import proportion
from ..curation.dataset import CurationConfig
from ..models import DatasetRow, DatasetVersion, Item, ItemConsensus, ItemFlag, Project, TaskKind
from ..selectors.references import proportion_json
from .calibrated import CalibrationOptions

__all__ = ["DROPPED_COLUMNS", "TIE_REVIEW_FLAG", "calibration_options", "run_report"]

DROPPED_COLUMNS = ("version_id", "item_id", "external_id", "reason")
TIE_REVIEW_FLAG = "tie_review"  # an ItemFlag: the latest run kept this tie for a reviewer (review queue reason)


def calibration_options(cfg: CurationConfig) -> CalibrationOptions:
    """The aggregation and noise settings of `cfg` as services.calibrated takes them."""
    return CalibrationOptions(
        method=cfg.method, priors=dict(cfg.priors), include=tuple(cfg.include_annotators) or None,
        exclude=tuple(cfg.exclude_annotators), orders=cfg.judge_orders or "one",
        noise_weights=dict(cfg.noise_weights), learn_noise=cfg.learn_noise, flag_share=float(cfg.flag_share or 0.0),
        include_judges=cfg.include_judges,
    )


def _ties(*, project: Project, cfg: CurationConfig, stats: dict[str, Any]) -> dict[str, Any]:
    """The tie policy and what it did; with "review", each pairwise tie gets a TIE_REVIEW_FLAG (the review queue
    shows flagged items), the flags of an earlier run replaced."""
    ties = ItemConsensus.objects.filter(item__project=project, item__kind=TaskKind.PAIRWISE, winner="tie")
    ItemFlag.objects.filter(item__project=project, name=TIE_REVIEW_FLAG).delete()
    n_review = stats["dropped"].get("tie_review", 0)
    if cfg.ties == "review":
        ItemFlag.objects.bulk_create([
            ItemFlag(item_id=item_id, name=TIE_REVIEW_FLAG, value=None,
                     reason="the consensus is a tie: kept out of the dataset for a reviewer's verdict")
            for item_id in ties.values_list("item_id", flat=True).iterator(chunk_size=5000)
        ], batch_size=5000)
    return {"policy": cfg.ties, "pairwise_ties": ties.count(), "kept_as_rows": stats["rows_by_kind"].get("tie", 0),
            "for_review": n_review, "dropped": stats["dropped"].get("tie", 0) if cfg.ties == "drop" else 0}


def _references(*, version: DatasetVersion, held_out: dict[str, str]) -> dict[str, Any] | None:
    """Accuracy against the references of the consensus before curation (every reference item it decided, as
    fitted without its reference) and after (the reference items that made it into the version), and the share
    of reference items dropped."""
    if not held_out:
        return None
    ids = [int(pk) for pk in held_out]
    references = dict(Item.objects.filter(pk__in=ids).values_list("pk", "reference"))
    kept = set(DatasetRow.objects.filter(version=version, item_id__in=ids).values_list("item_id", flat=True))
    right = {pk: (references.get(pk) or {}).get("winner") == held_out[str(pk)] for pk in ids}
    curated = [right[pk] for pk in ids if pk in kept]
    return {
        "uncurated": proportion_json(proportion(sum(right.values()), len(right))),
        "curated": proportion_json(proportion(sum(curated), len(curated))),
        "dropped_share": round(1 - len(curated) / len(right), 4),
    }


def run_report(*, project: Project, version: DatasetVersion, cfg: CurationConfig, stats: dict[str, Any],
               summary: dict[str, Any]) -> dict[str, Any]:
    """The version's extra statistics: "ties", "references" (None without any), "dropped_share" (of all items).
    Pops the per-item "held_out" map from `summary` (too big to keep in the version's stats). Call inside the
    version's transaction, after its rows are written."""
    held_out = summary.pop("held_out", {}) or {}
    return {
        "ties": _ties(project=project, cfg=cfg, stats=stats),
        "references": _references(version=version, held_out=held_out),
        "dropped_share": round(1 - stats["kept_items"] / stats["items"], 4) if stats["items"] else None,
    }
