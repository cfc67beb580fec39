"""Curation pages: agreement of a project, a curation run and routing (forms), dataset versions and their rows.

Owners and reviewers see every page (a non-member gets 404, an annotator 403); starting a curation run or a
routing run is for those who may start the project's jobs (owners and staff, `job_may_start`). Shells: check
access, call one selector or service, render.

Jobs, job permissions and trainers are the training app's: these views ask annotation/extensions.py, never
training itself. Without it there are no Train links, and curation and routing runs are refused (the page says so).
"""
from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as HttpForbidden
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from annotation.curation.dataset import CurationConfig
from annotation.curation.export import FORMAT_KINDS
from annotation.curation.job_config import CurateJobConfig

from .. import errors, extensions
from ..models import DatasetRow, Project
from ..selectors.curation import (
    agreement_for_user,
    dataset_rows,
    dataset_version_for_user,
    dataset_versions_for_user,
    routing_summary,
    row_view,
)
from ..selectors.datasets import VersionRowPages
from ..selectors.identities import annotator_names_for
from ..selectors.references import reference_report_for
from ..selectors.review import project_for_reviewer
from ..selectors.stored_figures import Pending, Staleness, figures_read
from ..services.figures import figures_refresh_enqueue
from .curation_forms import CurateForm, RoutingForm

ROWS_PAGE_SIZE = 25
# The export formats and encodings the REST export offers (annotation/api, helper "export"), as link labels.
EXPORT_FORMATS = (
    ("trl", "TRL preference"),
    ("trl_conversational", "TRL preference, conversational"),
    ("kto", "TRL unpaired (KTO)"),
    ("listwise", "Listwise"),
    ("raw_votes", "Raw per-annotator votes"),
)
EXPORT_ENCODINGS = ("jsonl", "parquet")


@require_GET
@login_required
def curation_agreement(request: HttpRequest, slug: str) -> HttpResponse:
    """Agreement figures, per-annotator and per-judge agreement, Cohen's κ pairs (pairwise items)."""
    judges = request.GET.get("judges")  # "1" / "0"; absent: judges count only on a judge-only project
    page = agreement_for_user(user=request.user, slug=slug, include_judges=None if judges is None else judges == "1",
                              background=_figures_in_background)
    return render(request, "annotation/curation/agreement.html", {
        "page": page, "project": page.project, "chart_data": page.chart_data(),
    })


def _figures_in_background(project: Project, name: str) -> None:
    """A large project's figures with nothing stored: a worker computes them (services.figures)."""
    figures_refresh_enqueue(project_id=project.pk, names=[name], once=True)


# -- curation and routing ---------------------------------------------------------------------------
def _curate_form(project: Project, data: Any = None) -> CurateForm:
    """The form of the `curate` job's config: its `curation` object shown as CurationConfig's fields."""
    return CurateForm(data, config_class=CurateJobConfig, inner=("curation", CurationConfig), project_id=project.pk)


def _curation_context(request: HttpRequest, project: Project, **forms_: Any) -> dict[str, Any]:
    curate_form = forms_.get("curate_form") or _curate_form(project)
    names = annotator_names_for(project=project, user=request.user)
    # What aggregation and routing rest on, scored; stored for a large project (selectors.stored_figures).
    references, references_state = figures_read(
        project=project, name="references", compute=lambda: reference_report_for(project=project),
        background=lambda: _figures_in_background(project, "references"))
    return {
        "references": references,
        "references_stale": references_state if isinstance(references_state, Staleness) else None,
        "references_pending": references_state if isinstance(references_state, Pending) else None,
        "reference_rows": [(names.name(a.annotator_id), a) for a in references.annotators] if references else [],
        "reference_listwise": [(names.name(pk), p) for pk, p in references.listwise.items()] if references else [],
        "project": project,
        "may_start": extensions.job_may_start(user=request.user, project=project),
        "jobs_available": extensions.jobs() is not None,
        "curate_form": curate_form,
        "routing_form": forms_.get("routing_form") or RoutingForm(initial={"policy": "rules", "seed": 0}),
        "routing": routing_summary(project=project),
    }


def _project_to_start(request: HttpRequest, slug: str) -> Project:
    project = project_for_reviewer(user=request.user, slug=slug)
    if extensions.jobs() is None:
        raise HttpForbidden("curation and routing runs are not available: the training app is not installed")
    if not extensions.job_may_start(user=request.user, project=project):
        raise HttpForbidden("only the project's owners (and staff) may start curation and routing runs")
    return project


@require_GET
@login_required
def curation_page(request: HttpRequest, slug: str) -> HttpResponse:
    """The forms of a curation run and a routing run, and the project's current routing with the latest run's
    cross-fitted gain."""
    project = project_for_reviewer(user=request.user, slug=slug)
    return render(request, "annotation/curation/curate.html", _curation_context(request, project))


@require_POST
@login_required
def curation_start(request: HttpRequest, slug: str) -> HttpResponse:
    """Queue a `curate` job with the form's config; on to the job's page (its progress bar)."""
    project = _project_to_start(request, slug)
    form = _curate_form(project, request.POST)
    job_id = form.is_valid() and form.started(lambda: extensions.jobs_required().curation_run_start(
        project=project, config=form.config(), user=request.user))
    if job_id:
        return redirect(extensions.jobs_required().job_url(job_id=job_id))
    return render(request, "annotation/curation/curate.html",
                  _curation_context(request, project, curate_form=form), status=400)


@require_POST
@login_required
def routing_start(request: HttpRequest, slug: str) -> HttpResponse:
    """Queue a `route` job with the form's config; on to the job's page (its progress bar). Nothing is routed
    inside this request: fitting the router and embedding the texts take a worker's time."""
    project = _project_to_start(request, slug)
    form = RoutingForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            job_id = extensions.jobs_required().routing_run_start(project=project, config=form.config(),
                                                                  user=request.user)
        except errors.PrefStudioError as exc:
            field = (exc.field or "").removeprefix("config.")
            form.add_error(field if field in form.fields else None, exc.message)
            status = exc.status_code
        else:
            return redirect(extensions.jobs_required().job_url(job_id=job_id))
    return render(request, "annotation/curation/curate.html",
                  _curation_context(request, project, routing_form=form), status=status)


# -- dataset versions -------------------------------------------------------------------------------
@require_GET
@login_required
def dataset_versions(request: HttpRequest, slug: str) -> HttpResponse:
    project, versions = dataset_versions_for_user(user=request.user, slug=slug)
    return render(request, "annotation/curation/versions.html", {"project": project, "versions": versions})


@require_GET
@login_required
def dataset_version_detail(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    """One version: statistics, filter config, a page of rows (htmx swaps just the table), export links."""
    detail = dataset_version_for_user(user=request.user, slug=slug, number=number)
    split = request.GET.get("split") or ""
    if split not in DatasetRow.Split.values:
        split = ""
    rows = VersionRowPages(version=detail.version, split=split or "all",  # no COUNT of the version's rows
                           rows=dataset_rows(version=detail.version, split=split or None))
    page = Paginator(rows, ROWS_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    base = reverse("api-dataset-export", kwargs={"slug": slug, "number": number})
    context = {
        "detail": detail,
        "project": detail.project,
        "version": detail.version,
        "page": page,
        "rows": [row_view(row, names=detail.names) for row in page.object_list],
        "split": split,
        "splits": DatasetRow.Split.choices,
        "chart_data": detail.chart_data(),
        "exports": [
            (label, [(encoding, f"{base}?format={fmt}&encoding={encoding}") for encoding in EXPORT_ENCODINGS])
            for fmt, label in EXPORT_FORMATS
            if FORMAT_KINDS.get(fmt) is None or FORMAT_KINDS[fmt] in dict(detail.kinds)  # what the rows hold
        ],
        "filter_config": json.dumps(detail.version.filter_config, indent=2, sort_keys=True),
        # (trainer, URL of its start form) for every trainer that reads rows this version has; none without training
        "train_links": extensions.train_links(dataset_version_id=detail.version.pk,
                                              row_kinds={kind for kind, _ in detail.kinds}),
        "may_start": extensions.job_may_start(user=request.user, project=detail.project),
    }
    template = "annotation/curation/version.html"
    if request.htmx:
        template += "#rows-table"
    return render(request, template, context)
