"""The GENERATE job: sample responses from one or more models and build items (training.services.generation)."""
from __future__ import annotations

from typing import Any

from common.progress import Progress

from ...engine.generation import GenerationConfig
from ...models import JobKind
from ..registry import JobContext, register


def _queue(config: GenerationConfig) -> str:
    from ...services.backends import queue_for_models

    models = list(config.model_ids) + ([config.scorer_model_id] if config.scorer_model_id else [])
    return queue_for_models(models)


@register(JobKind.GENERATE, config=GenerationConfig, queue=_queue)
def run(config: GenerationConfig, progress: Progress, context: JobContext) -> dict[str, Any]:
    """Re-runnable: the same seed gives the same responses, and rows are keyed by content."""
    from ...services.generation import generation_run

    return generation_run(project_id=context.project_id, config=config, progress=progress, job_id=context.job_id)
