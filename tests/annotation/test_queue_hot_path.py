"""The labeling loop's hot path (issue 13, items 2 and 3): what next + submit cost in SQL statements over REST with
token authentication, and that `next` walks an index (LIMIT, no sort) whatever the project's size.

Behaviour, not time: statements are counted with CaptureQueriesContext and plans read with EXPLAIN, so a regression
(an ORM query slipped back in, a sort over the items) fails here whatever the machine's load.
"""
import re
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.models import Annotator, AnnotatorKind, Assignment, Item, Label, Project, QueueSlot
from annotation.services.labeling import queue_next
from tests.annotation.dataset_factory import pairwise_project

pytestmark = pytest.mark.django_db
QUEUE_SQL = (Path(__file__).resolve().parents[2] / "annotation" / "sql" / "queue.sql").read_text()
MAX_STATEMENTS = 3  # next + submit, authentication included (issue 13 asks at most 6; the token path does 3)


def _project(slug: str = "loop", n_items: int = 6, overlap: int = 2) -> Project:
    return pairwise_project(slug=slug, n_items=n_items, overlap=overlap)


def test_next_and_submit_over_rest_with_a_token_cost_at_most_six_statements(api, make_user):
    project = _project()
    ada = make_user("ada", project=project, role="annotator")
    client = api(ada)
    client.post(f"/api/projects/{project.slug}/next/")  # first use creates ada's annotator (not the loop's cost)
    first = Assignment.objects.get(annotator__user=ada)
    client.post(f"/api/assignments/{first.pk}/submit/", {"winner": "A"}, format="json")

    for round_ in range(3):  # the steady state: each round is one label
        with CaptureQueriesContext(connection) as queries:
            lease = client.post(f"/api/projects/{project.slug}/next/")
            assert lease.status_code == 200, lease.content
            body = lease.json()
            label = client.post(f"/api/assignments/{body['assignment']}/submit/",
                                {"winner": "B", "strength": 2, "shown_order": [1, 0], "idempotency_key": f"k{round_}"},
                                format="json")
            assert label.status_code == 201, label.content
        sql = [q["sql"] for q in queries.captured_queries]
        assert len(sql) <= MAX_STATEMENTS, "\n".join(sql)
        # ...and they did the work: the label is stored on the leased item, the lease released, counters moved.
        stored = Label.objects.get(pk=label.json()["id"])
        assert (stored.item_id, stored.winner, stored.strength, stored.annotator.user) == (
            body["item"]["id"], "B", 2, ada)
        assert Assignment.objects.get(pk=body["assignment"]).status == "submitted"
        assert Item.objects.get(pk=body["item"]["id"]).n_human_labels == 1
        assert label.json()["annotator"] == "ada" and label.json()["project"] == project.slug
    assert body["queue"]["mine_done"] == 3  # kept on write, read in the same statement as the lease


def test_rest_next_answers_as_before_for_non_members_and_when_done(api, make_user, other_user):
    project = _project(n_items=1, overlap=1)
    ada = make_user("ada", project=project, role="annotator")
    outsider = api(other_user).post(f"/api/projects/{project.slug}/next/")
    assert outsider.status_code == 404 and project.slug in outsider.content.decode()
    client = api(ada)
    lease = client.post(f"/api/projects/{project.slug}/next/").json()
    assert client.post(f"/api/assignments/{lease['assignment']}/submit/", {"winner": "tie"}).status_code == 201
    assert client.post(f"/api/projects/{project.slug}/next/").status_code == 204
    # Someone else's lease is not found, whether it exists or not.
    assert api(other_user).post(f"/api/assignments/{lease['assignment']}/submit/", {"winner": "A"}).status_code == 404


PAGE_STATEMENTS = 8  # task page + its submit (which takes the next item): 2 + 2 for the session and the user


def test_the_task_page_and_its_submit_cost_at_most_eight_statements(client, make_user):
    """The browser's loop (issue 13 item 4): GET the task page, POST its form; the redirect names the next lease."""
    project = _project()
    ada = make_user("ada", project=project, role="annotator")
    client.force_login(ada)
    url = client.post(f"/projects/{project.slug}/label/next/")["Location"]
    for round_ in range(2):
        with CaptureQueriesContext(connection) as queries:
            page = client.get(url)
            assert page.status_code == 200 and b'id="label-form"' in page.content
            lease_id = int(url.rstrip("/").split("/")[-1])
            done = client.post(url + "submit/", {"winner": "A", "idempotency_key": f"page{round_}"})
            assert done.status_code == 302, done.content
        sql = [q["sql"] for q in queries.captured_queries]
        assert len(sql) <= PAGE_STATEMENTS, "\n".join(sql)
        assert Label.objects.get(idempotency_key=f"page{round_}").item_id == Assignment.objects.get(pk=lease_id).item_id
        assert Assignment.objects.get(pk=lease_id).status == "submitted"
        url = done["Location"]
        assert url != f"/projects/{project.slug}/label/{lease_id}/" and "/label/" in url


HTMX_STATEMENTS = 5  # the session, the user, the lease (lease_page), the label, the next lease with its page


def test_the_htmx_submit_answers_with_the_next_page_in_at_most_five_statements(client, make_user):
    """The browser's loop with JavaScript (issue 13 item 4): one request per label, the label form's hx-post, whose
    answer is the next task page (HX-Push-Url names it): session and user included, nothing re-read."""
    project = _project()
    ada = make_user("ada", project=project, role="annotator")
    client.force_login(ada)
    url = client.post(f"/projects/{project.slug}/label/next/")["Location"]
    assert client.get(url).status_code == 200  # the first page, loaded as a whole
    for round_ in range(3):
        lease_id = int(url.rstrip("/").split("/")[-1])
        with CaptureQueriesContext(connection) as queries:
            done = client.post(url + "submit/", {"winner": "B", "strength": "", "idempotency_key": f"hx{round_}"},
                               headers={"HX-Request": "true"})
            assert done.status_code == 200, done.content
        sql = [q["sql"] for q in queries.captured_queries]
        assert len(sql) <= HTMX_STATEMENTS, "\n".join(sql)
        # ...and they did the work: the label on the leased item, the lease released, the next one taken and shown.
        label = Label.objects.get(idempotency_key=f"hx{round_}")
        assert (label.item_id, label.winner) == (Assignment.objects.get(pk=lease_id).item_id, "B")
        assert Assignment.objects.get(pk=lease_id).status == "submitted"
        url = done["HX-Push-Url"]
        following = Assignment.objects.get(pk=int(url.rstrip("/").split("/")[-1]))
        assert (following.status, following.annotator.user) == ("active", ada) and following.pk != lease_id
        html = done.content.decode()
        assert f'hx-post="{url}submit/"' in html and following.item.prompt.messages[0]["content"] in html
        assert f"Item <strong>{round_ + 2}</strong>" in html  # the counters, read with the next lease


def _walk(name: str, *, project_id: int, annotator_id: int) -> str:
    """The statement marked `-- walk:<name>` in annotation/sql/queue.sql, with its variables bound."""
    block = QUEUE_SQL.split(f"-- walk:{name}", 1)[1].split("\n", 1)[1]
    statement = block[: block.index(";")].replace(" INTO s", "")
    statement = re.sub(r"\bp_project\b", str(project_id), statement)
    statement = re.sub(r"\bp_annotator\b", str(annotator_id), statement)
    return re.sub(r"\bcur\b", "0", statement)


def _plan(statement: str) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement)
        return cursor.fetchone()[0][0]


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _bulk_project(slug: str, n_items: int) -> Project:
    """A project of n pairwise items written by SQL (the ORM would take minutes); the triggers make their slots."""
    project = _project(slug=slug, n_items=1, overlap=2)
    item = Item.objects.get(project=project)
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO annotation_item (project_id, prompt_id, external_id, kind, state, route, source, n_responses,
                   n_human_labels, n_judge_labels, n_leases, priority, metadata, created_at, updated_at)
               SELECT %s, %s, 'bulk-' || g, 'pairwise', 'new', 'pending', '', 2, 0, 0, 0, (g %% 7)::float, '{}',
                      now(), now()
               FROM generate_series(1, %s) g""",
            [project.pk, item.prompt_id, n_items - 1],
        )
        cursor.execute("ANALYZE annotation_queueslot")
    return project


@pytest.mark.parametrize("started", [False, True], ids=["fresh", "started"])
def test_next_walks_an_index_with_limit_whatever_the_project_size(started):
    """EXPLAIN of the walk: an index scan of the slot table under LIMIT, no Sort node, and the same pages read for a
    project of 200 and of 20,000 items (the cost of `next` does not grow with the project)."""
    annotator = Annotator.objects.create(name="walker", kind=AnnotatorKind.HUMAN)
    other = Annotator.objects.create(name="starter", kind=AnnotatorKind.HUMAN)
    reads = {}
    for n_items in (200, 20_000):
        project = _bulk_project(f"size-{n_items}", n_items)
        if started:  # someone took a slot of most items: their other slot is in the started part
            for _ in range(min(n_items, 150)):
                assert queue_next(project=project, annotator=other) is not None
                # Not theirs again, slot still held: the item stays started (a stand-in for a label in progress).
                Assignment.objects.filter(annotator=other, status="active").update(status="skipped")
        name = "started" if started else "fresh"
        plan = _plan(_walk(name, project_id=project.pk, annotator_id=annotator.pk))["Plan"]
        nodes = list(_nodes(plan))
        kinds = [node["Node Type"] for node in nodes]
        assert kinds[0] == "Limit", kinds
        assert "Sort" not in kinds and "Seq Scan" not in [n["Node Type"] for n in nodes
                                                          if n.get("Relation Name") == "annotation_queueslot"], kinds
        scans = [n for n in nodes if n.get("Relation Name") == "annotation_queueslot"]
        assert scans and scans[0]["Node Type"] == "Index Scan"
        assert scans[0]["Index Name"] == ("queueslot_started_idx" if started else "queueslot_fresh_idx")
        assert scans[0]["Actual Rows"] == 1  # it stopped at the first slot it may take
        reads[n_items] = sum(n.get("Shared Hit Blocks", 0) + n.get("Shared Read Blocks", 0) for n in nodes[:1])
    assert QueueSlot.objects.filter(project__slug="size-20000").count() > 39_000
    assert reads[20_000] <= reads[200] + 3, reads  # pages touched: flat in the project's size (an index descent)


def test_an_annotator_alone_does_not_walk_the_items_they_labeled_again(api, make_user):
    """Each label leaves the item's other slot started (overlap 2), after the annotator's cursor but never theirs to
    take. `next` moves the cursor past such slots, so the started walk of the next call starts after them; before,
    the cursor stayed put and every call re-read every item the annotator had labeled (issue 13: an annotator alone
    on a project paid a walk that grew with their labels)."""
    project = _project(slug="alone", n_items=30, overlap=2)
    ada = make_user("ada", project=project, role="annotator")
    client = api(ada)
    for round_ in range(20):
        lease = client.post(f"/api/projects/{project.slug}/next/")
        assert lease.status_code == 200, lease.content
        label = client.post(f"/api/assignments/{lease.json()['assignment']}/submit/", {"winner": "A"}, format="json")
        assert label.status_code == 201, label.content
    annotator = Annotator.objects.get(user=ada)
    started = QueueSlot.objects.filter(project=project, started_seq__isnull=False)
    assert started.count() == 20  # one started slot per labeled item, all on ada's items
    with connection.cursor() as cursor:
        cursor.execute("SELECT started_seq FROM annotation_queuecursor WHERE annotator_id = %s AND project_id = %s",
                       [annotator.pk, project.pk])
        (cursor_seq,) = cursor.fetchone()
    seqs = sorted(started.values_list("started_seq", flat=True))
    # The last call saw every slot but the newest (the one its own lease started): the cursor is past all of them.
    assert cursor_seq >= seqs[-2], (cursor_seq, seqs)
    plan = _plan(_walk("started", project_id=project.pk, annotator_id=annotator.pk).replace(
        "q.started_seq > 0", f"q.started_seq > {cursor_seq}"))["Plan"]
    scans = [n for n in _nodes(plan) if n.get("Relation Name") == "annotation_queueslot"]
    assert scans[0]["Actual Rows"] + scans[0].get("Rows Removed by Filter", 0) <= 1  # not the 20 labeled items
    # Another annotator still gets those started items first (started items first holds).
    bob = make_user("bob", project=project, role="annotator")
    lease = api(bob).post(f"/api/projects/{project.slug}/next/").json()
    assert Label.objects.filter(item_id=lease["item"]["id"], annotator=annotator).exists()
