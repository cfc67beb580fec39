"""training/services/jobs.py: start, cancel, run and reap, in-process against PostgreSQL and Redis.

The same machinery under a real Celery worker process is tests/training/test_worker.py.
"""
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError

from annotation.errors import Conflict, NotFound, PermissionDenied, PrefStudioError
from training.models import Job, JobKind, JobState
from training.services import jobs as jobs_service
from training.services.jobs import job_cancel, job_run, job_start, jobs_reap_stale, jobs_resend_lost

from tests.training.job_fixtures import broker, lab, member, outsider, owner, staff, start_diagnostic, temp_kind  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quick_jobs(settings):
    settings.JOBS_CANCEL_CHECK_SECONDS = 0  # every check_cancelled() reads the row
    settings.JOBS_MAX_ATTEMPTS = 2
    settings.JOBS_STALE_AFTER_SECONDS = 60


def running(job: Job, *, heartbeat_age: timedelta, attempts: int = 1, **fields) -> Job:
    """Put `job` in the state a worker left it in, its last heartbeat `heartbeat_age` ago."""
    beat = timezone.now() - heartbeat_age
    Job.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING, attempts=attempts, started_at=beat, heartbeat_at=beat, worker_host="w1 pid 1", **fields
    )
    return Job.objects.get(pk=job.pk)


# -- start ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"steps": 0}, "config.steps"),
        ({"steps": "ten"}, "config.steps"),
        ({"seconds_per_step": -1}, "config.seconds_per_step"),
        ({"steps": 5, "fail_at_step": 6}, "config.fail_at_step"),
        ({"queue": "tpu"}, "config.queue"),
        ({"stpes": 5}, "config.stpes"),
        ([1, 2], "config"),
    ],
)
def test_start_refuses_a_bad_config_naming_the_field(lab, config, field):
    with pytest.raises(PrefStudioError) as caught:
        job_start(kind=JobKind.DIAGNOSTIC, config=config, project=lab)
    assert caught.value.status_code == 400
    assert caught.value.field == field
    assert caught.value.message.startswith(f"{field}: ")
    assert not Job.objects.exists()


def test_start_refuses_a_kind_without_a_runner(lab):
    with pytest.raises(PrefStudioError) as caught:
        job_start(kind="rank_everything", config={}, project=lab)
    assert caught.value.field == "kind" and "no job runner" in caught.value.message


def test_start_stores_every_config_field_and_sends_the_message_on_commit(
    lab, broker, django_capture_on_commit_callbacks
):
    """Nothing reaches the broker before the commit; then one message, on the queue the config names."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = job_start(kind=JobKind.DIAGNOSTIC, config={"steps": 4, "queue": "gpu"}, project=lab)
        assert broker.llen("gpu") == 0
    assert job.config == {"steps": 4, "seconds_per_step": 0.5, "fail_at_step": None, "queue": "gpu"}
    assert job.state == JobState.QUEUED and job.project == lab and job.celery_task_id
    assert len(callbacks) == 1
    callbacks[0]()
    assert broker.llen("gpu") == 1 and broker.llen("default") == 0
    message = json.loads(broker.lindex("gpu", 0))
    assert message["headers"]["task"] == "training.job_run"
    assert message["headers"]["id"] == job.celery_task_id


def test_a_broker_that_cannot_be_reached_fails_the_job_with_the_reason(
    lab, monkeypatch, django_capture_on_commit_callbacks
):
    from prefstudio.celery import app

    def refuse(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(app, "send_task", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        job = job_start(kind=JobKind.DIAGNOSTIC, config={}, project=lab)
    job.refresh_from_db()
    assert job.state == JobState.FAILED and job.finished_at is not None
    assert job.error == "could not send the job to the broker: OperationalError: Error 111 connecting to " \
        "127.0.0.1:6379. Connection refused."


def test_only_staff_and_project_owners_may_start_jobs(lab, owner, member, staff, temp_kind):
    kind = temp_kind(lambda config, progress, context: {})
    with pytest.raises(PermissionDenied):
        job_start(kind=kind, config={}, project=lab, user=member)
    with pytest.raises(PermissionDenied):
        job_start(kind=kind, config={}, project=None, user=owner)  # no project: staff only
    assert job_start(kind=kind, config={}, project=lab, user=owner).created_by == owner
    assert job_start(kind=JobKind.DIAGNOSTIC, config={}, user=staff).project is None


# -- run ----------------------------------------------------------------------------------------------------
def test_a_run_records_progress_metrics_log_and_result(start_diagnostic):
    job = start_diagnostic(steps=3, seconds_per_step=0)
    assert job_run(job_id=job.pk, worker="w1 pid 7") == "succeeded"
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED and job.progress == 100.0 and job.attempts == 1
    assert [point["step"] for point in job.metrics] == [1, 2, 3]
    assert all(0.1 < point["loss"] < 1.0 for point in job.metrics)
    assert "step 3/3" in job.log_tail and job.message == "step 3 of 3"
    assert job.artifacts["steps"] == 3 and job.artifacts["worker"] == "w1 pid 7"
    assert job.worker_host == "w1 pid 7" and job.error == "" and job.eta_seconds is None
    assert job.started_at <= job.finished_at and job.heartbeat_at is not None


def test_a_redelivered_message_of_a_finished_job_does_nothing(start_diagnostic):
    job = start_diagnostic(steps=2, seconds_per_step=0)
    job_run(job_id=job.pk)
    before = Job.objects.values().get(pk=job.pk)
    assert job_run(job_id=job.pk) == "already finished"
    assert Job.objects.values().get(pk=job.pk) == before
    assert job_run(job_id=job.pk + 1000) == "missing"


def test_a_failing_runner_ends_failed_with_the_error_and_its_traceback(start_diagnostic):
    job = start_diagnostic(steps=5, seconds_per_step=0, fail_at_step=2)
    assert job_run(job_id=job.pk) == "failed"
    job.refresh_from_db()
    assert job.state == JobState.FAILED and job.finished_at is not None
    assert job.error == "DiagnosticFailure: failed on purpose at step 2 (fail_at_step=2)"
    assert job.message.startswith("failed: DiagnosticFailure")
    assert "Traceback (most recent call last)" in job.log_tail and "diagnostic.py" in job.log_tail
    assert [point["step"] for point in job.metrics] == [1]  # what it did before failing is kept


def test_a_runner_must_return_a_dict(lab, temp_kind):
    kind = temp_kind(lambda config, progress, context: ["not", "a", "dict"])
    job = job_start(kind=kind, config={}, project=lab)
    assert job_run(job_id=job.pk) == "failed"
    assert Job.objects.get(pk=job.pk).error == f"TypeError: the {kind} runner returned list, not a dict"


# -- cancel ----------------------------------------------------------------------------------------------------
def test_cancelling_a_queued_job_ends_it_at_once_and_its_message_then_does_nothing(start_diagnostic, owner):
    job = start_diagnostic()
    job = job_cancel(job_id=job.pk, user=owner)
    assert job.state == JobState.CANCELLED and job.finished_at is not None and job.cancel_requested
    assert job_run(job_id=job.pk) == "already finished"
    assert Job.objects.get(pk=job.pk).attempts == 0


def test_cancelling_a_running_job_stops_it_at_its_next_step(lab, owner, temp_kind):
    steps_done = []

    def run(config, progress, context):
        for step in range(1, 100):
            progress.check_cancelled()
            steps_done.append(step)
            progress.update(step / 100)
            if step == 3:  # a user presses Cancel while step 3 runs
                assert job_cancel(job_id=context.job_id, user=owner).state == JobState.RUNNING
        return {}

    job = job_start(kind=temp_kind(run), config={}, project=lab)
    assert job_run(job_id=job.pk) == "cancelled"
    job.refresh_from_db()
    assert steps_done == [1, 2, 3]
    assert job.state == JobState.CANCELLED and job.cancel_requested and job.finished_at is not None
    assert job.message == "cancelled at 3%" and "cancelled: cancel requested" in job.log_tail


def test_cancelling_a_running_job_whose_worker_is_lost_ends_it_at_once(start_diagnostic, owner):
    job = running(start_diagnostic(), heartbeat_age=timedelta(minutes=5))
    job = job_cancel(job_id=job.pk, user=owner)
    assert job.state == JobState.CANCELLED and job.message == "cancelled (its worker was lost)"
    assert "worker lost: no heartbeat since" in job.log_tail
    assert job_run(job_id=job.pk) == "already finished"  # its message, when Redis gives it back


def test_who_may_cancel(start_diagnostic, owner, member, outsider, staff):
    job = start_diagnostic()
    with pytest.raises(NotFound):
        job_cancel(job_id=job.pk, user=outsider)  # does not see it
    with pytest.raises(PermissionDenied):
        job_cancel(job_id=job.pk, user=member)  # sees it, may not stop it
    assert job_cancel(job_id=job.pk, user=staff).state == JobState.CANCELLED
    assert job_cancel(job_id=job.pk, user=owner).state == JobState.CANCELLED  # again: a no-op
    done = start_diagnostic(steps=1, seconds_per_step=0)
    job_run(job_id=done.pk)
    with pytest.raises(Conflict):
        job_cancel(job_id=done.pk, user=owner)


# -- lost workers ---------------------------------------------------------------------------------------------
def test_a_delivery_for_a_job_whose_worker_is_lost_runs_it_again(start_diagnostic):
    job = running(start_diagnostic(steps=2, seconds_per_step=0), heartbeat_age=timedelta(minutes=5))
    assert job_run(job_id=job.pk, worker="w2 pid 9") == "succeeded"
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED and job.attempts == 2 and job.worker_host == "w2 pid 9"
    assert "worker lost: no heartbeat since" in job.log_tail and "(worker w1 pid 1); running it again" in job.log_tail


def test_a_lost_job_out_of_runs_ends_failed_with_the_reason(start_diagnostic):
    job = running(start_diagnostic(), heartbeat_age=timedelta(minutes=5), attempts=2)
    assert job_run(job_id=job.pk) == "failed"
    job.refresh_from_db()
    assert job.state == JobState.FAILED and job.attempts == 2
    assert job.error.startswith("worker lost: no heartbeat since ") and job.error.endswith("gave up after 2 runs")


def test_a_lost_job_of_a_kind_that_may_not_rerun_ends_failed(lab, temp_kind):
    kind = temp_kind(lambda config, progress, context: {}, rerun_on_worker_lost=False)
    job = running(job_start(kind=kind, config={}, project=lab), heartbeat_age=timedelta(minutes=5))
    assert job_run(job_id=job.pk) == "failed"
    assert Job.objects.get(pk=job.pk).error.startswith("worker lost: no heartbeat since ")


def test_a_second_delivery_leaves_a_job_whose_heartbeat_moves(start_diagnostic, monkeypatch):
    """Redis re-delivers a long job's message after its visibility timeout: the running worker keeps it."""
    job = running(start_diagnostic(), heartbeat_age=timedelta(seconds=1))

    def the_other_worker_beats(seconds):
        Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())

    monkeypatch.setattr(jobs_service.time, "sleep", the_other_worker_beats)
    assert job_run(job_id=job.pk) == "running elsewhere"
    assert Job.objects.get(pk=job.pk).attempts == 1


def test_a_second_delivery_takes_over_once_the_heartbeat_goes_stale(start_diagnostic, monkeypatch):
    """A pool process killed mid-job: its message comes back at once, before the heartbeat is stale."""
    job = running(start_diagnostic(steps=1, seconds_per_step=0), heartbeat_age=timedelta(seconds=1))

    def time_passes_without_beats(seconds):
        Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))

    monkeypatch.setattr(jobs_service.time, "sleep", time_passes_without_beats)
    assert job_run(job_id=job.pk) == "succeeded"
    assert Job.objects.get(pk=job.pk).attempts == 2


def test_the_reaper_requeues_fails_or_cancels_stale_jobs_and_leaves_live_ones(
    start_diagnostic, broker, django_capture_on_commit_callbacks
):
    stale = timedelta(minutes=5)
    requeue = running(start_diagnostic(steps=1, seconds_per_step=0), heartbeat_age=stale)
    give_up = running(start_diagnostic(), heartbeat_age=stale, attempts=2)
    cancel = running(start_diagnostic(), heartbeat_age=stale, cancel_requested=True)
    alive = running(start_diagnostic(), heartbeat_age=timedelta(seconds=5))
    queued = start_diagnostic()
    broker.flushdb()  # the messages of the first runs; only the reaper's new one should be there

    with django_capture_on_commit_callbacks(execute=True):
        done = jobs_reap_stale(stale_after=timedelta(minutes=1))

    assert sorted(done) == sorted([(requeue.pk, "requeued"), (give_up.pk, "failed"), (cancel.pk, "cancelled")])
    states = dict(Job.objects.values_list("pk", "state"))
    assert states == {requeue.pk: "queued", give_up.pk: "failed", cancel.pk: "cancelled", alive.pk: "running",
                      queued.pk: "queued"}
    requeued = Job.objects.get(pk=requeue.pk)
    assert requeued.celery_task_id != requeue.celery_task_id and requeued.message.startswith("re-queued: worker lost")
    assert json.loads(broker.lindex("default", 0))["headers"]["id"] == requeued.celery_task_id
    assert broker.llen("default") == 1
    assert Job.objects.get(pk=give_up.pk).error.startswith("worker lost: no heartbeat since")
    assert job_run(job_id=requeue.pk) == "succeeded"
    assert Job.objects.get(pk=requeue.pk).attempts == 2


def test_lost_messages_of_queued_jobs_are_sent_again_and_waiting_ones_left_alone(
    start_diagnostic, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        lost = start_diagnostic(steps=1, seconds_per_step=0)
        waiting = start_diagnostic(steps=1, seconds_per_step=0)
        fresh = start_diagnostic(steps=1, seconds_per_step=0)
    old = timezone.now() - timedelta(minutes=5)
    Job.objects.filter(pk__in=[lost.pk, waiting.pk]).update(sent_at=old)
    for raw in broker.lrange("default", 0, -1):  # lost's message is gone
        if json.loads(raw)["headers"]["id"] == lost.celery_task_id:
            broker.lrem("default", 0, raw)
    assert broker.llen("default") == 2

    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_resend_lost(resend_after=timedelta(minutes=1)) == [lost.pk]
        assert jobs_resend_lost(resend_after=timedelta(minutes=1)) == []  # sent: nothing more to do

    resent = Job.objects.get(pk=lost.pk)
    assert resent.state == JobState.QUEUED and resent.celery_task_id != lost.celery_task_id
    assert resent.sent_at > old and "re-sent: the broker no longer held its message" in resent.log_tail
    in_queue = [json.loads(raw)["headers"]["id"] for raw in broker.lrange("default", 0, -1)]
    assert sorted(in_queue) == sorted([waiting.celery_task_id, fresh.celery_task_id, resent.celery_task_id])
    assert Job.objects.get(pk=waiting.pk).celery_task_id == waiting.celery_task_id
    assert job_run(job_id=lost.pk) == "succeeded"


def test_a_message_a_worker_has_taken_is_not_lost(start_diagnostic, broker, django_capture_on_commit_callbacks):
    """Redis keeps a taken, unacknowledged message (acks_late) in its `unacked` hash: it is not re-sent."""
    with django_capture_on_commit_callbacks(execute=True):
        job = start_diagnostic()
    Job.objects.filter(pk=job.pk).update(sent_at=timezone.now() - timedelta(minutes=5))
    raw = broker.rpop("default")  # what a worker's fetch does: off the list, into `unacked`
    broker.hset("unacked", "tag-1", json.dumps([json.loads(raw), "", "default"]))
    assert jobs_resend_lost(resend_after=timedelta(minutes=1)) == []
    broker.delete("unacked")
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_resend_lost(resend_after=timedelta(minutes=1)) == [job.pk]


def test_a_run_whose_job_was_taken_over_stops_and_writes_nothing(lab, temp_kind):
    def run(config, progress, context):
        Job.objects.filter(pk=context.job_id).update(attempts=5)  # the reaper gave the job to another run
        progress.update(0.5, "half way")
        progress.check_cancelled()
        return {"never": "stored"}

    job = job_start(kind=temp_kind(run), config={}, project=lab)
    assert job_run(job_id=job.pk) == "taken over"
    job.refresh_from_db()
    assert job.state == JobState.RUNNING and job.artifacts == {} and job.message != "half way"
