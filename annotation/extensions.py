"""What annotation asks of the apps built on it, without importing them.

Dependencies point one way: `training` imports `annotation`, never the reverse (tests/test_architecture.py).
Where a page or a service of annotation needs something only training has, it asks an implementation of a
protocol below that training registers in `TrainingConfig.ready()` (training/extensions.py):

- `Jobs`: whether a user may start a project's jobs, starting a curation or routing run (a job), a job's page, and the
  trainers that can read a dataset version ("Train on this version" links);
- `RewardModels`: the trained reward models a project may use, checking a choice of them, their margins on
  pairs (curation's noise signals), the project's default fine-tuned one and the items each was trained on
  (so curation never reads a model's margin on a pair it learned from: annotation/curation/rm_crossfit.py).

Nothing registered (training not installed, or a test that unregisters it): annotation degrades instead of
failing -- no Train links, the curation and routing forms say that runs are not available, and choosing reward
models is refused with a clear error (`jobs_required`, `reward_models_required`).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .errors import PrefStudioError

if TYPE_CHECKING:
    import numpy as np
    from django.contrib.auth.models import AbstractBaseUser

    from .models import Project

__all__ = [
    "Jobs", "RewardModels", "register_jobs", "register_reward_models", "jobs", "reward_models", "job_may_start",
    "train_links", "jobs_required", "reward_models_required", "ExtensionMissing",
]


class ExtensionMissing(PrefStudioError):
    """Asked for something only an extension (the training app) provides, and none is registered."""

    status_code = 503


class Jobs(Protocol):
    def job_may_start(self, *, user: AbstractBaseUser, project: Project) -> bool:
        """May `user` start jobs (and curation and routing runs) in `project`?"""

    def curation_run_start(self, *, project: Project, config: dict[str, Any], user: AbstractBaseUser) -> int:
        """Queue a curation run (annotation.curation.job_config.CurateJobConfig as JSON); returns the job's id.
        Raises PrefStudioError naming the field at fault ("config.curation.seed"), PermissionDenied."""

    def routing_run_start(self, *, project: Project, config: dict[str, Any], user: AbstractBaseUser) -> int:
        """Queue a routing run (annotation.curation.route_job.RouteJobConfig as JSON); returns the job's id.
        Raises PrefStudioError naming the field at fault ("config.budget_fraction"), PermissionDenied."""

    def job_url(self, *, job_id: int) -> str:
        """The page of job `job_id` (its progress)."""

    def train_links(self, *, dataset_version_id: int, row_kinds: set[str]) -> list[tuple[str, str]]:
        """(trainer label, URL of its start form for the version) for every trainer that reads one of
        `row_kinds` (DatasetRow kinds)."""


class RewardModels(Protocol):
    def choices(self, *, project_id: int | None) -> list[tuple[int, str]]:
        """(id, name) of the reward models a project may use, by name."""

    def check(self, *, model_ids: Sequence[int], project_id: int, field: str) -> None:
        """Raise PrefStudioError naming `field` unless every model is a usable reward model of the project."""

    def margins(self, *, model_id: int, prompts: Sequence[list[dict]], chosen: Sequence[str],
                rejected: Sequence[str]) -> np.ndarray:
        """(N,) reward(chosen) - reward(rejected) of each pair under model `model_id`."""

    def fine_tuned_default(self, *, project_id: int) -> int | None:
        """The project's best fine-tuned reward model (its newest one trained by a job that can score pairs), or
        None: curation's reward-model signal then falls back to the frozen-embedding heads."""

    def trained_items(self, *, model_id: int) -> tuple[int | None, list[int]] | None:
        """(dataset version id, item ids) the model was trained on (its job's version's train split), or None
        when unknown (a model registered by hand, not trained on the project's pairs)."""


# The registered implementations: one of each, or None. A dict (not module globals) so tests can swap one.
_registry: dict[str, Any] = {"jobs": None, "reward_models": None}


def register_jobs(implementation: Jobs | None) -> None:
    _registry["jobs"] = implementation


def register_reward_models(implementation: RewardModels | None) -> None:
    _registry["reward_models"] = implementation


def jobs() -> Jobs | None:
    return _registry["jobs"]


def reward_models() -> RewardModels | None:
    return _registry["reward_models"]


def jobs_required() -> Jobs:
    """The registered Jobs, or ExtensionMissing (503) saying why there is none."""
    implementation = jobs()
    if implementation is None:
        raise ExtensionMissing("jobs are not available: the training app is not installed")
    return implementation


def reward_models_required(field: str = "reward_models") -> RewardModels:
    """The registered RewardModels, or ExtensionMissing naming `field`."""
    implementation = reward_models()
    if implementation is None:
        raise ExtensionMissing("trained reward models are not available: the training app is not installed",
                               field=field)
    return implementation


def job_may_start(*, user: AbstractBaseUser, project: Project) -> bool:
    """May `user` start the project's jobs? False when no app runs jobs."""
    implementation = jobs()
    return implementation is not None and implementation.job_may_start(user=user, project=project)


def train_links(*, dataset_version_id: int, row_kinds: set[str]) -> list[tuple[str, str]]:
    """The "Train on this version" links; none when no app trains."""
    implementation = jobs()
    if implementation is None:
        return []
    return implementation.train_links(dataset_version_id=dataset_version_id, row_kinds=row_kinds)
