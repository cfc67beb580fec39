"""annotation/extensions.py: what annotation asks of training goes through the implementations training
registers in its AppConfig.ready(); with none registered (training not installed), annotation's pages and
services degrade -- no Train links, runs refused with a reason -- instead of failing."""
import pytest

from annotation import extensions
from annotation.errors import PrefStudioError
from annotation.services.curation import consensus_refresh
from tests.annotation.review_data import review_project

from .test_curation_pages import _version

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(user):
    return review_project(owner=user)


@pytest.fixture
def without_training(monkeypatch):
    """As if the training app were not installed: nothing answers annotation's extension points."""
    monkeypatch.setitem(extensions._registry, "jobs", None)
    monkeypatch.setitem(extensions._registry, "reward_models", None)


def test_training_registers_its_answers_when_the_app_is_ready(user, project):
    from training.extensions import TrainingJobs, TrainingRewardModels

    assert isinstance(extensions.jobs(), TrainingJobs)
    assert isinstance(extensions.reward_models(), TrainingRewardModels)
    assert extensions.job_may_start(user=user, project=project)  # the owner, by training's rule
    links = extensions.train_links(dataset_version_id=7, row_kinds={"unpaired"})
    assert links == [("KTO", "/jobs/train/?trainer=train_kto&dataset_version=7")]


def test_without_training_the_version_page_has_no_train_links(client, user, project, without_training):
    _version(project, user=user)
    client.force_login(user)
    response = client.get("/projects/rev/datasets/1/")
    html = response.content.decode()
    assert response.status_code == 200 and 'id="train-links"' not in html and "/jobs/train/" not in html
    assert "/api/projects/rev/datasets/1/export/?format=trl" in html  # the rest of the page is there


def test_without_training_curation_and_routing_runs_are_refused_with_a_reason(client, user, project,
                                                                             without_training):
    client.force_login(user)
    page = client.get("/projects/rev/curation/").content.decode()
    assert 'id="curate-unavailable"' in page and 'id="curate-form"' not in page
    assert 'id="routing-unavailable"' in page and "Only the project's owners" not in page
    # Refused, not a 500 (the page above says why; the error page is the project's plain 403 for now).
    assert client.post("/projects/rev/curation/run/", {}).status_code == 403
    assert client.post("/projects/rev/curation/routing/", {"policy": "rules", "seed": 0}).status_code == 403


def test_without_training_the_dashboard_has_no_train_link(client, user, project, without_training):
    client.force_login(user)
    response = client.get("/projects/rev/dashboard/")
    assert response.status_code == 200 and 'id="dash-train-link"' not in response.content.decode()


def test_without_training_reward_models_are_refused_naming_the_field(project, without_training):
    with pytest.raises(PrefStudioError) as caught:
        consensus_refresh(project=project, method="majority", embeddings=False, reward_models=[1])
    assert caught.value.status_code == 503 and caught.value.field == "reward_models"
    assert "training app is not installed" in caught.value.message
    summary = consensus_refresh(project=project, method="majority", embeddings=False, reward_models=[])
    assert summary["rm_members"]["reward_models"] == []  # without reward models curation runs as before
