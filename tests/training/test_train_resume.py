"""Resume after a kill, for real: a reward-model job runs on a real Celery worker subprocess (queue gpu), the
worker is SIGKILLed once a checkpoint is on disk, a new worker starts, re-runs the job (attempt 2) and the engine
continues from the checkpoint -- the job ends succeeded with its model registered and says where it resumed."""
import re
from collections.abc import Iterator

import pytest

from training.models import Job, JobKind, JobState, ModelArtifact
from training.services.jobs import job_start

from .job_fixtures import lab, owner  # noqa: F401
from .llm_fixtures import tiny, tiny_model_dir  # noqa: F401
from .test_worker import flush_broker, wait_until_heartbeat_is_stale
from .train_fixtures import version_with_rows
from .worker_process import CeleryWorker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)  # the workers must see the rows: commit them
STEPS, EVERY = 40, 4  # the first worker dies at its first checkpoint (step 4); the second does 36 steps


@pytest.fixture
def workers(transactional_db, tmp_path) -> Iterator:
    started: list[CeleryWorker] = []

    def start(name: str) -> CeleryWorker:
        worker = CeleryWorker(name=name, queues="gpu", log_dir=tmp_path, ARTIFACT_DIR=str(tmp_path / "artifacts"))
        started.append(worker)
        return worker.start()

    flush_broker()
    yield start
    for worker in started:
        worker.stop()
    flush_broker()


def checkpoint_steps(job: Job, tmp_path) -> list[int]:
    folder = tmp_path / "artifacts" / "jobs" / str(job.pk) / "checkpoints"
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for p in folder.iterdir()
                  if (m := re.fullmatch(r"checkpoint-(\d+)", p.name)) and (p / "trainer_state.json").is_file())


def test_a_killed_training_job_resumes_from_its_checkpoint_on_a_new_worker(workers, lab, tiny, tmp_path):
    version = version_with_rows(lab, pairwise=16)
    first = workers("train-a")
    job = job_start(kind=JobKind.TRAIN_RM, dataset_version=version, config={
        "base_model_id": tiny.pk, "max_steps": STEPS, "batch_size": 2, "checkpoint_every": EVERY,
        "save_total_limit": 2, "logging_steps": 1, "max_length": 64})
    wait_for(lambda: checkpoint_steps(job, tmp_path), 120, "a first checkpoint", first)
    first.kill()
    saved = checkpoint_steps(job, tmp_path)
    job.refresh_from_db()
    assert job.state == JobState.RUNNING and job.attempts == 1 and 0 < max(saved) < STEPS

    wait_until_heartbeat_is_stale(job)
    second = workers("train-b")  # its start reaps the stale job: re-queued, and this worker runs it again
    wait_for(lambda: Job.objects.filter(pk=job.pk, state__in=["succeeded", "failed", "cancelled"]).exists(), 240,
             "the re-run to finish", second)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, f"{job.error}\n{job.log_tail}"
    assert job.attempts == 2 and job.worker_host.startswith("train-b@")
    resumed = job.artifacts["resumed_from_step"]
    assert resumed == max(saved) and job.artifacts["steps"] == STEPS  # the latest complete checkpoint
    assert f"resuming from checkpoint-{resumed}" in job.log_tail and "re-queued: worker lost" in job.log_tail
    assert min(p["step"] for p in job.metrics) > resumed  # the second run trained only the steps left
    artifact = ModelArtifact.objects.get(produced_by=job)
    model_dir = tmp_path / "artifacts" / "jobs" / str(job.pk) / "model"
    assert artifact.kind == "reward" and artifact.location == str(model_dir) and (model_dir / "config.json").is_file()
