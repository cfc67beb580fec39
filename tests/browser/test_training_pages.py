"""The training pages in real Chromium with a real Celery worker on queue gpu: start a reward-model job from the
form (tiny local model), watch its loss / accuracy curves and progress, download an artifact, then tick two runs
in the job list and compare them."""
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings as django_settings

from tests.training.job_fixtures import PASSWORD, lab, owner  # noqa: F401
from tests.training.llm_fixtures import tiny, tiny_model_dir  # noqa: F401
from tests.training.train_fixtures import version_with_rows
from tests.training.worker_process import CeleryWorker
from training.models import Job, JobKind, JobState

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def gpu_worker(live_server, tmp_path, settings) -> Iterator[CeleryWorker]:
    settings.ARTIFACT_DIR = tmp_path / "artifacts"  # the web process reads what the worker writes
    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    broker.flushdb()
    worker = CeleryWorker(name="browser-gpu", queues="gpu", log_dir=tmp_path,
                          ARTIFACT_DIR=str(settings.ARTIFACT_DIR)).start()
    yield worker
    worker.stop()
    broker.flushdb()
    broker.close()


@pytest.fixture
def errors(page) -> list[str]:
    seen: list[str] = []
    page.on("pageerror", lambda error: seen.append(str(error)))
    return seen


def test_train_a_reward_model_from_the_form_and_compare_runs(page, login, owner, lab, tiny, gpu_worker, errors,
                                                            screenshot):
    version = version_with_rows(lab, pairwise=16)
    login("olga", PASSWORD)
    page.goto("/jobs/")
    page.click("#train-link")
    page.wait_for_url("**/jobs/train/")
    assert page.locator("#trainer-tabs [aria-current=page]").inner_text() == "Reward model"
    page.click("[data-trainer=train_dpo]")  # the DPO tab shows DPO's own settings and defaults
    assert page.input_value("#id_beta") == "0.1" and page.locator("#id_loss").is_visible()
    page.click("[data-trainer=train_rm]")
    assert page.locator("#id_beta").count() == 0
    assert "lab v1 - 12 train rows" in page.locator("#id_dataset_version").inner_text()
    page.fill("#id_max_steps", "12")
    page.fill("#id_batch_size", "2")
    page.fill("#id_logging_steps", "1")
    page.fill("#id_checkpoint_every", "6")
    page.fill("#id_max_length", "64")
    page.fill("#id_learning_rate", "-1")  # the config dataclass refuses it: the error comes back on its field
    page.click("#train-submit")
    assert "learning_rate must be a positive number" in page.locator("[data-field=learning_rate] .errors").inner_text()
    page.fill("#id_learning_rate", "0.001")
    page.click("#train-submit")
    page.wait_for_url("**/jobs/*/")
    job = Job.objects.get()
    assert job.dataset_version_id == version.pk and job.config["max_steps"] == 12

    # The live fragment polls until the job ends; its chart shows the loss and accuracy curves.
    page.wait_for_selector("#job-live[data-state=succeeded]", timeout=120_000)
    page.wait_for_function("() => +document.querySelector('#job-chart').dataset.points > 12")
    shown = page.locator("#job-chart").get_attribute("data-shown").split(",")
    assert "loss" in shown and "accuracy" in shown and "learning_rate" not in shown  # the rest: via the legend
    assert page.locator("#job-percent").inner_text() == "100%"
    assert "model/metrics.json" in page.locator("#artifact-files").inner_text()
    with page.expect_download() as download:
        page.click("#artifact-files a:text-is('model/metrics.json')")
    assert '"accuracy"' in open(download.value.path()).read()
    assert page.locator("#metric-summary [data-metric=loss]").is_visible()  # the curves' numbers as a table
    assert page.locator("[data-table=held-out-evaluation] [data-metric=accuracy] td").count() == 2  # vs chance
    screenshot("training-job")

    # Evaluate the trained model on the held-out rows next to the baselines, from its job page.
    page.click("#evaluate-model")
    page.wait_for_url("**/jobs/evaluate/?model=*")
    page.fill("#id_max_length", "64")
    page.click("#evaluate-submit")
    page.wait_for_url("**/jobs/*/")
    job.refresh_from_db()
    evaluation = Job.objects.get(kind=JobKind.EVALUATE)
    assert evaluation.config["model_id"] == job.artifacts["model_artifact_id"]
    page.wait_for_selector("#job-live[data-state=succeeded]", timeout=120_000)
    table = page.locator("[data-table=held-out-evaluation]")
    assert [t.lower() for t in table.locator("thead th").all_inner_texts()[2:]] == ["longer response wins", "chance"]
    assert table.locator("[data-metric=accuracy] td").count() == 3
    screenshot("evaluate-job")

    other = Job.objects.create(kind=JobKind.TRAIN_RM, state=JobState.SUCCEEDED, project=lab, dataset_version=version,
                               config={**job.config, "learning_rate": 1e-5}, artifacts={"metrics": {"accuracy": 0.5}},
                               metrics=[{"step": 1, "loss": 0.69}, {"step": 2, "loss": 0.68}], progress=100)
    page.goto("/jobs/")
    page.check(f"input[name=ids][value='{job.pk}']")
    page.check(f"input[name=ids][value='{other.pk}']")
    page.click("#compare-button")
    page.wait_for_url("**/jobs/compare/?ids=*")
    assert page.locator("#compare-metrics [data-metric=accuracy] td").count() == 2
    assert page.locator("#compare-config tr.differs[data-setting=learning_rate]").is_visible()
    page.wait_for_function("() => document.querySelector('#compare-chart').dataset.lines === '2'")
    assert page.locator("#compare-chart").get_attribute("data-metric") == "loss"
    page.select_option("#compare-metric", "accuracy")  # only the real run logged an accuracy curve
    assert page.locator("#compare-chart").get_attribute("data-lines") == "1"
    screenshot("training-compare")
    assert errors == []
