"""Celery tasks of the annotation app. Tasks are shells: ids in, one service call, nothing else."""
import socket

from celery import shared_task


@shared_task(name="annotation.ping")
def ping(message: str = "pong") -> dict[str, str]:
    """Answer from a worker: proves the broker, the worker and the task registry work end to end."""
    return {"message": message, "host": socket.gethostname()}
