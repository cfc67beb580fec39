"""A large project's stored figures, computed by a worker instead of a page (selectors.stored_figures).

The agreement page and the curation page's reference scores read every vote of the project. Up to
stored_figures.LIVE_LABELS labels a page computes them itself; above, a page with nothing stored calls
`figures_refresh_enqueue` and shows that they are being computed, and a large import sends the same task for the
figures the pages open with. The `annotation.figures_refresh` task (queue `default`) calls `figures_refresh`,
which computes each asked-for figure unless it is stored and current, under a PostgreSQL advisory lock per
project so that pages asking again while it runs cost nothing.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from celery import current_app
from django.core.cache import cache
from django.db import connection, transaction

from ..models import Project, ProjectFigures
from ..selectors.curation import agreement_data, agreement_figures_name
from ..selectors.references import reference_report_for
from ..selectors.stored_figures import figures_signature, figures_store

__all__ = ["FIGURES", "OPENING_FIGURES", "figures_refresh", "figures_refresh_enqueue"]

log = logging.getLogger(__name__)

# Every figure a page stores, by name, and how it is computed.
FIGURES: dict[str, Callable[[Project], object]] = {
    agreement_figures_name(None): lambda p: agreement_data(project=p, include_judges=None),
    agreement_figures_name(True): lambda p: agreement_data(project=p, include_judges=True),
    agreement_figures_name(False): lambda p: agreement_data(project=p, include_judges=False),
    "references": lambda p: reference_report_for(project=p),
}
# What the pages open with (the agreement page without ?judges=, the curation page): computed after a large import.
OPENING_FIGURES = (agreement_figures_name(None), "references")
LOCK_CLASS = 0x1A8  # advisory-lock namespace of figure refreshes (import runs use 0x1A7)
# Seconds before a page asks again for figures it asked for (a worker that died or a lost message is retried then).
ASK_AGAIN_AFTER = 60


def figures_refresh_enqueue(*, project_id: int, names: tuple[str, ...] | list[str], once: bool = False) -> None:
    """Ask a worker to compute the project's figures `names` once the current transaction commits. A broker that
    cannot be reached is logged, not raised: the figures are then computed by `manage.py agreement` or a
    page's next request. `once`: not again for ASK_AGAIN_AFTER seconds (per project and names, in the default
    cache): a pending page reloads itself every few seconds, and each reload would otherwise queue a task."""
    unknown = set(names) - set(FIGURES)
    if unknown:
        raise ValueError(f"unknown figures {sorted(unknown)}")
    if once and not cache.add(f"figures-asked:{project_id}:{','.join(sorted(names))}", 1, ASK_AGAIN_AFTER):
        return

    def send() -> None:
        try:
            current_app.send_task("annotation.figures_refresh", args=[project_id, list(names)], queue="default",
                                  retry=False)
        except Exception as exc:  # noqa: BLE001 - the broker is down: the page says how to compute them instead
            log.warning("could not ask a worker for the figures of project %s: %s", project_id, exc)

    transaction.on_commit(send)


def figures_refresh(*, project_id: int, names: list[str]) -> list[str]:
    """Compute and store each figure of `names` that is not stored and current; returns the names computed.
    Nothing when another worker is computing this project's figures (it holds the lock) or the project is gone."""
    if not _try_lock(project_id):
        return []
    try:
        project = Project.objects.filter(pk=project_id).first()
        if project is None:
            return []
        done = []
        for name in names:
            signed = figures_signature(project)  # before the votes are read: a label added meanwhile shows stale
            stored = ProjectFigures.objects.filter(project=project, name=name).values_list("signature", flat=True)
            if stored.first() == signed[0]:
                continue
            figures_store(project=project, name=name, value=FIGURES[name](project), signed=signed)
            done.append(name)
        return done
    finally:
        _unlock(project_id)


def _try_lock(project_id: int) -> bool:
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, project_id])
        return bool(cursor.fetchone()[0])


def _unlock(project_id: int) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, project_id])
