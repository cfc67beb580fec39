"""REST API of jobs: list, detail, start, cancel (URLs in training/api/urls.py).

    GET  /api/jobs/                ?kind=&state=&project=   the jobs you may see, newest first
    POST /api/jobs/                {"kind", "config", "project", "dataset_version"}   start one (201)
    GET  /api/jobs/{id}/           everything about one job, with its metrics series and log tail
    POST /api/jobs/{id}/cancel/    cancel it: a queued job at once, a running one at its next step

Shells around training/selectors.py (who sees what) and training/services/jobs.py (start, cancel).
"""
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.errors import NotFound
from annotation.models import DatasetVersion, Project
from annotation.selectors import project_for_user

from ..models import Job
from ..selectors import job_for_user, jobs_for_user
from ..services.jobs import job_cancel, job_start
from .filters import JobFilter
from .serializers import JobDetailSerializer, JobSerializer, JobStartSerializer


class JobListStartApi(generics.ListAPIView):
    serializer_class = JobSerializer
    queryset = Job.objects.none()  # the model, for the schema; rows come from the selector
    filterset_class = JobFilter

    def get_queryset(self):
        return jobs_for_user(user=self.request.user)

    @extend_schema(request=JobStartSerializer, responses={201: JobDetailSerializer})
    def post(self, request: Request) -> Response:
        """Start a job: its config is checked against the kind's config dataclass, then it is queued."""
        data = JobStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        args: dict[str, Any] = dict(data.validated_data)
        project = _project(request.user, args["project"]) if args["project"] else None
        version = _dataset_version(request.user, args["dataset_version"]) if args["dataset_version"] else None
        job = job_start(kind=args["kind"], config=args["config"], project=project, dataset_version=version,
                        user=request.user)
        return Response(JobDetailSerializer(job).data, status=status.HTTP_201_CREATED)


class JobDetailApi(generics.RetrieveAPIView):
    serializer_class = JobDetailSerializer

    def get_object(self):
        return job_for_user(user=self.request.user, job_id=self.kwargs["pk"])


class JobCancelApi(APIView):
    error_responses = {"POST": {"409": "The job has already succeeded or failed"}}

    @extend_schema(request=None, responses={200: JobDetailSerializer})
    def post(self, request: Request, pk: int) -> Response:
        """Cancel a job: a queued one at once, a running one at its next step (poll the job to see it end)."""
        job_cancel(job_id=pk, user=request.user)
        return Response(JobDetailSerializer(job_for_user(user=request.user, job_id=pk)).data)


def _project(user: AbstractBaseUser, slug: str) -> Project:
    if user.is_staff:  # staff may start jobs in any project, member or not
        project = Project.objects.filter(slug=slug).first()
        if project is None:
            raise NotFound(f"no project {slug!r}", field="project")
        return project
    try:
        return project_for_user(user=user, slug=slug)
    except NotFound as exc:
        raise NotFound(exc.message, field="project") from exc


def _dataset_version(user: AbstractBaseUser, version_id: int) -> DatasetVersion:
    versions = DatasetVersion.objects.select_related("project")
    if not user.is_staff:
        versions = versions.filter(project__memberships__user=user)
    version = versions.filter(pk=version_id).first()
    if version is None:
        raise NotFound(f"no dataset version {version_id} among yours", field="dataset_version")
    return version
