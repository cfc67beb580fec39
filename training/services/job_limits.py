"""What a job may use and how many may wait: the checks `job_start` makes (and `job_run` repeats in the worker).

- Models: every ModelArtifact id a job's config names must be one its project may use (the project's own or a
  global one) and, for an openai model, pass the outbound allow-lists as they are now.
- Diagnostic jobs (a worker check that can hold a queue for hours) are for staff and operators only.
- Caps on jobs queued or running at once: PREFSTUDIO_MAX_ACTIVE_JOBS_PER_PROJECT per project (everyone but an
  operator at the command line), PREFSTUDIO_MAX_ACTIVE_JOBS_PER_ROLE per person in a project by their role
  (staff have no personal cap). Counted under a lock on the project row, so two starts cannot both take the
  last slot.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

from annotation.errors import Conflict, PermissionDenied
from annotation.models import Membership, Project

from ..models import JobKind
from ..selectors import job_active_counts
from .models import model_artifact_usable_get

# Config keys (at any depth) that hold ModelArtifact ids: one id, or a list of ids.
MODEL_FIELDS = ("model_id", "model_ids", "scorer_model_id", "base_model_id", "win_rate_judge_id", "reward_models")


def _model_refs(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(dotted config path, model id) for every model id in a job's config (a dict from asdict)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            here = f"{path}.{key}"
            if key in MODEL_FIELDS:
                for model_id in inner if isinstance(inner, (list, tuple)) else [inner]:
                    if model_id is not None:
                        yield here, model_id
            else:
                yield from _model_refs(inner, here)


def job_models_check(*, config: dict[str, Any], project_id: int | None) -> None:
    """Raise PrefStudioError naming the config field unless every model `config` names is usable in the project."""
    for field, model_id in _model_refs(config, "config"):
        model_artifact_usable_get(model_id=model_id, project_id=project_id, field=field)


def job_limits_check(*, kind: str, project: Project | None, user: AbstractBaseUser | None) -> None:
    """Raise PermissionDenied (a diagnostic job by a non-staff user) or Conflict (a cap reached, naming its setting).

    Call inside the transaction that creates the job: the project row is locked until it commits.
    """
    if user is None:
        return  # an operator at the command line
    if kind == JobKind.DIAGNOSTIC and not user.is_staff:
        raise PermissionDenied("diagnostic jobs are for staff (they can hold a worker queue for hours)", field="kind")
    if project is None:
        return
    Project.objects.select_for_update().filter(pk=project.pk).first()
    in_project, mine = job_active_counts(project=project, user=user)
    cap = settings.PREFSTUDIO_MAX_ACTIVE_JOBS_PER_PROJECT
    if cap and in_project >= cap:
        raise Conflict(f"project {project.slug!r} has {in_project} jobs queued or running, the most "
                       f"PREFSTUDIO_MAX_ACTIVE_JOBS_PER_PROJECT allows ({cap}); wait for one to finish or cancel one")
    if user.is_staff:
        return
    role = Membership.objects.filter(user=user, project=project).values_list("role", flat=True).first()
    role_cap = settings.PREFSTUDIO_MAX_ACTIVE_JOBS_PER_ROLE.get(role or "")
    if role_cap is not None and mine >= role_cap:
        raise Conflict(f"you have {mine} jobs queued or running in {project.slug!r}, the most a project {role} may "
                       f"have (PREFSTUDIO_MAX_ACTIVE_JOBS_PER_ROLE: {role}={role_cap}); wait for one to finish")
