"""The `evaluate` job end to end in the test process: train a reward model and a DPO policy on the tiny Llama (the
real training jobs), then job_start(kind="evaluate") -> job_run (the real runner and engine) on the version's
held-out rows, next to the baselines; its form; and the refusals that name the field."""
import re

import pytest

from annotation.errors import PrefStudioError
from training.models import ArtifactKind, Job, JobKind, JobState, ModelArtifact
from training.services.jobs import job_run, job_start

from tests.training.job_fixtures import lab, owner  # noqa: F401
from tests.training.llm_fixtures import tiny, tiny_model_dir  # noqa: F401
from tests.training.train_fixtures import artifact_dir, version_with_rows  # noqa: F401

pytestmark = pytest.mark.django_db
QUICK = {"max_steps": 2, "batch_size": 2, "logging_steps": 1, "checkpoint_every": 2, "max_length": 64,
         "learning_rate": 1e-3}


def run(kind: str, version, **config) -> Job:
    job = job_start(kind=kind, config=config, dataset_version=version)
    job_run(job_id=job.pk, worker="test")
    job.refresh_from_db()
    return job


@pytest.fixture
def version(lab):
    # test_every=3: the held-out rows are pairs 2, 5, 8, 11 -> questions 2, 1, 0, 3 of train_fixtures.QUESTIONS.
    # Their chosen answer is longer in questions 2 and 0 only ("7 is prime." / "9 is prime." are equally long),
    # so "the longer response wins" is right on 2 of 4.
    return version_with_rows(lab, pairwise=12, test_every=3)


def test_a_reward_model_is_evaluated_on_the_held_out_rows_next_to_the_baselines(version, tiny, artifact_dir):
    trained = run(JobKind.TRAIN_RM, version, base_model_id=tiny.pk, **QUICK)
    assert trained.state == JobState.SUCCEEDED, trained.error
    rm = ModelArtifact.objects.get(produced_by=trained)
    other = run(JobKind.TRAIN_RM, version, base_model_id=tiny.pk, **{**QUICK, "seed": 7})
    baseline = ModelArtifact.objects.get(produced_by=other)

    job = run(JobKind.EVALUATE, version, model_id=rm.pk, baseline_model_id=baseline.pk, max_length=64)
    assert job.state == JobState.SUCCEEDED, f"{job.error}\n{job.log_tail}"
    result = job.artifacts
    assert result["model"] == rm.name and result["model_kind"] == "reward" and result["rows"] == 4
    evaluation = result["evaluation"]
    # Same rows, same max_length as the training job's own end-of-training evaluation: the same numbers.
    assert evaluation["model"]["n"] == 4
    assert evaluation["model"]["accuracy"] == pytest.approx(trained.artifacts["metrics"]["accuracy"])
    assert evaluation["model"]["mean_margin"] == pytest.approx(trained.artifacts["metrics"]["mean_margin"], abs=1e-5)
    assert evaluation["baselines"][baseline.name]["accuracy"] == pytest.approx(other.artifacts["metrics"]["accuracy"])
    assert evaluation["baselines"]["longer response wins"] == {"n": 4, "accuracy": 0.5}
    assert evaluation["baselines"]["chance"]["accuracy"] == 0.5
    assert job.progress == 100.0 and "accuracy" in job.message


def test_the_evaluate_job_page_shows_the_model_next_to_its_baselines(client, owner, version, tiny, artifact_dir):
    trained = run(JobKind.TRAIN_RM, version, base_model_id=tiny.pk, **QUICK)
    rm = ModelArtifact.objects.get(produced_by=trained)
    client.force_login(owner)
    training_page = client.get(f"/jobs/{trained.pk}/").content.decode()
    link = f"/jobs/evaluate/?model={rm.pk}&amp;dataset_version={version.pk}"
    assert f'href="{link}" id="evaluate-model"' in training_page  # from the training run to its evaluation

    job = run(JobKind.EVALUATE, version, model_id=rm.pk, max_length=64)
    html = client.get(f"/jobs/{job.pk}/").content.decode()
    table = re.search(r'<table class="jobs metric-table" data-table="held-out-evaluation">(.*?)</table>', html, re.S)
    head = re.findall(r'<th scope="col">(.*?)</th>', table.group(1))
    assert head == ["metric", rm.name, "longer response wins", "chance"]
    accuracy = re.search(r'<tr data-metric="accuracy"><th scope="row">accuracy</th>(.*?)</tr>', table.group(1))
    cells = re.findall(r"<td>(.*?)</td>", accuracy.group(1))
    assert cells == [f"{job.artifacts['evaluation']['model']['accuracy']:.3f}", "0.500", "0.500"]
    assert "<dt>model kind</dt><dd>reward</dd>" in html and "<dt>rows</dt><dd>4</dd>" in html
    # ... and the training run lists it.
    assert f'href="/jobs/{job.pk}/">Evaluate #{job.pk}</a>' in client.get(f"/jobs/{trained.pk}/").content.decode()


def test_a_dpo_policy_is_evaluated_against_its_base_model_with_a_win_rate(version, tiny, artifact_dir):
    trained = run(JobKind.TRAIN_DPO, version, base_model_id=tiny.pk, beta=0.2, **QUICK)
    assert trained.state == JobState.SUCCEEDED, trained.error
    policy = ModelArtifact.objects.get(produced_by=trained)
    rm_job = run(JobKind.TRAIN_RM, version, base_model_id=tiny.pk, **QUICK)
    judge = ModelArtifact.objects.get(produced_by=rm_job)

    job = run(JobKind.EVALUATE, version, model_id=policy.pk, max_length=64, win_rate_judge_id=judge.pk,
              win_rate_prompts=3, win_rate_max_new_tokens=6)
    assert job.state == JobState.SUCCEEDED, f"{job.error}\n{job.log_tail}"
    result = job.artifacts
    assert result["model_kind"] == "policy" and result["reference"] == tiny.name  # the policy's base, by default
    assert result["beta"] == 0.2  # taken from the training job
    model = result["evaluation"]["model"]
    # The DPO job evaluated the same rows with the same beta at the end of training.
    assert model["n"] == 4 and model["accuracy"] == pytest.approx(trained.artifacts["metrics"]["accuracy"])
    assert result["evaluation"]["baselines"][f"{tiny.name} (reference)"]["accuracy"] == 0.0
    rate = result["win_rate"]
    assert rate["prompts"] == 3 and rate["wins"] + rate["losses"] + rate["ties"] + rate["unparsable"] == 3


def test_bad_evaluate_configs_are_refused_naming_the_field(version, tiny, lab, artifact_dir):
    with pytest.raises(PrefStudioError) as caught:
        job_start(kind=JobKind.EVALUATE, config={}, dataset_version=version)
    assert caught.value.field == "config.model_id"
    with pytest.raises(PrefStudioError) as caught:
        job_start(kind=JobKind.EVALUATE, config={"model_id": tiny.pk, "max_rows": 0}, dataset_version=version)
    assert caught.value.field == "config.max_rows"
    with pytest.raises(PrefStudioError) as caught:
        job_start(kind=JobKind.EVALUATE, config={"model_id": tiny.pk}, project=lab)
    assert caught.value.field == "dataset_version"
    assert not Job.objects.exists()

    # A base model names no base of its own: the reference must be chosen. Failed with the reason, nothing written.
    job = run(JobKind.EVALUATE, version, model_id=tiny.pk)
    assert job.state == JobState.FAILED and "names no base model: choose the reference model" in job.error
    rm = ModelArtifact.objects.create(name="rm", kind=ArtifactKind.REWARD, backend="hf", location=str(tiny.location))
    job = run(JobKind.EVALUATE, version, model_id=rm.pk, baseline_model_id=tiny.pk)
    assert job.state == JobState.FAILED and "the baseline of a reward model must be a reward model" in job.error
    no_test = version_with_rows(lab, pairwise=4, test_every=100)
    job = run(JobKind.EVALUATE, no_test, model_id=rm.pk)
    assert job.state == JobState.FAILED and "no pairwise rows in its test split" in job.error


def test_the_evaluate_form_starts_a_job_with_working_defaults(client, owner, version, tiny):
    rm = ModelArtifact.objects.create(name="rm", kind=ArtifactKind.REWARD, backend="hf", location="/models/rm")
    client.force_login(owner)
    page = client.get(f"/jobs/evaluate/?model={rm.pk}&dataset_version={version.pk}").content.decode()
    assert 'name="model"' in page and f'<option value="{rm.pk}" selected>rm (global)</option>' in page
    assert 'name="max_rows"' in page and 'value="500"' in page and "held-out" in page
    response = client.post("/jobs/evaluate/", {"dataset_version": version.pk, "model": rm.pk, "max_rows": "500",
                                               "max_length": "512", "win_rate_prompts": "32",
                                               "win_rate_max_new_tokens": "64", "seed": "0"})
    job = Job.objects.get()
    assert response.status_code == 302 and response.url == f"/jobs/{job.pk}/"
    assert job.kind == JobKind.EVALUATE and job.dataset_version == version and job.config["model_id"] == rm.pk
    assert job.config["max_rows"] == 500 and job.config["beta"] is None

    response = client.post("/jobs/evaluate/", {"dataset_version": version.pk, "model": rm.pk, "max_rows": "0",
                                               "max_length": "512", "win_rate_prompts": "32",
                                               "win_rate_max_new_tokens": "64", "seed": "0"})
    assert response.status_code == 400 and Job.objects.count() == 1
    assert "max_rows must be an integer &gt;= 1" in response.content.decode()
