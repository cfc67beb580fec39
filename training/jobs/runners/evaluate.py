"""The EVALUATE job: a trained (or base) model on a dataset version's held-out rows, next to baselines
(training.services.evaluation). Re-runnable: it writes no rows, so a re-run computes the same numbers again."""
from __future__ import annotations

from typing import Any

from common.progress import Progress

from ...engine.trainers.heldout import EvaluateConfig
from ...models import JobKind
from ..registry import JobContext, register


@register(JobKind.EVALUATE, config=EvaluateConfig, queue="gpu", needs_dataset_version=True)
def run(config: EvaluateConfig, progress: Progress, context: JobContext) -> dict[str, Any]:
    from ...services.evaluation import evaluation_run

    return evaluation_run(dataset_version_id=context.dataset_version_id, config=config, progress=progress)
