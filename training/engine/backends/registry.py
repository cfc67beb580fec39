"""The LLM backends: one `BackendEntry` per backend, the one table everything else reads.

The model registration form and its check, `ModelArtifact.backend`'s choices, the engine factory
(`open_backend`), the queue of generate and judge jobs, and every "local weights or a server?" question (the
outbound allow-lists, training bases, evaluation, model facts, the win-rate judge) come from here:

    BackendEntry(
        name="vllm",                                              # ModelArtifact.backend, BackendSpec.backend
        label="vLLM (in the GPU worker)",                         # the model form's choice, the model list
        engine="training.engine.backends.vllm_engine:VLLMBackend",  # an LLMBackend class, Class(spec: BackendSpec)
        queue="gpu",                                              # jobs using such a model go to this queue
        remote=False,                                             # True: a server elsewhere (see below)
    )

`remote=True` means the model is served by a server somewhere else, reached over the network: its `location` is a
URL, which must pass the operator's outbound allow-lists (and its `settings.api_key_env` the key allow-list) when
the model is registered, when a job is started and again before each request; it has no local weights, so it is
not offered as a training base nor as a model to evaluate, and has no model facts.

(`BackendSpec` in base.py is something else: which model to load -- a backend name, a location, settings.)

Adding a backend: write its class (training/engine/backends/<name>.py, implementing `LLMBackend`), then add its
entry to BUILTIN below -- or call `backend_register(entry)` from your own code. README: "How to add a backend".

Plain Python (no Django), cheap to import: the engine classes (torch, vLLM, httpx) are imported only by
`backend_class`.
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass

from common.registry import Table

__all__ = ["QUEUES", "BackendEntry", "backend_register", "backend_unregister", "backend_entry", "backend_entries",
           "backend_names", "backend_choices", "backend_class", "backend_is_remote", "local_backend_names",
           "backend_queue", "BUILTIN"]

QUEUES = ("default", "gpu")  # the Celery queues workers listen on (prefstudio/settings/celery.py)
NAME_PATTERN = r"[a-z][a-z0-9_]*"  # ModelArtifact.backend's CHECK constraint admits any such name
NAME_LENGTH = 16  # ModelArtifact.backend is a varchar(16)


@dataclass(frozen=True)
class BackendEntry:
    """One backend. See the module docstring for an example of every field."""

    name: str
    label: str
    engine: str  # "package.module:Class" -- the LLMBackend class, constructed with the BackendSpec
    queue: str = "default"  # "gpu": it runs in-process on the GPU worker (vLLM); "default": anywhere
    remote: bool = False  # a server elsewhere: outbound allow-lists apply; no local weights

    def __post_init__(self) -> None:
        if not re.fullmatch(NAME_PATTERN, self.name) or len(self.name) > NAME_LENGTH:
            raise ValueError(f"a backend's name must be lowercase letters, digits and _, starting with a letter, "
                             f"at most {NAME_LENGTH} characters; got {self.name!r}")
        if self.queue not in QUEUES:
            raise ValueError(f"queue must be one of {', '.join(QUEUES)}, got {self.queue!r}")
        if ":" not in self.engine:
            raise ValueError(f"engine must be 'package.module:Class', got {self.engine!r}")


_entries: Table[BackendEntry] = Table("backend", key=lambda entry: entry.name)


def backend_register(entry: BackendEntry) -> BackendEntry:
    """Add `entry` to the table (a name has one entry; registering the same entry again is a no-op)."""
    return _entries.register(entry)


def backend_unregister(name: str) -> None:
    """Forget a backend (tests register throw-away backends and remove them again)."""
    _entries.unregister(name)


def backend_entry(name: str) -> BackendEntry:
    """The entry of backend `name`; raises KeyError naming the backends there are."""
    return _entries.get(name)


def backend_entries() -> list[BackendEntry]:
    """Every backend, in registration order (the built-in ones first: the order of the form's choices)."""
    return _entries.entries()


def backend_names() -> tuple[str, ...]:
    return _entries.names()


def backend_choices() -> list[tuple[str, str]]:
    """(name, label) of every backend: ModelArtifact.backend's choices and the model form's. A callable, so the
    migrations store a reference to it and a new backend needs no migration."""
    return [(entry.name, entry.label) for entry in _entries.entries()]


def backend_is_remote(name: str) -> bool:
    """Whether models of backend `name` are served elsewhere (outbound allow-lists apply, no local weights).

    False for a name not in the table: such a model cannot be loaded at all (BackendSpec refuses the name), so it
    sends nothing anywhere."""
    entry = _entries.find(name)
    return entry is not None and entry.remote


def local_backend_names() -> tuple[str, ...]:
    """The backends whose models are local weights (what training and evaluation may start from)."""
    return tuple(entry.name for entry in _entries.entries() if not entry.remote)


def backend_queue(names: set[str] | list[str] | tuple[str, ...]) -> str:
    """The queue of a job using models of these backends: "gpu" if any of them runs on the GPU worker, else
    "default". Names not in the table count as "default" (the job refuses them when it loads the model)."""
    queues = {entry.queue for entry in map(_entries.find, names) if entry is not None}
    return "gpu" if "gpu" in queues else "default"


def backend_class(name: str) -> type:
    """The LLMBackend class of backend `name`. Imports its module (torch, vLLM, ...): call it where a model loads."""
    module, _, cls = backend_entry(name).engine.partition(":")
    return getattr(importlib.import_module(module), cls)


# Registered in the order of the model form's choices before this table existed.
BUILTIN = tuple(backend_register(entry) for entry in (
    BackendEntry("vllm", "vLLM (in the GPU worker)", "training.engine.backends.vllm_engine:VLLMBackend",
                 queue="gpu"),
    BackendEntry("openai", "OpenAI-compatible server", "training.engine.backends.openai_api:OpenAIBackend",
                 remote=True),
    BackendEntry("hf", "transformers (CPU)", "training.engine.backends.hf:HFBackend"),
))
