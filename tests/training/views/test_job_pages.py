"""The job pages (training/views/jobs.py): list with filters and empty states, the live job page, cancel, and
the diagnostic form -- rendered by Django's test client. The same pages in Chromium: tests/browser/test_jobs.py.
"""
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from training.models import Job, JobKind, JobState
from training.services.jobs import job_run, job_start

from tests.training.job_fixtures import lab, member, outsider, owner, staff, start_diagnostic  # noqa: F401

pytestmark = pytest.mark.django_db
LIST = "/jobs/"


def running(job: Job, progress: float = 40.0) -> Job:
    Job.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING, attempts=1, progress=progress, started_at=timezone.now(), heartbeat_at=timezone.now(),
        message="step 4 of 10", eta_seconds=75, metrics=[{"step": 1, "loss": 0.9}, {"step": 2, "loss": 0.7}],
        log_tail="step 1/10\nstep 2/10", worker_host="gpu0@box pid 42",
    )
    return Job.objects.get(pk=job.pk)


def html(response) -> str:
    return response.content.decode()


def test_pages_need_a_login(client, start_diagnostic):
    job = start_diagnostic()
    for url in (LIST, f"/jobs/{job.pk}/"):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_the_list_has_an_empty_state(client, outsider):
    client.force_login(outsider)
    page = html(client.get(LIST))
    assert 'id="jobs-empty"' in page and "No jobs yet." in page
    assert 'id="diagnostic-form"' not in page  # not staff


def test_people_see_the_jobs_of_their_projects_and_staff_see_all(client, start_diagnostic, member, outsider, staff):
    lab_job = start_diagnostic()
    lone_job = job_start(kind=JobKind.DIAGNOSTIC, config={}, user=staff)
    client.force_login(member)
    assert set(client.get(LIST).context["page"].object_list) == {lab_job}
    client.force_login(outsider)
    assert list(client.get(LIST).context["page"].object_list) == []
    client.force_login(staff)
    page = client.get(LIST)
    assert set(page.context["page"].object_list) == {lab_job, lone_job}
    assert 'id="diagnostic-form"' in html(page)


def test_the_list_filters_by_kind_state_and_project(client, start_diagnostic, staff):
    done = start_diagnostic(steps=1, seconds_per_step=0)
    job_run(job_id=done.pk)
    queued = start_diagnostic()
    lone = job_start(kind=JobKind.DIAGNOSTIC, config={}, user=staff)
    client.force_login(staff)

    def shown(query: str) -> set[Job]:
        return set(client.get(f"{LIST}?{query}").context["page"].object_list)

    assert shown("state=succeeded") == {done}
    assert shown("state=queued") == {queued, lone}
    assert shown("project=lab&state=queued") == {queued}
    assert shown("kind=diagnostic") == {done, queued, lone}
    page = html(client.get(f"{LIST}?kind=generate"))
    assert "No job matches these filters." in page and 'href="/jobs/"' in page


def test_the_list_polls_only_while_a_listed_job_is_unfinished(client, start_diagnostic, staff):
    job = start_diagnostic(steps=1, seconds_per_step=0)
    client.force_login(staff)
    fragment = html(client.get(LIST, headers={"HX-Request": "true"}))
    assert fragment.lstrip().startswith('<section id="job-table"') and "<html" not in fragment
    assert 'hx-trigger="every 3s"' in fragment
    job_run(job_id=job.pk)
    assert "hx-trigger" not in html(client.get(LIST, headers={"HX-Request": "true"}))


def test_the_job_page_shows_progress_eta_metrics_log_config_and_worker(client, start_diagnostic, owner):
    job = running(start_diagnostic(steps=10))
    client.force_login(owner)
    page = html(client.get(f"/jobs/{job.pk}/"))
    assert 'aria-valuenow="40"' in page and 'data-width="40.00"' in page
    assert "about 1 min 15 s left" in page and "step 4 of 10" in page
    assert "gpu0@box pid 42" in page and "step 2/10" in page
    assert re.search(r"<dt>steps</dt><dd>10</dd>", page)
    assert '"points": [{"x": 1, "y": 0.9}, {"x": 2, "y": 0.7}]' in page  # the chart's data
    assert 'id="job-cancel"' in page and 'hx-trigger="every 1s"' in page


def test_the_live_fragment_stops_polling_when_the_job_is_finished(client, start_diagnostic, owner):
    job = start_diagnostic(steps=2, seconds_per_step=0)
    client.force_login(owner)
    fragment = html(client.get(f"/jobs/{job.pk}/", headers={"HX-Request": "true"}))
    assert fragment.lstrip().startswith('<section id="job-live"') and 'hx-trigger="every 1s"' in fragment
    job_run(job_id=job.pk)
    fragment = html(client.get(f"/jobs/{job.pk}/", headers={"HX-Request": "true"}))
    assert "hx-trigger" not in fragment and 'data-state="succeeded"' in fragment
    assert 'id="job-cancel"' not in fragment and 'id="job-artifacts"' in fragment


def test_only_people_who_may_cancel_see_the_button(client, start_diagnostic, member, outsider):
    job = running(start_diagnostic())
    client.force_login(member)
    assert 'id="job-cancel"' not in html(client.get(f"/jobs/{job.pk}/"))
    assert client.post(f"/jobs/{job.pk}/cancel/").status_code == 403
    client.force_login(outsider)
    assert client.get(f"/jobs/{job.pk}/").status_code == 404
    assert client.post(f"/jobs/{job.pk}/cancel/").status_code == 404


def test_cancel_from_the_page(client, start_diagnostic, owner):
    queued, live = start_diagnostic(), running(start_diagnostic())
    client.force_login(owner)
    response = client.post(f"/jobs/{queued.pk}/cancel/")
    assert response.status_code == 302 and response.url == f"/jobs/{queued.pk}/"
    assert Job.objects.get(pk=queued.pk).state == JobState.CANCELLED

    fragment = html(client.post(f"/jobs/{live.pk}/cancel/", headers={"HX-Request": "true"}))
    assert fragment.lstrip().startswith('<section id="job-live"')
    assert "Stopping at the next step" in fragment and 'id="job-cancel"' not in fragment
    assert Job.objects.get(pk=live.pk).cancel_requested
    assert client.get(f"/jobs/{live.pk}/cancel/").status_code == 405


def test_staff_start_a_diagnostic_job_from_the_list(client, staff):
    client.force_login(staff)
    response = client.post(reverse("job-start-diagnostic"),
                           {"queue": "gpu", "steps": "7", "seconds_per_step": "0.2", "fail_at_step": ""})
    job = Job.objects.get()
    assert response.status_code == 302 and response.url == f"/jobs/{job.pk}/"
    assert job.config == {"queue": "gpu", "steps": 7, "seconds_per_step": 0.2, "fail_at_step": None}
    assert job.created_by == staff and job.kind == JobKind.DIAGNOSTIC


def test_the_diagnostic_form_shows_what_is_wrong(client, staff):
    client.force_login(staff)
    response = client.post(reverse("job-start-diagnostic"),
                           {"queue": "default", "steps": "5", "seconds_per_step": "0", "fail_at_step": "9"})
    assert response.status_code == 400 and not Job.objects.exists()
    assert "fail_at_step must be from 1 to steps (5), got 9" in html(response)


def test_only_staff_may_start_a_diagnostic_job(client, owner):
    client.force_login(owner)
    response = client.post(reverse("job-start-diagnostic"), {"queue": "default", "steps": "5", "seconds_per_step": "0"})
    assert response.status_code == 403 and not Job.objects.exists()


def test_the_nav_links_to_the_jobs(client, owner):
    client.force_login(owner)
    assert '<a href="/jobs/">Jobs</a>' in html(client.get("/"))
