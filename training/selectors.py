"""Reads of jobs: who may see and manage which, the filtered job list, and the metrics as chart data.

The rules: staff see every job. Anyone else sees the jobs of the projects they are a member of (any role) and
the jobs they started themselves. Cancelling is for staff, the job's starter and the owners of its project.
Starting a job is for staff and the owners of its project; a job of no project (a diagnostic job) is staff's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet

from annotation.errors import NotFound, PermissionDenied, PrefStudioError
from annotation.models import Membership, Project, Role

from .models import Job, JobKind, JobState, JudgeTemplate, ModelArtifact

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
    """May `user` start a job in `project` (None: a job of no project)?"""
    if user.is_staff:
        return True
    return project is not None and Membership.objects.filter(user=user, project=project, role=Role.OWNER).exists()


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
        if kind not in JobKind.values:
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
    """May `user` register a ModelArtifact? Staff, and anyone who owns a project (models are shared by all)."""
    return bool(user.is_staff or Membership.objects.filter(user=user, role=Role.OWNER).exists())


def model_artifact_list() -> QuerySet[ModelArtifact]:
    """Every registered model, by name (models are not per project: anyone logged in sees the list)."""
    return ModelArtifact.objects.order_by("name")


def job_start_projects_for_user(*, user: AbstractBaseUser) -> QuerySet[Project]:
    """The projects in which `user` may start jobs (job_may_start): every project for staff, else those they own."""
    if user.is_staff:
        return Project.objects.order_by("slug")
    return Project.objects.filter(memberships__user=user, memberships__role=Role.OWNER).order_by("slug")


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
