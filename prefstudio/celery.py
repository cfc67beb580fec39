"""The Celery application. Queues: `default` (CPU work) and `gpu` (one job per GPU)."""
import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prefstudio.settings")

app = Celery("prefstudio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("default"), Queue("gpu"))
app.autodiscover_tasks()
