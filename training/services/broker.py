"""What the Celery broker still holds: is a job's message waiting in a queue or taken by a worker?

Celery has no API for "is this task id anywhere?", so this looks at the two transports PrefStudio runs on:

- Redis: a waiting message is an entry of the queue's list (one list per priority step), and a message a worker
  has taken (prefetched or running: acks_late) sits in the `unacked` hash until it is acknowledged. A message
  that is in neither is gone -- e.g. a Redis without persistence restarted, or its database was flushed.
- filesystem (`make run`): a waiting message is a file in the broker's folder. The transport has no unacked
  store: a worker that takes a message deletes its file, so a message taken by a worker that has not started it
  yet looks gone. With prefetch 1 and acks_late a worker takes only what it starts at once, and a message sent
  again by mistake is harmless (job_run decides from the row), so this is good enough for one local worker.

Any other transport answers None: "cannot tell", and nothing is re-sent.
"""
from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)


def broker_task_ids_present(*, task_ids: Collection[str], queues: Iterable[str]) -> set[str] | None:
    """The ids of `task_ids` whose message the broker holds (waiting in `queues`, or taken and not acknowledged).

    None when the transport cannot be inspected. Task ids are uuid4 strings, so finding one in a message's raw
    bytes is as good as parsing it. Raises kombu/redis errors when the broker is unreachable.
    """
    if not task_ids:
        return set()
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://")):
        blobs = _redis_messages(queues=list(queues))
    elif url.startswith("filesystem://"):
        blobs = _folder_messages()
    else:
        logger.info("cannot look into a %s broker for lost messages", url.split(":", 1)[0])
        return None
    present: set[str] = set()
    wanted = {task_id.encode(): task_id for task_id in task_ids}
    for blob in blobs:
        for raw, task_id in wanted.items():
            if raw in blob:
                present.add(task_id)
    return present


def _redis_messages(*, queues: list[str]) -> list[bytes]:
    from prefstudio.celery import app

    with app.connection_for_read() as conn:
        channel = conn.default_channel
        client = channel.client
        blobs: list[bytes] = []
        for queue in queues:
            for priority in channel.priority_steps:
                # kombu keeps one list per priority step: "gpu", "gpu\x06\x163", ... (Channel._q_for_pri).
                blobs.extend(client.lrange(channel._q_for_pri(queue, priority), 0, -1))
        blobs.extend(client.hvals(channel.unacked_key))
    return blobs


def _folder_messages() -> list[bytes]:
    folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
    blobs = []
    for path in folder.glob("*.msg"):
        try:
            blobs.append(path.read_bytes())
        except FileNotFoundError:  # a worker took it meanwhile
            continue
    return blobs
