"""LLM backends behind one interface (`LLMBackend`): `hf` (transformers), `vllm` (offline engine), `openai`, and
any other backend in the table of registry.py (`open_backend` builds the class its entry names).

`load_backend(spec)` returns a loaded backend and keeps it for the rest of the process: a worker that
runs several jobs on the same model (same backend, location and settings) loads it once. Only the
last model is kept -- a GPU worker runs one job at a time, and two engines would not both fit in GPU
memory -- so asking for another model closes the one held first. A backend that says `healthy = False`
(a vLLM engine that died) is dropped and loaded again. Nothing here imports Django.
"""
from __future__ import annotations

import threading

from .base import (
    BackendError,
    BackendSpec,
    Completion,
    Constraint,
    LLMBackend,
    Messages,
    UnsupportedConstraint,
)
from .registry import backend_class

__all__ = [
    "BackendError",
    "BackendSpec",
    "Completion",
    "Constraint",
    "LLMBackend",
    "Messages",
    "UnsupportedConstraint",
    "cached_backend",
    "forget_backend",
    "load_backend",
    "open_backend",
]

_lock = threading.Lock()
_held: tuple[tuple[str, str, str], LLMBackend] | None = None


def open_backend(spec: BackendSpec) -> LLMBackend:
    """A new backend for `spec`, not cached (the caller closes it): its table entry's class, imported now."""
    return backend_class(spec.backend)(spec)


def load_backend(spec: BackendSpec) -> LLMBackend:
    """The process's backend for `spec`: the one held if it has the same key and is healthy, else a newly
    loaded one.

    Loading another model first closes the one held (its memory is freed before the new one loads); so does
    reloading one whose engine died.
    """
    global _held
    with _lock:
        if _held is not None and _held[0] == spec.key and getattr(_held[1], "healthy", True):
            return _held[1]
        if _held is not None:
            _held[1].close()
            _held = None
        backend = open_backend(spec)
        _held = (spec.key, backend)
        return backend


def cached_backend() -> LLMBackend | None:
    """The backend this process holds, if any (for tests and worker shutdown)."""
    return _held[1] if _held is not None else None


def forget_backend() -> None:
    """Close and drop the held backend (worker shutdown; tests that need a fresh load)."""
    global _held
    with _lock:
        if _held is not None:
            _held[1].close()
            _held = None
