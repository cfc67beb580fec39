"""Uploads: imported inline when small, else saved to a file and imported by a job with progress.

`import_upload` is what the API and the upload page call. An upload larger (as sent) than
PREFSTUDIO_IMPORT_INLINE_MAX_BYTES goes straight to a job; a smaller one is imported inside the
request with its decompressed size capped at that many bytes, and handed to a job if it turns out
larger (a small gzip may hold a lot), so a web request never inflates more than that. The job is an
ImportRun row and the Celery task `annotation.import_run` on the `default` queue, which calls
`import_run_execute`: the same all-or-nothing `data_import`, with the progress (lines, bytes of the
file) written beside its transaction so that it shows while the import runs.

A lost worker (killed, out of memory, machine gone): while a run imports, its worker holds a PostgreSQL
advisory lock on the run, which the server releases the moment that worker's connection dies (and rolls the
import's transaction back). A run that is "running" while nobody holds its lock was lost; it is failed with
that reason, by the redelivered task (the task is acked late) or by `import_runs_reap_lost`, which every
worker's reaper calls (when the message was lost too). SQLite (`make run`, one worker) has no such locks.
"""
import logging
import uuid
from dataclasses import asdict
from pathlib import Path

from celery import current_app
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from ..errors import PermissionDenied, PrefStudioError
from ..importing import FORMATS, ImportOptions
from ..models import ImportRun, ImportRunState, Project, Role
from .imports import ImportRejected, ImportReport, data_import, import_limits
from .projects import project_check_may_create

logger = logging.getLogger(__name__)

INLINE_SETTING = "PREFSTUDIO_IMPORT_INLINE_MAX_BYTES"
UPLOAD_DIR = "imports"  # under MEDIA_ROOT; the web servers and the workers must share it
COPY_BLOCK = 1 << 20  # bytes per read when saving an upload


def import_upload(
    *,
    user: AbstractBaseUser,
    project_slug: str,
    fmt: str,
    upload: UploadedFile,
    options: ImportOptions,
    skip_invalid: bool = False,
) -> ImportReport | ImportRun:
    """Import `upload` now (→ its ImportReport) or as a job (→ the queued ImportRun).

    Raises what `data_import` raises for a file read inline; PermissionDenied at once if the
    project exists and `user` does not own it, also for a file that becomes a job.
    """
    if fmt not in FORMATS:
        raise PrefStudioError(f"unknown format {fmt!r}; choose one of {', '.join(sorted(FORMATS))}", field="format")
    _check_owner(user=user, slug=project_slug)
    inline = settings.PREFSTUDIO_IMPORT_INLINE_MAX_BYTES
    if upload.size > inline:
        return import_run_create(
            user=user, project_slug=project_slug, fmt=fmt, upload=upload, options=options, skip_invalid=skip_invalid
        )
    limits = import_limits()
    if inline < limits.max_bytes:
        limits = import_limits(max_bytes=inline, bytes_setting=INLINE_SETTING)
    try:
        return data_import(
            project_slug=project_slug, fmt=fmt, stream=upload, options=options, skip_invalid=skip_invalid,
            user=user, requested_by=user, limits=limits,
        )
    except ImportRejected as exc:
        if exc.limit != INLINE_SETTING:
            raise
    upload.seek(0)
    return import_run_create(
        user=user, project_slug=project_slug, fmt=fmt, upload=upload, options=options, skip_invalid=skip_invalid
    )


def import_run_create(
    *,
    user: AbstractBaseUser,
    project_slug: str,
    fmt: str,
    upload: UploadedFile,
    options: ImportOptions,
    skip_invalid: bool = False,
) -> ImportRun:
    """Save `upload` under MEDIA_ROOT/imports and queue its import; the task is sent on commit."""
    suffix = ".jsonl.gz" if upload.name and upload.name.endswith(".gz") else ".jsonl"
    relative = f"{UPLOAD_DIR}/{uuid.uuid4().hex}{suffix}"
    target = Path(settings.MEDIA_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with target.open("wb") as out:
        for chunk in upload.chunks(COPY_BLOCK):
            size += len(chunk)
            out.write(chunk)
    with transaction.atomic():
        run = ImportRun.objects.create(
            project_slug=project_slug, format=fmt, file_path=relative, file_name=(upload.name or "")[:255],
            file_bytes=size, created_by=user,
            options={
                "annotator": options.annotator, "annotator_kind": options.annotator_kind,
                "skip_invalid": skip_invalid,
            },
        )
        transaction.on_commit(lambda: _enqueue(run.pk))
    return run


def _enqueue(run_id: int) -> None:
    # By the task's name: annotation.tasks imports this module, so importing it back would be a cycle.
    current_app.send_task("annotation.import_run", args=[run_id], queue="default")


LOCK_CLASS = 0x1A7  # the advisory-lock namespace of import runs (pg_advisory_lock(LOCK_CLASS, run id))
LOST = "the worker importing this file stopped before it finished (killed or lost); nothing was imported"


def _try_lock(run_id: int) -> bool:
    """Take the run's session advisory lock on this process's connection; True when taken (or not PostgreSQL)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, run_id])
        return bool(cursor.fetchone()[0])


def _unlock(run_id: int) -> None:
    if connection.vendor != "postgresql" or connection.connection is None:
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, run_id])
    except (OperationalError, InterfaceError):
        pass  # the connection is gone, and the lock went with it


def import_run_execute(*, run_id: int) -> str:
    """Run ImportRun `run_id` if it is still queued; returns what happened (for the worker's log).

    Only a queued run starts: a duplicate delivery of the task finds it running under another worker's lock, or
    finished, and leaves it; one that finds it running with nobody's lock (its worker was lost) fails it. The
    saved upload is deleted when the run ends, whatever the outcome.
    """
    if not _try_lock(run_id):
        return f"import run {run_id} is being imported by another worker: left alone"
    try:
        if _fail_if_lost(run_id):
            return f"import run {run_id} failed: its worker was lost"
        return _execute_locked(run_id)
    finally:
        _unlock(run_id)


def _fail_if_lost(run_id: int) -> bool:
    """Called under the run's lock: a run still marked running is one whose worker died; fail it."""
    run = ImportRun.objects.filter(pk=run_id, state=ImportRunState.RUNNING).first()
    if run is None:
        return False
    _finish(run, state=ImportRunState.FAILED, error=LOST, error_status=503)
    (Path(settings.MEDIA_ROOT) / run.file_path).unlink(missing_ok=True)
    logger.warning("import run %s: %s", run_id, LOST)
    return True


def import_runs_reap_lost() -> list[int]:
    """Fail every running import whose worker is gone (nobody holds its lock); returns their ids.

    Safe anywhere, any time, concurrently: a run is failed only while this process holds its lock, so a live
    worker's run (lock held) is never touched, and two reapers cannot both fail one run. PostgreSQL only.
    """
    if connection.vendor != "postgresql":
        return []
    lost = []
    for run_id in ImportRun.objects.filter(state=ImportRunState.RUNNING).values_list("pk", flat=True):
        if not _try_lock(run_id):
            continue
        try:
            if _fail_if_lost(run_id):
                lost.append(run_id)
        finally:
            _unlock(run_id)
    return lost


def _execute_locked(run_id: int) -> str:
    started = ImportRun.objects.filter(pk=run_id, state=ImportRunState.QUEUED).update(
        state=ImportRunState.RUNNING, started_at=timezone.now()
    )
    if not started:
        return f"import run {run_id} is not queued: left alone"
    run = ImportRun.objects.select_related("created_by").get(pk=run_id)
    path = Path(settings.MEDIA_ROOT) / run.file_path
    progress = _ProgressWriter(run.pk)
    try:
        if run.created_by is None:
            raise PermissionDenied("the user who uploaded the file no longer exists", field="file")
        with path.open("rb") as stream:
            progress.stream = stream
            report = data_import(
                project_slug=run.project_slug, fmt=run.format, stream=stream,
                options=ImportOptions(annotator=run.options.get("annotator"),
                                      annotator_kind=run.options.get("annotator_kind", "human")),
                skip_invalid=bool(run.options.get("skip_invalid")), user=run.created_by,
                requested_by=run.created_by, progress=progress,
            )
    except PrefStudioError as exc:
        _finish(run, state=ImportRunState.FAILED, error=exc.message, error_details=exc.details[:1000],
                error_status=exc.status_code)
        return f"import run {run_id} failed: {exc.message}"
    except Exception:
        logger.exception("import run %s crashed", run_id)
        _finish(run, state=ImportRunState.FAILED, error="the import failed with an internal error", error_status=500)
        raise
    finally:
        progress.close()
        path.unlink(missing_ok=True)
    _finish(
        run, state=ImportRunState.SUCCEEDED, report={**asdict(report), "changed_nothing": report.changed_nothing},
        lines_read=progress.lines, records_written=report.records, bytes_read=run.file_bytes,
    )
    return f"import run {run_id} succeeded: {report.records} records"


def _finish(run: ImportRun, **fields: object) -> None:
    fields["finished_at"] = timezone.now()
    ImportRun.objects.filter(pk=run.pk).update(**fields)


class _ProgressWriter:
    """`data_import`'s progress callback: writes lines, records and bytes read to the run's row.

    The import holds one transaction open until it ends, so the row is updated through a second,
    autocommit connection (PostgreSQL only: SQLite, in `make run`, allows one writer at a time, so
    there the run shows its progress only when it ends).
    """

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self.stream = None
        self.lines = 0
        self._connection = None

    def __call__(self, lines: int, records: int) -> None:
        self.lines = lines
        if connection.vendor != "postgresql":
            return
        if self._connection is None:
            import psycopg

            self._connection = psycopg.connect(**connection.get_connection_params(), autocommit=True)
        position = self.stream.tell() if self.stream is not None else 0  # file bytes read (buffered ahead)
        self._connection.execute(
            f"UPDATE {ImportRun._meta.db_table} SET lines_read = %s, records_written = %s, bytes_read = %s "
            "WHERE id = %s",
            (lines, records, position, self.run_id),
        )

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


def _check_owner(*, user: AbstractBaseUser, slug: str) -> None:
    project = Project.objects.filter(slug=slug).first()
    if project is None:
        project_check_may_create(user=user, field="project")
    if project is not None and not project.memberships.filter(user=user, role=Role.OWNER).exists():
        raise PermissionDenied(f"only an owner of {slug!r} may import into it", field="project")

