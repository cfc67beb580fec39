"""A real `celery -A prefstudio worker` subprocess on the test database and the test broker.

The worker gets DATABASE_URL of the test database (pytest-django's test_<name>, so call this after the
database is set up and from tests whose rows are committed: django_db(transaction=True) or live_server),
CELERY_BROKER_URL of the tests (TEST_BROKER_URL in `make test`) and short job timings, so that a lost worker
is noticed in seconds rather than minutes.
"""
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).with_name("celery")
WORKER_SCRIPT = ROOT / "scripts" / "worker.sh"  # what the Makefile, scripts/run_dev.sh and docker-compose.yml run
# Job timings of the test workers (prefstudio/settings/celery.py has the production ones and why).
TIMINGS = {
    "JOBS_HEARTBEAT_SECONDS": "0.25",
    "JOBS_STALE_AFTER_SECONDS": "2",
    "JOBS_PROGRESS_WRITE_SECONDS": "0.1",
    "JOBS_CANCEL_CHECK_SECONDS": "0.1",
    # The reaper's timer is off unless a test turns it on (REAPING): a worker of another test reaping in the
    # background would take the jobs the lost-worker tests want to watch.
    "JOBS_REAP_SECONDS": "0",
    "JOBS_RESEND_AFTER_SECONDS": "1",
}
REAPING = {"JOBS_REAP_SECONDS": "0.5"}
STALE_AFTER = float(TIMINGS["JOBS_STALE_AFTER_SECONDS"])


def worker_database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class CeleryWorker:
    """start() -> the worker is consuming; kill() is SIGKILL of the whole worker; stop() a warm shutdown.

    `shipped=True` starts the command every shipped worker runs (scripts/worker.sh, as `make worker` /
    `make cpu-worker` / `make gpu-worker` / `make run` do: its pool follows the queues); otherwise a prefork
    worker with one pool process, whose pool the lost-worker tests kill on their own.
    """

    def __init__(self, *, name: str, queues: str, log_dir: Path, shipped: bool = False, **env: str) -> None:
        self.name = name
        self.queues = queues
        self.shipped = shipped
        self.log = log_dir / f"{name}.log"
        self.env = {
            **os.environ, **TIMINGS, "DATABASE_URL": worker_database_url(), "DB_CONN_MAX_AGE": "0",
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "SECRET_KEY": "test-only-secret", **env,
        }
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90.0) -> "CeleryWorker":
        command = [
            str(CELERY), "-A", "prefstudio", "worker", "-Q", self.queues, "--concurrency", "1",
            "--prefetch-multiplier", "1", "-n", f"{self.name}@%h", "--without-gossip", "--without-mingle",
            "--loglevel", "INFO", "--logfile", str(self.log),
        ]
        if self.shipped:
            command = ["bash", str(WORKER_SCRIPT), "--loglevel", "INFO", "--logfile", str(self.log)]
            self.env.update(WORKER_QUEUES=self.queues, WORKER_NAME=f"{self.name}@%h", VENV=str(CELERY.parent.parent))
        # Its own session: kill() takes the pool process down with the main one, as a machine loss would.
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, start_new_session=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for(lambda: " ready." in self.log_text(), timeout, f"worker {self.name} to start", self)
        return self

    def log_text(self) -> str:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"worker {self.name} exited with {self.process.returncode}:\n{self.tail()}")
        return self.log.read_text() if self.log.exists() else ""

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text() if self.log.exists() else "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL the main process and its pool at once: no shutdown, no ack, no goodbye."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 15) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # warm shutdown
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, worker: CeleryWorker | None = None) -> Any:
    """Poll `predicate` every 50 ms until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    log = f"\nworker log:\n{worker.tail()}" if worker else ""
    raise AssertionError(f"gave up waiting {timeout:g} s for {what}{log}")


def pool_pid(worker_host: str) -> int:
    """The pool process a job ran in, from Job.worker_host ("name@host pid 1234")."""
    match = re.search(r" pid (\d+)$", worker_host)
    assert match, worker_host
    return int(match.group(1))


def flush_broker() -> None:
    """Empty the test broker's database (what a restart of a Redis without persistence does)."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    client.close()


@contextmanager
def running_worker(django_db_blocker: Any, *, name: str, queues: str, log_dir: Path, shipped: bool = False,
                   **env: str) -> Iterator[CeleryWorker]:
    """A started CeleryWorker on an empty broker (for a module-scoped fixture: `django_db_blocker` lets it read the
    test database's settings), stopped and the broker emptied again at the end."""
    flush_broker()
    with django_db_blocker.unblock():
        worker = CeleryWorker(name=name, queues=queues, log_dir=log_dir, shipped=shipped, **env)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        flush_broker()
