"""A transformers TrainerCallback that forwards training to the `Progress` protocol (common/progress.py).

- every optimizer step: `check_cancelled()` first (so a cancel stops before the next step's work, and the last
  checkpoint is the resume point), then `update(step / max_steps, "step 12/40 · ETA 0:01:10")`;
- every log: `metric(step, loss=..., learning_rate=..., accuracy=..., ...)` (finite numbers only; TRL's "a/b"
  names become "a_b"; DPO's "rewards/accuracies" is also sent as "accuracy") and one log line.
`Cancelled` raised here propagates out of `Trainer.train()`; the trainer functions clean up in `finally`.
Under `accelerate launch` every process checks for a cancel (so all stop together) but only the main process
reports, so that each point and line arrives once.
"""
from __future__ import annotations

import math
import time
from datetime import timedelta

from transformers import TrainerCallback

from common.progress import Progress

__all__ = ["ProgressCallback", "metric_values"]

# TRL names -> the names the job page charts; others pass through with "/" -> "_".
ALIASES = {"rewards/accuracies": "accuracy", "rewards/margins": "margin", "eval_rewards/accuracies": "eval_accuracy"}
SKIP = {"total_flos", "train_runtime", "train_samples_per_second", "train_steps_per_second", "epoch_end"}


def metric_values(logs: dict) -> dict[str, float]:
    """The finite numeric entries of a transformers log dict, renamed for the Progress metrics series."""
    values: dict[str, float] = {}
    for key, value in logs.items():
        if key in SKIP or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if not math.isfinite(value):
            continue
        values[key.replace("/", "_")] = float(value)
        if key in ALIASES:
            values[ALIASES[key]] = float(value)
    return values


class ProgressCallback(TrainerCallback):
    """Reports a Trainer's steps and logs to `progress`; raises `Cancelled` when the job was asked to stop."""

    def __init__(self, progress: Progress, *, label: str = "training") -> None:
        self.progress = progress
        self.label = label
        self._start: float | None = None
        self._start_step = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self._start = time.monotonic()
        self._start_step = state.global_step  # > 0 after resuming: the ETA counts only steps run here
        if not state.is_world_process_zero:
            return
        if state.global_step:
            self.progress.log(f"{self.label}: resumed at step {state.global_step}/{state.max_steps}")
        else:
            self.progress.log(f"{self.label}: {state.max_steps} steps")

    def on_step_begin(self, args, state, control, **kwargs):
        self.progress.check_cancelled()

    def on_step_end(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        step, total = state.global_step, max(state.max_steps, 1)
        message = f"step {step}/{total}"
        done_here = step - self._start_step
        if self._start is not None and done_here > 0:
            remaining = (time.monotonic() - self._start) / done_here * (total - step)
            message += f" · ETA {timedelta(seconds=round(remaining))}"
        self.progress.update(step / total, message)

    def on_log(self, args, state, control, logs=None, **kwargs):
        values = metric_values(logs or {})
        if values and state.is_world_process_zero:
            self.progress.metric(state.global_step, **values)
            shown = ", ".join(f"{k}={v:.4g}" for k, v in values.items() if k in ("loss", "accuracy", "eval_loss"))
            self.progress.log(f"step {state.global_step}: {shown or ', '.join(values)}")

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.progress.log(f"checkpoint saved at step {state.global_step}")
