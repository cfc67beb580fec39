"""An import whose worker dies does not stay "running" forever (annotation/services/import_runs.py).

A running import holds a PostgreSQL advisory lock on its run; the server drops it with the dead worker's
connection. A run marked running that nobody holds is failed: by the redelivered task, or by the reaper.
"""
import io
import json
from pathlib import Path

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connection

from annotation.models import ImportRun, ImportRunState, Project
from annotation.services.import_runs import LOCK_CLASS, LOST, import_run_execute, import_runs_reap_lost
from tests.training.worker_process import REAPING, CeleryWorker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)  # the workers must see the rows: commit them


def _run(user, state: str, media: Path) -> ImportRun:
    (media / "imports").mkdir(parents=True, exist_ok=True)
    (media / "imports" / "x.jsonl").write_text("{}\n")
    return ImportRun.objects.create(project_slug="p", format="trl", file_path="imports/x.jsonl", file_bytes=3,
                                    state=state, created_by=user)


def test_a_running_run_nobody_holds_is_failed_and_a_held_one_is_left(user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    orphan, alive = _run(user, ImportRunState.RUNNING, tmp_path), _run(user, ImportRunState.RUNNING, tmp_path)
    queued = _run(user, ImportRunState.QUEUED, tmp_path)
    # A live worker elsewhere: another connection holds `alive`'s lock.
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_CLASS, alive.pk))
        assert import_runs_reap_lost() == [orphan.pk]
        # A duplicate delivery of the live run's task leaves it alone too.
        assert "another worker" in import_run_execute(run_id=alive.pk)
    orphan.refresh_from_db(), alive.refresh_from_db(), queued.refresh_from_db()
    assert (orphan.state, orphan.error, orphan.error_status) == (ImportRunState.FAILED, LOST, 503)
    assert orphan.finished_at is not None and not (tmp_path / orphan.file_path).exists()
    assert (alive.state, queued.state) == (ImportRunState.RUNNING, ImportRunState.QUEUED)
    # The lock was released by import_runs_reap_lost: once the live worker is gone, the next round fails it.
    assert import_runs_reap_lost() == [alive.pk]


def test_an_import_whose_worker_is_killed_is_failed_by_the_next_worker(api, user, tmp_path):
    """A real worker is SIGKILLed in the middle of a big import; a new worker (reaper on) fails the run."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    media = tmp_path / "media"
    media.mkdir()
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.flushdb()
    logs = tmp_path / "workers"
    logs.mkdir()
    doomed = CeleryWorker(name="imports-doomed", queues="default", log_dir=logs, MEDIA_ROOT=str(media)).start()
    successor = None
    try:
        lines = [json.dumps({"prompt": f"question {i}", "chosen": f"yes {i}", "rejected": f"no {i}"})
                 for i in range(60_000)]
        upload = io.BytesIO("\n".join(lines).encode())
        upload.name = "pairs.jsonl"
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(settings, "MEDIA_ROOT", media)
            patch.setattr(settings, "PREFSTUDIO_IMPORT_INLINE_MAX_BYTES", 10_000)
            response = api(user).post("/api/imports/", {"file": upload, "project": "lost-job", "format": "trl"},
                                      format="multipart")
        assert response.status_code == 202, response.content
        run = ImportRun.objects.get()
        wait_for(lambda: ImportRun.objects.filter(pk=run.pk, state=ImportRunState.RUNNING, lines_read__gt=0)
                 .exists(), 120, "the import to be under way", doomed)
        doomed.kill()
        successor = CeleryWorker(name="imports-successor", queues="default", log_dir=logs, MEDIA_ROOT=str(media),
                                 **REAPING).start()
        wait_for(lambda: ImportRun.objects.filter(pk=run.pk, state=ImportRunState.FAILED).exists(), 60,
                 "the lost import to be failed", successor)
        run.refresh_from_db()
        assert run.error == LOST and run.lines_read > 0 and run.finished_at is not None
        assert not Project.objects.filter(slug="lost-job").exists()  # its transaction died with the worker
        assert not (media / run.file_path).exists()
    finally:
        if successor is not None:
            successor.stop()
        if doomed.process is not None and doomed.process.poll() is None:
            doomed.stop()
        broker.flushdb()
        broker.close()
