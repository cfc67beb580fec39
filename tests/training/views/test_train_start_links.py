"""Starting training: a training job needs a dataset version (service and API), the start form pre-selects the
trainer and version a link names, and the project dashboard links to it for those who may start jobs."""
import pytest
from rest_framework.test import APIClient

from annotation.errors import PrefStudioError
from annotation.services.accounts import api_token_get_or_create
from training.models import Job, JobKind, ModelArtifact
from training.services.jobs import job_start

from tests.training.job_fixtures import lab, member, owner  # noqa: F401
from tests.training.train_fixtures import version_with_rows

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("kind", [JobKind.TRAIN_RM, JobKind.TRAIN_DPO, JobKind.TRAIN_LISTWISE, JobKind.TRAIN_KTO])
def test_a_training_job_without_a_dataset_version_is_refused_naming_it(lab, owner, kind):
    with pytest.raises(PrefStudioError) as caught:
        job_start(kind=kind, config={}, project=lab, user=owner)
    assert caught.value.field == "dataset_version" and caught.value.status_code == 400
    assert "needs a dataset version" in caught.value.message
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token_get_or_create(user=owner)}")
    response = api.post("/api/jobs/", {"kind": kind.value, "config": {}, "project": "lab"}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "dataset_version"
    assert not Job.objects.exists()
    assert job_start(kind=JobKind.DIAGNOSTIC, config={}, project=lab).dataset_version is None  # others need none


def test_the_start_form_preselects_the_trainer_and_version_of_the_link(client, owner, lab):
    ModelArtifact.objects.create(name="tiny-base", backend="hf", location="/models/tiny")
    first, second = version_with_rows(lab, pairwise=8), version_with_rows(lab, pairwise=8)
    client.force_login(owner)
    page = client.get(f"/jobs/train/?trainer=dpo&dataset_version={second.pk}").content.decode()
    assert '<input type="hidden" name="trainer" value="train_dpo">' in page and 'name="beta"' in page
    assert f'<option value="{second.pk}" selected>' in page
    assert f'<option value="{first.pk}">' in page
    plain = client.get(f"/jobs/train/?trainer=train_rm&dataset_version={10**6}").content.decode()
    assert f'<option value="{first.pk}">' in plain and f'<option value="{second.pk}">' in plain  # none chosen
    assert client.get("/jobs/train/?trainer=ppo").status_code == 404


def test_the_dashboard_links_owners_to_the_training_form(client, owner, member, lab):
    from annotation.services.projects import membership_set

    client.force_login(owner)
    assert 'href="/jobs/train/" id="dash-train-link"' in client.get("/projects/lab/dashboard/").content.decode()
    membership_set(project=lab, user=member, role="reviewer")  # reviewers see the dashboard, start no jobs
    client.force_login(member)
    page = client.get("/projects/lab/dashboard/")
    assert page.status_code == 200 and "dash-train-link" not in page.content.decode()
