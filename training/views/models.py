"""The models page: the models the user may see, and the form to register one.

Shells like training/views/jobs.py: parse, call one selector or service, render.
"""
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as HttpForbidden
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST


from prefstudio.config_forms import refusals_on

from ..forms import ModelRegisterForm
from ..selectors import model_artifact_list, model_may_register, model_register_projects_for_user
from ..services.models import model_artifact_register


@require_GET
@login_required
def model_list(request: HttpRequest) -> HttpResponse:
    """The models the user may see (global ones and their projects'), and the form to register one (staff, and
    project owners in their projects)."""
    return _render_models(request, _register_form(request))


@require_POST
@login_required
def model_register(request: HttpRequest) -> HttpResponse:
    """Register a model; back to the models page, or the page again with the form's errors."""
    if not model_may_register(user=request.user):
        raise HttpForbidden("only staff and project owners may register models")
    form = _register_form(request, request.POST)
    if form.is_valid():
        with refusals_on(form):
            artifact = model_artifact_register(**form.cleaned_data, user=request.user)
            messages.success(request, f"Model {artifact.name!r} registered (id {artifact.pk}).")
            return redirect("model-list")
    return _render_models(request, form, status=400)


def _register_form(request: HttpRequest, data: Any = None) -> ModelRegisterForm:
    return ModelRegisterForm(data, projects=model_register_projects_for_user(user=request.user),
                             staff=request.user.is_staff)


def _render_models(request: HttpRequest, form: ModelRegisterForm, status: int = 200) -> HttpResponse:
    context = {"models": model_artifact_list(user=request.user), "form": form,
               "may_register": model_may_register(user=request.user), "staff": request.user.is_staff}
    return render(request, "training/model_list.html", context, status=status)
