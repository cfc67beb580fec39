"""The ROUTE job: a routing run (annotation.services.routing.routing_run) with its progress on the job's page.

Its config, RouteJobConfig, is annotation's (annotation/curation/route_job.py): the curation page and the API start
it without routing anything in the web request."""
from __future__ import annotations

from typing import Any

from annotation.curation.route_job import RouteJobConfig
from common.progress import Progress

from ...models import JobKind
from ..registry import JobContext, register


@register(JobKind.ROUTE, config=RouteJobConfig, queue="default")
def run(config: RouteJobConfig, progress: Progress, context: JobContext) -> dict[str, Any]:
    """Safe to re-run after a lost worker: a second run routes the same items again (a new run id), and only
    items nobody has started are routed."""
    from annotation.models import Project
    from annotation.services.routing import routing_run

    if context.project_id is None:
        raise ValueError("a route job needs a project")
    project = Project.objects.get(pk=context.project_id)
    return routing_run(project=project, policy=config.policy, budget_fraction=config.budget_fraction,
                       budget_count=config.budget_count, seed=config.seed, embeddings=config.embeddings,
                       progress=progress)
