"""The models page (list, register form, who may register), the generation and judge forms of the job list, and
the judge template page -- rendered by Django's test client. No worker runs: started jobs stay queued.
"""
import pytest

from annotation.models import Project
from annotation.services.projects import membership_set
from training.engine.judging.templates import DEFAULT_TEMPLATES
from training.models import Job, JobKind, JobState, JudgeTemplate, ModelArtifact
from training.services.models import model_artifact_register

from tests.training.job_fixtures import lab, member, outsider, owner, staff  # noqa: F401

pytestmark = pytest.mark.django_db
MODELS = "/jobs/models/"
REGISTER = "/jobs/models/register/"
FORM = {"name": "tiny-llama", "kind": "base", "backend": "hf", "location": "/models/tiny", "settings": ""}


def html(response) -> str:
    return response.content.decode()


@pytest.fixture
def tiny() -> ModelArtifact:
    return ModelArtifact.objects.create(name="tiny", backend="hf", location="/models/tiny")


# -- models ---------------------------------------------------------------------------------------------
def test_the_models_page_has_an_empty_state_and_no_form_for_non_owners(client, member):
    """An annotator (no project owned) sees the list but may not register."""
    client.force_login(member)
    page = html(client.get(MODELS))
    assert 'id="models-empty"' in page and 'id="model-form"' not in page
    assert client.post(REGISTER, FORM).status_code == 403
    assert not ModelArtifact.objects.exists()


def test_a_project_owner_registers_a_model(client, owner, lab):
    client.force_login(owner)
    assert 'id="model-form"' in html(client.get(MODELS))
    response = client.post(REGISTER, {**FORM, "kind": "reward", "settings": '{"dtype": "bfloat16"}',
                                      "project": "lab"})
    assert response.status_code == 302 and response.url == MODELS
    model = ModelArtifact.objects.get()
    assert (model.name, model.kind, model.backend, model.location, model.settings) == (
        "tiny-llama", "reward", "hf", "/models/tiny", {"dtype": "bfloat16"})
    assert (model.project, model.created_by) == (lab, owner)
    page = html(client.get(MODELS))
    assert 'id="models-empty"' not in page and "tiny-llama" in page and "Reward model" in page


def test_bad_settings_json_is_shown_on_the_field(client, staff):
    client.force_login(staff)
    response = client.post(REGISTER, {**FORM, "settings": '{"dtype": '})
    assert response.status_code == 400
    assert "Settings is not valid JSON" in response.context["form"].errors["settings"][0]
    assert "Settings is not valid JSON" in html(response)
    response = client.post(REGISTER, {**FORM, "settings": "[1, 2]"})
    assert "must be a JSON object" in response.context["form"].errors["settings"][0]
    assert not ModelArtifact.objects.exists()


def test_a_taken_name_is_an_error_on_the_name(client, staff, tiny):
    client.force_login(staff)
    response = client.post(REGISTER, {**FORM, "name": "tiny"})
    assert response.status_code == 400 and "exists already" in response.context["form"].errors["name"][0]


def test_the_service_names_the_field_and_checks_permission(member, owner, lab):
    from annotation.errors import PermissionDenied, PrefStudioError

    with pytest.raises(PrefStudioError) as exc:
        model_artifact_register(name="x", kind="base", backend="hf", location="/m", settings="{}", user=owner,
                                project=lab)
    assert exc.value.field == "settings"
    with pytest.raises(PrefStudioError) as exc:
        model_artifact_register(name="x", kind="base", backend="tgi", location="/m", settings={}, user=owner,
                                project=lab)
    assert exc.value.field == "backend"
    with pytest.raises(PermissionDenied):
        model_artifact_register(name="x", kind="base", backend="hf", location="/m", settings={}, user=member,
                                project=lab)
    model = model_artifact_register(name="x", kind="adapter", backend="openai", location="http://localhost/v1",
                                    settings={}, user=None)
    assert ModelArtifact.objects.get().pk == model.pk


# -- generation and judge forms -------------------------------------------------------------------------
def test_the_start_forms_offer_only_projects_the_user_owns(client, owner, lab, django_user_model, tiny):
    Project.objects.create(slug="other", name="Other")
    reviewer_of = Project.objects.create(slug="seen", name="Seen")
    membership_set(project=reviewer_of, user=owner, role="reviewer")
    client.force_login(owner)
    response = client.get("/jobs/")
    page = html(response)
    assert 'id="generate-form"' in page and 'id="judge-form"' in page
    assert list(response.context["generate_form"].fields["project"].queryset) == [lab]
    assert list(response.context["judge_form"].fields["project"].queryset) == [lab]
    # Pre-filled with the config dataclasses' defaults.
    assert response.context["generate_form"]["max_tokens"].value() == 256
    assert response.context["judge_form"]["mode"].value() == "pairwise"


def test_no_start_forms_for_someone_who_owns_nothing(client, member):
    client.force_login(member)
    page = html(client.get("/jobs/"))
    assert 'id="generate-form"' not in page and 'id="judge-form"' not in page


def test_start_a_generation_job_through_the_form(client, owner, lab, tiny):
    client.force_login(owner)
    response = client.post("/jobs/generate/", {
        "project": "lab", "model_ids": [tiny.pk], "n": 3, "temperature": 0.7, "top_p": 0.9, "max_tokens": 64,
        "seed": 5, "pairing": "random_pairs", "limit": "", "advanced": '{"pairs_per_prompt": 2}',
    })
    job = Job.objects.get()
    assert response.status_code == 302 and response.url == f"/jobs/{job.pk}/"
    assert (job.kind, job.state, job.project, job.created_by) == (JobKind.GENERATE, JobState.QUEUED, lab, owner)
    assert job.config["model_ids"] == [tiny.pk] and job.config["n"] == 3 and job.config["temperature"] == 0.7
    assert job.config["pairing"] == "random_pairs" and job.config["pairs_per_prompt"] == 2
    assert job.config["limit"] is None and job.config["batch_size"] == 16  # defaults fill the rest


def test_start_a_judge_job_through_the_form(client, owner, lab, tiny):
    client.force_login(owner)
    response = client.post("/jobs/judge/", {
        "project": "lab", "model_id": tiny.pk, "mode": "rating", "output": "choice", "template_version": "",
        "judge_name": "", "samples": 1, "temperature": 0, "max_tokens": 32, "seed": 0, "advanced": "",
    })
    job = Job.objects.get()
    assert response.status_code == 302 and response.url == f"/jobs/{job.pk}/"
    assert (job.kind, job.state, job.project) == (JobKind.JUDGE, JobState.QUEUED, lab)
    assert job.config["model_id"] == tiny.pk and job.config["mode"] == "rating" and job.config["output"] == "choice"
    assert job.config["template_version"] is None and job.config["judge_name"] == ""


def test_config_errors_are_shown_on_the_form(client, owner, lab, tiny):
    """The dataclass's check (greedy with samples > 1) and bad advanced JSON come back inline; no job."""
    client.force_login(owner)
    base = {"project": "lab", "model_id": tiny.pk, "mode": "pairwise", "output": "text", "samples": 4,
            "temperature": 0, "max_tokens": 32, "seed": 0}
    response = client.post("/jobs/judge/", {**base, "advanced": ""})
    assert response.status_code == 400
    assert "temperature must be > 0" in response.context["judge_form"].errors["temperature"][0]
    assert 'id="judge-form"' in html(response)
    response = client.post("/jobs/judge/", {**base, "samples": 1, "advanced": "{nope"})
    assert "Advanced is not valid JSON" in response.context["judge_form"].errors["advanced"][0]
    response = client.post("/jobs/judge/", {**base, "samples": 1, "advanced": '{"bogus": 1}'})
    assert "unknown field" in str(response.context["judge_form"].errors)
    assert not Job.objects.exists()


def test_a_project_someone_does_not_own_is_refused(client, member, lab, tiny):
    client.force_login(member)
    response = client.post("/jobs/generate/", {"project": "lab", "model_ids": [tiny.pk], "n": 2, "temperature": 1,
                                               "top_p": 1, "max_tokens": 8, "seed": 0, "pairing": "all_pairs"})
    assert response.status_code == 400 and "project" in response.context["generate_form"].errors
    assert not Job.objects.exists()


# -- judge templates ------------------------------------------------------------------------------------
def test_saving_a_template_adds_a_version(client, owner, lab):
    client.force_login(owner)
    url = "/jobs/judge-templates/lab/"
    assert 'id="templates-empty"' in html(client.get(url))
    text = DEFAULT_TEMPLATES["pairwise"].replace("careful judge", "strict judge")
    response = client.post(url + "save/", {"mode": "pairwise", "name": "default", "text": text})
    assert response.status_code == 302 and response.url == url
    versions = list(JudgeTemplate.objects.filter(project=lab).order_by("version").values_list("version", "text"))
    assert versions == [(1, DEFAULT_TEMPLATES["pairwise"]), (2, text)]
    assert JudgeTemplate.objects.get(version=2).created_by == owner
    page = html(client.get(url))
    assert "v2" in page and "v1" in page and "strict judge" in page


def test_a_template_without_its_placeholders_is_refused_inline(client, owner, lab):
    client.force_login(owner)
    response = client.post("/jobs/judge-templates/lab/save/", {"mode": "pairwise", "name": "default",
                                                                "text": "Which is better?"})
    assert response.status_code == 400 and response.context["form"].errors["text"]
    assert not JudgeTemplate.objects.exists()


def test_only_owners_and_staff_edit_templates(client, member, outsider, staff, lab):
    client.force_login(member)
    assert client.get("/jobs/judge-templates/lab/").status_code == 403
    client.force_login(outsider)
    assert client.get("/jobs/judge-templates/lab/").status_code == 404
    assert client.post("/jobs/judge-templates/lab/save/", {"mode": "pairwise", "text": "x"}).status_code == 404
    client.force_login(staff)
    assert client.get("/jobs/judge-templates/lab/").status_code == 200
