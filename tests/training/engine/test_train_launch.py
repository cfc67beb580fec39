"""training/engine/launch.py: the command a multi-GPU worker runs, and the entry point run for real as a child
process on CPU (plain python and `accelerate launch --cpu` with one process) on the tiny model."""
import json
from pathlib import Path

import pytest

from training.engine.launch import (
    CANCEL_FILE, PROGRESS_FILE, RESULT_FILE, FileProgress, launch_command, launch_spec_write, run_launched,
)
from common.progress import Cancelled, MemoryProgress
from training.engine.trainers.config import RewardTrainConfig

from tests.training.llm_fixtures import tiny_model_dir  # noqa: F401
from tests.training.train_fixtures import training_pair

SPEC = Path("/tmp/job/launch.json")


def test_one_process_is_plain_python_and_several_are_accelerate_launch():
    assert launch_command(spec_path=SPEC, num_processes=1, python="/venv/bin/python") == [
        "/venv/bin/python", "-m", "training.engine.launch", "/tmp/job/launch.json"]
    assert launch_command(spec_path=SPEC, num_processes=4, python="/venv/bin/python") == [
        "/venv/bin/accelerate", "launch", "--multi_gpu", "--num_processes", "4", "--num_machines", "1",
        "--dynamo_backend", "no", "-m", "training.engine.launch", "/tmp/job/launch.json"]
    cpu = launch_command(spec_path=SPEC, num_processes=1, cpu=True, python="/venv/bin/python")
    assert cpu[:3] == ["/venv/bin/accelerate", "launch", "--cpu"] and "--multi_gpu" not in cpu
    with pytest.raises(ValueError, match="num_processes must be >= 1"):
        launch_command(spec_path=SPEC, num_processes=0)


def test_the_child_side_reports_through_files_and_sees_a_cancel(tmp_path):
    child = FileProgress(tmp_path)
    child.update(0.5, "step 1/2")
    child.metric(1, loss=0.69)
    child.log("hello")
    child.check_cancelled()  # no CANCEL file: nothing happens
    parent = MemoryProgress()
    from training.engine.launch import _relay

    offset = _relay(tmp_path / PROGRESS_FILE, 0, parent)
    assert parent.fractions == [0.5] and parent.metrics == [{"step": 1, "loss": 0.69}] and parent.lines == ["hello"]
    assert _relay(tmp_path / PROGRESS_FILE, offset, parent) == offset  # nothing new: nothing replayed twice
    (tmp_path / CANCEL_FILE).touch()
    with pytest.raises(Cancelled):
        child.check_cancelled()


def spec_for(tmp_path, model_dir, **config) -> Path:
    rows = [training_pair(i) for i in range(8)]
    cfg = RewardTrainConfig(base_model_id=1, max_steps=2, batch_size=4, logging_steps=1, checkpoint_every=1,
                            max_length=64, **config)
    return launch_spec_write(kind="train_rm", config=cfg, train_rows=rows[:6], test_rows=rows[6:],
                             model_path=str(model_dir), output_dir=tmp_path / "out", noise_rate=0.1)


@pytest.mark.parametrize("cpu", [False, True], ids=["python", "accelerate-launch-cpu"])
def test_the_entry_point_trains_in_a_child_process_and_reports_back(tmp_path, tiny_model_dir, cpu):
    spec = spec_for(tmp_path, tiny_model_dir)
    progress = MemoryProgress()
    result = run_launched(spec_path=spec, num_processes=1, progress=progress, cpu=cpu)
    out = tmp_path / "out"
    assert result["steps"] == 2 and result["resumed_from_step"] is None
    assert Path(result["model_dir"]) == out / "model" and (out / "model" / "config.json").is_file()
    assert json.loads((out / RESULT_FILE).read_text())["metrics"] == result["metrics"]
    assert "accuracy" in result["metrics"]  # evaluated on the 2 test pairs
    assert [p["step"] for p in progress.metrics if "loss" in p] == [1, 2]  # replayed from progress.jsonl
    assert progress.fraction == 1.0 and any("launching: " in line for line in progress.lines)
    assert ("accelerate" in progress.lines[0]) is cpu


def test_a_failing_child_raises_with_its_log_tail(tmp_path):
    spec = spec_for(tmp_path, tmp_path / "no-such-model")
    with pytest.raises(RuntimeError, match="the training process exited with 1"):
        run_launched(spec_path=spec, num_processes=1, progress=MemoryProgress())


def test_cancel_reaches_the_child_and_stops_it(tmp_path, tiny_model_dir):
    spec = spec_for(tmp_path, tiny_model_dir)
    progress = MemoryProgress(cancel_at_check=2)  # the parent's second poll: the child is still loading
    with pytest.raises(Cancelled):
        run_launched(spec_path=spec, num_processes=1, progress=progress)
    assert (tmp_path / "out" / CANCEL_FILE).exists() and not (tmp_path / "out" / RESULT_FILE).exists()


def test_usage_without_a_spec(capsys):
    from training.engine.launch import main

    assert main([]) == 2 and "usage: python -m training.engine.launch" in capsys.readouterr().err


@pytest.mark.django_db
def test_a_worker_with_two_gpus_runs_the_job_in_two_launched_processes(monkeypatch, tiny_model_dir, tmp_path,
                                                                        settings):
    """The runner's multi-GPU path end to end. What cannot run here is the GPUs: the device count is set to 2 and
    accelerate is told --cpu (gloo), so two real processes train the job together and rank 0 reports."""
    from functools import partial

    from annotation.services.projects import project_create
    from training.engine import launch
    from training.jobs.runners import train as runner
    from training.models import ModelArtifact
    from training.services.jobs import job_run, job_start

    from tests.training.train_fixtures import version_with_rows

    settings.ARTIFACT_DIR = tmp_path / "artifacts"
    monkeypatch.setattr(runner, "cuda_devices", lambda: 2)
    monkeypatch.setattr(launch, "launch_command", partial(launch.launch_command, cpu=True))
    lab = project_create(slug="lab", name="Lab", owner=None)
    model = ModelArtifact.objects.create(name="tiny", backend="hf", location=str(tiny_model_dir))
    job = job_start(kind="train_rm", dataset_version=version_with_rows(lab, pairwise=12), config={
        "base_model_id": model.pk, "max_steps": 2, "batch_size": 2, "logging_steps": 1, "max_length": 64})
    assert job_run(job_id=job.pk, worker="test") == "succeeded"
    job.refresh_from_db()
    assert job.artifacts["processes"] == 2 and job.artifacts["steps"] == 2
    assert "--num_processes 2" in job.log_tail and "launching:" in job.log_tail
    assert [p["step"] for p in job.metrics if "loss" in p] == [1, 2]  # rank 0 only: no point twice
    assert ModelArtifact.objects.get(produced_by=job).kind == "reward"
