"""The lazy review queue: the same entries as review_queue, a page at a time, in a number of queries that
does not grow with the project (the dashboard's count included)."""
import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.models import ItemFlag
from annotation.selectors.dashboard import project_dashboard
from annotation.selectors.review import review_queue
from annotation.selectors.review_queue import ReviewQueue, review_queue_count
from tests.annotation.review_data import IN_QUEUE, review_project

pytestmark = pytest.mark.django_db


def _records(n: int) -> list[dict]:
    """`n` pairwise items with 3 votes: every third split (in the queue), the rest unanimous."""
    records = []
    for i in range(n):
        winners = ["A", "B", "A"] if i % 3 == 0 else ["A", "A", "A"]
        records.append({
            "id": f"it-{i}", "kind": "pairwise", "prompt": f"Question {i}?",
            "responses": [{"text": f"answer a{i}"}, {"text": f"answer b{i}"}],
            "labels": [{"annotator": name, "annotator_kind": "human", "winner": w}
                       for name, w in zip(("ann", "bea", "cat"), winners)],
        })
    return records


def test_the_lazy_queue_lists_what_review_queue_lists_in_the_same_order(user):
    """On the hand-built project: disagreements (a tie written twice is none), a flag, decided items left out."""
    project = review_project(owner=user)
    eager = review_queue(project=project)
    lazy = ReviewQueue(project)
    assert len(lazy) == review_queue_count(project=project) == len(eager) == len(IN_QUEUE)
    assert [(e.item.pk, e.reasons) for e in lazy[0:50]] == [(e.item.pk, e.reasons) for e in eager]
    assert [e.item.pk for e in lazy[1:3]] == [e.item.pk for e in eager[1:3]]
    assert lazy[0].item.pk == eager[0].item.pk


def _queries(project) -> tuple[int, int, int]:
    """Queries of: the count and first page of the queue, a middle page, the dashboard."""
    counts = []
    for read in (
        lambda: Paginator(ReviewQueue(project), 5).get_page(1).object_list,
        lambda: Paginator(ReviewQueue(project), 5).get_page(2).object_list,
        lambda: project_dashboard(project=project),
    ):
        with CaptureQueriesContext(connection) as captured:
            read()
        counts.append(len(captured))
    return tuple(counts)


def test_queue_pages_and_the_dashboard_take_as_many_queries_for_200_items_as_for_20(user):
    small = review_project(owner=user, slug="small", records=_records(20))
    large = review_project(owner=user, slug="large", records=_records(200))
    for project in (small, large):
        item = project.items.order_by("pk")[1]  # a unanimous item, queued by its flag
        ItemFlag.objects.create(item=item, name="near_duplicate", value=0.9, reason="near copy")
    assert len(ReviewQueue(small)) == 7 + 1 and len(ReviewQueue(large)) == 67 + 1
    assert _queries(small) == _queries(large)
    page = Paginator(ReviewQueue(large), 5).get_page(2)
    assert [e.item.external_id for e in page.object_list] == ["it-12", "it-15", "it-18", "it-21", "it-24"]
