"""The diagnostic job: proves that a queue has a live worker that reports progress, metrics and logs.

An operator starts one on a queue (`manage.py jobs start diagnostic --config '{"queue": "gpu"}'` or the form on
the job list) and watches it: if it never leaves "queued", no worker listens on that queue; if it runs, the page
shows which worker took it and that progress, metrics, logs and cancel work end to end. `fail_at_step` makes it
fail on purpose, to see how a failed job looks.
"""
from __future__ import annotations

import math
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from common.progress import Progress

from ...models import JobKind
from ..registry import QUEUES, JobContext, register

MAX_STEPS = 100_000
MAX_SECONDS_PER_STEP = 60.0  # a step longer than this is no longer a quick check (and delays cancel)


@dataclass
class DiagnosticConfig:
    """What the diagnostic job does: `steps` steps of `seconds_per_step` each."""

    steps: int = 10
    """Number of steps, 1-100000. Each step reports progress, one metrics point and one log line."""
    seconds_per_step: float = 0.5
    """Seconds slept per step, 0-60: the job takes about steps x seconds_per_step."""
    fail_at_step: int | None = None
    """If set (1..steps), the job raises at that step and ends failed."""
    queue: str = "default"
    """The queue to check: "default" (CPU workers) or "gpu"."""

    def __post_init__(self) -> None:
        if not 1 <= self.steps <= MAX_STEPS:
            raise ValueError(f"steps must be from 1 to {MAX_STEPS}, got {self.steps}")
        if not 0 <= self.seconds_per_step <= MAX_SECONDS_PER_STEP:
            raise ValueError(
                f"seconds_per_step must be from 0 to {MAX_SECONDS_PER_STEP:g}, got {self.seconds_per_step}"
            )
        if self.fail_at_step is not None and not 1 <= self.fail_at_step <= self.steps:
            raise ValueError(f"fail_at_step must be from 1 to steps ({self.steps}), got {self.fail_at_step}")
        if self.queue not in QUEUES:
            raise ValueError(f"queue must be one of {', '.join(QUEUES)}, got {self.queue!r}")


class DiagnosticFailure(RuntimeError):
    """The failure a diagnostic job was asked for (`fail_at_step`)."""


@register(JobKind.DIAGNOSTIC, config=DiagnosticConfig, queue=lambda config: config.queue)
def run(config: DiagnosticConfig, progress: Progress, context: JobContext) -> dict[str, Any]:
    """Sleep through the steps; report after each. Re-runnable: it writes nothing but the Job row."""
    devices = os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>")
    progress.log(f"diagnostic job on {context.worker} (host {socket.gethostname()}, pid {os.getpid()}, "
                 f"CUDA_VISIBLE_DEVICES={devices}), attempt {context.attempt}")
    started = time.monotonic()
    for step in range(1, config.steps + 1):
        progress.check_cancelled()
        time.sleep(config.seconds_per_step)
        if step == config.fail_at_step:
            raise DiagnosticFailure(f"failed on purpose at step {step} (fail_at_step={config.fail_at_step})")
        # A made-up loss curve, so the metrics chart has a shape to draw: decays from 1 towards 0.1.
        loss = 0.1 + 0.9 * math.exp(-4.0 * step / config.steps)
        progress.metric(step, loss=round(loss, 6), seconds=round(time.monotonic() - started, 3))
        progress.log(f"step {step}/{config.steps} loss={loss:.4f}")
        progress.update(step / config.steps, f"step {step} of {config.steps}")
    return {
        "steps": config.steps,
        "queue": config.queue,
        "worker": context.worker,
        "seconds": round(time.monotonic() - started, 3),
    }
