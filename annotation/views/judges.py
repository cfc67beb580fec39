"""The judge summary of a project (owners and reviewers): one row per LLM judge, with its recent verdicts."""
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ..selectors.judges import judge_summaries_for_user


@require_GET
@login_required
def project_judges(request: HttpRequest, slug: str) -> HttpResponse:
    """Labels, unparsable and swap-consistency rates, agreement with the human majority, recent verdicts."""
    project, summaries = judge_summaries_for_user(user=request.user, slug=slug)
    return render(request, "annotation/judges.html", {"project": project, "summaries": summaries})
