"""Jobs: start, cancel, run (in a worker) and reap lost ones. The Job row, not Celery, is the truth about a job.

States: queued -> running -> succeeded | failed | cancelled. A job is finished in the last three and never
changes again.

Delivery. `job_start` commits the row, then (on commit) sends one Celery message `training.job_run(job_id)` to
the kind's queue. Workers run with acks_late + reject_on_worker_lost + prefetch 1 (prefstudio/settings/celery.py):
the message is acknowledged only when `job_run` returns, so it is delivered again when the worker dies first.
Every delivery goes through `job_run`, which decides from the row what to do, so a message delivered twice never
runs a job twice at the same time:
- finished (or deleted) job: nothing; the message is acknowledged.
- queued job: claimed (state running, attempts + 1, this worker, heartbeat now) and run.
- running job with a fresh heartbeat: another worker has it (Redis re-delivers an unacknowledged message after
  its visibility timeout even while a healthy worker still runs it) -- or its worker just died. `job_run` watches
  the heartbeat: if it moves, the other worker is alive and `job_run` leaves; if it goes stale, the job's worker
  is lost and `job_run` takes the job over as below.
- running job with a stale heartbeat (none for JOBS_STALE_AFTER_SECONDS): its worker is lost. With a cancel
  pending the job ends cancelled; else it is run again from the start while it has runs left (JOBS_MAX_ATTEMPTS
  in all, and only kinds registered with rerun_on_worker_lost); else it ends failed with the reason
  "worker lost: no heartbeat since ...".
A worker killed outright leaves its message unacknowledged in Redis until the visibility timeout; so that the job
does not wait that long, `jobs_reap_stale` applies the same rules to every stale running job (re-queueing with a
fresh message instead of running it in place). A queued job whose message the broker lost (a Redis restart without
persistence) is sent again by `jobs_resend_lost`. Both run when any worker starts and then every
JOBS_REAP_SECONDS on a timer thread of every worker (training/tasks.py), and as `manage.py jobs reap`.

Cancel. A queued job is cancelled at once (its message, when it comes, finds a finished job). A running job gets
cancel_requested; the runner's next `progress.check_cancelled()` raises `Cancelled` and the job ends cancelled.
"""
from __future__ import annotations

import enum
import json
import logging
import socket
import time
import traceback
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from annotation.errors import Conflict, NotFound, PermissionDenied, PrefStudioError
from annotation.models import DatasetVersion, Project
from common.config import ConfigError
from common.progress import Cancelled

from ..engine.trainers.registry import trainer_kinds
from ..jobs.registry import QUEUES, JobContext, UnknownJobKind, job_type
from ..models import Job, JobKind, JobState, ModelArtifact
from ..selectors import FINISHED, job_for_user, job_may_manage, job_may_start
from .job_limits import job_limits_check, job_models_check
from .broker import broker_task_ids_present
from .job_progress import LOG_TAIL_LINES, MESSAGE_CHARS, Heartbeat, JobRowProgress
from .model_facts import model_check_for_kind
from .training import training_config_resolve

logger = logging.getLogger(__name__)

TRACEBACK_LINES = 40  # of a failed job's traceback, into its log tail


# -- start and cancel (web process, CLI) ------------------------------------------------------------
def job_start(
    *,
    kind: str,
    config: dict[str, Any] | None,
    project: Project | None = None,
    dataset_version: DatasetVersion | None = None,
    user: AbstractBaseUser | None = None,
) -> Job:
    """Validate `config` with the kind's dataclass, store it, and queue the job (sent when the transaction commits).

    `user` None means an operator at the command line (no permission check, no caps). Raises PrefStudioError
    naming the field at fault ("kind", "config.steps", "config.model_id", "dataset_version"), PermissionDenied
    when `user` may not start it, Conflict when a cap on jobs queued or running is reached (job_limits.py).
    """
    try:
        jtype = job_type(kind)
    except UnknownJobKind as exc:
        raise PrefStudioError(str(exc), field="kind") from exc
    if project is None and dataset_version is not None:
        project = dataset_version.project  # a job on a dataset version belongs to its project
    if user is not None and not job_may_start(user=user, project=project):
        raise PermissionDenied(
            "only staff and the project's members of a role in PREFSTUDIO_JOB_STARTER_ROLES "
            f"({', '.join(settings.PREFSTUDIO_JOB_STARTER_ROLES) or 'none'}) may start its jobs"
            if project else "only staff may start a job that belongs to no project"
        )
    with transaction.atomic():
        return _job_create(jtype=jtype, config=config, project=project, dataset_version=dataset_version, user=user)


def _job_create(*, jtype: Any, config: dict[str, Any] | None, project: Project | None,
                dataset_version: DatasetVersion | None, user: AbstractBaseUser | None) -> Job:
    """job_start's checks of the request itself, then the row and its message (inside job_start's transaction)."""
    if jtype.kind in trainer_kinds() and dataset_version is None:
        # A trainer reads nothing else: refuse now rather than queue a job that can only fail on the worker.
        raise PrefStudioError(f"a {jtype.kind} job needs a dataset version to train on", field="dataset_version")
    if jtype.needs_dataset_version and dataset_version is None:
        raise PrefStudioError(f"a {jtype.kind} job needs a dataset version", field="dataset_version")
    if dataset_version is not None and project is not None and dataset_version.project_id != project.pk:
        raise PrefStudioError("the dataset version belongs to another project", field="dataset_version")
    config = {} if config is None else config
    if jtype.kind in trainer_kinds() and isinstance(config, dict):
        # The model's limits and the version's rows: refuse what cannot run, fill in max_length / batch_size.
        config = training_config_resolve(kind=jtype.kind, config=config, dataset_version=dataset_version)
    elif jtype.kind == JobKind.GENERATE and isinstance(config, dict):
        _check_generators(config.get("model_ids"))
    try:
        parsed = jtype.parse_config(config)
    except ConfigError as exc:
        field = f"config.{exc.field}" if exc.field else "config"
        raise PrefStudioError(f"{field}: {exc.message}", field=field) from exc
    stored = _jsonable(asdict(parsed))
    job_models_check(config=stored, project_id=project.pk if project is not None else None)
    job_limits_check(kind=jtype.kind, project=project, user=user)
    queue = jtype.queue_for(parsed)
    job = Job.objects.create(
        kind=jtype.kind,
        config=stored,
        project=project,
        dataset_version=dataset_version,
        created_by=user,
        celery_task_id=str(uuid.uuid4()),
        sent_at=timezone.now(),
        message=f"waiting for a worker on queue {queue}",
    )
    _send_on_commit(job_id=job.pk, task_id=job.celery_task_id, queue=queue)
    return job


def _check_generators(model_ids: Any) -> None:
    """Refuse a generation job whose models cannot generate (an encoder such as all-MiniLM), naming the model."""
    if not isinstance(model_ids, list):
        return  # the config dataclass names the bad type
    ids = [i for i in model_ids if isinstance(i, int) and not isinstance(i, bool)]
    for model in ModelArtifact.objects.filter(pk__in=ids):
        model_check_for_kind(model=model, kind="generate", field="config.model_ids")


def job_cancel(*, job_id: int, user: AbstractBaseUser | None) -> Job:
    """Cancel a job: a queued one at once, a running one at its next step (at once if its worker is lost).
    Cancelling a cancelled job is a no-op.

    `user` None means an operator at the command line. Raises NotFound (not visible), PermissionDenied (visible
    but not theirs to cancel), Conflict (already succeeded or failed).
    """
    with transaction.atomic():
        if user is not None:
            job_for_user(user=user, job_id=job_id)  # NotFound if not visible
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            raise NotFound(f"no job {job_id}", field="job_id")
        if user is not None and not job_may_manage(user=user, job=job):
            raise PermissionDenied("only staff, the job's starter and the project's owners may cancel it")
        if job.state == JobState.CANCELLED:
            return job
        if job.state in FINISHED:
            raise Conflict(f"job {job_id} has already {job.state}")
        job.cancel_requested = True
        if job.state == JobState.QUEUED:
            job.state = JobState.CANCELLED
            job.finished_at = timezone.now()
            job.message = "cancelled before it started"
            job.save(update_fields=["cancel_requested", "state", "finished_at", "message"])
        elif _is_stale(job, now=timezone.now()):  # nobody is running it to see the request
            job.save(update_fields=["cancel_requested"])
            _end_locked(job, JobState.CANCELLED, message="cancelled (its worker was lost)", note=lost_reason(job))
        else:
            job.message = "cancel requested: stopping at the next step"
            job.save(update_fields=["cancel_requested", "message"])
    return job


# -- run (Celery worker) --------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Claimed:
    job_id: int
    attempt: int
    kind: str
    config: dict[str, Any]
    project_id: int | None
    dataset_version_id: int | None
    user_id: int | None
    log_tail: str


def job_run(*, job_id: int, worker: str = "") -> str:
    """Run the job (what the Celery task calls, once per delivery). Returns what happened, e.g. "succeeded".

    Safe to call for any delivery of the job's message: see the module docstring. Never raises for a failure
    of the job itself (that is recorded on the row); raises only when the database is out of reach.
    """
    worker = worker or socket.gethostname()
    beat_seen: datetime | None = None
    while True:
        claim = _claim(job_id=job_id, worker=worker)
        if isinstance(claim, _Claimed):
            return _execute(claim, worker)
        if not isinstance(claim, datetime):
            return claim
        # Running with a fresh heartbeat: wait for it to move (someone runs it) or go stale (taken over above).
        if beat_seen is not None and claim != beat_seen:
            return "running elsewhere"
        beat_seen = claim
        time.sleep(settings.JOBS_HEARTBEAT_SECONDS)


def _claim(*, job_id: int, worker: str) -> _Claimed | datetime | str:
    """Under a row lock: the run this delivery should do, or the running job's fresh heartbeat, or an outcome."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            return "missing"
        if job.state in FINISHED:
            return "already finished"
        now = timezone.now()
        if job.state == JobState.QUEUED:
            if job.cancel_requested:
                _end_locked(job, JobState.CANCELLED, message="cancelled before it started")
                return "cancelled"
            return _take(job, worker=worker, now=now)
        if not _is_stale(job, now=now):
            return job.heartbeat_at or job.started_at or job.created_at
        reason = lost_reason(job)
        outcome = _end_lost_or_none(job, reason)
        if outcome:
            return outcome
        return _take(job, worker=worker, now=now, note=f"{reason}; running it again here")


def _take(job: Job, *, worker: str, now: datetime, note: str = "") -> _Claimed:
    rerun = job.attempts > 0
    job.state = JobState.RUNNING
    job.attempts += 1
    job.worker_host = worker[:200]
    job.started_at = job.heartbeat_at = now
    job.message = f"started on {worker}" + (f" (attempt {job.attempts})" if rerun else "")
    job.eta_seconds = None
    if rerun:  # a re-run starts from the beginning: its progress and metrics replace the lost run's
        job.progress, job.metrics = 0.0, []
    if note:
        job.log_tail = _append_line(job.log_tail, f"[{now:%Y-%m-%d %H:%M:%S}] {note}")
    job.save(update_fields=[
        "state", "attempts", "worker_host", "started_at", "heartbeat_at", "message", "eta_seconds", "progress",
        "metrics", "log_tail",
    ])
    return _Claimed(
        job.pk, job.attempts, job.kind, job.config, job.project_id, job.dataset_version_id, job.created_by_id,
        job.log_tail,
    )


def _execute(claim: _Claimed, worker: str) -> str:
    progress = JobRowProgress(job_id=claim.job_id, attempt=claim.attempt, log_tail=claim.log_tail)
    try:
        jtype = job_type(claim.kind)
        config = jtype.parse_config(claim.config)
        # Again here, right before the run: a model may have moved, or the allow-lists changed, since the start.
        job_models_check(config=claim.config, project_id=claim.project_id)
        context = JobContext(
            job_id=claim.job_id, project_id=claim.project_id, dataset_version_id=claim.dataset_version_id,
            user_id=claim.user_id, worker=worker, attempt=claim.attempt,
            artifact_dir=settings.ARTIFACT_DIR / "jobs" / str(claim.job_id),
        )
        with Heartbeat(job_id=claim.job_id, attempt=claim.attempt):
            result = jtype.run(config, progress, context)
        if not isinstance(result, dict):
            raise TypeError(f"the {claim.kind} runner returned {type(result).__name__}, not a dict")
        artifacts = _jsonable(result)
    except Cancelled as exc:
        if progress.taken_over:
            logger.warning("job %s: run %s stopped, the job was taken over: %s", claim.job_id, claim.attempt, exc)
            return "taken over"
        progress.log(f"cancelled: {exc}")
        done = _finish(progress, JobState.CANCELLED, message=f"cancelled at {progress.fraction:.0%}")
        return "cancelled" if done else "taken over"
    except Exception as exc:  # noqa: BLE001 -- any failure of the job is recorded on its row
        error = f"{type(exc).__name__}: {exc}"
        lines = "".join(traceback.format_exception(exc)).rstrip().splitlines()
        progress.log("\n".join(lines[-TRACEBACK_LINES:]))
        done = _finish(progress, JobState.FAILED, error=error, message=("failed: " + error)[:MESSAGE_CHARS])
        return "failed" if done else "taken over"
    done = _finish(progress, JobState.SUCCEEDED, artifacts=artifacts, progress=100.0,
                   message=progress.message or "done")
    return "succeeded" if done else "taken over"


def _finish(run: JobRowProgress, state: str, **fields: Any) -> bool:
    """Write the final state with the last progress snapshot; False if the job is no longer this run's."""
    now = timezone.now()
    values = {**run.snapshot(), "state": state, "finished_at": now, "heartbeat_at": now, "eta_seconds": None,
              **fields}
    for retry in (False, True):
        try:
            rows = Job.objects.filter(pk=run.job_id, state=JobState.RUNNING, attempts=run.attempt)
            return bool(rows.update(**values))
        except (OperationalError, InterfaceError):
            if retry:
                raise
            connection.close()  # the connection died during a long job: one retry on a fresh one
    return False


# -- lost workers -----------------------------------------------------------------------------------------
def jobs_reap_stale(*, stale_after: timedelta | None = None) -> list[tuple[int, str]]:
    """Deal with every running job whose heartbeat is older than `stale_after` (default JOBS_STALE_AFTER_SECONDS).

    Each is cancelled (cancel was pending), re-queued with a new message (runs left), or failed with
    "worker lost: no heartbeat since ...". Returns (job id, "cancelled" | "requeued" | "failed") per job.
    Safe to run anywhere at any time, concurrently too: rows are locked one at a time, and a job whose row is
    locked (a worker is claiming it right now) is skipped.
    """
    stale_after = stale_after if stale_after is not None else timedelta(seconds=settings.JOBS_STALE_AFTER_SECONDS)
    cutoff = timezone.now() - stale_after
    ids = list(
        Job.objects.filter(state=JobState.RUNNING)
        .filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff))
        .values_list("pk", flat=True)
    )
    done: list[tuple[int, str]] = []
    for pk in ids:
        with transaction.atomic():
            job = Job.objects.select_for_update(skip_locked=True).filter(pk=pk, state=JobState.RUNNING).first()
            if job is None or not _is_stale(job, now=timezone.now(), stale_after=stale_after):
                continue
            reason = lost_reason(job)
            outcome = _end_lost_or_none(job, reason)
            if not outcome:
                job.state = JobState.QUEUED
                job.celery_task_id = str(uuid.uuid4())
                job.sent_at = timezone.now()
                job.message = f"re-queued: {reason}"
                job.log_tail = _append_line(job.log_tail, f"[{timezone.now():%Y-%m-%d %H:%M:%S}] re-queued: {reason}")
                job.save(update_fields=["state", "celery_task_id", "sent_at", "message", "log_tail"])
                jtype = job_type(job.kind)  # known: _end_lost_or_none failed the job otherwise
                _send_on_commit(job_id=job.pk, task_id=job.celery_task_id,
                                queue=jtype.queue_for(jtype.parse_config(job.config)))
                outcome = "requeued"
            done.append((pk, outcome))
    return done


def jobs_resend_lost(*, resend_after: timedelta | None = None) -> list[int]:
    """Send again the message of every queued job that has waited `resend_after` (default
    JOBS_RESEND_AFTER_SECONDS) and whose message the broker no longer holds (training/services/broker.py);
    returns their ids.

    A message is lost when Redis restarts without persistence or its database is flushed: the job would stay
    queued forever. A job still waiting behind others keeps its message in the queue and is left alone. Safe to
    run concurrently (each row is re-checked under its lock and skipped if another reaper holds it) and
    idempotent: the job gets a new task id, so a reaper that looked before the resend sees another id and
    leaves it, and should the old message turn up after all, job_run runs the job only once.
    Does nothing (returns []) when the transport cannot be inspected.
    """
    resend_after = resend_after if resend_after is not None else timedelta(
        seconds=settings.JOBS_RESEND_AFTER_SECONDS)
    cutoff = timezone.now() - resend_after
    candidates = dict(
        Job.objects.filter(state=JobState.QUEUED, cancel_requested=False)
        .filter(Q(sent_at__lt=cutoff) | Q(sent_at__isnull=True, created_at__lt=cutoff))
        .values_list("pk", "celery_task_id")
    )
    if not candidates:
        return []
    present = broker_task_ids_present(task_ids=set(candidates.values()), queues=QUEUES)
    if present is None:
        return []
    resent: list[int] = []
    for pk, task_id in candidates.items():
        if task_id in present:
            continue
        with transaction.atomic():
            job = (
                Job.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, state=JobState.QUEUED, celery_task_id=task_id).first()
            )
            if job is None:  # started, cancelled or re-sent meanwhile
                continue
            try:
                jtype = job_type(job.kind)
                queue = jtype.queue_for(jtype.parse_config(job.config))
            except (UnknownJobKind, ConfigError) as exc:
                _end_locked(job, JobState.FAILED, message="its message was lost and it cannot be sent again",
                            error=f"message lost; cannot send it again: {exc}")
                continue
            now = timezone.now()
            job.celery_task_id, job.sent_at = str(uuid.uuid4()), now
            job.message = f"re-sent: its message was lost; waiting for a worker on queue {queue}"
            job.log_tail = _append_line(
                job.log_tail, f"[{now:%Y-%m-%d %H:%M:%S}] re-sent: the broker no longer held its message")
            job.save(update_fields=["celery_task_id", "sent_at", "message", "log_tail"])
            _send_on_commit(job_id=job.pk, task_id=job.celery_task_id, queue=queue)
        resent.append(pk)
    return resent


def lost_reason(job: Job) -> str:
    last = job.heartbeat_at or job.started_at
    since = f"{last:%Y-%m-%d %H:%M:%S} UTC" if last else "it started"
    return f"worker lost: no heartbeat since {since}" + (f" (worker {job.worker_host})" if job.worker_host else "")


def _is_stale(job: Job, *, now: datetime, stale_after: timedelta | None = None) -> bool:
    stale_after = stale_after if stale_after is not None else timedelta(seconds=settings.JOBS_STALE_AFTER_SECONDS)
    last = job.heartbeat_at or job.started_at or job.created_at
    return last < now - stale_after


def _end_lost_or_none(job: Job, reason: str) -> str | None:
    """For a locked job whose worker is lost: end it ("cancelled" / "failed"), or None if it may run again."""
    if job.cancel_requested:
        _end_locked(job, JobState.CANCELLED, message="cancelled (its worker was lost)", note=reason)
        return "cancelled"
    try:
        jtype = job_type(job.kind)
        jtype.parse_config(job.config)  # the registry may have changed since the job was queued
        rerun = jtype.rerun_on_worker_lost
    except (UnknownJobKind, ConfigError) as exc:
        rerun, reason = False, f"{reason}; cannot run it again: {exc}"
    if not rerun or job.attempts >= settings.JOBS_MAX_ATTEMPTS:
        if rerun:
            reason = f"{reason}; gave up after {job.attempts} run{'s' if job.attempts != 1 else ''}"
        _end_locked(job, JobState.FAILED, message=reason[:MESSAGE_CHARS], error=reason, note=reason)
        return "failed"
    return None


def _end_locked(job: Job, state: str, *, message: str, error: str = "", note: str = "") -> None:
    now = timezone.now()
    job.state, job.finished_at, job.message, job.eta_seconds = state, now, message, None
    if error:
        job.error = error
    if note:
        job.log_tail = _append_line(job.log_tail, f"[{now:%Y-%m-%d %H:%M:%S}] {note}")
    job.save(update_fields=["state", "finished_at", "message", "eta_seconds", "error", "log_tail"])


# -- helpers ---------------------------------------------------------------------------------------------
def _send_on_commit(*, job_id: int, task_id: str, queue: str) -> None:
    """Send `training.job_run(job_id)` to `queue` once the transaction commits; a broker failure fails the job."""

    def send() -> None:
        try:  # by the task's name: training.tasks imports this module, so importing it back would be a cycle
            current_app.send_task("training.job_run", args=[job_id], queue=queue, task_id=task_id)
        except Exception as exc:  # noqa: BLE001 -- the row must not stay queued with no message behind it
            logger.exception("could not queue job %s", job_id)
            Job.objects.filter(pk=job_id, state=JobState.QUEUED, celery_task_id=task_id).update(
                state=JobState.FAILED, finished_at=timezone.now(), message="could not be queued",
                error=f"could not send the job to the broker: {type(exc).__name__}: {exc}",
            )

    transaction.on_commit(send)


def _append_line(log_tail: str, line: str) -> str:
    lines = (log_tail.splitlines() if log_tail else []) + [line]
    return "\n".join(lines[-LOG_TAIL_LINES:])


def _jsonable(value: dict[str, Any]) -> dict[str, Any]:
    """`value` as plain JSON (enums as their values, tuples as lists); raises if it holds anything else."""

    def default(obj: Any) -> Any:
        if isinstance(obj, enum.Enum):
            return obj.value
        raise TypeError(f"a {type(obj).__name__} is not JSON")

    return json.loads(json.dumps(value, default=default, allow_nan=False))
