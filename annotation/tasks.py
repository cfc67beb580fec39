"""Celery tasks of the annotation app. Tasks are shells: ids in, one service call, nothing else."""
import socket

from celery import shared_task


@shared_task(name="annotation.ping")
def ping(message: str = "pong") -> dict[str, str]:
    """Answer from a worker: proves the broker, the worker and the task registry work end to end."""
    return {"message": message, "host": socket.gethostname()}


@shared_task(name="annotation.import_run", acks_late=True, reject_on_worker_lost=True)
def import_run_task(run_id: int) -> str:
    """Import the upload of ImportRun `run_id` (annotation.services.import_runs); idempotent."""
    from .services.import_runs import import_run_execute

    return import_run_execute(run_id=run_id)


@shared_task(name="annotation.figures_refresh")
def figures_refresh_task(project_id: int, names: list[str]) -> list[str]:
    """Compute and store a large project's page figures (annotation.services.figures); idempotent."""
    from .services.figures import figures_refresh

    return figures_refresh(project_id=project_id, names=names)
