"""How long-running engine code reports progress and learns that it should stop.

Every engine function that runs for more than a moment takes a `progress` argument that satisfies the
`Progress` protocol. The engine never knows where the reports go: in a Celery worker they are written to
the Job row (training/services/job_progress.py, throttled there); in unit tests and benchmarks they go to
`MemoryProgress` or `NullProgress` below. Plain Python: nothing here imports Django.

The contract, for engine authors:
- `update(fraction, message)`: fraction of the whole job done, 0.0-1.0 (clamped; NaN is a bug and raises).
  Call it as often as you like -- the Job-row implementation throttles its writes.
- `metric(step, **values)`: one point of the metrics series (loss=0.41, pairs_per_s=12.0). `step` is the
  x-axis of the chart, monotone per job; values must be finite numbers (NaN/inf raise ValueError, which fails
  the job loudly rather than storing JSON the row cannot hold; skip or log a non-finite value if that is wrong).
- `log(line)`: one human-readable line for the job's log tail.
- `check_cancelled()`: raises `Cancelled` when the job was asked to stop. Call it once per step (per batch,
  per prompt); the job ends `cancelled` when `Cancelled` escapes the runner. Clean up (free the engine's
  memory, close files) in `finally` blocks, not by catching `Cancelled`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["Cancelled", "Progress", "MemoryProgress", "NullProgress", "clamp_fraction", "check_metric_values"]


class Cancelled(Exception):
    """The job was asked to stop; raised by `Progress.check_cancelled()` and left to propagate."""


@runtime_checkable
class Progress(Protocol):
    """What an engine function may tell the outside world while it runs. See the module docstring."""

    def update(self, fraction: float, message: str = "") -> None: ...

    def metric(self, step: int, **values: float) -> None: ...

    def log(self, line: str) -> None: ...

    def check_cancelled(self) -> None: ...


def clamp_fraction(fraction: float) -> float:
    """`fraction` clamped to [0, 1]: rounding may overshoot by a hair; NaN is a bug and raises ValueError."""
    value = float(fraction)
    if math.isnan(value):
        raise ValueError("progress fraction is NaN")
    return min(1.0, max(0.0, value))


def check_metric_values(step: int, values: dict[str, float]) -> dict[str, float]:
    """`values` as floats; raises ValueError for a negative step, no values, or a non-finite value."""
    if int(step) != step or step < 0:
        raise ValueError(f"metric step must be a non-negative integer, got {step!r}")
    if not values:
        raise ValueError("metric() needs at least one name=value")
    out: dict[str, float] = {}
    for name, value in values.items():
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"metric {name}={value!r} at step {step} is not finite")
        out[name] = number
    return out


@dataclass
class MemoryProgress:
    """A `Progress` that keeps everything in lists: for engine unit tests and scripts.

    `cancel()` makes the next `check_cancelled()` raise; `cancel_at_check=n` does so at the n-th call
    (1-based), which lets a test stop an engine in the middle of its loop without threads.
    """

    cancel_at_check: int | None = None
    fractions: list[float] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    metrics: list[dict[str, float]] = field(default_factory=list)  # [{"step": 3, "loss": 0.4}, ...]
    lines: list[str] = field(default_factory=list)
    checks: int = 0
    cancelled: bool = False

    def update(self, fraction: float, message: str = "") -> None:
        self.fractions.append(clamp_fraction(fraction))
        if message:
            self.messages.append(message)

    def metric(self, step: int, **values: float) -> None:
        self.metrics.append({"step": int(step), **check_metric_values(step, values)})

    def log(self, line: str) -> None:
        self.lines.append(str(line))

    def check_cancelled(self) -> None:
        self.checks += 1
        if self.cancel_at_check is not None and self.checks >= self.cancel_at_check:
            self.cancelled = True
        if self.cancelled:
            raise Cancelled("cancelled")

    def cancel(self) -> None:
        self.cancelled = True

    @property
    def fraction(self) -> float:
        """The last reported fraction (0.0 before any update)."""
        return self.fractions[-1] if self.fractions else 0.0


class NullProgress:
    """A `Progress` that discards everything and never cancels: for callers that do not track a job."""

    def update(self, fraction: float, message: str = "") -> None:
        clamp_fraction(fraction)

    def metric(self, step: int, **values: float) -> None:
        check_metric_values(step, values)

    def log(self, line: str) -> None:
        pass

    def check_cancelled(self) -> None:
        pass
