"""The counters kept by PostgreSQL triggers for the pages at a million items (migration 0009_counters_pages):
per item the people's distinct verdicts, its flags and whether it is queued for review; per project the items by
(kind, state, route, queued), the annotation labels per (annotator, UTC hour) and per (annotator, time spent).
After every kind of write (an import by COPY, ORM inserts, bulk inserts, verdict and role updates, deletes of labels,
flags and items) they equal a recount; the pages that read them give what counting gave, without reading a label."""
import io
import re
import json
from collections import Counter
from datetime import timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import connection
from django.db.models import Count
from django.db.models.functions import TruncHour
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotation.models import (
    Annotator,
    Item,
    ItemFlag,
    ItemState,
    Label,
    LabelRole,
    LabelStatus,
    ProjectItemCounts,
    ProjectLabelHours,
    ProjectLabelTimes,
    Route,
    TaskKind,
)
from annotation.selectors import counters
from annotation.selectors.curation import routing_summary
from annotation.selectors.dashboard import project_dashboard
from annotation.selectors.review import _human_annotations, disagreement_verdict
from annotation.selectors.review_queue import ReviewQueue
from annotation.services.imports import data_import
from tests.annotation.review_data import review_project

pytestmark = pytest.mark.django_db


def recount_items(project) -> dict:
    """Per item (n_verdicts, n_flags, queued) as the review queue's tests define them, counted from the rows."""
    verdicts = dict(_human_annotations().filter(item__project=project).values_list("item_id")
                    .annotate(n=Count(disagreement_verdict(), distinct=True)).order_by())
    flags = Counter(ItemFlag.objects.filter(item__project=project).values_list("item_id", flat=True))
    out = {}
    for pk, kind, state, n_human in Item.objects.filter(project=project).values_list(
            "pk", "kind", "state", "n_human_labels"):
        v, f = verdicts.get(pk, 0), flags.get(pk, 0)
        queued = state not in (ItemState.FINAL, ItemState.EXCLUDED) and (
            state == ItemState.IN_REVIEW or f > 0 or (kind != TaskKind.EDIT and n_human >= 2 and v >= 2))
        out[pk] = (v, f, queued)
    return out


def kept_items(project) -> dict:
    return {pk: (v, f, q) for pk, v, f, q in
            Item.objects.filter(project=project).values_list("pk", "n_verdicts", "n_flags", "queued")}


def recount_project(project) -> tuple[dict, dict, dict]:
    items = Counter(Item.objects.filter(project=project).values_list("kind", "state", "route", "queued"))
    annotations = Label.objects.filter(item__project=project, role=LabelRole.ANNOTATION)
    hours = Counter({(a, h): n for a, h, n in annotations.annotate(h=TruncHour("created_at", tzinfo=dt_timezone.utc))
                     .values_list("annotator_id", "h").annotate(n=Count("id")).order_by()})
    times = Counter((a, counters.ms_bucket(ms)) for a, ms in
                    annotations.filter(time_spent_ms__isnull=False).values_list("annotator_id", "time_spent_ms"))
    return dict(items), dict(hours), dict(times)


def kept_project(project) -> tuple[dict, dict, dict]:
    items = Counter()  # summed over the shards (migration 0018), as every reader does
    for c in ProjectItemCounts.objects.filter(project=project):
        assert c.shard == c.shard % 16 and c.n >= 0
        items[(c.kind, c.state, c.route, c.queued)] += c.n
    hours = {(h.annotator_id, h.hour): h.n for h in ProjectLabelHours.objects.filter(project=project)}
    times = {(t.annotator_id, t.ms): t.n for t in ProjectLabelTimes.objects.filter(project=project)}
    return tuple({k: n for k, n in d.items() if n} for d in (items, hours, times))


def assert_counters(project) -> None:
    assert kept_items(project) == recount_items(project)
    assert kept_project(project) == recount_project(project)


def test_the_counters_follow_every_write(user):
    project = review_project(owner=user)  # imported by COPY, a flag and an excluded item set by the ORM
    assert_counters(project)
    assert any(q for _, _, q in kept_items(project).values())
    # The item counts are spread over the shards (item id modulo 16): concurrent submits do not share one row.
    items = Item.objects.filter(project=project)
    assert {c.shard for c in ProjectItemCounts.objects.filter(project=project, n__gt=0)} == {
        pk % 16 for pk in items.values_list("pk", flat=True)}
    split = Item.objects.get(project=project, external_id="split")
    carl = Annotator.objects.create(name="carl", kind="human")
    Label.objects.create(item=split, annotator=carl, kind="pairwise", winner="tie", time_spent_ms=12_345)  # ORM insert
    assert_counters(project)
    agree = Label.objects.filter(item__project=project, kind="pairwise", winner="A").first()
    Label.objects.filter(pk=agree.pk).update(winner="B", time_spent_ms=999)  # a verdict and a time changed
    assert_counters(project)
    Label.objects.filter(pk=agree.pk).update(role=LabelRole.REVIEW)  # moved to another role
    assert_counters(project)
    Label.objects.filter(pk=agree.pk).update(status=LabelStatus.UNPARSABLE, role=LabelRole.ANNOTATION)
    assert_counters(project)
    Label.objects.filter(item=split, annotator=carl).delete()
    assert_counters(project)
    flag = ItemFlag.objects.create(item=split, name="noise", value=1.0, reason="r")  # a flag raised and moved
    assert_counters(project)
    other = Item.objects.filter(project=project).exclude(pk=split.pk).first()
    ItemFlag.objects.filter(pk=flag.pk).update(item=other)
    assert_counters(project)
    ItemFlag.objects.filter(pk=flag.pk).delete()
    assert_counters(project)
    Item.objects.filter(project=project).update(state=ItemState.FINAL)  # decided: out of the queue
    assert_counters(project)
    assert not ReviewQueue(project).count() and not any(q for _, _, q in kept_items(project).values())
    Item.objects.filter(project=project).update(state=ItemState.LABELING, route=Route.HUMAN)
    assert_counters(project)
    Label.objects.filter(item__project=project).update(created_at=timezone.now() - timedelta(hours=5))
    assert_counters(project)
    dave = Annotator.objects.create(name="dave", kind="human")
    Label.objects.bulk_create([Label(item=i, annotator=dave, kind="pairwise", winner="both_bad", time_spent_ms=ms)
                               for i, ms in zip(Item.objects.filter(project=project, kind="pairwise"),
                                                range(800, 4000, 97))])
    assert_counters(project)
    Item.objects.filter(pk=split.pk).delete()  # its labels and flags go with it
    assert_counters(project)
    Label.objects.filter(item__project=project).delete()
    assert_counters(project)
    assert not kept_project(project)[1] and not kept_project(project)[2]


def test_a_second_import_into_the_project_is_counted(user):
    project = review_project(owner=user)
    more = [{"id": f"more-{k}", "kind": "pairwise", "prompt": f"More {k}?",
             "responses": [{"text": "x"}, {"text": "y"}],
             "labels": [{"annotator": "alice", "annotator_kind": "human", "winner": "A", "time_spent_ms": 1000 + k},
                        {"annotator": "bert", "annotator_kind": "human", "winner": "AB"[k % 2]}]}
            for k in range(40)]
    data_import(project_slug=project.slug, fmt="native", user=user,
                stream=io.BytesIO("".join(json.dumps(r) + "\n" for r in more).encode()))
    assert_counters(project)
    queued = Item.objects.filter(project=project, external_id__startswith="more-", queued=True)
    assert queued.count() == 20  # alice A and bert B on every other item


def test_ms_bucket_is_the_sql_bucket():
    values = [0, 1, 999, 1000, 1004, 1005, 1015, 9_995, 9_999, 12_345, 12_350, 99_950, 123_456, 3_600_000, 2**31 - 1]
    with connection.cursor() as cursor:
        cursor.execute("SELECT annotation_ms_bucket(x) FROM unnest(%s::bigint[]) x", [values])
        sql = [row[0] for row in cursor.fetchall()]
    assert [counters.ms_bucket(v) for v in values] == sql
    assert sql[:4] == [0, 1, 999, 1000] and sql[9] == 12_300 and sql[12] == 123_000


def test_the_median_of_the_histogram():
    assert counters._median([(20_000, 1), (30_000, 1), (42_000, 1)]) == 30_000
    assert counters._median([(10, 2), (20, 2)]) == 15
    assert counters._median([(5, 1)]) == 5


def _label_reads(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if 'FROM "annotation_label"' in q["sql"]
            or 'JOIN "annotation_label"' in q["sql"]]


def test_the_pages_read_the_counters_not_the_labels(user, monkeypatch):
    """The dashboard, the review queue (its length and a page) and the routing summary read no label and count
    no item, and give what counting the rows gives (the SQLite path, which counts)."""
    project = review_project(owner=user)
    Label.objects.filter(item__project=project).update(time_spent_ms=4_200)
    with CaptureQueriesContext(connection) as queries:
        dashboard = project_dashboard(project=project)
        routing = routing_summary(project=project)
    with CaptureQueriesContext(connection) as queue_queries:
        queue = ReviewQueue(project)
        n_queue, page = len(queue), queue[0:2]
    # Labels are read only for named items: the page's reasons, and the listwise candidates' exact check.
    assert all(re.search(r'"id" IN \(\d', sql) for sql in _label_reads(queries) + _label_reads(queue_queries))
    assert not [q["sql"] for q in queries.captured_queries + queue_queries.captured_queries
                if 'COUNT("annotation_item"' in q["sql"] or 'COUNT(*)' in q["sql"]]
    monkeypatch.setattr(counters, "kept", lambda: False)
    counted = project_dashboard(project=project)
    counted_queue = ReviewQueue(project)
    assert (dashboard.states, dashboard.hours, dashboard.n_review_queue) == (
        counted.states, counted.hours, counted.n_review_queue)
    assert [(a.name, a.labels, a.median_ms) for a in dashboard.annotators] == [
        (a.name, a.labels, a.median_ms) for a in counted.annotators]
    assert n_queue == len(counted_queue) == dashboard.n_review_queue > 0
    assert [e.item.pk for e in page] == [e.item.pk for e in counted_queue[0:2]]
    assert (routing.n_items, routing.n_human, routing.n_ai) == (
        lambda r: (r.n_items, r.n_human, r.n_ai))(routing_summary(project=project))
    assert routing.n_items == Item.objects.filter(project=project).count()


def test_the_queue_page_is_an_index_range(user):
    """The queue's page query is served by item_queued_idx (EXPLAIN), not by a scan of the items or labels."""
    project = review_project(owner=user)
    ids = ReviewQueue(project)._ids[0:50]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table: make the planner show what it would use
        sql, params = ids.query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "item_queued_idx" in plan and "annotation_label" not in plan


def test_agreement_figures_are_stored_and_follow_the_labels(user, monkeypatch):
    """The agreement page's figures are stored with the labels' signature: the same figures as computed, computed
    again after a new label; above LIVE_LABELS the stored ones are shown with their staleness and no vote is read
    until `fresh` computes them again."""
    from annotation.models import ProjectFigures
    from annotation.selectors import stored_figures
    from annotation.selectors.curation import agreement_data, agreement_page

    project = review_project(owner=user)
    page = agreement_page(project=project)
    assert page.stale is None and ProjectFigures.objects.filter(project=project, name="agreement:auto").exists()
    live = agreement_data(project=project)
    assert page.n_votes == live.n_votes and page.figures["raw_agreement"].value == pytest.approx(
        live.report.raw_agreement.value)
    with CaptureQueriesContext(connection) as queries:
        again = agreement_page(project=project)  # stored and current: no vote read
    assert _label_reads(queries) == [] and again.figures == page.figures
    split = Item.objects.get(project=project, external_id="split")
    Label.objects.create(item=split, annotator=Annotator.objects.create(name="erin", kind="human"), kind="pairwise",
                         winner="tie")
    fresh = agreement_page(project=project)  # a small project: computed again while the page waits
    assert fresh.stale is None and fresh.n_votes == page.n_votes + 1
    monkeypatch.setattr(stored_figures, "LIVE_LABELS", 0)  # as if the project were large
    Label.objects.create(item=split, annotator=Annotator.objects.create(name="finn", kind="human"), kind="pairwise",
                         winner="A")
    with CaptureQueriesContext(connection) as queries:
        stale = agreement_page(project=project)
    assert _label_reads(queries) == [] and stale.n_votes == fresh.n_votes
    assert stale.stale.n_labels_now == stale.stale.n_labels_then + 1
    assert agreement_page(project=project, fresh=True).n_votes == fresh.n_votes + 1
    assert agreement_page(project=project).stale is None


@pytest.mark.django_db(transaction=True)
def test_a_page_does_not_wait_for_a_curation_run_holding_the_project(user):
    """A curation run holds its project's row (FOR UPDATE) until it commits: the agreement page answers with the
    figures it computed without storing them, instead of waiting; once the run is over they are stored."""
    import time

    import psycopg

    from annotation.models import ProjectFigures
    from annotation.selectors.curation import agreement_page

    project = review_project(owner=user)
    s = connection.settings_dict
    with psycopg.connect(host=s["HOST"], port=s["PORT"] or 5432, user=s["USER"], dbname=s["NAME"],
                         password=s["PASSWORD"] or None) as run:
        run.execute("SELECT 1 FROM annotation_project WHERE id = %s FOR UPDATE", [project.pk])
        started = time.perf_counter()
        page = agreement_page(project=project)
        assert time.perf_counter() - started < 10 and page.n_votes > 0
        assert not ProjectFigures.objects.filter(project=project).exists()
    agreement_page(project=project)
    assert ProjectFigures.objects.filter(project=project, name="agreement:auto").exists()
