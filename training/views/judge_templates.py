"""A project's judge templates: the versions, and a form to save a new one (staff and owners).

Shells like training/views/jobs.py: parse, call one selector or service, render.
"""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from annotation.models import Project
from prefstudio.config_forms import refusals_on

from ..engine.judging.templates import DEFAULT_TEMPLATES
from ..forms import JudgeTemplateForm
from ..selectors import judge_template_project_for_user, judge_template_versions
from ..services.judge_templates import judge_template_save


@require_GET
@login_required
def judge_templates(request: HttpRequest, slug: str) -> HttpResponse:
    """The project's judge template versions, and a form to save a new version (staff and owners)."""
    project = _template_project(request, slug)
    return _render_templates(request, project, JudgeTemplateForm(initial={"text": DEFAULT_TEMPLATES["pairwise"]}))


@require_POST
@login_required
def judge_template_save_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Save the text as the next version of the project's template; back to the page, or the form's errors."""
    project = _template_project(request, slug)
    form = JudgeTemplateForm(request.POST)
    if form.is_valid():
        with refusals_on(form):
            template = judge_template_save(project=project, user=request.user, **form.cleaned_data)
            messages.success(request, f"Saved {template.mode} template {template.name!r} "
                                      f"as version {template.version}.")
            return redirect("judge-templates", slug=project.slug)
    return _render_templates(request, project, form, status=400)


def _template_project(request: HttpRequest, slug: str) -> Project:
    return judge_template_project_for_user(user=request.user, slug=slug)


def _render_templates(
    request: HttpRequest, project: Project, form: JudgeTemplateForm, status: int = 200
) -> HttpResponse:
    context = {"project": project, "versions": judge_template_versions(project=project), "form": form,
               "defaults": DEFAULT_TEMPLATES}
    return render(request, "training/judge_templates.html", context, status=status)
