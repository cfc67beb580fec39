"""The job lifecycle on real Celery worker processes, over the test broker (Redis) and the test database.

A worker on queue `default` serves the first tests; the lost-worker tests start workers of their own on queue
`gpu` (the diagnostic job goes where its config says), so that only the worker under test can take their job.
Worker timings are short (tests/training/worker_process.py): a heartbeat every 0.25 s, stale after 2 s.
"""
import os
import signal
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from training.models import Job, JobKind, JobState
from training.services.jobs import job_cancel, job_start

from .job_fixtures import lab, owner  # noqa: F401
from .worker_process import REAPING, STALE_AFTER, CeleryWorker, flush_broker, pool_pid, running_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)  # the workers must see the rows: commit them


@pytest.fixture(scope="module")
def default_worker(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[CeleryWorker]:
    with running_worker(django_db_blocker, name="jobs-default", queues="default",
                        log_dir=tmp_path_factory.mktemp("workers")) as worker:
        yield worker


@pytest.fixture
def gpu_workers(transactional_db, tmp_path) -> Iterator:
    """gpu_workers(name, **env) -> a started worker on queue gpu; all are stopped (or found dead) at the end."""
    started: list[CeleryWorker] = []

    def start(name: str, **env: str) -> CeleryWorker:
        worker = CeleryWorker(name=name, queues="gpu", log_dir=tmp_path, **env)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()
    flush_broker()


def finished(job: Job) -> Job | None:
    job.refresh_from_db()
    return job if job.state in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED) else None


def diagnostic(lab, **config) -> Job:
    return job_start(kind=JobKind.DIAGNOSTIC, config=config, project=lab)


def test_a_diagnostic_job_succeeds_with_its_progress_and_metrics(default_worker, lab):
    job = diagnostic(lab, steps=5, seconds_per_step=0.05)
    wait_for(lambda: finished(job), 30, "the job to finish", default_worker)
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.progress == 100.0 and job.attempts == 1
    assert [point["step"] for point in job.metrics] == [1, 2, 3, 4, 5]
    assert job.worker_host.startswith("jobs-default@") and job.artifacts["steps"] == 5
    assert "step 5/5" in job.log_tail and job.started_at <= job.finished_at
    assert f"Task training.job_run[{job.celery_task_id}] succeeded" in default_worker.log_text()


def test_a_failing_job_ends_failed_with_the_error_shown(default_worker, lab):
    job = diagnostic(lab, steps=5, seconds_per_step=0.01, fail_at_step=2)
    wait_for(lambda: finished(job), 30, "the job to finish", default_worker)
    assert job.state == JobState.FAILED
    assert job.error == "DiagnosticFailure: failed on purpose at step 2 (fail_at_step=2)"
    assert "Traceback (most recent call last)" in job.log_tail
    assert [point["step"] for point in job.metrics] == [1]


def test_cancelling_a_running_job_ends_it_cancelled_within_seconds(default_worker, lab, owner):
    job = diagnostic(lab, steps=600, seconds_per_step=0.05)  # 30 s if nobody stops it
    wait_for(lambda: Job.objects.filter(pk=job.pk, state=JobState.RUNNING, progress__gt=0).exists(), 30,
             "the job to run", default_worker)
    assert job_cancel(job_id=job.pk, user=owner).state == JobState.RUNNING  # asked; the worker stops it
    wait_for(lambda: finished(job), 5, "the job to stop", default_worker)
    assert job.state == JobState.CANCELLED and job.cancel_requested
    assert 0 < job.progress < 100 and len(job.metrics) < 600
    assert job.message.startswith("cancelled at ") and "cancel requested" in job.log_tail


def wait_until_running(job: Job, worker: CeleryWorker) -> Job:
    wait_for(lambda: Job.objects.filter(pk=job.pk, state=JobState.RUNNING, progress__gte=10).exists(), 30,
             "the job to be under way", worker)
    job.refresh_from_db()
    return job


def wait_until_heartbeat_is_stale(job: Job) -> None:
    def stale() -> bool:
        job.refresh_from_db()
        return job.heartbeat_at < timezone.now() - timedelta(seconds=STALE_AFTER + 0.5)

    wait_for(stale, 15, "the heartbeat of the dead worker to go stale")


def test_a_job_of_a_killed_worker_is_run_again_when_a_worker_starts(gpu_workers, lab):
    first = gpu_workers("gpu-a")
    job = wait_until_running(diagnostic(lab, steps=20, seconds_per_step=0.1, queue="gpu"), first)
    first.kill()
    wait_until_heartbeat_is_stale(job)
    assert job.state == JobState.RUNNING  # nobody runs it, and nothing has noticed yet

    second = gpu_workers("gpu-b")  # its start reaps the stale job: re-queued, and this worker takes it
    wait_for(lambda: finished(job), 30, "the re-run to finish", second)
    assert job.state == JobState.SUCCEEDED and job.attempts == 2, job.log_tail
    assert job.worker_host.startswith("gpu-b@") and job.progress == 100.0
    assert "re-queued: worker lost: no heartbeat since" in job.log_tail


def test_a_job_of_a_killed_worker_is_failed_with_the_reason_when_out_of_runs(gpu_workers, lab, settings):
    worker = gpu_workers("gpu-c")
    job = wait_until_running(diagnostic(lab, steps=40, seconds_per_step=0.1, queue="gpu"), worker)
    worker.kill()
    wait_until_heartbeat_is_stale(job)
    settings.JOBS_MAX_ATTEMPTS = 1
    call_command("jobs", "reap", "--stale-after", str(STALE_AFTER))
    job.refresh_from_db()
    assert job.state == JobState.FAILED and job.finished_at is not None
    assert job.error.startswith("worker lost: no heartbeat since ") and "(worker gpu-c@" in job.error
    assert job.error.endswith("gave up after 1 run") and job.message == job.error


def test_a_job_whose_pool_process_was_killed_is_taken_over_by_its_redelivered_message(gpu_workers, lab):
    """acks_late + reject_on_worker_lost: the worker puts the message back once it notices its pool process died
    (billiard checks every few seconds); the next delivery runs the job again once its heartbeat is stale,
    waiting for that if it is not yet (the message might be a duplicate of a live run)."""
    worker = gpu_workers("gpu-d")
    job = wait_until_running(diagnostic(lab, steps=20, seconds_per_step=0.1, queue="gpu"), worker)
    first_pool = pool_pid(job.worker_host)
    os.kill(first_pool, signal.SIGKILL)
    wait_for(lambda: finished(job), 40, "the job to be run again and finish", worker)
    assert job.state == JobState.SUCCEEDED and job.attempts == 2, job.log_tail
    assert pool_pid(job.worker_host) != first_pool
    assert "worker lost: no heartbeat since" in job.log_tail and "running it again here" in job.log_tail


def test_the_reaper_of_a_running_worker_recovers_the_job_of_a_killed_one_within_a_minute(gpu_workers, lab):
    """The replacement is already up when the first worker dies, so its start-up reap finds nothing: its timer
    notices the stale heartbeat, re-queues the job, and the job runs again to the end."""
    first = gpu_workers("gpu-e", **REAPING)
    # 30 s of steps: still running when the second worker is up, however slow its start.
    job = wait_until_running(diagnostic(lab, steps=300, seconds_per_step=0.1, queue="gpu"), first)
    second = gpu_workers("gpu-f", **REAPING)
    job.refresh_from_db()
    assert job.state == JobState.RUNNING and job.worker_host.startswith("gpu-e@")  # the start-up reap left it
    first.kill()
    killed_at = timezone.now()

    wait_for(lambda: Job.objects.filter(pk=job.pk, attempts=2, state=JobState.RUNNING).exists(), 60,
             "the reaper to re-queue the job and the second worker to take it", second)
    job.refresh_from_db()
    assert job.started_at - killed_at < timedelta(seconds=60) and job.worker_host.startswith("gpu-f@")
    assert "re-queued: worker lost: no heartbeat since" in job.log_tail and "(worker gpu-e@" in job.log_tail
    assert f"reaper: job {job.pk} requeued" in second.log_text()
    wait_for(lambda: finished(job), 60, "the re-run to finish", second)
    assert job.state == JobState.SUCCEEDED and job.progress == 100.0, job.log_tail


def test_a_queued_job_whose_message_the_broker_lost_is_sent_again_and_runs(gpu_workers, lab):
    """A Redis restart without persistence loses the messages of queued jobs: the reaper sends them again."""
    job = diagnostic(lab, steps=2, seconds_per_step=0.01, queue="gpu")  # no worker on queue gpu yet
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    assert job.celery_task_id.encode() in client.lindex("gpu", 0)
    flush_broker()  # what a restart of a Redis without persistence does
    assert client.llen("gpu") == 0
    client.close()

    worker = gpu_workers("gpu-g", **REAPING)
    wait_for(lambda: finished(job), 30, "the re-sent job to run", worker)
    assert job.state == JobState.SUCCEEDED and job.attempts == 1, job.log_tail
    assert "re-sent: the broker no longer held its message" in job.log_tail


def test_by_default_a_dead_workers_job_is_reaped_within_a_minute_of_its_last_heartbeat():
    """The production timings: stale after JOBS_STALE_AFTER_SECONDS, noticed by the next round of the timer."""
    assert settings.JOBS_STALE_AFTER_SECONDS + settings.JOBS_REAP_SECONDS < 60
    assert settings.JOBS_STALE_AFTER_SECONDS >= 3 * settings.JOBS_HEARTBEAT_SECONDS  # a slow write is not a death
