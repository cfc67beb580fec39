"""One table per backend (training/engine/backends/registry.py): a backend registered in one place -- here, toy ones
registered by this test -- is a choice of the model registration form, is accepted by the registration service and
the database, is what the engine factory builds, and a generate job runs on it; a remote one gets the outbound
allow-lists and is not offered as a training base, a GPU one sends its jobs to the gpu queue. The built-in backends
are read from the same table and behave as before."""
import pytest

from annotation.errors import PrefStudioError
from annotation.models import Item, Response, ResponseOrigin
from training.engine.backends import BackendSpec, Completion, forget_backend, open_backend
from training.engine.backends.registry import (
    BackendEntry,
    backend_entry,
    backend_is_remote,
    backend_register,
    backend_unregister,
    local_backend_names,
)
from training.models import ArtifactKind, Backend, JobKind, JobState, ModelArtifact
from training.services.backends import backend_for, queue_for_models
from training.services.models import model_artifact_register
from training.services.training import training_base_location

from .job_fixtures import lab, owner  # noqa: F401
from .llm_fixtures import native_project, run_job_inline
from .train_fixtures import version_with_rows

pytestmark = pytest.mark.django_db
REGISTER = "/jobs/models/register/"


def select(page: str, name: str) -> str:
    """The <select name=...> of a rendered form, options included."""
    return page.split(f'<select name="{name}"')[1].split("</select>")[0]


class ToyBackend:
    """A toy LLMBackend: answers "toy answer <i> to: <prompt>" for sample i, and scores every choice alike."""

    name = "toy"
    supports_json_schema = False

    def __init__(self, spec: BackendSpec) -> None:
        self.spec = spec
        self.closed = False

    def generate(self, prompts, *, n=1, temperature=1.0, top_p=1.0, max_tokens=256, seed=None, seeds=None,
                 constraint=None):
        return [[Completion(f"toy answer {i} to: {p[-1]['content']}", 5, "stop") for i in range(n)] for p in prompts]

    def score_choices(self, prompts, choices, *, prefix=""):
        return [[-1.0] * len(choices) for _ in prompts]

    def close(self) -> None:
        self.closed = True


TOY = BackendEntry("toy", "Toy backend (tests)", f"{__name__}:ToyBackend")
TOY_REMOTE = BackendEntry("toy_remote", "Toy server (tests)", f"{__name__}:ToyBackend", remote=True)
TOY_GPU = BackendEntry("toy_gpu", "Toy GPU engine (tests)", f"{__name__}:ToyBackend", queue="gpu")


@pytest.fixture
def toys():
    """The toy backends, registered for the test only (the one place a new backend is written down)."""
    for entry in (TOY, TOY_REMOTE, TOY_GPU):
        backend_register(entry)
    yield
    forget_backend()  # a job may have left a toy loaded in this process
    for entry in (TOY, TOY_REMOTE, TOY_GPU):
        backend_unregister(entry.name)


def test_the_built_in_backends_come_from_the_table():
    """The labels, the order of the choices and what is remote or on the GPU are as before the table."""
    assert ModelArtifact._meta.get_field("backend").choices == [
        ("vllm", "vLLM (in the GPU worker)"), ("openai", "OpenAI-compatible server"), ("hf", "transformers (CPU)")]
    assert Backend.OPENAI.label == backend_entry("openai").label
    assert [backend_is_remote(n) for n in ("vllm", "openai", "hf")] == [False, True, False]
    assert local_backend_names() == ("vllm", "hf")
    assert [backend_entry(n).queue for n in ("vllm", "openai", "hf")] == ["gpu", "default", "default"]
    assert not backend_is_remote("toy")  # not registered: it cannot load, so it sends nothing anywhere


def test_an_entry_with_a_bad_name_queue_or_engine_is_refused():
    with pytest.raises(ValueError, match="lowercase letters"):
        BackendEntry("Toy!", "Toy", f"{__name__}:ToyBackend")
    with pytest.raises(ValueError, match="queue must be one of default, gpu"):
        BackendEntry("toy", "Toy", f"{__name__}:ToyBackend", queue="tpu")
    with pytest.raises(ValueError, match="package.module:Class"):
        BackendEntry("toy", "Toy", "ToyBackend")
    with pytest.raises(ValueError, match="already registered"):
        backend_register(BackendEntry("hf", "Another hf", f"{__name__}:ToyBackend"))


def test_a_registered_backend_is_a_choice_of_the_form_and_registers(client, owner, lab, toys):
    client.force_login(owner)
    page = client.get("/jobs/models/").content.decode()
    assert '<option value="toy">Toy backend (tests)</option>' in page
    assert '<option value="hf" selected>transformers (CPU)</option>' in page  # the built-in ones beside it
    response = client.post(REGISTER, {"name": "toy-1", "kind": "base", "backend": "toy", "location": "/models/toy",
                                      "settings": "", "project": "lab"})
    assert response.status_code == 302
    model = ModelArtifact.objects.get(name="toy-1")
    assert model.backend == "toy" and model.get_backend_display() == "Toy backend (tests)"
    assert "Toy backend (tests)" in client.get("/jobs/models/").content.decode()  # the model list


def test_an_unregistered_backend_is_refused_by_the_form_and_the_service(client, owner, lab):
    client.force_login(owner)
    response = client.post(REGISTER, {"name": "toy-1", "kind": "base", "backend": "toy", "location": "/models/toy",
                                      "settings": "", "project": "lab"})
    assert response.status_code == 400 and "toy is not one of the available choices" in response.content.decode()
    with pytest.raises(PrefStudioError, match="backend: must be one of vllm, openai, hf") as refused:
        model_artifact_register(name="toy-1", kind="base", backend="toy", location="/models/toy", settings={},
                                user=None)
    assert refused.value.field == "backend" and not ModelArtifact.objects.exists()


def test_the_factory_builds_the_registered_class(toys):
    backend = open_backend(BackendSpec(backend="toy", location="/models/toy", settings={"x": 1}))
    assert isinstance(backend, ToyBackend) and backend.spec.settings == {"x": 1}
    artifact = ModelArtifact.objects.create(name="toy", backend="toy", location="/models/toy")
    loaded = backend_for(artifact)  # through the service: the process's cached backend
    assert isinstance(loaded, ToyBackend) and loaded.spec.outbound is None  # local: no outbound policy
    assert backend_for(artifact) is loaded


def test_a_generate_job_runs_on_the_registered_backend(toys):
    project = native_project("gen", [{"id": "x1", "kind": "thumbs", "prompt": "Say hello.",
                                      "responses": [{"text": "Hi"}]}])
    toy = ModelArtifact.objects.create(name="toy", backend="toy", location="/models/toy")
    assert queue_for_models([toy.pk]) == "default"
    job = run_job_inline(JobKind.GENERATE, project, model_ids=[toy.pk], n=2, max_tokens=8, seed=1)
    assert job.state == JobState.SUCCEEDED
    texts = sorted(Response.objects.filter(origin=ResponseOrigin.GENERATED).values_list("text", flat=True))
    assert texts == ["toy answer 0 to: Say hello.", "toy answer 1 to: Say hello."]
    assert Response.objects.filter(origin=ResponseOrigin.GENERATED, gen_params__backend="toy").count() == 2
    assert Item.objects.filter(project=project, metadata__source="generate").count() == 1


def test_a_gpu_backend_sends_its_jobs_to_the_gpu_queue(toys):
    toy = ModelArtifact.objects.create(name="toy", backend="toy", location="/models/toy")
    gpu = ModelArtifact.objects.create(name="toy-gpu", backend="toy_gpu", location="/models/toy")
    assert queue_for_models([toy.pk]) == "default" and queue_for_models([toy.pk, gpu.pk]) == "gpu"


def test_a_remote_backend_gets_the_outbound_policy_and_is_no_training_base(client, owner, lab, settings, toys):
    """What `remote=True` in one entry means, without a line elsewhere: the allow-lists at registration and in the
    engine's spec, no training from it, not offered on the train page."""
    settings.PREFSTUDIO_OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    with pytest.raises(PrefStudioError, match="PREFSTUDIO_OUTBOUND_ALLOWLIST") as refused:
        model_artifact_register(name="far", kind="base", backend="toy_remote", location="http://192.0.2.1/v1",
                                settings={}, user=None, project=lab)
    assert refused.value.field == "location"
    remote = model_artifact_register(name="near", kind="base", backend="toy_remote",
                                     location="http://127.0.0.1:9/v1", settings={}, user=None, project=lab)
    assert backend_for(remote).spec.outbound is not None  # the worker checks each request against it
    with pytest.raises(PrefStudioError, match="remote server .*training needs local weights"):
        training_base_location(model_id=remote.pk)
    model_artifact_register(name="local-toy", kind="base", backend="toy", location="/models/toy", settings={},
                            user=None, project=lab)
    version_with_rows(lab, pairwise=8)
    client.force_login(owner)
    bases = select(client.get("/jobs/train/?trainer=dpo").content.decode(), "base_model")
    assert "local-toy" in bases and "near" not in bases


def test_openai_models_are_still_remote_and_not_training_bases(client, owner, lab, settings):
    """The built-in behaviour the table replaced: an openai URL off the allow-list is refused, an openai model is
    not offered as a base or to evaluate, and training from it is refused."""
    settings.PREFSTUDIO_OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    with pytest.raises(PrefStudioError, match="PREFSTUDIO_OUTBOUND_ALLOWLIST"):
        model_artifact_register(name="far", kind="base", backend="openai", location="http://192.0.2.1/v1",
                                settings={}, user=None, project=lab)
    server = model_artifact_register(name="served", kind="base", backend="openai", location="http://127.0.0.1:9/v1",
                                     settings={"model": "m"}, user=None, project=lab)
    model_artifact_register(name="weights", kind=ArtifactKind.BASE, backend="hf", location="/models/w", settings={},
                            user=None, project=lab)
    with pytest.raises(PrefStudioError, match="backend openai: OpenAI-compatible server.*needs local weights"):
        training_base_location(model_id=server.pk)
    version_with_rows(lab, pairwise=8)
    client.force_login(owner)
    bases = select(client.get("/jobs/train/?trainer=dpo").content.decode(), "base_model")
    assert "weights" in bases and "served" not in bases
    evaluate = client.get("/jobs/evaluate/").content.decode()
    assert "weights" in select(evaluate, "model") and "served" not in select(evaluate, "model")
    assert "served" in select(evaluate, "win_rate_judge")  # an LLM judge may be a server
