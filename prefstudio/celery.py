"""The Celery application. Queues: `default` (CPU work) and `gpu` (one job per GPU)."""
import os

from celery import Celery
from kombu import Queue

from common.memory import unmap_large_blocks

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prefstudio.settings")

unmap_large_blocks()  # freed arrays leave every process that loads the app (common/memory.py); forks inherit it
app = Celery("prefstudio")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each queue bound under its own routing key: left out, both would be bound under "default", and a
# message published by exchange and routing key (task_routes) would land on both queues.
app.conf.task_queues = (Queue("default", routing_key="default"), Queue("gpu", routing_key="gpu"))
app.autodiscover_tasks()
