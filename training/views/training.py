"""Training pages: start a training job (one tab per trainer) or an evaluation, download a job's artifacts, compare
runs.

Shells like training/views/jobs.py: parse, call one selector or service, render.
"""
from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from annotation import errors

from ..forms import TRAINERS, EvaluateForm, TrainForm
from ..models import JobKind
from ..selectors import (
    job_artifact_path,
    job_for_user,
    model_artifacts_for_start,
    training_runs_compare,
    training_versions_for_user,
)
from ..services.jobs import job_start
from ..services.training import ROW_KIND

ZIP_CHUNK = 1 << 20  # bytes read per step while streaming a zip


@require_http_methods(["GET", "POST"])
@login_required
def train_start(request: HttpRequest) -> HttpResponse:
    """GET: the form of one trainer (?trainer=train_dpo or its short name dpo; default the reward model), with
    ?dataset_version=<id> pre-selected when it is one the trainer can read. POST: start the job; to its page, or
    the form again with its errors (400)."""
    kind = request.POST.get("trainer") or request.GET.get("trainer") or "train_rm"
    if kind not in TRAINERS and f"train_{kind}" in TRAINERS:
        kind = f"train_{kind}"  # ?trainer=rm|dpo|listwise|kto
    if kind not in TRAINERS:
        raise Http404(f"no trainer {kind!r}")
    versions = training_versions_for_user(user=request.user, row_kind=ROW_KIND[kind])
    initial = {}
    asked = request.GET.get("dataset_version", "")
    if asked.isdigit() and versions.filter(pk=int(asked)).exists():  # others: the form's first version stands
        initial["dataset_version"] = int(asked)
    form = TrainForm(request.POST or None, kind=kind, versions=versions, initial=initial,
                     models=model_artifacts_for_start(user=request.user))
    if request.method == "POST":
        if form.is_valid():
            try:
                job = job_start(kind=kind, config=form.config(), dataset_version=form.cleaned_data["dataset_version"],
                                user=request.user)
            except errors.PermissionDenied:
                raise  # the 403 page, not a form error
            except errors.PrefStudioError as exc:
                form.add_config_error(exc.field, exc.message)
            else:
                messages.success(request, f"{job.get_kind_display()} job {job.pk} queued.")
                return redirect("job-detail", job_id=job.pk)
    context = {"form": form, "kind": kind, "trainers": TRAINERS, "row_kind": ROW_KIND[kind],
               "trainer_label": TRAINERS[kind], "trainer_doc": " ".join((form.config_class.__doc__ or "").split()),
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
    if request.method == "POST" and form.is_valid():
        try:
            job = job_start(kind=JobKind.EVALUATE, config=form.config(),
                            dataset_version=form.cleaned_data["dataset_version"], user=request.user)
        except errors.PermissionDenied:
            raise  # the 403 page, not a form error
        except errors.PrefStudioError as exc:
            form.add_config_error(exc.field, exc.message)
        else:
            messages.success(request, f"{job.get_kind_display()} job {job.pk} queued.")
            return redirect("job-detail", job_id=job.pk)
    context = {"form": form, "has_versions": versions.exists()}
    return render(request, "training/evaluate_start.html", context, status=400 if form.errors else 200)


@require_GET
@login_required
def job_artifact_download(request: HttpRequest, job_id: int, path: str = "") -> HttpResponse:
    """One artifact file of a job (as an attachment), or a directory (the whole one for no path) as a zip.
    For those who may see the job; a path outside its artifact directory is a 404."""
    job = job_for_user(user=request.user, job_id=job_id)
    target = job_artifact_path(job=job, path=path)
    if target.is_file():
        return FileResponse(target.open("rb"), as_attachment=True, filename=target.name)
    name = f"job-{job.pk}" + (f"-{target.name}" if path.strip("/") else "") + ".zip"
    response = StreamingHttpResponse(_zip_stream(target), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


class _Sink:
    """A write-only file for zipfile that hands out what was written so far (zipfile can write to a stream)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def _zip_stream(directory: Path) -> Iterator[bytes]:
    """The files under `directory` as a zip, produced while it is sent (stored, not deflated: weights do not
    compress). Symlinks leading out of the directory are left out."""
    root = directory.resolve()
    sink = _Sink()
    archive_file = zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True)  # type: ignore[arg-type]
    with archive_file as archive:
        for path in sorted(directory.rglob("*")):
            if not path.is_file() or not path.resolve().is_relative_to(root):
                continue
            info = zipfile.ZipInfo.from_file(path, path.relative_to(directory).as_posix())
            with path.open("rb") as source, archive.open(info, "w", force_zip64=True) as dest:
                while chunk := source.read(ZIP_CHUNK):
                    dest.write(chunk)
                    yield sink.take()
            yield sink.take()
    yield sink.take()


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
