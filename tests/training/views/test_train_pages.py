"""The training pages (training/views/training.py, training/views/artifacts.py) through Django's test client: the
start form (trainer tabs, defaults and help from the config dataclass, versions filtered by row kind, clear errors),
artifact downloads (members only, no path traversal) and the compare page. In Chromium: tests/browser/test_training_pages.py."""
import io
import os
import zipfile

import pytest

from training.models import Job, JobKind, JobState, ModelArtifact

from tests.training.job_fixtures import lab, member, outsider, owner  # noqa: F401
from tests.training.train_fixtures import artifact_dir, version_with_rows  # noqa: F401

pytestmark = pytest.mark.django_db
TRAIN = "/jobs/train/"


@pytest.fixture
def base():
    return ModelArtifact.objects.create(name="tiny-base", backend="hf", location="/models/tiny")


def html(response) -> str:
    return response.content.decode()


def test_the_form_shows_the_trainers_settings_with_defaults_and_help(client, owner, lab, base):
    version_with_rows(lab, pairwise=8)
    client.force_login(owner)
    page = html(client.get(TRAIN + "?trainer=train_dpo"))
    assert 'name="beta"' in page and 'value="0.1"' in page  # DPOTrainConfig.beta's default
    assert "Strength of the KL tie to the reference model" in page and "Default: 0.1." in page
    assert '<option value="robust"' in page and '<option value="hinge"' in page  # loss is a choice
    assert 'value="1e-06"' in page  # DPO's learning rate, not the reward model's 1e-05
    rm = html(client.get(TRAIN))
    assert 'name="use_margin"' in rm and 'name="beta"' not in rm and 'value="1e-05"' in rm


def test_only_versions_with_rows_of_the_trainers_kind_are_offered(client, owner, lab, base):
    pairs = version_with_rows(lab, pairwise=8)
    lists = version_with_rows(lab, listwise=8)
    client.force_login(owner)
    rm = html(client.get(TRAIN + "?trainer=train_rm"))
    assert f'<option value="{pairs.pk}">lab v1 - 6 train rows</option>' in rm and "lab v2" not in rm
    listwise = html(client.get(TRAIN + "?trainer=train_listwise"))
    assert f'<option value="{lists.pk}">lab v2 - 6 train rows</option>' in listwise and "lab v1" not in listwise
    kto = html(client.get(TRAIN + "?trainer=train_kto"))
    assert 'id="train-no-versions"' in kto and "No dataset version with unpaired rows" in kto


def test_starting_queues_a_job_on_the_version_with_the_config(client, owner, lab, base,
                                                              django_capture_on_commit_callbacks):
    version = version_with_rows(lab, pairwise=8)
    client.force_login(owner)
    data = {"trainer": "train_dpo", "dataset_version": version.pk, "base_model": base.pk, "learning_rate": "2e-6",
            "epochs": "1", "batch_size": "4", "gradient_accumulation_steps": "1", "warmup_ratio": "0",
            "max_length": "256", "lora_r": "16", "lora_alpha": "32", "lora_dropout": "0.05", "seed": "1",
            "checkpoint_every": "5", "save_total_limit": "2", "logging_steps": "1", "loss": "robust",
            "beta": "0.2", "robust_epsilon": "", "advanced": '{"max_steps": 3}'}
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(TRAIN, data)
    job = Job.objects.get()
    assert response.status_code == 302 and response.url == f"/jobs/{job.pk}/"
    assert job.kind == JobKind.TRAIN_DPO and job.dataset_version == version and job.project == lab
    assert job.config["base_model_id"] == base.pk and job.config["loss"] == "robust"
    assert job.config["robust_epsilon"] is None and job.config["beta"] == 0.2 and job.config["max_steps"] == 3
    assert job.config["learning_rate"] == 2e-6 and job.created_by == owner


def test_bad_settings_come_back_as_errors_on_their_fields(client, owner, lab, base):
    version = version_with_rows(lab, pairwise=8)
    client.force_login(owner)
    response = client.post(TRAIN, {"trainer": "train_dpo", "dataset_version": version.pk, "base_model": base.pk,
                                   "learning_rate": "-1", "epochs": "1", "batch_size": "4",
                                   "gradient_accumulation_steps": "1", "warmup_ratio": "0", "max_length": "256",
                                   "lora_r": "16", "lora_alpha": "32", "lora_dropout": "0.05", "seed": "1",
                                   "checkpoint_every": "5", "save_total_limit": "2", "logging_steps": "1",
                                   "loss": "sigmoid", "beta": "0.1", "advanced": "{not json"})
    assert response.status_code == 400 and not Job.objects.exists()
    page = html(response)
    assert "Advanced is not valid JSON" in page
    response = client.post(TRAIN, {"trainer": "train_dpo", "dataset_version": version.pk, "base_model": base.pk,
                                   "learning_rate": "-1", "epochs": "1", "batch_size": "4",
                                   "gradient_accumulation_steps": "1", "warmup_ratio": "0", "max_length": "256",
                                   "lora_r": "16", "lora_alpha": "32", "lora_dropout": "0.05", "seed": "1",
                                   "checkpoint_every": "5", "save_total_limit": "2", "logging_steps": "1",
                                   "loss": "sigmoid", "beta": "0.1"})
    assert response.status_code == 400 and "learning_rate must be a positive number" in html(response)
    listwise = version_with_rows(lab, listwise=4)  # a version the reward model cannot use
    response = client.post(TRAIN, {"trainer": "train_rm", "dataset_version": listwise.pk, "base_model": base.pk})
    assert response.status_code == 400 and "Select a valid choice" in html(response)


def test_an_annotator_is_offered_no_versions_and_cannot_start(client, member, lab, base):
    version = version_with_rows(lab, pairwise=8)
    client.force_login(member)
    assert 'id="train-no-versions"' in html(client.get(TRAIN))
    response = client.post(TRAIN, {"trainer": "train_rm", "dataset_version": version.pk, "base_model": base.pk})
    assert response.status_code == 400 and not Job.objects.exists()


def finished_job(lab, version, artifact_dir, *, metrics=None, config=None, curve=None) -> Job:
    job = Job.objects.create(kind=JobKind.TRAIN_RM, state=JobState.SUCCEEDED, project=lab, dataset_version=version,
                             config=config or {"learning_rate": 1e-5, "epochs": 1.0},
                             artifacts={"metrics": metrics or {"accuracy": 0.5}}, progress=100,
                             metrics=curve or [{"step": 1, "loss": 0.7}, {"step": 2, "loss": 0.5}])
    root = artifact_dir / "jobs" / str(job.pk)
    (root / "model").mkdir(parents=True)
    (root / "model" / "config.json").write_text('{"hidden": 8}')
    (root / "metrics.json").write_text('{"accuracy": 0.5}')
    return job


def test_artifacts_are_listed_and_downloaded_one_by_one_or_zipped(client, owner, lab, artifact_dir):
    job = finished_job(lab, version_with_rows(lab, pairwise=4), artifact_dir)
    client.force_login(owner)
    page = html(client.get(f"/jobs/{job.pk}/"))
    assert f'href="/jobs/{job.pk}/artifacts/model/config.json"' in page and "metrics.json" in page
    response = client.get(f"/jobs/{job.pk}/artifacts/model/config.json")
    assert response.status_code == 200 and b"".join(response.streaming_content) == b'{"hidden": 8}'
    assert 'attachment; filename="config.json"' == response["Content-Disposition"]
    whole = client.get(f"/jobs/{job.pk}/artifacts/")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(whole.streaming_content)))
    assert sorted(archive.namelist()) == ["metrics.json", "model/config.json"]
    assert archive.read("model/config.json") == b'{"hidden": 8}' and archive.testzip() is None
    model = zipfile.ZipFile(io.BytesIO(b"".join(client.get(f"/jobs/{job.pk}/artifacts/model/").streaming_content)))
    assert model.namelist() == ["config.json"]


def test_no_path_leads_out_of_the_artifact_directory(client, owner, lab, artifact_dir, tmp_path):
    job = finished_job(lab, version_with_rows(lab, pairwise=4), artifact_dir)
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    root = artifact_dir / "jobs" / str(job.pk)
    os.symlink(secret, root / "link.txt")  # a symlink inside that points outside
    os.symlink(tmp_path, root / "outside")
    client.force_login(owner)
    for path in ("../../secret.txt", "%2e%2e/%2e%2e/secret.txt", "model/../../../secret.txt", str(secret),
                 "/" + str(secret), "link.txt", "outside/secret.txt", "missing.bin"):
        response = client.get(f"/jobs/{job.pk}/artifacts/{path}")
        assert response.status_code == 404, path
    archive = zipfile.ZipFile(io.BytesIO(b"".join(client.get(f"/jobs/{job.pk}/artifacts/").streaming_content)))
    assert "link.txt" not in archive.namelist() and not any("secret" in n for n in archive.namelist())
    assert "link.txt" not in html(client.get(f"/jobs/{job.pk}/"))


def test_only_those_who_may_see_the_job_download(client, outsider, member, lab, artifact_dir):
    job = finished_job(lab, version_with_rows(lab, pairwise=4), artifact_dir)
    client.force_login(outsider)
    assert client.get(f"/jobs/{job.pk}/artifacts/metrics.json").status_code == 404
    assert client.get(f"/jobs/{job.pk}/artifacts/").status_code == 404
    client.force_login(member)  # an annotator of the project sees its jobs
    assert client.get(f"/jobs/{job.pk}/artifacts/metrics.json").status_code == 200
    client.logout()
    assert client.get(f"/jobs/{job.pk}/artifacts/metrics.json").status_code == 302


def test_compare_shows_metrics_side_by_side_and_highlights_config_differences(client, owner, lab, artifact_dir):
    version = version_with_rows(lab, pairwise=4)
    a = finished_job(lab, version, artifact_dir, metrics={"accuracy": 0.6, "eval_loss": 0.7},
                     config={"learning_rate": 1e-5, "epochs": 1.0})
    b = finished_job(lab, version, artifact_dir, metrics={"accuracy": 0.8, "eval_loss": 0.5},
                     config={"learning_rate": 1e-4, "epochs": 1.0})
    client.force_login(owner)
    page = html(client.get(f"/jobs/compare/?ids={a.pk}&ids={b.pk}"))
    assert 'id="compare-metrics"' in page and "0.6000" in page and '<td class="best">0.8000</td>' in page
    assert '<td class="best">0.5000</td>' in page  # the lower loss is the better one
    assert '<tr data-setting="learning_rate" class="differs">' in page and '<tr data-setting="epochs">' in page
    assert f'"label": "#{a.pk} rm"' in page and '"loss"' in page  # the curves for compare.js
    assert client.get(f"/jobs/compare/?ids={a.pk},{b.pk}").content.decode().count("data-metric=") == 2


def test_compare_with_fewer_than_two_runs_shows_an_empty_state(client, owner, outsider, lab, artifact_dir):
    version = version_with_rows(lab, pairwise=4)
    a = finished_job(lab, version, artifact_dir)
    running = Job.objects.create(kind=JobKind.TRAIN_RM, state=JobState.RUNNING, project=lab)
    client.force_login(owner)
    for query in ("", f"?ids={a.pk}", f"?ids={a.pk}&ids={running.pk}", "?ids=abc"):
        page = html(client.get("/jobs/compare/" + query))
        assert 'id="compare-empty"' in page and 'id="compare-metrics"' not in page, query
    b = finished_job(lab, version, artifact_dir)
    client.force_login(outsider)  # runs they may not see do not count
    assert 'id="compare-empty"' in html(client.get(f"/jobs/compare/?ids={a.pk},{b.pk}"))


def test_the_job_list_offers_compare_checkboxes_for_finished_training_runs(client, owner, lab, artifact_dir):
    job = finished_job(lab, version_with_rows(lab, pairwise=4), artifact_dir)
    other = Job.objects.create(kind=JobKind.DIAGNOSTIC, state=JobState.SUCCEEDED, project=lab)
    client.force_login(owner)
    page = html(client.get("/jobs/"))
    assert f'name="ids" value="{job.pk}" form="compare-form"' in page
    assert f'value="{other.pk}" form="compare-form"' not in page and 'href="/jobs/train/"' in page
