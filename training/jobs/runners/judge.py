"""The JUDGE job: an LLM judge labels a project's items (training.services.judging)."""
from __future__ import annotations

from typing import Any

from common.progress import Progress

from ...engine.judging.config import JudgeConfig
from ...models import JobKind
from ..registry import JobContext, register


def _queue(config: JudgeConfig) -> str:
    from ...services.backends import queue_for_models

    return queue_for_models([config.model_id])


@register(JobKind.JUDGE, config=JudgeConfig, queue=_queue)
def run(config: JudgeConfig, progress: Progress, context: JobContext) -> dict[str, Any]:
    """Re-runnable: items the judge has already labeled are skipped."""
    from ...services.judging import judge_run

    return judge_run(project_id=context.project_id, config=config, progress=progress)
