"""The job pages in real Chromium, with a real Celery worker running the job: start a diagnostic job from the
form, watch its progress bar and metrics chart move, cancel it, and see polling stop."""
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings

from tests.training.job_fixtures import PASSWORD, staff  # noqa: F401
from tests.training.worker_process import CeleryWorker
from training.models import Job, JobState

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(live_server, tmp_path) -> Iterator[CeleryWorker]:
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.flushdb()
    worker = CeleryWorker(name="browser", queues="default", log_dir=tmp_path).start()
    yield worker
    worker.stop()
    broker.flushdb()
    broker.close()


@pytest.fixture
def errors(page) -> list[str]:
    seen: list[str] = []
    page.on("pageerror", lambda error: seen.append(str(error)))
    return seen


def progress_of(page) -> int:
    return int(page.locator("#job-progress").get_attribute("aria-valuenow"))


def test_a_job_page_shows_live_progress_and_cancel_stops_the_job(page, login, staff, worker, errors, screenshot):
    login("operator", PASSWORD)
    page.get_by_role("link", name="Jobs").click()
    page.wait_for_url("**/jobs/")
    assert page.locator("#jobs-empty").is_visible()

    page.fill("#id_steps", "60")
    page.fill("#id_seconds_per_step", "0.15")  # 9 s if nobody stops it
    page.get_by_role("button", name="Start diagnostic job").click()
    page.wait_for_url("**/jobs/*/")
    job = Job.objects.get()
    assert page.locator("h1").inner_text().startswith("Diagnostic (worker check)")

    # The bar moves without a reload: htmx swaps the live fragment in every second.
    page.wait_for_function("() => +document.querySelector('#job-progress').getAttribute('aria-valuenow') >= 10")
    first = progress_of(page)
    page.wait_for_function(
        f"() => +document.querySelector('#job-progress').getAttribute('aria-valuenow') > {first}"
    )
    assert progress_of(page) > first
    assert page.locator("#job-state").inner_text() == "Running"
    assert page.locator("#job-eta").inner_text().startswith("about ")
    assert "browser@" in page.locator("#job-worker").inner_text()
    page.wait_for_function("() => +document.querySelector('#job-chart').dataset.points >= 4")
    assert page.locator("#metrics-empty").is_hidden()
    assert "loss=" in page.locator("#job-log").inner_text()
    screenshot("job")

    page.locator("#job-cancel").click()
    page.wait_for_function("() => document.querySelector('#job-state').textContent.trim() === 'Cancelled'",
                           timeout=10_000)
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED and 0 < job.progress < 100
    live = page.locator("#job-live")
    assert live.get_attribute("data-state") == "cancelled"
    assert live.get_attribute("hx-trigger") is None  # polling has stopped
    assert page.locator("#job-cancel").count() == 0
    assert "cancel requested" in page.locator("#job-log").inner_text()
    assert errors == []

    page.get_by_role("link", name="Jobs").first.click()
    row = page.locator(f"tr[data-job='{job.pk}']")
    assert "Cancelled" in row.inner_text()
    screenshot("jobs")
