"""The training pages: start a training job (one tab per trainer) or an evaluation, compare runs.

Shells like training/views/jobs.py: parse, call one selector or service, render.
"""
from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from ..engine.trainers.registry import trainer_kinds, trainer_spec, trainer_specs
from ..forms import EvaluateForm, TrainForm
from ..models import JobKind
from ..selectors import model_artifacts_for_start, training_runs_compare, training_versions_for_user
from ..services.jobs import job_start
from .jobs import job_queued


@require_http_methods(["GET", "POST"])
@login_required
def train_start(request: HttpRequest) -> HttpResponse:
    """GET: the form of one trainer (?trainer=train_dpo or its short name dpo; default the reward model), with
    ?dataset_version=<id> pre-selected when it is one the trainer can read. POST: start the job; to its page, or
    the form again with its errors (400)."""
    kind = request.POST.get("trainer") or request.GET.get("trainer") or "train_rm"
    if kind not in trainer_kinds() and f"train_{kind}" in trainer_kinds():
        kind = f"train_{kind}"  # ?trainer=rm|dpo|listwise|kto
    if kind not in trainer_kinds():
        raise Http404(f"no trainer {kind!r}")
    spec = trainer_spec(kind)
    versions = training_versions_for_user(user=request.user, row_kind=spec.row_kind)
    initial = {}
    asked = request.GET.get("dataset_version", "")
    if asked.isdigit() and versions.filter(pk=int(asked)).exists():  # others: the form's first version stands
        initial["dataset_version"] = int(asked)
    form = TrainForm(request.POST or None, kind=kind, versions=versions, initial=initial,
                     models=model_artifacts_for_start(user=request.user))
    job = request.method == "POST" and form.is_valid() and form.started(lambda: job_start(
        kind=kind, config=form.config(), dataset_version=form.cleaned_data["dataset_version"], user=request.user))
    if job:
        return job_queued(request, job)
    context = {"form": form, "kind": kind, "trainers": {s.kind: s.label for s in trainer_specs()},
               "row_kind": spec.row_kind, "trainer_label": spec.label,
               "trainer_doc": " ".join((form.config_class.__doc__ or "").split()),
               "has_versions": versions.exists()}
    return render(request, "training/train_start.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@login_required
def evaluate_start(request: HttpRequest) -> HttpResponse:
    """GET: the evaluation form (?model=<id> and ?dataset_version=<id> pre-select, e.g. from a training job's page).
    POST: start the `evaluate` job; to its page, or the form again with its errors (400)."""
    versions = training_versions_for_user(user=request.user, row_kind="pairwise")
    initial = {}
    for name in ("model", "dataset_version"):
        if request.GET.get(name, "").isdigit():
            initial[name] = int(request.GET[name])
    form = EvaluateForm(request.POST or None, versions=versions, initial=initial,
                        models=model_artifacts_for_start(user=request.user))
    job = request.method == "POST" and form.is_valid() and form.started(lambda: job_start(
        kind=JobKind.EVALUATE, config=form.config(), dataset_version=form.cleaned_data["dataset_version"],
        user=request.user))
    if job:
        return job_queued(request, job)
    context = {"form": form, "has_versions": versions.exists()}
    return render(request, "training/evaluate_start.html", context, status=400 if form.errors else 200)


@require_GET
@login_required
def job_compare(request: HttpRequest) -> HttpResponse:
    """Finished training runs side by side: ?ids=3&ids=5 (or ids=3,5). Fewer than two: an empty state."""
    ids: list[int] = []
    for value in request.GET.getlist("ids"):
        for part in value.split(","):
            if part.strip().isdigit():
                ids.append(int(part))
    comparison = training_runs_compare(user=request.user, job_ids=ids)
    context: dict[str, Any] = {"comparison": comparison, "enough": len(comparison.runs) >= 2}
    return render(request, "training/compare.html", context)
