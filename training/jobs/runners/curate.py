"""The CURATE job: a curation run that freezes a dataset version (annotation.services.datasets).

Its config, CurateJobConfig, is annotation's (annotation/curation/job_config.py): the curation page builds its form
from it without asking training."""
from __future__ import annotations

from typing import Any

from annotation.curation.job_config import CurateJobConfig
from common.progress import Progress

from ...models import JobKind
from ..registry import JobContext, register


@register(JobKind.CURATE, config=CurateJobConfig, queue="default", rerun_on_worker_lost=False)
def run(config: CurateJobConfig, progress: Progress, context: JobContext) -> dict[str, Any]:
    """Not re-run after a lost worker: a second run would freeze a second version."""
    from annotation.models import Project
    from annotation.services.datasets import dataset_version_create
    from django.contrib.auth import get_user_model

    if context.project_id is None:
        raise ValueError("a curate job needs a project")
    project = Project.objects.get(pk=context.project_id)
    user = get_user_model().objects.filter(pk=context.user_id).first() if context.user_id else None
    version = dataset_version_create(project=project, config=config.curation, user=user, name=config.name,
                                     progress=progress)
    return {"dataset_version_id": version.pk, "number": version.number, "n_rows": version.n_rows}
