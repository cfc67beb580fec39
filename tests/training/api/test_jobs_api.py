"""REST API of jobs (training/api/): list, detail, start and cancel, with token auth."""
import pytest
from rest_framework.test import APIClient

from annotation.services.accounts import api_token_get_or_create
from training.models import Job, JobKind, JobState
from training.services.jobs import job_run, job_start

from tests.training.job_fixtures import lab, member, outsider, owner, staff, start_diagnostic  # noqa: F401

pytestmark = pytest.mark.django_db


def api(person=None) -> APIClient:
    client = APIClient()
    if person is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_get_or_create(user=person)}")
    return client


def test_anonymous_requests_are_refused():
    assert api().get("/api/jobs/").status_code == 401


def test_the_list_shows_what_the_user_may_see_with_filters(start_diagnostic, member, outsider, staff):
    done = start_diagnostic(steps=1, seconds_per_step=0)
    job_run(job_id=done.pk)
    queued = start_diagnostic()
    lone = job_start(kind=JobKind.DIAGNOSTIC, config={}, user=staff)

    def ids(person, query="") -> list[int]:
        response = api(person).get(f"/api/jobs/{query}")
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids(member) == [queued.pk, done.pk]
    assert ids(outsider) == []
    assert ids(staff) == [lone.pk, queued.pk, done.pk]
    assert ids(staff, "?state=succeeded") == [done.pk]
    assert ids(staff, "?project=lab&state=queued") == [queued.pk]
    response = api(staff).get("/api/jobs/?kind=nope")
    assert response.status_code == 400 and response.json()["field"] == "kind"
    row = api(member).get("/api/jobs/?state=succeeded").json()["results"][0]
    assert row["project"] == "lab" and row["progress"] == 100.0 and row["created_by"] is None
    assert "metrics" not in row and "log_tail" not in row  # the list stays light; the detail has them


def test_the_detail_has_config_metrics_log_and_result(start_diagnostic, member, outsider):
    job = start_diagnostic(steps=2, seconds_per_step=0)
    job_run(job_id=job.pk, worker="w pid 1")
    body = api(member).get(f"/api/jobs/{job.pk}/").json()
    assert body["state"] == "succeeded" and body["config"]["steps"] == 2
    assert [point["step"] for point in body["metrics"]] == [1, 2]
    assert "step 2/2" in body["log_tail"] and body["artifacts"]["worker"] == "w pid 1"
    response = api(outsider).get(f"/api/jobs/{job.pk}/")
    assert response.status_code == 404 and response.json()["field"] == "job_id"


def test_start_checks_the_config_and_returns_the_queued_job(lab, staff):
    response = api(staff).post("/api/jobs/", {"kind": "diagnostic", "config": {"steps": 3}, "project": "lab"},
                               format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == "queued" and body["project"] == "lab" and body["created_by"] == "operator"
    assert body["config"] == {"steps": 3, "seconds_per_step": 0.5, "fail_at_step": None, "queue": "default"}
    assert Job.objects.get(pk=body["id"]).created_by == staff


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"kind": "diagnostic", "config": {"steps": 0}, "project": "lab"}, 400, "config.steps"),
        ({"kind": "diagnostic", "config": {"sleep": 1}, "project": "lab"}, 400, "config.sleep"),
        ({"kind": "diagnostic", "config": "steps=3", "project": "lab"}, 400, "config"),
        ({"kind": "evaluate", "config": {}, "project": "lab"}, 400, "dataset_version"),
        ({"kind": "bogus", "project": "lab"}, 400, "kind"),
        ({"kind": "diagnostic", "project": "elsewhere"}, 404, "project"),
        ({"kind": "diagnostic", "dataset_version": 999}, 404, "dataset_version"),
    ],
)
def test_start_refuses_bad_requests_naming_the_field(lab, owner, payload, status, field):
    response = api(owner).post("/api/jobs/", payload, format="json")
    assert response.status_code == status, response.json()
    assert response.json()["field"] == field
    assert not Job.objects.exists()


def test_start_is_for_project_owners_and_staff(member, owner, staff):
    assert api(member).post("/api/jobs/", {"kind": "diagnostic", "project": "lab"}, format="json").status_code == 403
    assert api(owner).post("/api/jobs/", {"kind": "diagnostic"}, format="json").status_code == 403  # no project
    assert api(staff).post("/api/jobs/", {"kind": "diagnostic"}, format="json").status_code == 201


def test_cancel(start_diagnostic, owner, member):
    job = start_diagnostic()
    assert api(member).post(f"/api/jobs/{job.pk}/cancel/").status_code == 403
    response = api(owner).post(f"/api/jobs/{job.pk}/cancel/")
    assert response.status_code == 200 and response.json()["state"] == JobState.CANCELLED
    done = start_diagnostic(steps=1, seconds_per_step=0)
    job_run(job_id=done.pk)
    response = api(owner).post(f"/api/jobs/{done.pk}/cancel/")
    assert response.status_code == 409 and "already succeeded" in response.json()["error"]
    assert api(owner).post("/api/jobs/987654/cancel/").status_code == 404
