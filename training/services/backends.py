"""From a registered ModelArtifact to a loaded LLM backend (training.engine.backends)."""
from __future__ import annotations

from annotation.errors import PrefStudioError

from ..engine.backends import BackendSpec, LLMBackend, load_backend
from ..engine.backends.registry import backend_is_remote, backend_queue
from ..models import ArtifactKind, ModelArtifact
from .outbound import outbound_policy


def backend_spec_for(artifact: ModelArtifact) -> BackendSpec:
    """The engine's view of `artifact`: backend, location and settings as plain values, and for a model of a remote
    backend (openai) the operator's outbound allow-lists as they are now (checked by the backend before every
    request)."""
    outbound = outbound_policy() if backend_is_remote(artifact.backend) else None
    try:
        return BackendSpec(backend=artifact.backend, location=artifact.location, settings=dict(artifact.settings or {}),
                           outbound=outbound)
    except ValueError as exc:
        raise PrefStudioError(f"model {artifact.name!r}: {exc}", field="model") from exc


def model_for_generation(*, model_id: int, field: str = "model_ids") -> ModelArtifact:
    """The artifact `model_id`, which must be a base/policy model (a reward model cannot write or judge)."""
    artifact = ModelArtifact.objects.filter(pk=model_id).first()
    if artifact is None:
        raise PrefStudioError(f"no model {model_id}", field=field)
    if artifact.kind == ArtifactKind.REWARD:
        raise PrefStudioError(f"model {artifact.name!r} is a reward model; it cannot generate text", field=field)
    return artifact


def backend_for(artifact: ModelArtifact) -> LLMBackend:
    """The loaded backend of `artifact` (kept for the next job of this worker process; see load_backend)."""
    return load_backend(backend_spec_for(artifact))


def queue_for_models(model_ids: list[int]) -> str:
    """"gpu" when any of the models' backends runs in-process on the GPU worker (vLLM; its table entry's queue),
    else "default"."""
    return backend_queue(set(ModelArtifact.objects.filter(pk__in=model_ids).values_list("backend", flat=True)))
