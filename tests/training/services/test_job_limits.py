"""Who may start jobs and how many may wait (issue 10, item 6): diagnostic jobs for staff, starter roles, caps per
project and per person by role. Through the real service and the REST API; no worker runs (jobs stay queued).
"""
import pytest
from rest_framework.test import APIClient

from annotation.errors import Conflict, PermissionDenied
from annotation.services.accounts import api_token_get_or_create
from annotation.services.projects import membership_set
from training.models import Job, JobKind, JobState
from training.services.jobs import job_cancel, job_start

from tests.training.job_fixtures import PASSWORD, lab, member, owner, staff, temp_kind  # noqa: F401

pytestmark = pytest.mark.django_db


def api(person) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_get_or_create(user=person)}")
    return client


@pytest.fixture
def kind(temp_kind) -> str:
    """A job kind whose runner does nothing (no worker runs here anyway)."""
    return temp_kind(lambda config, progress, context: {})


def test_a_diagnostic_job_is_for_staff(lab, owner, staff):
    """The 100,000-step diagnostic on the gpu queue: refused to an owner (403 over the API), allowed to staff."""
    huge = {"steps": 100_000, "seconds_per_step": 60, "queue": "gpu"}
    response = api(owner).post("/api/jobs/", {"kind": "diagnostic", "project": "lab", "config": huge}, format="json")
    assert response.status_code == 403 and response.json()["field"] == "kind"
    assert "diagnostic jobs are for staff" in response.json()["error"]
    assert not Job.objects.exists()
    assert job_start(kind=JobKind.DIAGNOSTIC, config=huge, project=lab, user=staff).state == JobState.QUEUED


def test_starter_roles_come_from_the_setting(lab, owner, member, kind, settings, django_user_model):
    reviewer = django_user_model.objects.create_user(username="rev", password=PASSWORD)
    membership_set(project=lab, user=reviewer, role="reviewer")
    with pytest.raises(PermissionDenied, match="PREFSTUDIO_JOB_STARTER_ROLES"):
        job_start(kind=kind, config={}, project=lab, user=reviewer)  # default: owners only
    settings.PREFSTUDIO_JOB_STARTER_ROLES = ["owner", "reviewer"]
    assert job_start(kind=kind, config={}, project=lab, user=reviewer).created_by == reviewer
    with pytest.raises(PermissionDenied):
        job_start(kind=kind, config={}, project=lab, user=member)  # an annotator still may not
    response = api(member).post("/api/jobs/", {"kind": kind, "project": "lab", "config": {}}, format="json")
    assert response.status_code == 403


def test_the_per_project_cap_counts_queued_and_running_jobs(lab, owner, staff, kind, settings):
    """Staff too: the cap protects the project's queue. A finished job frees its slot. The command line is exempt."""
    settings.PREFSTUDIO_MAX_ACTIVE_JOBS_PER_PROJECT = 2
    settings.PREFSTUDIO_MAX_ACTIVE_JOBS_PER_ROLE = {}
    first = job_start(kind=kind, config={}, project=lab, user=owner)
    second = job_start(kind=kind, config={}, project=lab, user=staff)
    Job.objects.filter(pk=second.pk).update(state=JobState.RUNNING)  # running counts like queued
    response = api(staff).post("/api/jobs/", {"kind": kind, "project": "lab", "config": {}}, format="json")
    assert response.status_code == 409, response.json()
    assert "PREFSTUDIO_MAX_ACTIVE_JOBS_PER_PROJECT" in response.json()["error"]
    with pytest.raises(Conflict):
        job_start(kind=kind, config={}, project=lab, user=owner)
    assert Job.objects.count() == 2
    job_cancel(job_id=first.pk, user=owner)
    assert job_start(kind=kind, config={}, project=lab, user=owner).state == JobState.QUEUED
    assert job_start(kind=kind, config={}, project=lab).created_by is None  # an operator at the command line


def test_the_per_role_cap_is_per_person(lab, owner, staff, kind, settings, django_user_model):
    settings.PREFSTUDIO_MAX_ACTIVE_JOBS_PER_ROLE = {"owner": 1}
    co_owner = django_user_model.objects.create_user(username="coco", password=PASSWORD)
    membership_set(project=lab, user=co_owner, role="owner")
    job_start(kind=kind, config={}, project=lab, user=owner)
    with pytest.raises(Conflict, match="owner=1"):
        job_start(kind=kind, config={}, project=lab, user=owner)
    assert job_start(kind=kind, config={}, project=lab, user=co_owner).created_by == co_owner  # their own slot
    assert job_start(kind=kind, config={}, project=lab, user=staff).created_by == staff  # staff: no personal cap
    assert Job.objects.filter(created_by=owner).count() == 1


def test_the_default_caps(settings):
    """Sensible defaults: a project holds 8 waiting jobs; an owner 4 of them, a reviewer 2, an annotator 1."""
    assert settings.PREFSTUDIO_MAX_ACTIVE_JOBS_PER_PROJECT == 8
    assert settings.PREFSTUDIO_MAX_ACTIVE_JOBS_PER_ROLE == {"owner": 4, "reviewer": 2, "annotator": 1}
    assert settings.PREFSTUDIO_JOB_STARTER_ROLES == ["owner"]
