"""The project dashboard: items by state, labels per hour, per-annotator progress (owners and reviewers)."""
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .. import extensions
from ..selectors.dashboard import project_dashboard_for_user


@require_GET
@login_required
def project_dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    dashboard = project_dashboard_for_user(user=request.user, slug=slug)
    context = {"dashboard": dashboard, "chart_data": dashboard.chart_data(),
               "may_start": extensions.job_may_start(user=request.user, project=dashboard.project)}  # the Train link
    return render(request, "annotation/dashboard/project.html", context)
