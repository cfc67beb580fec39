"""The CURATE job: a curation run that freezes a dataset version (annotation.services.datasets)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from common.progress import Progress

from ...models import JobKind
from ..registry import JobContext, register


@dataclass
class CurateJobConfig:
    """A curation run: the CurationConfig (annotation.curation.dataset) as JSON, and a name for the version."""

    curation: dict[str, Any] = field(default_factory=dict)
    """The CurationConfig fields (method, drop, downweight, ties, listwise_pairs, test_fraction, seed, ...);
    missing ones take their defaults. Checked when the job is started, so a typo never reaches a worker."""
    name: str = ""
    """A name for the dataset version (at most 200 characters)."""

    def __post_init__(self) -> None:
        from annotation.curation.dataset import CurationConfig
        from common.config import ConfigError, config_from_dict

        if len(self.name) > 200:
            raise ValueError(f"name may be at most 200 characters, got {len(self.name)}")
        try:
            config_from_dict(CurationConfig, self.curation)
        except ConfigError as exc:
            raise ConfigError(f"curation.{exc.field}" if exc.field else "curation", exc.message) from exc


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
