"""The Job row behind an engine's `Progress`, and the heartbeat that says its worker is alive.

`JobRowProgress` is what `job_run` hands a runner. It keeps the latest fraction, message, metrics series and log
tail in memory and writes them to the row at most every `write_interval` seconds, so an engine may report every
step of a fast loop without a write per step. `check_cancelled()` reads the row at most every
`cancel_interval` seconds.

Every write is guarded by (state=running, attempts=this run's attempt): a runner whose job was taken from it
(its worker was thought lost and the job re-run or failed; see jobs_reap_stale) writes nothing, and its next
`check_cancelled()` raises `Cancelled`, so it stops instead of fighting the new run.

`Heartbeat` touches `heartbeat_at` from a thread of its own every few seconds while the runner runs, so the
heartbeat proves the worker process is alive even while the engine is silent for a long time (a model loading,
one long step). It stops when the process dies, which is how the reaper and `job_run` tell a lost job.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from common.progress import Cancelled, check_metric_values, clamp_fraction

from ..models import Job, JobState

logger = logging.getLogger(__name__)

LOG_TAIL_LINES = 200  # what the job page shows; the full log is the worker's own
MAX_LINE_CHARS = 2000  # one runaway line (a tensor printed whole) must not fill the tail
MAX_METRIC_POINTS = 2000  # past this the series is thinned (every 2nd point kept): a chart needs no more
MESSAGE_CHARS = 500  # Job.message max_length
TAKEN_OVER = "this run no longer owns the job (its worker was taken for lost)"


class JobRowProgress:
    """A `common.progress.Progress` that writes to Job `job_id` (run number `attempt`)."""

    def __init__(
        self,
        *,
        job_id: int,
        attempt: int,
        log_tail: str = "",
        write_interval: float | None = None,
        cancel_interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.job_id = job_id
        self.attempt = attempt
        self.write_interval = settings.JOBS_PROGRESS_WRITE_SECONDS if write_interval is None else write_interval
        self.cancel_interval = settings.JOBS_CANCEL_CHECK_SECONDS if cancel_interval is None else cancel_interval
        self._clock = clock
        self._started = clock()
        self._fraction = 0.0
        self._message = ""
        self._metrics: list[dict[str, float]] = []
        self._lines: deque[str] = deque(log_tail.splitlines(), maxlen=LOG_TAIL_LINES)
        self._dirty = False
        self._last_write = -math.inf
        self._last_check = -math.inf
        self._stop_reason: str | None = None  # set once cancel was seen or the job was taken from this run
        self.writes = 0  # rows written, for tests and logs

    # -- the Progress protocol ---------------------------------------------------------------------
    def update(self, fraction: float, message: str = "") -> None:
        self._fraction = clamp_fraction(fraction)
        if message:
            self._message = message[:MESSAGE_CHARS]
        self._touch()

    def metric(self, step: int, **values: float) -> None:
        self._metrics.append({"step": int(step), **check_metric_values(step, values)})
        if len(self._metrics) > MAX_METRIC_POINTS:
            self._metrics = self._metrics[::2]
        self._touch()

    def log(self, line: str) -> None:
        for part in str(line).splitlines() or [""]:
            self._lines.append(part if len(part) <= MAX_LINE_CHARS else part[:MAX_LINE_CHARS] + " …")
        self._touch()

    def check_cancelled(self) -> None:
        if self._stop_reason is None:
            now = self._clock()
            if now - self._last_check >= self.cancel_interval:
                self._last_check = now
                self._stop_reason = self._read_stop_reason()
        if self._stop_reason is not None:
            raise Cancelled(self._stop_reason)

    # -- for job_run --------------------------------------------------------------------------------
    @property
    def fraction(self) -> float:
        return self._fraction

    @property
    def message(self) -> str:
        return self._message

    @property
    def taken_over(self) -> bool:
        """True when a write found the row no longer this run's (re-run elsewhere, or failed by the reaper)."""
        return self._stop_reason == TAKEN_OVER

    def snapshot(self) -> dict[str, Any]:
        """The Job fields this object owns, as of now: progress, message, ETA, metrics, log tail."""
        return {
            "progress": round(self._fraction * 100.0, 2),
            "message": self._message,
            "eta_seconds": self._eta(),
            "metrics": list(self._metrics),
            "log_tail": "\n".join(self._lines),
        }

    def flush(self, *, force: bool = False) -> bool:
        """Write the snapshot now if anything changed and the last write is `write_interval` old (or `force`)."""
        now = self._clock()
        if not self._dirty or (not force and now - self._last_write < self.write_interval):
            return False
        self._last_write = now
        self._dirty = False
        written = self._rows().update(**self.snapshot(), heartbeat_at=timezone.now())
        self.writes += 1
        if not written:
            self._stop_reason = TAKEN_OVER
        return bool(written)

    # -- internals ----------------------------------------------------------------------------------
    def _touch(self) -> None:
        self._dirty = True
        self.flush()

    def _rows(self):
        return Job.objects.filter(pk=self.job_id, state=JobState.RUNNING, attempts=self.attempt)

    def _read_stop_reason(self) -> str | None:
        row = self._rows().values_list("cancel_requested", flat=True).first()
        if row is None:
            return TAKEN_OVER
        return "cancel requested" if row else None

    def _eta(self) -> float | None:
        """Seconds left, from the average pace so far; None before the first progress or after the last."""
        if not 0.0 < self._fraction < 1.0:
            return None
        elapsed = self._clock() - self._started
        return round(elapsed * (1.0 - self._fraction) / self._fraction, 1)


class Heartbeat:
    """Context manager: a daemon thread sets Job.heartbeat_at = now every `interval` seconds until exit.

    The thread has its own database connection (Django's are per thread) and closes it when it stops.
    """

    def __init__(self, *, job_id: int, attempt: int, interval: float | None = None) -> None:
        self.job_id = job_id
        self.attempt = attempt
        self.interval = settings.JOBS_HEARTBEAT_SECONDS if interval is None else interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"job-{job_id}-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    Job.objects.filter(pk=self.job_id, state=JobState.RUNNING, attempts=self.attempt).update(
                        heartbeat_at=timezone.now()
                    )
                except Exception:  # noqa: BLE001 -- a missed beat is retried; the runner must go on
                    logger.exception("heartbeat of job %s failed", self.job_id)
                    connection.close()
        finally:
            connection.close()
