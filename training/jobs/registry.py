"""Which job kinds exist: JobKind -> (config dataclass, runner, queue).

A runner is the part of a job that knows what the job does:

    def run(config: MyConfig, progress: Progress, context: JobContext) -> dict: ...

It gets the parsed config dataclass, a `common.progress.Progress` (the Job row behind it, see
training/services/job_progress.py) and a `JobContext` (ids, not model instances), and returns a JSON-able dict
that becomes the Job's `artifacts` (counts, ids of rows it created, paths of files it wrote). It raises to fail
the job; `Cancelled` (from `progress.check_cancelled()`) ends it cancelled.

A runner may be started again from the beginning after its worker was lost (a killed or crashed worker, see
`job_run`): make it idempotent -- skip work already written, resume from a checkpoint (`context.attempt > 1`
says it is a re-run) -- or register it with `rerun_on_worker_lost=False`, and a lost job is failed instead.

Registering: one module per kind (or a few) under training/jobs/runners/; every module there is imported the
first time the registry is asked (`autodiscover`), in the web process and in workers alike. Such a module
must stay cheap to import: import torch / vLLM / transformers inside the runner, not at the top.

    @register(JobKind.GENERATE, config=GenerationConfig, queue="gpu")
    def run(config, progress, context): ...

A family of kinds that comes from a table of its own registers a *source* instead: a function returning
JobTypes, asked each time the registry is (the trainers: training/jobs/runners/train.py reads the TrainerSpec
table, so a trainer registered later, e.g. by a test, is a job kind at once). A kind registered with
`register` wins over one of the same name from a source.
"""
from __future__ import annotations

import importlib
import logging
import pkgutil
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.progress import Progress
from common.config import config_from_dict

__all__ = [
    "QUEUES", "JobContext", "JobType", "UnknownJobKind", "register", "register_source", "unregister", "job_type",
    "job_types",
]

logger = logging.getLogger(__name__)

QUEUES = ("default", "gpu")  # prefstudio/celery.py declares these two


@dataclass(frozen=True)
class JobContext:
    """What a runner knows about its job besides the config. Ids, not model instances."""

    job_id: int
    project_id: int | None
    dataset_version_id: int | None
    user_id: int | None  # who started the job; None for a job started from the command line
    worker: str  # the Celery node (and pid) running it
    attempt: int  # 1 for the first run; 2+ for a re-run after the worker was lost
    artifact_dir: Path  # a directory of this job's own for checkpoints and outputs (not created yet)


Runner = Callable[[Any, Progress, JobContext], Mapping[str, Any]]


@dataclass(frozen=True)
class JobType:
    """One registered kind of job."""

    kind: str  # a JobKind value
    config_class: type
    run: Runner
    # The Celery queue its jobs go to: "default" (CPU) or "gpu" (one job per GPU), or a function of the
    # parsed config for kinds that can run on either (the diagnostic job checks whichever queue it is told).
    queue: str | Callable[[Any], str] = "default"
    # May a job whose worker was lost be run again from the start? See the module docstring.
    rerun_on_worker_lost: bool = True
    # Does the job read a dataset version (job_start refuses one without, rather than queue a job that can only fail)?
    needs_dataset_version: bool = False

    def parse_config(self, data: Any) -> Any:
        """The config dataclass for `data` (JSON); raises common.config.ConfigError naming the field."""
        return config_from_dict(self.config_class, data)

    def queue_for(self, config: Any) -> str:
        queue = self.queue(config) if callable(self.queue) else self.queue
        if queue not in QUEUES:
            raise ValueError(f"job kind {self.kind!r} asked for queue {queue!r}; the queues are {QUEUES}")
        return queue


class UnknownJobKind(LookupError):
    """No runner is registered for the kind (or its module failed to import: see `reason`)."""

    def __init__(self, kind: str, reason: str = "") -> None:
        super().__init__(f"no job runner for kind {kind!r}" + (f": {reason}" if reason else ""))
        self.kind = kind
        self.reason = reason


_types: dict[str, JobType] = {}
_sources: list[Callable[[], Iterable[JobType]]] = []
_import_errors: dict[str, str] = {}  # runner module -> why it failed to import
_discovered = False
_lock = threading.Lock()


def register(
    kind: str,
    *,
    config: type,
    queue: str | Callable[[Any], str] = "default",
    rerun_on_worker_lost: bool = True,
    needs_dataset_version: bool = False,
) -> Callable[[Runner], Runner]:
    """Decorator: register the decorated function as the runner of `kind`. A kind has one runner."""

    def decorate(run: Runner) -> Runner:
        kind_value = str(getattr(kind, "value", kind))
        existing = _types.get(kind_value)
        if existing is not None and existing.run is not run:
            raise ValueError(f"job kind {kind_value!r} already has a runner ({existing.run.__module__})")
        if isinstance(queue, str) and queue not in QUEUES:
            raise ValueError(f"queue {queue!r} is not one of {QUEUES}")
        _types[kind_value] = JobType(kind_value, config, run, queue, rerun_on_worker_lost, needs_dataset_version)
        return run

    return decorate


def register_source(source: Callable[[], Iterable[JobType]]) -> Callable[[], Iterable[JobType]]:
    """Register a function that lists JobTypes (asked on every lookup; see the module docstring)."""
    if source not in _sources:
        _sources.append(source)
    return source


def _registered() -> dict[str, JobType]:
    found = {}
    for source in _sources:
        found.update((jtype.kind, jtype) for jtype in source())
    return {**found, **_types}


def unregister(kind: str) -> None:
    """Forget a kind's runner (tests register throw-away kinds and remove them again)."""
    _types.pop(str(getattr(kind, "value", kind)), None)


def job_type(kind: str) -> JobType:
    """The registered type of `kind`; raises UnknownJobKind."""
    autodiscover()
    kind_value = str(getattr(kind, "value", kind))
    try:
        return _registered()[kind_value]
    except KeyError:
        reason = "; ".join(f"{module} failed to import ({error})" for module, error in _import_errors.items())
        raise UnknownJobKind(kind_value, reason) from None


def job_types() -> list[JobType]:
    """Every registered kind, by kind name."""
    autodiscover()
    types_ = _registered()
    return [types_[k] for k in sorted(types_)]


def autodiscover() -> None:
    """Import every module of training.jobs.runners once, so that their `register` calls run.

    A module that fails to import is logged and remembered; the other kinds keep working, and asking
    for a kind that is missing says which module failed.
    """
    global _discovered
    if _discovered:
        return
    with _lock:
        if _discovered:
            return
        from . import runners

        for module in pkgutil.iter_modules(runners.__path__, prefix=runners.__name__ + "."):
            try:
                importlib.import_module(module.name)
            except Exception as exc:  # noqa: BLE001 -- one broken runner must not take the others down
                logger.exception("job runner module %s failed to import", module.name)
                _import_errors[module.name] = f"{type(exc).__name__}: {exc}"
        _discovered = True
