"""The interface every LLM backend implements, and the values it returns. No Django, no torch here.

A prompt is a conversation: a list of chat messages `[{"role": "user", "content": "..."}]`. Backends
render it with the model's own chat template (ending with the generation prompt), so the same
conversation means the same tokens to every backend that serves the same model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .registry import backend_is_remote, backend_names

__all__ = [
    "BackendError",
    "BackendSpec",
    "Completion",
    "Constraint",
    "LLMBackend",
    "Messages",
    "UnsupportedConstraint",
    "check_sampling",
]

Messages = list[dict[str, str]]


class BackendError(RuntimeError):
    """A backend could not be loaded or could not answer (bad model path, server down, ...)."""


class UnsupportedConstraint(BackendError):
    """The backend cannot constrain its output the way the caller asked (e.g. JSON schema with `hf`)."""


@dataclass(frozen=True)
class BackendSpec:
    """Which model to load and how: a ModelArtifact's backend, location and settings, as plain values.

    `location` is a local directory (hf, vllm) or a server's base URL (a remote backend such as openai, e.g.
    "http://127.0.0.1:8000/v1"). `backend` is a name in the backends' table (registry.py). `settings` are
    backend-specific (see each backend's module); together the three are the key of the per-process model
    cache, so two jobs with the same spec share one loaded model.
    """

    backend: str
    location: str
    settings: dict[str, Any] = field(default_factory=dict)
    # A remote backend's (openai's) outbound.OutboundPolicy (None: its default, loopback only and no key variable).
    outbound: Any = None

    def __post_init__(self) -> None:
        if self.backend not in backend_names():
            raise ValueError(f"backend must be one of {', '.join(backend_names())}, got {self.backend!r}")
        if not self.location:
            raise ValueError("location is empty: give a model directory or a server URL")

    @property
    def key(self) -> tuple[str, str, str]:
        import json

        settings = json.dumps(self.settings, sort_keys=True, default=str)
        if backend_is_remote(self.backend) and self.outbound is not None:
            settings += self.outbound.fingerprint  # a changed allow-list loads (and checks) the backend anew
        return self.backend, self.location, settings


@dataclass(frozen=True)
class Completion:
    """One sampled continuation: its text, how many tokens it took (None: the server did not say),
    and why it stopped ("stop", "length")."""

    text: str
    n_tokens: int | None
    finish_reason: str | None = None


@dataclass(frozen=True)
class Constraint:
    """A restriction of the output: exactly one of `choice` (one of these strings) or `json_schema`."""

    choice: tuple[str, ...] | None = None
    json_schema: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if (self.choice is None) == (self.json_schema is None):
            raise ValueError("a Constraint takes exactly one of choice or json_schema")
        if self.choice is not None and (not self.choice or any(not c for c in self.choice)):
            raise ValueError("choice must be non-empty strings")


def check_sampling(*, n: int, temperature: float, top_p: float, max_tokens: int) -> None:
    """Raise ValueError for sampling values no backend accepts (the same rules for all of them)."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")


def per_prompt_seeds(*, seed: int | None, seeds: list[int] | None, n_prompts: int) -> list[int | None]:
    """One seed per prompt: `seeds` as given, else `seed` for every prompt (None = unseeded)."""
    resolved = list(seeds) if seeds is not None else [seed] * n_prompts
    if len(resolved) != n_prompts:
        raise ValueError(f"{len(resolved)} seeds for {n_prompts} prompts")
    return resolved


@runtime_checkable
class LLMBackend(Protocol):
    """What generation and judging need from a model, whatever serves it."""

    name: str
    """Backend name ("hf", "vllm", "openai": its name in the backends' table, registry.py)."""

    supports_json_schema: bool
    """Whether `generate(..., constraint=Constraint(json_schema=...))` is honoured."""

    def generate(
        self,
        prompts: list[Messages],
        *,
        n: int = 1,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_tokens: int = 256,
        seed: int | None = None,
        seeds: list[int] | None = None,
        constraint: Constraint | None = None,
    ) -> list[list[Completion]]:
        """`n` completions for each prompt: shape (P, n).

        temperature 0 is greedy. `seed` seeds every prompt alike; `seeds` (one per prompt) overrides
        it, so a prompt's samples do not depend on which other prompts share the batch. A backend
        without `constraint` support raises UnsupportedConstraint.
        """
        ...

    def score_choices(self, prompts: list[Messages], choices: list[str], *, prefix: str = "") -> list[list[float]]:
        """log P(choice | prompt) for each prompt and choice: shape (P, C), natural log.

        The choice is scored as the start of the assistant's answer (after `prefix`, an answer
        already begun, e.g. '{"verdict": "'). A choice the backend cannot score is -inf.
        """
        ...

    def close(self) -> None:
        """Free the model (memory, GPU, connections). The backend is unusable afterwards."""
        ...
