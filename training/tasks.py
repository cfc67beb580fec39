"""Celery tasks of the training app: shells around training/services/jobs.py.

One task for every kind of job; `job_start` sends it to the kind's queue (`default` or `gpu`). Delivery
semantics (acks_late, redelivery after a lost worker, duplicates) are decided from the Job row by `job_run`:
see the docstring of training/services/jobs.py.
"""
import os

from celery import shared_task
from celery.signals import worker_process_shutdown, worker_ready, worker_shutdown


@shared_task(bind=True, name="training.job_run", acks_late=True, reject_on_worker_lost=True)
def job_run_task(self, job_id: int) -> str:
    """Run Job `job_id` in this worker process; returns what happened (for the worker's log)."""
    from .services.jobs import job_run

    return job_run(job_id=job_id, worker=f"{self.request.hostname} pid {os.getpid()}")


@worker_ready.connect
def reap_stale_jobs_on_worker_ready(sender=None, **kwargs) -> None:
    """A worker that starts may be the replacement of one that died mid-job: reap jobs left running."""
    from django.db import connections

    from .services.jobs import jobs_reap_stale

    try:
        jobs_reap_stale()
    finally:
        connections.close_all()  # this is the worker's main process: keep no connection for forks to share


@worker_shutdown.connect
@worker_process_shutdown.connect
def close_engines_on_worker_shutdown(sender=None, **kwargs) -> None:
    """A worker that stops (SIGTERM: warm shutdown) shuts its loaded engine down with the engine's own processes
    (vLLM's engine core and its workers), which would otherwise outlive it. `worker_shutdown` fires in the main
    process (where a `--pool solo` worker runs its jobs), `worker_process_shutdown` in each prefork child."""
    from .engine.backends import forget_backend

    forget_backend()
