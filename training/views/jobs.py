"""The job pages: the list (filters, forms to start diagnostic, generation and judge jobs) and one job live.

Shells: parse the request, call one selector or service, render. For htmx requests the views render only the
fragment that changes (`#job-table` of the list, `#job-live` of a job), which the pages poll while a job is
unfinished; the fragment of a finished job carries no polling trigger, so polling stops by itself.

Views raise the services' errors as they come (a job that is not yours: NotFound, the 404 page; a role that may
not: PermissionDenied, the 403 page -- prefstudio/errors_http.py) and catch them only to show them in a form.
"""
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from annotation import errors
from annotation.models import Project
from prefstudio.config_forms import refusals_on

from ..forms import GenerateForm, JobConfigForm, JudgeForm
from ..jobs.registry import QUEUES
from ..jobs.runners.diagnostic import MAX_SECONDS_PER_STEP, MAX_STEPS
from ..engine.trainers.registry import trainer_kinds
from ..models import Job, JobKind, JobState, job_kind_choices
from ..result_selectors import (
    job_eta_seconds, job_evaluations_of_model, job_failure_reason, job_metric_summary, job_records_page, job_result,
)
from ..selectors import (
    job_artifact_files,
    job_chart_data,
    job_for_user,
    job_is_finished,
    job_list_for_user,
    job_may_manage,
    job_may_start,
    job_projects_for_user,
    job_start_projects_for_user,
    model_artifacts_for_start,
)
from ..services.jobs import job_cancel, job_start

PAGE_SIZE = 50
ANY = [("", "any")]


class JobFilterForm(forms.Form):
    kind = forms.ChoiceField(choices=lambda: ANY + job_kind_choices(), required=False)  # trainers added later too
    state = forms.ChoiceField(choices=ANY + JobState.choices, required=False)
    project = forms.ChoiceField(required=False)

    def __init__(self, *args: Any, projects: list[str], **kwargs: Any) -> None:
        super().__init__(*args, label_suffix="", **kwargs)
        self.fields["project"].choices = ANY + [(slug, slug) for slug in projects]


class DiagnosticForm(forms.Form):
    """The diagnostic job's config (training/jobs/runners/diagnostic.py checks the values)."""

    queue = forms.ChoiceField(choices=[(q, q) for q in QUEUES], initial="default")
    steps = forms.IntegerField(min_value=1, max_value=MAX_STEPS, initial=20)
    seconds_per_step = forms.FloatField(min_value=0, max_value=MAX_SECONDS_PER_STEP, initial=0.5,
                                        label="Seconds per step")
    fail_at_step = forms.IntegerField(min_value=1, required=False, label="Fail at step",
                                      help_text="Leave empty for a job that succeeds.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, label_suffix="", **kwargs)


@require_GET
@login_required
def job_list(request: HttpRequest) -> HttpResponse:
    """Jobs the user may see, newest first, filtered by kind, state and project."""
    return _render_list(request)


@require_POST
@login_required
def diagnostic_start(request: HttpRequest) -> HttpResponse:
    """Start a diagnostic job (staff); to its page, or the list again with the form's errors."""
    form = DiagnosticForm(request.POST)
    if form.is_valid():
        config = {k: v for k, v in form.cleaned_data.items() if v is not None}
        with refusals_on(form):
            job = job_start(kind=JobKind.DIAGNOSTIC, config=config, user=request.user)
            messages.success(request, f"Diagnostic job {job.pk} queued on {config['queue']}.")
            return redirect("job-detail", job_id=job.pk)
    return _render_list(request, {"form": form}, status=400)


@require_POST
@login_required
def generate_start(request: HttpRequest) -> HttpResponse:
    """Start a generation job in a project the user may start jobs in; to its page, or the list with errors."""
    return _start_from_form(request, GenerateForm(request.POST, **_start_choices(request)))


@require_POST
@login_required
def judge_start(request: HttpRequest) -> HttpResponse:
    """Start a judge job in a project the user may start jobs in; to its page, or the list with errors."""
    return _start_from_form(request, JudgeForm(request.POST, **_start_choices(request)))


def job_queued(request: HttpRequest, job: Job) -> HttpResponse:
    """After a start form queued `job`: say so, and on to the job's page (its progress)."""
    messages.success(request, f"{job.get_kind_display()} job {job.pk} queued.")
    return redirect("job-detail", job_id=job.pk)


def _start_from_form(request: HttpRequest, form: JobConfigForm) -> HttpResponse:
    job = form.is_valid() and form.started(lambda: job_start(
        kind=form.kind, config=form.config(), project=form.cleaned_data["project"], user=request.user))
    if job:
        return job_queued(request, job)
    key = "generate_form" if form.kind == JobKind.GENERATE else "judge_form"
    return _render_list(request, {key: form}, status=400)


def _start_projects(request: HttpRequest) -> QuerySet[Project]:
    return job_start_projects_for_user(user=request.user)


def _start_choices(request: HttpRequest) -> dict[str, Any]:
    """The projects and models the job forms offer the user."""
    return {"projects": _start_projects(request), "models": model_artifacts_for_start(user=request.user)}


@require_GET
@login_required
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    """One job: live progress, result, metrics (table and chart), log tail, config, artifacts, and the rows it
    wrote (judge verdicts, generated candidates) a page at a time. htmx polls get `#job-live` only; the pager of
    the rows gets `#job-records`."""
    job = _visible(request, job_id)
    context = _job_context(request, job)
    records_kind, records = job_records_page(job, page=request.GET.get("page"))
    context.update({"records_kind": records_kind, "records": records,
                    "records_query": ""})  # the pager's other parameters: none
    fragment = ""
    if request.htmx:
        fragment = "#job-records" if request.htmx.target == "job-records" else "#job-live"
    return render(request, "training/job_detail.html" + fragment, context)


@require_POST
@login_required
def job_cancel_view(request: HttpRequest, job_id: int) -> HttpResponse:
    """Cancel the job; the live fragment again (htmx) or back to the job page."""
    _visible(request, job_id)
    try:
        job = job_cancel(job_id=job_id, user=request.user)
    except errors.Conflict as exc:  # already finished: say so on the job's page
        job = _visible(request, job_id)
        messages.warning(request, exc.message)
    else:
        job = _visible(request, job_id)
        if not request.htmx:
            messages.success(request, f"Job {job.pk}: {job.message}.")
    if request.htmx:
        return render(request, "training/job_detail.html#job-live", _job_context(request, job))
    return redirect("job-detail", job_id=job_id)


def _visible(request: HttpRequest, job_id: int) -> Job:
    return job_for_user(user=request.user, job_id=job_id)


def _job_context(request: HttpRequest, job: Job) -> dict[str, Any]:
    finished = job_is_finished(job)
    files = job_artifact_files(job)
    may_manage = job_may_manage(user=request.user, job=job)
    evaluated_model, evaluations = job_evaluations_of_model(user=request.user, job=job)
    return {
        "job": job,
        "finished": finished,
        "may_cancel": not finished and may_manage,
        # A failed job's log holds its traceback: the job's starter, its project's owners and staff only.
        "may_see_log": may_manage or job.state != JobState.FAILED,
        "failure_reason": job_failure_reason(job),
        "eta_seconds": job_eta_seconds(job, now=timezone.now()),
        "result": job_result(job),
        "metric_summary": job_metric_summary(job),
        "evaluated_model": evaluated_model,
        "evaluations": evaluations,
        "chart_data": job_chart_data(job),
        # Checkpoints (many files, only needed to resume) fold away under the model and results.
        "artifact_files": [f for f in files if not f[0].startswith("checkpoints/")],
        "checkpoint_files": [f for f in files if f[0].startswith("checkpoints/")],
        "comparable": job.kind in trainer_kinds() and job.state == JobState.SUCCEEDED,
    }


def _render_list(request: HttpRequest, forms_: dict[str, forms.Form] | None = None, status: int = 200) -> HttpResponse:
    projects = list(job_projects_for_user(user=request.user).values_list("slug", flat=True))
    filters = JobFilterForm(request.GET or None, projects=projects)
    chosen = filters.cleaned_data if filters.is_valid() else {}
    jobs = job_list_for_user(user=request.user, **{k: v for k, v in chosen.items() if v})
    page = Paginator(jobs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "filters": filters,
        "filtered": any(chosen.values()),
        "active": any(not job_is_finished(job) for job in page),
        "may_start_diagnostic": job_may_start(user=request.user, project=None),
        "query": request.GET.urlencode(),
        "training_kinds": list(trainer_kinds()),
    }
    fragment = bool(request.htmx) and request.method == "GET"  # the polled table: no forms to build
    if not fragment:
        choices = _start_choices(request)
        context.update({
            "form": DiagnosticForm(),
            "generate_form": GenerateForm(**choices),
            "judge_form": JudgeForm(**choices),
            "may_start_in_projects": choices["projects"].exists(),
            **(forms_ or {}),
        })
    template = "training/job_list.html" + ("#job-table" if fragment else "")
    return render(request, template, context, status=status)
