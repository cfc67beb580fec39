"""Model artifacts: register a base, reward or adapter model so jobs can name it.

Who may register: staff, and anyone who owns at least one project (training.selectors.model_may_register).
A model is shared by every project (ModelArtifact has no project), so there is no per-project rule.
"""
from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from annotation.errors import PermissionDenied, PrefStudioError

from ..models import ArtifactKind, Backend, ModelArtifact
from ..selectors import model_may_register

MAX_NAME = 200  # ModelArtifact.name
MAX_LOCATION = 500  # ModelArtifact.location


def model_artifact_register(
    *, name: str, kind: str, backend: str, location: str, settings: Any, user: AbstractBaseUser | None
) -> ModelArtifact:
    """Store a new ModelArtifact. `user` None means an operator at the command line (no permission check).

    Raises PermissionDenied, or PrefStudioError naming the field at fault ("name", "kind", "backend",
    "location", "settings"); `settings` must be a JSON object (a dict), as the backend reads it.
    """
    if user is not None and not model_may_register(user=user):
        raise PermissionDenied("only staff and project owners may register models")
    name, location = (name or "").strip(), (location or "").strip()
    if not name:
        raise PrefStudioError("name: give the model a name", field="name")
    if len(name) > MAX_NAME:
        raise PrefStudioError(f"name: at most {MAX_NAME} characters", field="name")
    if ModelArtifact.objects.filter(name=name).exists():
        raise PrefStudioError(f"name: a model named {name!r} exists already", field="name")
    if kind not in ArtifactKind.values:
        raise PrefStudioError(f"kind: must be one of {', '.join(ArtifactKind.values)}", field="kind")
    if backend not in Backend.values:
        raise PrefStudioError(f"backend: must be one of {', '.join(Backend.values)}", field="backend")
    if not location:
        raise PrefStudioError("location: give a local path, hub id or server URL", field="location")
    if len(location) > MAX_LOCATION:
        raise PrefStudioError(f"location: at most {MAX_LOCATION} characters", field="location")
    if not isinstance(settings, dict):
        raise PrefStudioError("settings: must be a JSON object, e.g. {\"dtype\": \"bfloat16\"}", field="settings")
    return ModelArtifact.objects.create(name=name, kind=kind, backend=backend, location=location, settings=settings)
