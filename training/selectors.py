"""Reads of jobs: who may see and manage which, the filtered job list, and the metrics as chart data.

The rules: staff see every job. Anyone else sees the jobs of the projects they are a member of (any role) and
the jobs they started themselves. Cancelling is for staff, the job's starter and the owners of its project.
Starting a job is for staff and the members of its project whose role is in PREFSTUDIO_JOB_STARTER_ROLES
(default: owners); a job of no project, and a diagnostic job, is staff's.

Models: a ModelArtifact belongs to a project (only that project's jobs use it) or to none (global: registered
by staff, usable by every project). People see the global models and those of their projects.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, Q, QuerySet

from annotation.errors import NotFound, PermissionDenied, PrefStudioError
from annotation.models import DatasetRow, DatasetVersion, Membership, Project, Role

from .engine.trainers.registry import trainer_kinds
from .models import Job, JobKind, JobState, JudgeTemplate, ModelArtifact, job_kind_choices

FINISHED = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


def jobs_for_user(*, user: AbstractBaseUser) -> QuerySet[Job]:
    """The jobs `user` may see, newest first, with project and starter joined."""
    jobs = Job.objects.select_related("project", "created_by").order_by("-created_at", "-pk")
    if user.is_staff:
        return jobs
    projects = Membership.objects.filter(user=user).values("project_id")
    return jobs.filter(Q(project_id__in=projects) | Q(created_by=user))


def job_for_user(*, user: AbstractBaseUser, job_id: int) -> Job:
    """One job `user` may see; NotFound otherwise (the answer does not confirm that the job exists)."""
    job = jobs_for_user(user=user).filter(pk=job_id).first()
    if job is None:
        raise NotFound(f"no job {job_id} among yours", field="job_id")
    return job


def job_may_manage(*, user: AbstractBaseUser, job: Job) -> bool:
    """May `user` cancel `job`? Staff, whoever started it, and the owners of its project."""
    if user.is_staff or (job.created_by_id is not None and job.created_by_id == user.pk):
        return True
    return job.project_id is not None and Membership.objects.filter(
        user=user, project_id=job.project_id, role=Role.OWNER
    ).exists()


def job_may_start(*, user: AbstractBaseUser, project: Project | None) -> bool:
    """May `user` start a job in `project` (None: a job of no project)? Staff, and members of the project whose
    role is one of PREFSTUDIO_JOB_STARTER_ROLES."""
    if user.is_staff:
        return True
    return project is not None and Membership.objects.filter(
        user=user, project=project, role__in=django_settings.PREFSTUDIO_JOB_STARTER_ROLES
    ).exists()


def job_active_counts(*, project: Project, user: AbstractBaseUser | None) -> tuple[int, int]:
    """(jobs queued or running in `project`, those of them `user` started): what the job caps count."""
    active = Job.objects.filter(project=project, state__in=(JobState.QUEUED, JobState.RUNNING))
    mine = active.filter(created_by=user).count() if user is not None else 0
    return active.count(), mine


def job_projects_for_user(*, user: AbstractBaseUser) -> QuerySet[Project]:
    """The projects whose jobs `user` may see: what the project filter of the job list offers."""
    if user.is_staff:
        return Project.objects.order_by("slug")
    return Project.objects.filter(memberships__user=user).order_by("slug")


def job_list_for_user(
    *, user: AbstractBaseUser | None, kind: str = "", state: str = "", project: str = ""
) -> QuerySet[Job]:
    """The jobs `user` may see (every job for None: an operator at the command line), narrowed by kind, state
    and project slug (empty = any); an unknown kind or state is a 400."""
    jobs = jobs_for_user(user=user) if user is not None else Job.objects.select_related("project", "created_by")
    if kind:
        if kind not in dict(job_kind_choices()):
            raise PrefStudioError(f"no job kind {kind!r}", field="kind")
        jobs = jobs.filter(kind=kind)
    if state:
        if state not in JobState.values:
            raise PrefStudioError(f"no job state {state!r}", field="state")
        jobs = jobs.filter(state=state)
    if project:
        jobs = jobs.filter(project__slug=project)
    return jobs.order_by("-created_at", "-pk")


def job_is_finished(job: Job) -> bool:
    return job.state in FINISHED


@dataclass(frozen=True)
class MetricSeries:
    name: str
    points: list[dict[str, float]]  # [{"x": step, "y": value}, ...], steps ascending as recorded


def job_metric_series(job: Job) -> list[MetricSeries]:
    """Job.metrics ([{step, name: value, ...}, ...]) as one series per metric name, names in first-seen order."""
    series: dict[str, list[dict[str, float]]] = {}
    for point in job.metrics or []:
        if not isinstance(point, dict) or "step" not in point:
            continue
        for name, value in point.items():
            if name != "step" and isinstance(value, (int, float)):
                series.setdefault(name, []).append({"x": point["step"], "y": value})
    return [MetricSeries(name, points) for name, points in series.items()]


def job_chart_data(job: Job) -> dict[str, Any]:
    """What static/js/job.js draws: {"series": [{"name": ..., "points": [{x, y}, ...]}, ...]}."""
    return {"series": [{"name": s.name, "points": s.points} for s in job_metric_series(job)]}


# -- models, starting jobs from the job list, judge templates ---------------------------------------------
def model_may_register(*, user: AbstractBaseUser) -> bool:
    """May `user` register a ModelArtifact? Staff (global models too), and anyone who owns a project (in it)."""
    return bool(user.is_staff or Membership.objects.filter(user=user, role=Role.OWNER).exists())


def model_register_projects_for_user(*, user: AbstractBaseUser) -> QuerySet[Project]:
    """The projects `user` may register models in: every project for staff, else those they own."""
    if user.is_staff:
        return Project.objects.order_by("slug")
    return Project.objects.filter(memberships__user=user, memberships__role=Role.OWNER).order_by("slug")


def model_artifact_list(*, user: AbstractBaseUser | None = None) -> QuerySet[ModelArtifact]:
    """The models `user` may see, global ones first, then by project and name: every model for staff and for
    None (an operator at the command line), else the global ones and those of the user's projects."""
    models = ModelArtifact.objects.select_related("project").order_by(F("project__slug").asc(nulls_first=True), "name")
    if user is None or user.is_staff:
        return models
    return models.filter(Q(project__isnull=True) | Q(project__memberships__user=user)).distinct()


def model_artifacts_usable(*, project_id: int | None) -> QuerySet[ModelArtifact]:
    """The models a job of project `project_id` may use: the project's own and the global ones."""
    return ModelArtifact.objects.filter(Q(project__isnull=True) | Q(project_id=project_id))


def model_artifacts_for_start(*, user: AbstractBaseUser) -> QuerySet[ModelArtifact]:
    """The models the job forms offer `user`: global ones and those of the projects `user` may start jobs in
    (job_start checks that the model suits the project chosen)."""
    projects = job_start_projects_for_user(user=user)
    models = ModelArtifact.objects.select_related("project")
    return models.filter(Q(project__isnull=True) | Q(project__in=projects)).order_by(
        F("project__slug").asc(nulls_first=True), "name")


def model_label(model: ModelArtifact) -> str:
    """'llama (lab)' for a project's model, 'llama (global)' for a global one: what model selects show."""
    return f"{model.name} ({model.project.slug if model.project_id else 'global'})"


def job_start_projects_for_user(*, user: AbstractBaseUser) -> QuerySet[Project]:
    """The projects in which `user` may start jobs (job_may_start): every project for staff, else those where
    their role is one of PREFSTUDIO_JOB_STARTER_ROLES."""
    if user.is_staff:
        return Project.objects.order_by("slug")
    return Project.objects.filter(
        memberships__user=user, memberships__role__in=django_settings.PREFSTUDIO_JOB_STARTER_ROLES
    ).order_by("slug")


def judge_template_project_for_user(*, user: AbstractBaseUser, slug: str) -> Project:
    """A project whose judge templates `user` may see and edit: staff and the project's owners (the people who
    start its judge jobs). NotFound for a non-member, PermissionDenied for a member of another role."""
    project = Project.objects.filter(slug=slug).first()
    if project is not None and job_may_start(user=user, project=project):
        return project
    if project is not None and Membership.objects.filter(user=user, project=project).exists():
        raise PermissionDenied(f"only staff and the owners of project {slug!r} may edit its judge templates")
    raise NotFound(f"no project {slug!r} among yours", field="slug")


def judge_template_versions(*, project: Project) -> QuerySet[JudgeTemplate]:
    """Every stored version of the project's judge templates: by mode and name, newest version first."""
    versions = JudgeTemplate.objects.filter(project=project).select_related("created_by")
    return versions.order_by("mode", "name", "-version")


# -- training: dataset versions to train on, artifact files, comparing runs -----------------------------
MAX_ARTIFACT_FILES = 500  # listed on the job page; the zip download has them all


def training_versions_for_user(*, user: AbstractBaseUser, row_kind: str) -> QuerySet[DatasetVersion]:
    """Dataset versions of the projects `user` may start jobs in that have train rows of `row_kind`
    ("pairwise" | "listwise" | "unpaired"), newest first, annotated with n_kind_rows."""
    projects = job_start_projects_for_user(user=user)
    return (
        DatasetVersion.objects.filter(project__in=projects)
        .annotate(n_kind_rows=Count("rows", filter=Q(rows__split=DatasetRow.Split.TRAIN, rows__kind=row_kind)))
        .filter(n_kind_rows__gt=0)
        .select_related("project")
        .order_by("project__slug", "-number")
    )


def job_artifact_root(job: Job) -> Path:
    """The job's artifact directory (JobContext.artifact_dir); it may not exist."""
    return Path(django_settings.ARTIFACT_DIR) / "jobs" / str(job.pk)


def job_artifact_path(*, job: Job, path: str) -> Path:
    """The file or directory `path` (relative, "" = the whole directory) inside the job's artifact directory.

    NotFound for anything that does not exist or is not inside it: absolute paths, "..", and symlinks that
    lead out are refused alike, so a download can never reach another file of the machine.
    """
    root = job_artifact_root(job).resolve()
    relative = Path(path or ".")
    if relative.is_absolute() or ".." in relative.parts:
        raise NotFound(f"no artifact {path!r} in job {job.pk}", field="path")
    target = (root / relative).resolve()
    if not target.is_relative_to(root) or not target.exists():
        raise NotFound(f"no artifact {path!r} in job {job.pk}", field="path")
    return target


def job_artifact_files(job: Job) -> list[tuple[str, int]]:
    """[(relative path, bytes)] of the files in the job's artifact directory, sorted; symlinks leading out of
    it are left out. At most MAX_ARTIFACT_FILES."""
    root = job_artifact_root(job)
    if not root.is_dir():
        return []
    resolved_root = root.resolve()
    files: list[tuple[str, int]] = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.resolve().is_relative_to(resolved_root):
            files.append((path.relative_to(root).as_posix(), path.stat().st_size))
            if len(files) >= MAX_ARTIFACT_FILES:
                break
    return files


@dataclass(frozen=True)
class RunComparison:
    runs: list[Job]
    metric_rows: list[tuple[str, list[Any], int | None]]  # (name, value per run or None, index of the best)
    config_rows: list[tuple[str, list[Any], bool]]  # (name, value per run, differs between runs)
    curves: dict[str, Any]  # {"runs": [{"id", "label", "series": {metric: [{x, y}]}}], "metrics": [names]}


def _flat_numbers(value: Any, prefix: str = "") -> dict[str, float]:
    """{"eval": {"accuracy": 0.7}} -> {"eval.accuracy": 0.7}: the numbers of a nested metrics dict."""
    out: dict[str, float] = {}
    if isinstance(value, dict):
        for key, inner in value.items():
            out.update(_flat_numbers(inner, f"{prefix}{key}."))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out[prefix.rstrip(".")] = float(value)
    return out


def training_runs_compare(*, user: AbstractBaseUser, job_ids: list[int]) -> RunComparison:
    """The succeeded training jobs among `job_ids` that `user` may see, in the order asked, side by side.

    Final metrics come from the job's artifacts["metrics"] (flattened; the best is the highest, or the lowest
    for a name containing "loss"); curves are the recorded Job.metrics series.
    """
    found = {
        job.pk: job
        for job in jobs_for_user(user=user).filter(pk__in=job_ids, kind__in=trainer_kinds(), state=JobState.SUCCEEDED)
    }
    runs = [found[pk] for pk in dict.fromkeys(job_ids) if pk in found]
    finals = [_flat_numbers((run.artifacts or {}).get("metrics") or {}) for run in runs]
    names = list(dict.fromkeys(name for final in finals for name in final))
    metric_rows = []
    for name in names:
        values = [final.get(name) for final in finals]
        present = [(v, i) for i, v in enumerate(values) if v is not None]
        best = None
        if len(present) > 1 and len({v for v, _ in present}) > 1:
            best = (min if "loss" in name else max)(present)[1]
        metric_rows.append((name, values, best))
    keys = list(dict.fromkeys(["kind", *(k for run in runs for k in (run.config or {}))]))
    config_rows = []
    for key in keys:
        values = [run.kind if key == "kind" else (run.config or {}).get(key) for run in runs]
        config_rows.append((key, values, len({repr(v) for v in values}) > 1))
    curve_runs = []
    for run in runs:
        series = {s.name: s.points for s in job_metric_series(run)}
        curve_runs.append({"id": run.pk, "label": f"#{run.pk} {run.kind.removeprefix('train_')}", "series": series})
    metric_names = list(dict.fromkeys(name for r in curve_runs for name in r["series"]))
    return RunComparison(runs, metric_rows, config_rows, {"runs": curve_runs, "metrics": metric_names})


# -- fine-tuned reward models for curation's cross-fitted margins (annotation/curation/rm_crossfit.py) ----------
def reward_model_fine_tuned_default(*, project_id: int) -> int | None:
    """The project's newest fine-tuned reward model that can score pairs: a reward ModelArtifact of the project
    produced by a training job, local (backend hf) with its folder present. None when it has none."""
    from .models import ArtifactKind, Backend

    candidates = (ModelArtifact.objects.filter(project_id=project_id, kind=ArtifactKind.REWARD, backend=Backend.HF,
                                               produced_by__isnull=False)
                  .order_by("-created_at", "-pk").values_list("pk", "location"))
    for pk, location in candidates:
        if Path(location).is_dir():
            return pk
    return None


def reward_model_trained_items(*, model_id: int) -> tuple[int | None, list[int]] | None:
    """(dataset version id, ids of the items of its train-split rows) the reward model `model_id` learned from,
    as its training job recorded them (settings["trained_on"], else the job's dataset version); None when
    unknown (a model registered by hand: it was not trained by this project, so it saw none of its pairs)."""
    artifact = ModelArtifact.objects.filter(pk=model_id).select_related("produced_by").first()
    if artifact is None:
        return None
    version_id = (artifact.settings or {}).get("trained_on")
    if not isinstance(version_id, int) and artifact.produced_by is not None:
        version_id = artifact.produced_by.dataset_version_id
    if not isinstance(version_id, int):
        return None
    items = (DatasetRow.objects.filter(version_id=version_id, split=DatasetRow.Split.TRAIN, item__isnull=False)
             .values_list("item_id", flat=True).distinct())
    return version_id, list(items)
