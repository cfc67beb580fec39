"""Model artifacts: register a base, reward or adapter model so jobs can name it, and check that a job may use it.

A model belongs to a project (only that project's jobs may use it) or is global (`project` None: usable by every
project). Who may register: staff and operators (user None) anywhere, global models included; a project's owners
in that project. An `openai` model's URL and `settings.api_key_env` must pass the operator's allow-lists
(training.services.outbound), here and again in the worker right before each request.
"""
from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from annotation.errors import PermissionDenied, PrefStudioError
from annotation.models import Membership, Project, Role

from ..engine.backends.registry import backend_names
from ..models import ArtifactKind, ModelArtifact
from ..selectors import model_artifacts_usable
from .outbound import model_outbound_check

MAX_NAME = 200  # ModelArtifact.name
MAX_LOCATION = 500  # ModelArtifact.location


def model_artifact_register(
    *,
    name: str,
    kind: str,
    backend: str,
    location: str,
    settings: Any,
    user: AbstractBaseUser | None,
    project: Project | None = None,
) -> ModelArtifact:
    """Store a new ModelArtifact of `project` (None: a global model). `user` None means an operator at the command
    line (no permission check).

    Raises PermissionDenied (a global model by a non-staff user; a project the user does not own), or
    PrefStudioError naming the field at fault ("name", "kind", "backend", "location", "settings"); `settings`
    must be a JSON object (a dict), as the backend reads it.
    """
    if user is not None and not user.is_staff:
        if project is None:
            raise PermissionDenied("only staff may register a global model; register it in one of your projects",
                                   field="project")
        if not Membership.objects.filter(user=user, project=project, role=Role.OWNER).exists():
            raise PermissionDenied(f"only staff and the owners of project {project.slug!r} may register its models",
                                   field="project")
    name, location = (name or "").strip(), (location or "").strip()
    if not name:
        raise PrefStudioError("name: give the model a name", field="name")
    if len(name) > MAX_NAME:
        raise PrefStudioError(f"name: at most {MAX_NAME} characters", field="name")
    if ModelArtifact.objects.filter(name=name, project=project).exists():
        where = f"in project {project.slug!r}" if project is not None else "among the global models"
        raise PrefStudioError(f"name: a model named {name!r} exists already {where}", field="name")
    if kind not in ArtifactKind.values:
        raise PrefStudioError(f"kind: must be one of {', '.join(ArtifactKind.values)}", field="kind")
    if backend not in backend_names():  # the backends' table (the column's CHECK admits any such-shaped name)
        raise PrefStudioError(f"backend: must be one of {', '.join(backend_names())}", field="backend")
    if not location:
        raise PrefStudioError("location: give a local path, hub id or server URL", field="location")
    if len(location) > MAX_LOCATION:
        raise PrefStudioError(f"location: at most {MAX_LOCATION} characters", field="location")
    if not isinstance(settings, dict):
        raise PrefStudioError("settings: must be a JSON object, e.g. {\"dtype\": \"bfloat16\"}", field="settings")
    model_outbound_check(backend=backend, location=location, model_settings=settings)
    return ModelArtifact.objects.create(name=name, kind=kind, backend=backend, location=location, settings=settings,
                                        project=project, created_by=user)


def model_artifact_usable_get(*, model_id: Any, project_id: int | None, field: str) -> ModelArtifact:
    """ModelArtifact `model_id` if a job of project `project_id` may use it (the project's own or a global one),
    and, for an openai model, if its URL and key variable pass the allow-lists as they are now.

    Raises PrefStudioError naming `field`; a model of another project reads like a missing one (the answer does not
    confirm that it exists).
    """
    artifact = model_artifacts_usable(project_id=project_id).filter(pk=model_id).first()
    if artifact is None:
        raise PrefStudioError(f"{field}: no model {model_id} usable here (this project's models and the global "
                              "ones)", field=field)
    try:
        model_outbound_check(backend=artifact.backend, location=artifact.location,
                             model_settings=dict(artifact.settings or {}))
    except PrefStudioError as exc:
        raise PrefStudioError(f"{field}: model {artifact.name!r}: {exc.message}", field=field) from exc
    return artifact
