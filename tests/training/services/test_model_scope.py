"""Models belong to a project (issue 10, item 1): a project's jobs use its own models and the global ones only.

People: `owner` owns "lab"; `rival` owns "other"; `staff`. Models: `lab_model` (of lab), `other_model` (of
other), `global_model` (no project, registered by staff).
"""
import pytest
from rest_framework.test import APIClient

from annotation.errors import PermissionDenied, PrefStudioError
from annotation.models import Project
from annotation.services.accounts import api_token_get_or_create
from annotation.services.curation import consensus_refresh
from annotation.services.projects import project_create
from training.models import Job, JobKind, JobState, ModelArtifact
from training.services.jobs import job_run, job_start
from training.services.models import model_artifact_register
from training.services.training import training_result_register

from tests.training.job_fixtures import PASSWORD, lab, member, owner, staff  # noqa: F401

pytestmark = pytest.mark.django_db


def api(person) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_get_or_create(user=person)}")
    return client


@pytest.fixture
def rival(django_user_model):
    return django_user_model.objects.create_user(username="rita", password=PASSWORD)


@pytest.fixture
def other(rival) -> Project:
    return project_create(slug="other", name="Other", owner=rival)


def register(name: str, user, project=None, **fields) -> ModelArtifact:
    return model_artifact_register(name=name, kind=fields.get("kind", "base"), backend=fields.get("backend", "hf"),
                                   location=fields.get("location", f"/models/{name}"),
                                   settings=fields.get("settings", {}), user=user, project=project)


@pytest.fixture
def lab_model(owner, lab) -> ModelArtifact:
    return register("lab-llama", owner, lab)


@pytest.fixture
def other_model(rival, other) -> ModelArtifact:
    return register("other-llama", rival, other)


@pytest.fixture
def global_model(staff) -> ModelArtifact:
    return register("all-minilm", staff)


# -- registering ----------------------------------------------------------------------------------------------
def test_who_registers_where(owner, lab, rival, other, staff, member):
    """Owners in their own projects; staff anywhere and globally; nobody else."""
    with pytest.raises(PermissionDenied, match="only staff may register a global model"):
        register("g", owner)
    with pytest.raises(PermissionDenied, match="owners of project 'other'"):
        register("x", owner, other)
    with pytest.raises(PermissionDenied):
        register("x", member, lab)  # an annotator of lab
    assert register("x", owner, lab).project == lab
    assert register("x", staff, other).project == other  # the same name in another project is another model
    assert register("x", staff).project is None  # and once among the global ones
    with pytest.raises(PrefStudioError, match="exists already among the global models"):
        register("x", staff)
    with pytest.raises(PrefStudioError, match="exists already in project 'lab'"):
        register("x", staff, lab)
    assert register("demo", None, lab).created_by is None  # an operator (the demo loader) may register anywhere


def test_the_models_page_lists_global_models_and_those_of_my_projects(client, owner, lab_model, other_model,
                                                                      global_model, staff):
    client.force_login(owner)
    page = client.get("/jobs/models/")
    assert [m.name for m in page.context["models"]] == ["all-minilm", "lab-llama"]
    assert "other-llama" not in page.content.decode()
    assert list(page.context["form"].fields["project"].queryset.values_list("slug", flat=True)) == ["lab"]
    client.force_login(staff)
    assert {m.name for m in client.get("/jobs/models/").context["models"]} == {"all-minilm", "lab-llama",
                                                                               "other-llama"}


def test_an_owner_cannot_register_into_someone_elses_project_through_the_form(client, owner, lab, other):
    client.force_login(owner)
    form = {"project": "other", "name": "x", "kind": "base", "backend": "hf", "location": "/m", "settings": ""}
    response = client.post("/jobs/models/register/", form)
    assert response.status_code == 400 and "project" in response.context["form"].errors  # not a choice offered
    response = client.post("/jobs/models/register/", {**form, "project": ""})
    assert response.status_code == 400 and "project" in response.context["form"].errors  # required for non-staff
    assert not ModelArtifact.objects.exists()


# -- offering and accepting ---------------------------------------------------------------------------------
def test_the_job_forms_offer_only_my_projects_models_and_global_ones(client, owner, lab_model, other_model,
                                                                      global_model):
    client.force_login(owner)
    response = client.get("/jobs/")
    for form, field in (("judge_form", "model_id"), ("generate_form", "model_ids")):
        offered = response.context[form].fields[field]
        assert {m.name for m in offered.queryset} == {"lab-llama", "all-minilm"}
        assert offered.label_from_instance(lab_model) == "lab-llama (lab)"
        assert offered.label_from_instance(global_model) == "all-minilm (global)"
    assert "other-llama" not in response.content.decode()


def test_a_model_of_another_project_is_refused_at_start(owner, lab, other_model, lab_model, global_model):
    """A 400 naming the config field, in words that do not confirm the model exists."""
    for config in ({"model_id": other_model.pk}, {"model_id": 10**6}):
        with pytest.raises(PrefStudioError) as refused:
            job_start(kind=JobKind.JUDGE, config=config, project=lab, user=owner)
        assert refused.value.field == "config.model_id" and "usable here" in refused.value.message
    with pytest.raises(PrefStudioError) as refused:
        job_start(kind=JobKind.GENERATE, config={"model_ids": [lab_model.pk, other_model.pk], "n": 2},
                  project=lab, user=owner)
    assert refused.value.field == "config.model_ids"
    with pytest.raises(PrefStudioError):  # the command line too: the rule is about the project, not the person
        job_start(kind=JobKind.JUDGE, config={"model_id": other_model.pk}, project=lab)
    assert not Job.objects.exists()
    for model in (lab_model, global_model):
        assert job_start(kind=JobKind.JUDGE, config={"model_id": model.pk}, project=lab, user=owner).pk


def test_the_api_refuses_it_too(owner, lab, other_model):
    payload = {"kind": "judge", "project": "lab", "config": {"model_id": other_model.pk}}
    response = api(owner).post("/api/jobs/", payload, format="json")
    assert response.status_code == 400 and response.json()["field"] == "config.model_id"


def test_the_judge_form_refuses_a_posted_model_of_another_project(client, owner, lab, other_model):
    client.force_login(owner)
    response = client.post("/jobs/judge/", {"project": "lab", "model_id": other_model.pk, "mode": "pairwise",
                                            "output": "text", "samples": 1, "temperature": 0, "max_tokens": 8,
                                            "seed": 0})
    assert response.status_code == 400 and "model_id" in response.context["judge_form"].errors
    assert not Job.objects.exists()


def test_the_worker_checks_again_before_the_run(owner, lab, other, lab_model):
    """A model moved to another project after the job was queued: the job fails before it loads anything."""
    job = job_start(kind=JobKind.JUDGE, config={"model_id": lab_model.pk}, project=lab, user=owner)
    ModelArtifact.objects.filter(pk=lab_model.pk).update(project=other)
    assert job_run(job_id=job.pk, worker="test") == JobState.FAILED
    job.refresh_from_db()
    assert "config.model_id" in job.error and "usable here" in job.error


def test_curation_refuses_a_reward_model_of_another_project(lab, rival, other):
    rm = register("rm", rival, other, kind="reward")
    with pytest.raises(PrefStudioError) as refused:
        consensus_refresh(project=lab, reward_models=[rm.pk], embeddings=False)
    assert refused.value.field == "reward_models" and "usable here" in refused.value.message


def test_a_trained_model_belongs_to_its_jobs_project(owner, lab, global_model):
    job = Job.objects.create(kind=JobKind.TRAIN_RM, project=lab, created_by=owner, config={})
    artifact = training_result_register(job_id=job.pk, kind=JobKind.TRAIN_RM, dataset_version_id=1, config={},
                                        model_dir="/tmp/m", metrics={}, lora=False, base_model_id=global_model.pk)
    assert (artifact.project, artifact.created_by, artifact.produced_by) == (lab, owner, job)


def test_the_curation_form_offers_only_the_projects_reward_models(client, owner, lab, rival, other, staff):
    mine = register("lab-rm", owner, lab, kind="reward")
    shared = register("shared-rm", staff, kind="reward")
    register("other-rm", rival, other, kind="reward")
    client.force_login(owner)
    form = client.get("/projects/lab/curation/").context["curate_form"]
    assert {pk for pk, _ in form.fields["reward_models"].choices} == {str(mine.pk), str(shared.pk)}
