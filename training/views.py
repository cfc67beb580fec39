"""Job pages: the job list (filters, and a form to start a diagnostic job) and one job live.

Shells: parse the request, call one selector or service, render. For htmx requests the views render only the
fragment that changes (`#job-table` of the list, `#job-live` of a job), which the pages poll while a job is
unfinished; the fragment of a finished job carries no polling trigger, so polling stops by itself.
"""
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as HttpForbidden
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from annotation import errors

from .jobs.registry import QUEUES
from .jobs.runners.diagnostic import MAX_SECONDS_PER_STEP, MAX_STEPS
from .models import Job, JobKind, JobState
from .selectors import (
    job_chart_data,
    job_for_user,
    job_is_finished,
    job_list_for_user,
    job_may_manage,
    job_may_start,
    job_projects_for_user,
)
from .services.jobs import job_cancel, job_start

PAGE_SIZE = 50
ANY = [("", "any")]


class JobFilterForm(forms.Form):
    kind = forms.ChoiceField(choices=ANY + JobKind.choices, required=False)
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
    return _render_list(request, DiagnosticForm())


@require_POST
@login_required
def diagnostic_start(request: HttpRequest) -> HttpResponse:
    """Start a diagnostic job (staff); to its page, or the list again with the form's errors."""
    form = DiagnosticForm(request.POST)
    if form.is_valid():
        config = {k: v for k, v in form.cleaned_data.items() if v is not None}
        try:
            job = job_start(kind=JobKind.DIAGNOSTIC, config=config, user=request.user)
        except errors.PermissionDenied as exc:
            raise HttpForbidden(exc.message) from exc
        except errors.PrefStudioError as exc:
            field = (exc.field or "").removeprefix("config.")
            form.add_error(field if field in form.fields else None, exc.message)
        else:
            messages.success(request, f"Diagnostic job {job.pk} queued on {config['queue']}.")
            return redirect("job-detail", job_id=job.pk)
    return _render_list(request, form, status=400)


@require_GET
@login_required
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    """One job: live progress, metrics chart, log tail, config, artifacts. htmx polls get `#job-live` only."""
    job = _visible(request, job_id)
    template = "training/job_detail.html" + ("#job-live" if request.htmx else "")
    return render(request, template, _job_context(request, job))


@require_POST
@login_required
def job_cancel_view(request: HttpRequest, job_id: int) -> HttpResponse:
    """Cancel the job; the live fragment again (htmx) or back to the job page."""
    _visible(request, job_id)
    try:
        job = job_cancel(job_id=job_id, user=request.user)
    except errors.PermissionDenied as exc:
        raise HttpForbidden(exc.message) from exc
    except errors.Conflict as exc:
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
    try:
        return job_for_user(user=request.user, job_id=job_id)
    except errors.NotFound as exc:
        raise Http404(exc.message) from exc


def _job_context(request: HttpRequest, job: Job) -> dict[str, Any]:
    finished = job_is_finished(job)
    return {
        "job": job,
        "finished": finished,
        "may_cancel": not finished and job_may_manage(user=request.user, job=job),
        "chart_data": job_chart_data(job),
    }


def _render_list(request: HttpRequest, form: DiagnosticForm, status: int = 200) -> HttpResponse:
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
        "form": form,
        "may_start_diagnostic": job_may_start(user=request.user, project=None),
        "query": request.GET.urlencode(),
    }
    template = "training/job_list.html" + ("#job-table" if request.htmx and request.method == "GET" else "")
    return render(request, template, context, status=status)
