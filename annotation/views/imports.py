"""The upload page: a small file is imported at once; a big one becomes a job whose page polls its progress."""
from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from ..errors import PrefStudioError
from ..importing import FORMATS, ImportOptions
from ..models import AnnotatorKind, ImportRun
from ..selectors.import_runs import import_run_for_user
from ..services.import_runs import import_upload
from ..uploads import upload_handlers_capped


class ImportForm(forms.Form):
    project = forms.SlugField(max_length=64, help_text="Project slug; created (you own it) if new.")
    format = forms.ChoiceField(choices=[(name, name) for name in sorted(FORMATS)])
    file = forms.FileField(help_text="JSONL, plain or gzipped (.jsonl.gz).")
    annotator = forms.CharField(
        max_length=150, required=False, help_text="Who gave the preferences of a trl / hh / ranked file."
    )
    annotator_kind = forms.ChoiceField(choices=AnnotatorKind.choices, initial=AnnotatorKind.HUMAN)
    skip_invalid = forms.BooleanField(required=False, label="Skip bad lines (import the rest)")


@csrf_exempt  # checked by _upload, once the capped upload handler is in place (Django's documented way)
@login_required
@require_http_methods(["GET", "POST"])
def import_upload_page(request: HttpRequest) -> HttpResponse:
    """GET: the form. POST: the import's report, or a redirect to the job's page; errors in the form."""
    upload_handlers_capped(request)
    try:
        return _upload(request)
    except PrefStudioError as exc:  # the upload handler refuses a file over the upload limit as it arrives
        return _form(request, ImportForm(), exc, status=exc.status_code)


@csrf_protect
def _upload(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _form(request, ImportForm())
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _form(request, form, status=400)
    data = form.cleaned_data
    try:
        outcome = import_upload(
            user=request.user, project_slug=data["project"], fmt=data["format"], upload=data["file"],
            options=ImportOptions(annotator=data["annotator"] or None, annotator_kind=data["annotator_kind"]),
            skip_invalid=data["skip_invalid"],
        )
    except PrefStudioError as exc:
        return _form(request, form, exc, status=exc.status_code)
    if isinstance(outcome, ImportRun):
        return redirect("import-run", outcome.pk)
    return _form(request, ImportForm(initial={"project": data["project"]}), report=outcome)


def _form(request, form, error: PrefStudioError | None = None, *, report=None, status: int = 200) -> HttpResponse:
    context = {"form": form, "error": error, "report": report}
    return render(request, "annotation/imports/upload.html", context, status=status)


@require_GET
@login_required
def import_run_page(request: HttpRequest, pk: int) -> HttpResponse:
    """An import job's state and progress; htmx polls the live part every second until it ends. Someone else's
    run is a 404 (the selector's NotFound)."""
    run = import_run_for_user(user=request.user, run_id=pk)
    template = "annotation/imports/run.html#run-live" if request.htmx else "annotation/imports/run.html"
    return render(request, template, {"run": run})
