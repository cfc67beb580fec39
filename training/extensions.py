"""Training's side of annotation's extension points (annotation/extensions.py), registered in TrainingConfig.ready().

annotation never imports training; it asks these objects, which answer with training's selectors and services.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.urls import reverse

from annotation.models import Project

__all__ = ["TrainingJobs", "TrainingRewardModels"]


class TrainingJobs:
    """annotation.extensions.Jobs: job permission, the curation and routing jobs, job pages and the trainers."""

    def job_may_start(self, *, user: AbstractBaseUser, project: Project) -> bool:
        from .selectors import job_may_start

        return job_may_start(user=user, project=project)

    def curation_run_start(self, *, project: Project, config: dict[str, Any], user: AbstractBaseUser) -> int:
        from .models import JobKind
        from .services.jobs import job_start

        return job_start(kind=JobKind.CURATE, config=config, project=project, user=user).pk

    def routing_run_start(self, *, project: Project, config: dict[str, Any], user: AbstractBaseUser) -> int:
        from .models import JobKind
        from .services.jobs import job_start

        return job_start(kind=JobKind.ROUTE, config=config, project=project, user=user).pk

    def job_url(self, *, job_id: int) -> str:
        return reverse("job-detail", kwargs={"job_id": job_id})

    def train_links(self, *, dataset_version_id: int, row_kinds: set[str]) -> list[tuple[str, str]]:
        from .engine.trainers.registry import trainer_specs

        url = reverse("job-start-train")
        return [(spec.label, f"{url}?trainer={spec.kind}&dataset_version={dataset_version_id}")
                for spec in trainer_specs() if spec.row_kind in row_kinds]


class TrainingRewardModels:
    """annotation.extensions.RewardModels: trained reward models for curation's noise signals."""

    def choices(self, *, project_id: int | None) -> list[tuple[int, str]]:
        from .models import ArtifactKind
        from .selectors import model_artifacts_usable

        models = model_artifacts_usable(project_id=project_id).filter(kind=ArtifactKind.REWARD)
        return list(models.order_by("name").values_list("pk", "name"))

    def check(self, *, model_ids: Sequence[int], project_id: int, field: str) -> None:
        from .services.models import model_artifact_usable_get
        from .services.reward_scoring import reward_artifact

        for model_id in model_ids:
            model_artifact_usable_get(model_id=model_id, project_id=project_id, field=field)
            reward_artifact(artifact_id=model_id, field=field)

    def margins(self, *, model_id: int, prompts: Sequence[list[dict]], chosen: Sequence[str],
                rejected: Sequence[str]) -> Any:
        from .services.reward_scoring import reward_margins

        return reward_margins(artifact_id=model_id, prompts=prompts, chosen=chosen, rejected=rejected)

    def fine_tuned_default(self, *, project_id: int) -> int | None:
        from .selectors import reward_model_fine_tuned_default

        return reward_model_fine_tuned_default(project_id=project_id)

    def trained_items(self, *, model_id: int) -> tuple[int | None, list[int]] | None:
        from .selectors import reward_model_trained_items

        return reward_model_trained_items(model_id=model_id)
