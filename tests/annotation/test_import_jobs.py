"""Import jobs on a real Celery worker (queue `default`), the test broker (Redis) and the test database.

The upload API answers 202 for a file over the inline limit; the worker imports it with
`import_run_execute` and the run's URL shows the outcome and the progress it wrote meanwhile.
"""
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from annotation.models import ImportRun, Item, Project
from tests.training.worker_process import CeleryWorker, running_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)  # the worker must see the rows: commit them


@pytest.fixture(autouse=True)
def may_create_projects(user) -> None:
    """Only staff create projects by default (PREFSTUDIO_PROJECT_CREATORS); these tests are about the limits."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])

HH = "hh_rlhf/helpful-rejection-sampled_test.jsonl.gz"  # 2749 lines, 3 of them bad (lines 720, 1598, ...)


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, tmp_path_factory, media) -> Iterator[CeleryWorker]:
    with running_worker(django_db_blocker, name="imports-default", queues="default",
                        log_dir=tmp_path_factory.mktemp("workers"), MEDIA_ROOT=str(media)) as worker:
        yield worker


@pytest.fixture(autouse=True)
def small_inline_limit(settings, media) -> None:
    settings.MEDIA_ROOT = media
    settings.PREFSTUDIO_IMPORT_INLINE_MAX_BYTES = 10_000


def _upload(client, data: bytes, name: str, **fields):
    upload = io.BytesIO(data)
    upload.name = name
    return client.post("/api/imports/", {"file": upload, **fields}, format="multipart")


def _finished(client, url: str) -> dict | None:
    body = client.get(url).json()
    return body if body["finished"] else None


def test_a_big_file_is_imported_by_the_job_with_its_progress(worker, api, user, datasets, media):
    data = (datasets / HH).read_bytes()
    client = api(user)
    response = _upload(client, data, "hh.jsonl.gz", project="hh-job", format="hh", annotator="crowd",
                       skip_invalid="true")
    assert response.status_code == 202, response.json()
    body = wait_for(lambda: _finished(client, response.json()["url"]), 120, "the import job to finish", worker)
    assert body["state"] == "succeeded", body
    assert body["report"]["items_created"] == 2746 and len(body["report"]["skipped"]) == 3
    assert body["report"]["labels_created"] == 2746 and body["report"]["project_created"]
    assert (body["lines_read"], body["records_written"]) == (2749, 2746)
    assert body["bytes_read"] == body["file_bytes"] == len(data) and body["percent"] == 100.0
    assert Item.objects.filter(project__slug="hh-job").count() == 2746
    run = ImportRun.objects.get()
    assert not (media / run.file_path).exists()  # the saved upload is gone once imported
    assert "Task annotation.import_run[" in worker.log_text() and "succeeded: 2746 records" in worker.log_text()


def test_a_job_that_fails_writes_nothing_and_keeps_the_progress_it_showed(worker, api, user, media):
    """1500 good pairs, then a bad line: rolled back, but the progress rows written beside the
    import's transaction (after each piece) stay, so lines_read shows how far it got."""
    lines = [json.dumps({"prompt": f"q{i}", "chosen": f"yes {i}", "rejected": "no"}) for i in range(1500)]
    data = ("\n".join(lines) + '\n{"prompt": "q", "chosen": ""}\n').encode()
    client = api(user)
    response = _upload(client, data, "pairs.jsonl", project="pairs-job", format="trl")
    assert response.status_code == 202
    body = wait_for(lambda: _finished(client, response.json()["url"]), 120, "the import job to finish", worker)
    assert body["state"] == "failed" and body["error_status"] == 400
    assert body["error"] == "import rejected: 1 bad record(s); nothing was imported"
    assert body["error_details"] == ["line 1501: field 'rejected' is missing"]
    assert body["lines_read"] == 1501 and body["bytes_read"] > 0  # written by the progress, not at the end
    assert not Project.objects.filter(slug="pairs-job").exists()
    assert not (media / ImportRun.objects.get().file_path).exists()
