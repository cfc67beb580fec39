"""A large project's page figures are computed by a real Celery worker (queue `default`), not by the page: the
agreement and curation pages answer at once with a "being computed" state and no vote read, the worker stores the
figures, and the next view shows them. A large import asks for them itself. "Large" is above
stored_figures.LIVE_LABELS labels, set to 0 here (in this process: the pages'; the worker computes whatever it is
asked, whatever the size)."""
import io
import json
from collections.abc import Iterator

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotation.models import ProjectFigures
from annotation.selectors import stored_figures
from annotation.services import figures
from annotation.services import imports as import_service
from annotation.services.imports import data_import
from tests.annotation.review_data import review_project
from tests.training.worker_process import CeleryWorker, running_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)  # the worker must see the rows: commit them


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[CeleryWorker]:
    # The command `make worker` runs (scripts/worker.sh), not a bare `celery worker`: what users start.
    with running_worker(django_db_blocker, name="figures-default", queues="default", shipped=True,
                        log_dir=tmp_path_factory.mktemp("workers")) as worker:
        yield worker


def _label_reads(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if '"annotation_label"' in q["sql"]]


def _stored(project, name: str) -> bool:
    return ProjectFigures.objects.filter(project=project, name=name).exists()


def test_a_large_projects_pages_ask_a_worker_and_show_the_figures_once_stored(worker, user, client, monkeypatch):
    project = review_project(owner=user)
    assert not ProjectFigures.objects.filter(project=project).exists()
    monkeypatch.setattr(stored_figures, "LIVE_LABELS", 0)  # as if the project were large
    client.force_login(user)

    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("curation-agreement", args=[project.slug]))
    html = page.content.decode()
    assert page.status_code == 200 and 'id="agreement-pending"' in html and 'http-equiv="refresh"' in html
    assert 'id="agreement-figures"' not in html and _label_reads(queries) == []
    wait_for(lambda: _stored(project, "agreement:auto"), 60, "the worker to store the agreement figures", worker)
    html = client.get(reverse("curation-agreement", args=[project.slug])).content.decode()
    assert 'id="agreement-figures"' in html and 'id="agreement-pending"' not in html
    assert 'http-equiv="refresh"' not in html

    html = client.get(reverse("curation", args=[project.slug])).content.decode()
    assert 'id="references-pending"' in html
    wait_for(lambda: _stored(project, "references"), 60, "the worker to store the reference scores", worker)
    html = client.get(reverse("curation", args=[project.slug])).content.decode()
    assert 'id="references-pending"' not in html


def test_a_large_import_asks_for_the_opening_figures(worker, user, monkeypatch):
    monkeypatch.setattr(stored_figures, "LIVE_LABELS", 0)
    monkeypatch.setattr(import_service, "ANALYZE_AFTER_RECORDS", 1)  # "large": every import here
    records = [{"id": f"p{i}", "kind": "pairwise", "prompt": f"question {i}",
                "responses": [{"text": f"a{i}"}, {"text": f"b{i}"}],
                "labels": [{"annotator": "ann", "annotator_kind": "human", "winner": "A"},
                           {"annotator": "bob", "annotator_kind": "human", "winner": "B" if i % 3 else "A"}]}
               for i in range(20)]
    project = review_project(owner=user, slug="big", records=records)
    for name in figures.OPENING_FIGURES:
        wait_for(lambda name=name: _stored(project, name), 60, f"the worker to store {name}", worker)
    assert set(ProjectFigures.objects.filter(project=project).values_list("name", flat=True)) == set(
        figures.OPENING_FIGURES)


def test_refresh_computes_only_what_is_missing_or_stale_and_yields_to_a_running_one(user):
    project = review_project(owner=user)
    assert figures.figures_refresh(project_id=project.pk, names=["agreement:auto", "references"]) == [
        "agreement:auto", "references"]
    assert figures.figures_refresh(project_id=project.pk, names=["agreement:auto"]) == []  # stored and current
    line = {"id": "more", "kind": "pairwise", "prompt": "p", "responses": [{"text": "x"}, {"text": "y"}],
            "labels": [{"annotator": "cy", "annotator_kind": "human", "winner": "A"}]}
    data_import(project_slug=project.slug, fmt="native", stream=io.BytesIO((json.dumps(line) + "\n").encode()),
                user=user)
    s = connection.settings_dict
    with psycopg.connect(host=s["HOST"], port=s["PORT"] or 5432, user=s["USER"], dbname=s["NAME"],
                         password=s["PASSWORD"] or None) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [figures.LOCK_CLASS, project.pk])  # a worker computing
        assert figures.figures_refresh(project_id=project.pk, names=["agreement:auto"]) == []
        other.execute("SELECT pg_advisory_unlock(%s, %s)", [figures.LOCK_CLASS, project.pk])  # it is done
    assert figures.figures_refresh(project_id=project.pk, names=["agreement:auto"]) == ["agreement:auto"]
    assert figures.figures_refresh(project_id=10**9, names=["references"]) == []  # a project deleted meanwhile
    with pytest.raises(ValueError, match="unknown figures"):
        figures.figures_refresh_enqueue(project_id=project.pk, names=["nope"])
