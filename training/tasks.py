"""Celery tasks of the training app: shells around training/services/jobs.py.

One task for every kind of job; `job_start` sends it to the kind's queue (`default` or `gpu`). Delivery
semantics (acks_late, redelivery after a lost worker, duplicates) are decided from the Job row by `job_run`:
see the docstring of training/services/jobs.py.

Every worker also reaps: once when it starts (it may be the replacement of one that died mid-job) and then every
JOBS_REAP_SECONDS on a thread of its main process. A timer inside the worker rather than celery beat, because
beat is one more process a user can forget to start (`make run` starts one worker and nothing else); with
several workers each reaps, which is safe: the reaper locks each row and skips rows another one holds.
"""
import logging
import os
import threading

from celery import shared_task
from celery.signals import worker_process_shutdown, worker_ready, worker_shutdown

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="training.job_run", acks_late=True, reject_on_worker_lost=True)
def job_run_task(self, job_id: int) -> str:
    """Run Job `job_id` in this worker process; returns what happened (for the worker's log)."""
    from .services.jobs import job_run

    return job_run(job_id=job_id, worker=f"{self.request.hostname} pid {os.getpid()}")


def reap_once() -> None:
    """Re-queue or fail jobs of lost workers, fail their import runs, re-send lost messages; never raises (logged)."""
    from django.db import connections

    from annotation.services.import_runs import import_runs_reap_lost

    from .services.jobs import jobs_reap_stale, jobs_resend_lost

    try:
        for run_id in import_runs_reap_lost():
            logger.warning("reaper: import run %s failed (its worker was lost)", run_id)
        for job_id, outcome in jobs_reap_stale():
            logger.warning("reaper: job %s %s (its worker stopped beating)", job_id, outcome)
        for job_id in jobs_resend_lost():
            logger.warning("reaper: job %s re-sent (the broker had lost its message)", job_id)
    except Exception:  # noqa: BLE001 -- a database or broker outage must not kill the reaper thread
        logger.exception("reaper: this round failed; trying again in %s s", _reap_seconds())
    finally:
        # This runs in the worker's main process: keep no connection open for pool processes forked later.
        connections.close_all()


def _reap_seconds() -> float:
    from django.conf import settings

    return settings.JOBS_REAP_SECONDS


class _Reaper(threading.Thread):
    """Calls reap_once() every JOBS_REAP_SECONDS until stopped."""

    def __init__(self) -> None:
        super().__init__(name="prefstudio-job-reaper", daemon=True)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(_reap_seconds()):
            reap_once()


_reaper: _Reaper | None = None


@worker_ready.connect
def start_reaper_on_worker_ready(sender=None, **kwargs) -> None:
    global _reaper
    reap_once()
    if _reap_seconds() > 0 and _reaper is None:
        _reaper = _Reaper()
        _reaper.start()


@worker_shutdown.connect
def stop_reaper_on_worker_shutdown(sender=None, **kwargs) -> None:
    if _reaper is not None:
        _reaper.stopped.set()


@worker_shutdown.connect
@worker_process_shutdown.connect
def close_engines_on_worker_shutdown(sender=None, **kwargs) -> None:
    """A worker that stops (SIGTERM: warm shutdown) shuts its loaded engine down with the engine's own processes
    (vLLM's engine core and its workers), which would otherwise outlive it. `worker_shutdown` fires in the main
    process (where a `--pool solo` worker runs its jobs), `worker_process_shutdown` in each prefork child."""
    from .engine.backends import forget_backend

    forget_backend()
