"""Issue 10, item 1: secrets and prompts never leave the worker for a place the operator did not allow.

The attack: a signed-in user creates a project, registers an `openai` model whose URL they control and whose
`settings.api_key_env` is SECRET_KEY (or DATABASE_URL), and starts a judge job, so that the worker sends the
secret as its Bearer token. Here the URL is a real HTTP listener on this machine that records every request;
each refusal is checked at the door (registration, job start: a 400 naming the setting) and in the worker
(job_run: the job fails), and the listener must have received nothing. A positive control shows that the
listener does see an allowed request, so "nothing received" means something.
"""
import io
import json
import os

import pytest
from rest_framework.test import APIClient

from annotation.errors import PrefStudioError
from annotation.models import Project
from annotation.services.accounts import api_token_get_or_create
from training.engine.backends import BackendSpec, open_backend
from training.engine.backends.outbound import OutboundRefused
from training.models import Job, JobKind, JobState, ModelArtifact
from training.services.backends import backend_for
from training.services.jobs import job_run, job_start
from training.services.models import model_artifact_register

from tests.training.job_fixtures import PASSWORD
from tests.training.outbound_fixtures import Listener, far_listener, listener  # noqa: F401

pytestmark = pytest.mark.django_db

ITEMS = [
    {"id": "p1", "kind": "pairwise", "prompt": "Name a prime number.",
     "responses": [{"text": "7 is prime."}, {"text": "9 is prime."}]},
    {"id": "p2", "kind": "pairwise", "prompt": "Say hello.", "responses": [{"text": "Hello!"}, {"text": "Go away."}]},
]


def api(person) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_get_or_create(user=person)}")
    return client


@pytest.fixture
def mallory(django_user_model):
    """A signed-in user who is not staff: the attacker."""
    return django_user_model.objects.create_user(username="mallory", password=PASSWORD)


def mallory_project(mallory, settings) -> Project:
    """The project the attacker owns (created through the API once the operator lets anyone create projects),
    with two pairwise items uploaded through the API: a judge job has prompts to send."""
    settings.PREFSTUDIO_PROJECT_CREATORS = "any"
    assert api(mallory).post("/api/projects/", {"slug": "heist"}, format="json").status_code == 201
    upload = io.BytesIO("".join(json.dumps(item) + "\n" for item in ITEMS).encode())
    upload.name = "items.jsonl"
    response = api(mallory).post("/api/imports/", {"file": upload, "project": "heist", "format": "native"},
                                 format="multipart")
    assert response.status_code == 200, response.json()
    return Project.objects.get(slug="heist")


def queued_judge_job(project, model, user) -> Job:
    """A judge job row as job_start writes it, written directly: a job queued before the model or the settings
    changed (or by a path that skipped the start checks). What the worker does with it is the test."""
    return Job.objects.create(kind=JobKind.JUDGE, project=project, created_by=user, config={
        "model_id": model.pk, "mode": "pairwise", "output": "text", "samples": 1, "temperature": 0.0,
        "max_tokens": 8, "seed": 0})


# -- the attack, step by step ---------------------------------------------------------------------------------
def test_the_exfiltration_attempt_is_refused_and_the_listener_receives_nothing(client, mallory, settings, listener):
    # 1. By default only staff create projects: the attacker cannot become an owner at all.
    response = api(mallory).post("/api/projects/", {"slug": "heist"}, format="json")
    assert response.status_code == 403 and "PREFSTUDIO_PROJECT_CREATORS" in response.json()["error"]
    assert not Project.objects.exists()

    # 2. With project creation open to anyone, they own a project and may register its models ...
    project = mallory_project(mallory, settings)
    client.force_login(mallory)
    for secret in ("SECRET_KEY", "DATABASE_URL"):
        form = {"project": "heist", "name": f"evil-{secret}", "kind": "base", "backend": "openai",
                "location": listener.url, "settings": json.dumps({"model": "m", "api_key_env": secret})}
        response = client.post("/jobs/models/register/", form)
        # ... but not one that reads a variable that configures the app: a 400 on the settings field.
        assert response.status_code == 400
        error = response.context["form"].errors["settings"][0]
        assert secret in error and "PREFSTUDIO_API_KEY_ENV_ALLOWLIST" in error
        # Not even when the operator (wrongly) lists it.
        settings.PREFSTUDIO_API_KEY_ENV_ALLOWLIST = ["SECRET_KEY", "DATABASE_URL"]
        assert client.post("/jobs/models/register/", form).status_code == 400
        settings.PREFSTUDIO_API_KEY_ENV_ALLOWLIST = []
    assert not ModelArtifact.objects.exists()

    # 3. A model row that holds the attack anyway (written before this fix, or through the admin) ...
    evil = ModelArtifact.objects.create(name="evil", project=project, backend="openai", location=listener.url,
                                        settings={"model": "m", "api_key_env": "SECRET_KEY"})
    # ... cannot start a judge job: a 400 naming the config field and the setting.
    response = api(mallory).post("/api/jobs/", {"kind": "judge", "project": "heist",
                                                "config": {"model_id": evil.pk}}, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["field"] == "config.model_id"
    assert "PREFSTUDIO_API_KEY_ENV_ALLOWLIST" in response.json()["error"]
    assert not Job.objects.exists()

    # 4. A job that is queued regardless is refused by the worker, right before the run.
    job = queued_judge_job(project, evil, mallory)
    assert job_run(job_id=job.pk, worker="test") == JobState.FAILED
    job.refresh_from_db()
    assert "SECRET_KEY" in job.error and "PREFSTUDIO_API_KEY_ENV_ALLOWLIST" in job.error

    # 5. And the engine itself refuses to read the variable when handed the model without any policy.
    with pytest.raises(OutboundRefused, match="not in PREFSTUDIO_API_KEY_ENV_ALLOWLIST"):
        open_backend(BackendSpec("openai", listener.url, {"model": "m", "api_key_env": "SECRET_KEY"}))

    assert listener.requests == []  # nothing ever reached the attacker's server


def test_an_allowed_variable_to_an_allowed_server_does_arrive(mallory, settings, listener, monkeypatch):
    """The positive control: the same path with what the operator allows reaches the listener with the key."""
    project = mallory_project(mallory, settings)
    monkeypatch.setenv("JUDGE_API_KEY", "sk-allowed-value")
    settings.PREFSTUDIO_API_KEY_ENV_ALLOWLIST = ["JUDGE_API_KEY"]
    model = model_artifact_register(name="served", kind="base", backend="openai", location=listener.url,
                                    settings={"model": "m", "api_key_env": "JUDGE_API_KEY"}, user=mallory,
                                    project=project)
    job = job_start(kind=JobKind.JUDGE, config={"model_id": model.pk, "output": "text"}, project=project,
                    user=mallory)
    job_run(job_id=job.pk, worker="test")
    assert listener.requests, Job.objects.get(pk=job.pk).error
    assert {seen.headers["authorization"] for seen in listener.requests} == {"Bearer sk-allowed-value"}
    assert all(seen.path == "/v1/chat/completions" for seen in listener.requests)
    assert os.environ["SECRET_KEY"].encode() not in b"".join(s.body for s in listener.requests)


# -- endpoints ------------------------------------------------------------------------------------------------
def test_a_server_off_the_allow_list_is_refused_at_the_door_and_in_the_worker(mallory, settings, far_listener):
    """127.0.0.2 is not on the default allow-list (loopback 127.0.0.1, ::1, localhost)."""
    project = mallory_project(mallory, settings)
    register = dict(name="far", kind="base", backend="openai", location=far_listener.url, settings={"model": "m"},
                    user=mallory, project=project)
    with pytest.raises(PrefStudioError) as refused:
        model_artifact_register(**register)
    assert refused.value.field == "location" and "PREFSTUDIO_OUTBOUND_ALLOWLIST" in refused.value.message
    assert "127.0.0.2" in refused.value.message

    # The operator allows it; the model is registered and a job starts ...
    settings.PREFSTUDIO_OUTBOUND_ALLOWLIST = ["127.0.0.1", "127.0.0.2"]
    model = model_artifact_register(**register)
    job = job_start(kind=JobKind.JUDGE, config={"model_id": model.pk, "output": "text"}, project=project,
                    user=mallory)
    # ... then takes it back before a worker runs the job: the worker refuses, nothing is sent.
    settings.PREFSTUDIO_OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    assert job_run(job_id=job.pk, worker="test") == JobState.FAILED
    assert "PREFSTUDIO_OUTBOUND_ALLOWLIST" in Job.objects.get(pk=job.pk).error
    assert far_listener.requests == []


def test_a_redirect_to_a_host_off_the_allow_list_is_not_followed(settings, listener, far_listener):
    """An allowed server answers 307 (which re-sends the body: the prompts) to one that is not allowed."""
    listener.redirect_to = far_listener.url
    model = ModelArtifact.objects.create(name="bouncer", backend="openai", location=listener.url,
                                         settings={"model": "m", "max_retries": 0})
    backend = backend_for(model)
    with pytest.raises(OutboundRefused, match="PREFSTUDIO_OUTBOUND_ALLOWLIST"):
        backend.generate([[{"role": "user", "content": "a private prompt"}]], max_tokens=4)
    assert len(listener.requests) == 1  # the allowed server was asked ...
    assert far_listener.requests == []  # ... and its redirect was not followed


def test_an_allowed_redirect_is_followed(settings, listener, far_listener):
    """Redirects themselves are fine: between allowed hosts the request goes through."""
    settings.PREFSTUDIO_OUTBOUND_ALLOWLIST = ["127.0.0.1", "127.0.0.2"]
    listener.redirect_to = far_listener.url
    model = ModelArtifact.objects.create(name="bouncer", backend="openai", location=listener.url,
                                         settings={"model": "m", "max_retries": 0})
    [[completion]] = backend_for(model).generate([[{"role": "user", "content": "hi"}]], max_tokens=4)
    assert completion.text == "A" and len(listener.requests) == len(far_listener.requests) == 1


@pytest.mark.parametrize("name", ["SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE",
                                  "PREFSTUDIO_ANYTHING", "ALLOWED_HOSTS", "PGPASSWORD", "secret_key"])
def test_variables_that_configure_the_app_are_refused_even_when_listed(name, settings, staff_user):
    """Every variable a settings module reads (ALLOWED_HOSTS), and the app's own families, whatever the list says."""
    settings.PREFSTUDIO_API_KEY_ENV_ALLOWLIST = [name]
    with pytest.raises(PrefStudioError) as refused:
        model_artifact_register(name="m", kind="base", backend="openai", location="http://127.0.0.1:9/v1",
                                settings={"model": "m", "api_key_env": name}, user=staff_user)
    assert refused.value.field == "settings" and "configures PrefStudio" in refused.value.message
    assert not ModelArtifact.objects.exists()


def test_a_listed_variable_is_accepted_and_an_unlisted_one_names_the_setting(settings, staff_user):
    settings.PREFSTUDIO_API_KEY_ENV_ALLOWLIST = ["OPENAI_API_KEY"]
    register = dict(kind="base", backend="openai", location="http://localhost:8000/v1", user=staff_user)
    model = model_artifact_register(name="ok", settings={"model": "m", "api_key_env": "OPENAI_API_KEY"}, **register)
    assert model.project is None and model.created_by == staff_user  # staff may register a global model
    with pytest.raises(PrefStudioError, match="'HOME' is not in PREFSTUDIO_API_KEY_ENV_ALLOWLIST"):
        model_artifact_register(name="no", settings={"model": "m", "api_key_env": "HOME"}, **register)


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(username="root", password=PASSWORD, is_staff=True)
