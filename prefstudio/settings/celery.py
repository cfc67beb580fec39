"""Celery: broker from CELERY_BROKER_URL; queues `default` (CPU) and `gpu`.

`make run` uses the filesystem broker (CELERY_BROKER_URL=filesystem://) so no Redis is needed;
production and tests use Redis. The Job row, not the result backend, is the truth about a job,
so results are not stored.
"""
from .base import BASE_DIR
from .env import env_bool, env_int, env_str

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]

if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = BASE_DIR / "var" / "broker"
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # kombu's default control folder is ./control, inside the checkout.
        "control_folder": str(_broker_dir / "control"),
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }

# -- jobs (training/services/jobs.py) -----------------------------------------------------------------
# A running job's worker touches Job.heartbeat_at every JOBS_HEARTBEAT_SECONDS from a thread of its own, so
# the heartbeat proves the worker process is alive even while the engine is busy (loading a model, one long
# step). A running job whose heartbeat is older than JOBS_STALE_AFTER_SECONDS has lost its worker: it is
# run again (up to JOBS_MAX_ATTEMPTS runs in all) or failed with the reason. Keep the threshold a few
# heartbeats long, so that a slow database write is not taken for a dead worker. Heartbeats are stamped with
# the worker's clock and judged with the reaper's: keep machines' clocks in sync (NTP) well within that.
JOBS_HEARTBEAT_SECONDS = float(env_str("JOBS_HEARTBEAT_SECONDS", "10"))
JOBS_STALE_AFTER_SECONDS = float(env_str("JOBS_STALE_AFTER_SECONDS", "30"))
JOBS_MAX_ATTEMPTS = env_int("JOBS_MAX_ATTEMPTS", 2)
# Every worker reaps every JOBS_REAP_SECONDS (training/tasks.py; 0 turns the timer off): a dead worker's job is
# re-queued or failed within JOBS_STALE_AFTER_SECONDS + JOBS_REAP_SECONDS of its last heartbeat (45 s: under a
# minute), and a job queued for JOBS_RESEND_AFTER_SECONDS whose message the broker lost is sent again.
JOBS_REAP_SECONDS = float(env_str("JOBS_REAP_SECONDS", "15"))
JOBS_RESEND_AFTER_SECONDS = float(env_str("JOBS_RESEND_AFTER_SECONDS", "30"))
# Progress, metrics and log lines are written to the row at most this often; cancel is looked up as often.
JOBS_PROGRESS_WRITE_SECONDS = float(env_str("JOBS_PROGRESS_WRITE_SECONDS", "1"))
JOBS_CANCEL_CHECK_SECONDS = float(env_str("JOBS_CANCEL_CHECK_SECONDS", "1"))

# Redis redelivers a message that was taken but not acknowledged (acks_late: acknowledged when the job ends)
# once `visibility_timeout` seconds have passed -- also while a healthy worker is still running a long job.
# That duplicate is harmless: job_run sees a running job with a fresh heartbeat and leaves it alone. A job
# whose worker vanished does not wait for it (the reaper re-queues it); the timeout still bounds how long the
# message of a job a killed worker had taken but not started stays invisible, so it is kept well under 1 hour.
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 900)
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
