"""Thousands of rows written by one SQL statement (INSERT ... SELECT, UPDATE, DELETE: what bench_freeze's build and
data fixes do), through every trigger on labels and items: the per-item counters (n_verdicts, queued), the project's
item counts, label hours and times, the per-annotator label stats, the queue cursors' n_done and the queue's slots
and counters all equal a recount afterwards. And no trigger statement reads a transition table once per row of the
other (migration 0016_transition_tables_linear): at 10k labels such a loop took 32 s of a 33 s INSERT."""
import re
from collections import Counter

import pytest
from django.db import connection, transaction
from django.db.models import Count

from annotation.models import Annotator, Item, Label, Project, Prompt, QueueCursor
from tests.annotation.services.test_imports_queue import _queue, _rebuilt
from tests.annotation.test_label_stats import kept as kept_stats
from tests.annotation.test_label_stats import truth as stats_truth
from tests.annotation.test_page_counters import assert_counters

pytestmark = pytest.mark.django_db

N_ITEMS = 2_000  # x 3 people + 1 judge = 8,000 labels in one INSERT; the old check compared 2,000² item pairs


def _project() -> tuple[Project, list[Annotator]]:
    project = Project.objects.create(slug="one-statement", name="one statement", overlap=3)
    prompts = Prompt.objects.bulk_create([Prompt(project=project, external_id=f"p{k}",
                                                 messages=[{"role": "user", "content": f"q{k}"}])
                                          for k in range(N_ITEMS)])
    Item.objects.bulk_create([Item(project=project, prompt=p, external_id=f"i{k}", kind="pairwise", n_responses=2)
                              for k, p in enumerate(prompts)])  # one INSERT of every item
    people = [Annotator.objects.create(name=f"person-{k}", kind="human") for k in range(3)]
    return project, people + [Annotator.objects.create(name="judge", kind="judge")]


def _insert_labels(project: Project, annotators: list[Annotator]) -> int:
    """One INSERT ... SELECT of a label per (item, annotator): mixed verdicts, roles, statuses, hours and times."""
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO annotation_label (item_id, annotator_id, kind, role, status, winner, aspects, rationale,
                                          shown_order, raw_output, time_spent_ms, created_at)
            SELECT it.id, a.id, 'pairwise',
                   CASE WHEN (it.id + a.id) %% 97 = 0 THEN 'review' ELSE 'annotation' END,
                   CASE WHEN (it.id + a.id) %% 89 = 0 THEN 'unparsable' ELSE 'ok' END,
                   CASE WHEN it.id %% 5 = 0 AND a.id %% 2 = 0 THEN 'B' WHEN (it.id + a.id) %% 13 = 0 THEN 'tie'
                        ELSE 'A' END,
                   '{}'::jsonb, '', '[]'::jsonb, '',
                   CASE WHEN it.id %% 7 = 0 THEN NULL ELSE 300 + (it.id * 37 + a.id * 11) %% 90000 END,
                   timestamptz '2026-01-01 00:00+00' + (it.id %% 50) * interval '37 minutes'
            FROM annotation_item it CROSS JOIN unnest(%s::bigint[]) AS a(id)
            WHERE it.project_id = %s""", [[a.pk for a in annotators], project.pk])
        return cursor.rowcount


def _assert_every_counter(project: Project, *, deleted: bool = False) -> None:
    """Every trigger-kept counter equals a recount. After a DELETE the label stats keep a first label id and a newest
    time that may have gone (the stats trigger does not look for the next ones: migration 0006); counts stay exact."""
    assert_counters(project)  # n_verdicts, n_flags, queued per item; item counts, label hours and times
    stats, truth = kept_stats(project), stats_truth(project)
    if deleted:
        assert stats.keys() == truth.keys() and all(
            stats[k][0] == truth[k][0] and stats[k][1] <= truth[k][1] and stats[k][2] >= truth[k][2] for k in truth)
    else:
        assert stats == truth
    done = dict(Label.objects.filter(item__project=project).values_list("annotator_id")
                .annotate(n=Count("id")).order_by())
    kept_done = {c.annotator_id: c.n_done for c in QueueCursor.objects.filter(project=project) if c.n_done}
    assert kept_done == done
    assert _queue(project) == _rebuilt(project)


def _nested_tuplestore_joins(run) -> list[str]:
    """Plans (auto_explain, nested statements) of the trigger statements `run` sets off in which a nested loop
    reads a transition table once per row of the other: the quadratic plan."""
    plans: list[str] = []
    with connection.cursor() as cursor:
        # auto_explain ships with PostgreSQL (contrib); the tests connect as a superuser, which may LOAD it. A
        # server without it fails here, loudly: this test is the only check that the triggers' plans stay linear.
        cursor.execute("LOAD 'auto_explain'")
        for setting in ("auto_explain.log_min_duration = 0", "auto_explain.log_nested_statements = on",
                        "auto_explain.log_analyze = on", "auto_explain.log_timing = off",
                        "client_min_messages = log"):
            cursor.execute(f"SET LOCAL {setting}")
        handler = lambda notice: plans.append(notice.message_primary)  # noqa: E731
        connection.connection.add_notice_handler(handler)
        try:
            run()
        finally:
            connection.connection.remove_notice_handler(handler)
            cursor.execute("SET LOCAL client_min_messages = notice")
            cursor.execute("SET LOCAL auto_explain.log_min_duration = -1")
    assert plans, "auto_explain logged nothing"
    # A Named Tuplestore Scan run once per row of the outer side: `loops=` above 1 on a transition table.
    return [p for p in plans if re.search(r"Named Tuplestore Scan .*loops=(\d{2,}|[2-9])\)", p)]


def test_one_statement_writes_of_thousands_of_rows_keep_every_counter():
    """An INSERT of 8,000 labels, an UPDATE of every item's human count (queue slots and counters move), an UPDATE
    of every label that moves no key, one that changes verdicts and hours, and a DELETE of a third of the labels."""
    project, annotators = _project()
    assert _insert_labels(project, annotators) == 4 * N_ITEMS
    _assert_every_counter(project)
    assert not Item.objects.filter(project=project, queued=True).exists()  # n_human_labels is still 0
    with connection.cursor() as cursor:  # what services.items does for every item at once
        cursor.execute("""
            UPDATE annotation_item it SET n_human_labels = c.n
            FROM (SELECT l.item_id, count(*) AS n FROM annotation_label l JOIN annotation_annotator a
                  ON a.id = l.annotator_id WHERE a.kind = 'human' AND l.role = 'annotation' GROUP BY 1) c
            WHERE it.id = c.item_id AND it.project_id = %s""", [project.pk])
        assert cursor.rowcount == N_ITEMS
    _assert_every_counter(project)
    # Dissent among the people on counted items: those move into the review queue (their counters' keys change).
    assert Counter(Item.objects.filter(project=project).values_list("queued", flat=True))[True] > N_ITEMS // 10
    Label.objects.filter(item__project=project).update(rationale="read again")  # no key moves
    _assert_every_counter(project)
    with connection.cursor() as cursor:
        cursor.execute("""
            UPDATE annotation_label l SET winner = CASE WHEN l.winner = 'A' THEN 'B' ELSE 'A' END,
                   created_at = l.created_at + interval '90 minutes', time_spent_ms = l.time_spent_ms + 1000
            FROM annotation_item it WHERE it.id = l.item_id AND it.project_id = %s AND l.item_id %% 3 = 0""",
                       [project.pk])
    _assert_every_counter(project)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM annotation_label l USING annotation_item it "
                       "WHERE it.id = l.item_id AND it.project_id = %s AND l.item_id %% 3 = 1", [project.pk])
        assert cursor.rowcount > N_ITEMS
    _assert_every_counter(project, deleted=True)


def test_no_trigger_statement_reads_a_transition_table_row_by_row():
    """The INSERT of 8,000 labels sets n_verdicts on 2,000 items, whose UPDATE moves none of the item counters' keys;
    then an UPDATE of every label moves none of the label counters' keys, and one moves some. Before migration 0016
    the triggers' checks read new_rows once per old row (2,000² and 8,000² pairs). One-row writes come first on the
    same connection, as on a long-lived worker: PL/pgSQL keeps the plans made for those 1-row transition tables."""
    project, annotators = _project()
    first = Item.objects.filter(project=project).first()
    Label.objects.create(item=first, annotator=annotators[0], kind="pairwise", winner="A")  # 1-row plans, cached
    Label.objects.filter(item=first).update(winner="B", time_spent_ms=5)
    Label.objects.filter(item=first).delete()
    with transaction.atomic():
        quadratic = _nested_tuplestore_joins(lambda: _insert_labels(project, annotators))
        quadratic += _nested_tuplestore_joins(
            lambda: Label.objects.filter(item__project=project).update(rationale="read again"))
        quadratic += _nested_tuplestore_joins(
            lambda: Label.objects.filter(item__project=project, annotator=annotators[1]).update(role="review"))
    assert quadratic == [], "\n\n".join(quadratic)
    _assert_every_counter(project)
