"""The project settings and members pages (owners only). Shells: parse the form, call one service, render.

A non-member gets 404 (as for a project that does not exist), a member who is not an owner 403: the selector's
NotFound and the service's PermissionDenied (prefstudio/errors_http.py).
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ..errors import NotFound, PrefStudioError
from ..models import Project, Role
from ..selectors import project_for_user, project_members
from ..selectors.labeling import labeling_preview
from ..services.project_settings import EDITABLE, ProjectSettings
from ..services.projects import (
    membership_add,
    membership_remove,
    membership_role_change,
    project_require_owner,
    project_settings_check,
    project_update,
)
from .label_form import FormValues
from .labeling import task_part
from .project_forms import MemberAddForm, ProjectSettingsForm

SETTINGS_TEMPLATE = "annotation/projects/settings.html"
MEMBERS_TEMPLATE = "annotation/projects/members.html"


def owners_only(view: Callable) -> Callable:
    """The project `slug` (from the URL) as `project`, for its owners; 404 for non-members, 403 for the others."""

    @wraps(view)
    def wrapped(request: HttpRequest, slug: str, **kwargs) -> HttpResponse:
        project = project_for_user(user=request.user, slug=slug)
        project_require_owner(project=project, user=request.user)
        return view(request, project, **kwargs)

    return wrapped


def _previews(project: Project) -> list[dict]:
    """The task page's kind partials for each labeling kind of `project` (possibly an unsaved copy)."""
    previews = []
    for kind in project.task_kinds or []:
        task = labeling_preview(project=project, kind=kind)
        context = {
            "task": task, "project": project, "values": FormValues(),
            "ranked_panels": [(panel, "") for panel in task.panels],
            "aspect_rows": [(i, name, "") for i, name in enumerate(project.aspects or [])],
            "original": task.panels[0].response.text if task.panels else "",
        }
        previews.append({**context, "controls": task_part(None, kind, context)})
    return previews


def _with_settings(project: Project, settings: ProjectSettings) -> Project:
    preview = copy.copy(project)  # in memory only: the preview of unsaved edits
    for name in EDITABLE:
        setattr(preview, name, getattr(settings, name))
    return preview


@require_http_methods(["GET", "POST"])
@login_required
@owners_only
def project_settings(request: HttpRequest, project: Project) -> HttpResponse:
    """GET: the settings form and a preview of the task page. POST: save; the form again with its errors (400)."""
    form = ProjectSettingsForm(request.POST or None, project=project)
    shown = project
    if request.method == "POST" and form.is_valid():
        try:
            if request.POST.get("action") == "preview":  # the no-JavaScript preview: check, show, save nothing
                shown = _with_settings(project, project_settings_check(project=project, changes=form.changes()))
            else:
                project_update(project=project, user=request.user, changes=form.changes())
                messages.success(request, "Settings saved.")
                return redirect("project-settings", slug=project.slug)
        except PrefStudioError as exc:
            form.add_config_error(exc.field, exc.message)
    context = {"project": project, "form": form, "previews": _previews(shown), "unsaved": shown is not project}
    return render(request, SETTINGS_TEMPLATE, context, status=400 if form.errors else 200)


@require_POST
@login_required
@owners_only
def project_settings_preview(request: HttpRequest, project: Project) -> HttpResponse:
    """The preview fragment for the form's current (unsaved) values; htmx asks for it as the form changes."""
    form = ProjectSettingsForm(request.POST, project=project)
    error = ""
    shown = project
    if form.is_valid():
        try:
            shown = _with_settings(project, project_settings_check(project=project, changes=form.changes()))
        except PrefStudioError as exc:
            error = exc.message
    else:
        error = "Fix the settings marked in the form to see their preview."
    context = {"project": project, "previews": _previews(shown), "preview_error": error,
               "unsaved": shown is not project}
    return render(request, f"{SETTINGS_TEMPLATE}#preview", context)


@require_GET
@login_required
@owners_only
def members(request: HttpRequest, project: Project) -> HttpResponse:
    """The members with their roles, a role select and a remove button each, and the add form."""
    return _members_page(request, project, MemberAddForm())


def _members_page(request: HttpRequest, project: Project, form: MemberAddForm, status: int = 200) -> HttpResponse:
    context = {"project": project, "members": project_members(project=project), "form": form,
               "roles": Role.choices}
    return render(request, MEMBERS_TEMPLATE, context, status=status)


@require_POST
@login_required
@owners_only
def member_add(request: HttpRequest, project: Project) -> HttpResponse:
    form = MemberAddForm(request.POST)
    if form.is_valid():
        try:
            membership = membership_add(project=project, actor=request.user, who=form.cleaned_data["who"],
                                        role=form.cleaned_data["role"])
        except PrefStudioError as exc:
            form.add_error("role" if exc.field == "role" else "who", exc.message)
        else:
            messages.success(request, f"{membership.user.get_username()} added as {membership.get_role_display()}.")
            return redirect("project-members", slug=project.slug)
    return _members_page(request, project, form, status=400)


@require_POST
@login_required
@owners_only
def member_role(request: HttpRequest, project: Project, membership_id: int) -> HttpResponse:
    try:
        membership = membership_role_change(project=project, actor=request.user, membership_id=membership_id,
                                            role=request.POST.get("role", ""))
    except NotFound:
        raise  # someone else's membership: the 404 page
    except PrefStudioError as exc:  # a bad role, or the last owner stepping down (409)
        messages.error(request, exc.message)
        return _members_page(request, project, MemberAddForm(), status=exc.status_code)
    messages.success(request, f"{membership.user.get_username()} is now {membership.get_role_display()}.")
    return redirect("project-members", slug=project.slug)


@require_POST
@login_required
@owners_only
def member_remove(request: HttpRequest, project: Project, membership_id: int) -> HttpResponse:
    try:
        membership_remove(project=project, actor=request.user, membership_id=membership_id)
    except NotFound:
        raise  # someone else's membership: the 404 page
    except PrefStudioError as exc:
        messages.error(request, exc.message)
        return _members_page(request, project, MemberAddForm(), status=exc.status_code)
    messages.success(request, "Member removed.")
    if not request.user.memberships.filter(project=project).exists():
        return redirect("project-list")  # an owner who removed themselves (another owner remains)
    return redirect("project-members", slug=project.slug)
