"""training/services/job_progress.py: the Job row behind an engine's Progress, written at most so often.

Time is a fake clock the tests move by hand, so throttling is tested without sleeping.
"""
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from common.progress import Cancelled, Progress
from training.models import Job, JobState
from training.services.job_progress import LOG_TAIL_LINES, MAX_METRIC_POINTS, Heartbeat, JobRowProgress

from tests.training.job_fixtures import lab, owner, start_diagnostic  # noqa: F401

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def job(start_diagnostic) -> Job:
    job = start_diagnostic()
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING, attempts=1, started_at=timezone.now())
    return job


@pytest.fixture
def clock() -> Clock:
    return Clock()


def progress_for(job: Job, clock: Clock, **kwargs) -> JobRowProgress:
    return JobRowProgress(job_id=job.pk, attempt=1, write_interval=1.0, cancel_interval=0.5, clock=clock, **kwargs)


def updates(queries: CaptureQueriesContext) -> int:
    return sum(1 for q in queries.captured_queries if q["sql"].startswith("UPDATE"))


def test_it_is_a_progress():
    assert issubclass(JobRowProgress, Progress)


def test_a_fast_loop_writes_once_per_interval_and_the_row_shows_the_latest(job, clock):
    progress = progress_for(job, clock)
    with CaptureQueriesContext(connection) as queries:
        for step in range(1, 501):  # 500 steps within 0.5 s
            clock.now += 0.001
            progress.update(step / 1000, f"step {step}")
            progress.metric(step, loss=1.0 / step)
            progress.log(f"line {step}")
    assert progress.writes == 1 and updates(queries) == 1  # the first report, at once
    assert Job.objects.get(pk=job.pk).message == "step 1"

    clock.now += 1.0
    with CaptureQueriesContext(connection) as queries:
        progress.update(0.5, "half way")
    assert progress.writes == 2 and updates(queries) == 1
    row = Job.objects.get(pk=job.pk)
    assert row.progress == 50.0 and row.message == "half way"
    assert len(row.metrics) == 500 and row.metrics[-1] == {"step": 500, "loss": 1.0 / 500}
    assert row.log_tail.splitlines()[-1] == "line 500" and row.heartbeat_at is not None


def test_flush_writes_what_is_pending_and_nothing_when_nothing_changed(job, clock):
    progress = progress_for(job, clock)
    progress.update(0.1)
    progress.update(0.2)  # throttled
    assert Job.objects.get(pk=job.pk).progress == 10.0
    assert progress.flush(force=True) is True
    assert Job.objects.get(pk=job.pk).progress == 20.0
    assert progress.flush(force=True) is False  # nothing new


def test_the_eta_comes_from_the_pace_so_far(job, clock):
    progress = progress_for(job, clock)
    clock.now += 10.0
    progress.update(0.25)  # a quarter in 10 s: three quarters take 30 s more
    assert Job.objects.get(pk=job.pk).eta_seconds == 30.0
    assert progress.snapshot()["eta_seconds"] == 30.0
    progress.update(1.0)
    assert progress.snapshot()["eta_seconds"] is None


def test_cancel_is_read_from_the_row_at_most_every_interval(job, clock):
    progress = progress_for(job, clock)
    with CaptureQueriesContext(connection) as queries:
        for _ in range(100):
            progress.check_cancelled()
    assert len(queries.captured_queries) == 1
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    progress.check_cancelled()  # not looked up again yet
    clock.now += 0.5
    with pytest.raises(Cancelled, match="cancel requested"):
        progress.check_cancelled()
    with CaptureQueriesContext(connection) as queries, pytest.raises(Cancelled):
        progress.check_cancelled()  # once seen, it stays cancelled without asking again
    assert not queries.captured_queries


def test_a_run_that_lost_its_job_writes_nothing_and_is_told_to_stop(job, clock):
    progress = progress_for(job, clock)
    Job.objects.filter(pk=job.pk).update(attempts=2)  # re-run elsewhere after this worker was taken for lost
    progress.update(0.7, "stale run")
    assert Job.objects.get(pk=job.pk).message != "stale run"
    assert progress.taken_over
    with pytest.raises(Cancelled, match="no longer owns the job"):
        progress.check_cancelled()


def test_the_log_tail_and_the_metrics_series_stay_bounded(job, clock):
    progress = progress_for(job, clock, log_tail="from the first run")
    progress.log("x" * 10_000)
    for i in range(LOG_TAIL_LINES + 50):
        progress.log(f"line {i}")
    lines = progress.snapshot()["log_tail"].splitlines()
    assert len(lines) == LOG_TAIL_LINES and lines[-1] == f"line {LOG_TAIL_LINES + 49}"
    for step in range(MAX_METRIC_POINTS + 1):
        progress.metric(step, loss=0.5)
    metrics = progress.snapshot()["metrics"]
    assert len(metrics) <= MAX_METRIC_POINTS and metrics[0]["step"] == 0 and metrics[1]["step"] == 2
    long_line = progress_for(job, clock)
    long_line.log("y" * 10_000)
    assert len(long_line.snapshot()["log_tail"]) < 2100


def test_bad_reports_are_refused(job, clock):
    progress = progress_for(job, clock)
    with pytest.raises(ValueError, match="not finite"):
        progress.metric(1, loss=float("nan"))
    with pytest.raises(ValueError, match="NaN"):
        progress.update(float("nan"))
    progress.update(1.0000001)  # rounding past the end is clamped
    assert progress.fraction == 1.0


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_beats_while_the_runner_is_silent(lab):
    """The heartbeat is written from its own thread (and connection), committed, while the caller waits."""
    job = Job.objects.create(kind="diagnostic", project=lab, state=JobState.RUNNING, attempts=1,
                             heartbeat_at=timezone.now() - timedelta(hours=1))
    before = job.heartbeat_at
    with Heartbeat(job_id=job.pk, attempt=1, interval=0.01) as beat:
        for _ in range(1000):  # at most ~10 s; the first beat comes after 0.01 s
            if Job.objects.get(pk=job.pk).heartbeat_at != before:
                break
            beat._stop.wait(0.01)
    assert Job.objects.get(pk=job.pk).heartbeat_at > before
    assert not beat._thread.is_alive()
