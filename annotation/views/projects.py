"""Server-rendered pages. Each view is a shell: one selector or service, one template."""
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ..selectors import project_summaries_for_user


@require_GET
@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    """The projects the user belongs to, with their role and item counts by state."""
    summaries = project_summaries_for_user(user=request.user)
    return render(request, "annotation/project_list.html", {"summaries": summaries})
