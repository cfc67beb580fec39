"""The lean path of next / submit for token requests (annotation/api/hot.py): the token checked in the statement
that does the work (a revoked token stops working at once), the same bodies as the DRF serializers, and the DRF
path for everything it leaves to DRF (session requests, values to coerce or refuse)."""
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.api.hot import lease_body, plain_label
from annotation.api.queue import LeaseSerializer
from annotation.api.serializers import LabelSerializer
from annotation.models import Assignment, AssignmentStatus, Label
from annotation.selectors.identities import AnnotatorNames
from annotation.selectors.labeling import lease_for_user, queue_status
from annotation.services.accounts import api_token_get_or_create, api_tokens_revoke
from tests.annotation.dataset_factory import pairwise_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def loop(make_user):
    project = pairwise_project(slug="hot", n_items=4, overlap=2)
    ada = make_user("ada", project=project, role="annotator")
    return project, ada


def _token_client(user) -> tuple[APIClient, str]:
    key = api_token_get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client, key


def test_next_and_submit_cost_three_statements_with_the_token_checked_inside(loop):
    project, ada = loop
    client, _ = _token_client(ada)
    first = client.post(f"/api/projects/{project.slug}/next/").json()  # first use creates ada's annotator
    client.post(f"/api/assignments/{first['assignment']}/submit/", {"winner": "A"}, format="json")
    with CaptureQueriesContext(connection) as queries:
        lease = client.post(f"/api/projects/{project.slug}/next/")
        label = client.post(f"/api/assignments/{lease.json()['assignment']}/submit/",
                            {"winner": "B", "strength": 1, "idempotency_key": "k1"}, format="json")
    assert (lease.status_code, label.status_code) == (200, 201), label.content
    sql = [q["sql"] for q in queries.captured_queries]
    assert len(sql) == 3, "\n".join(sql)
    assert "ps_queue_next_for_token" in sql[0] and "authtoken_token" in sql[1] and "ps_label_submit" in sql[2]
    assert Label.objects.get(pk=label.json()["id"]).winner == "B"


def test_the_hot_statements_are_prepared_once_per_connection_and_keep_a_generic_plan(make_user):
    """annotation/db.py: the three statements are prepared on the server (parsed and planned once per connection),
    and PostgreSQL settles on a generic plan for each (custom planning on every call was the cost removed)."""
    project = pairwise_project(slug="hot-eight", n_items=8, overlap=1)
    client, _ = _token_client(make_user("ada", project=project, role="annotator"))
    for _ in range(8):
        lease = client.post(f"/api/projects/{project.slug}/next/").json()
        assert client.post(f"/api/assignments/{lease['assignment']}/submit/", {"winner": "A"},
                           format="json").status_code == 201
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
        prepared = {sql.split(" FROM ")[1].split("(")[0] if "ps_" in sql else "lease": (generic, custom)
                    for sql, generic, custom in cursor.fetchall()}
    assert set(prepared) >= {"ps_queue_next_for_token", "lease", "ps_label_submit"}, prepared
    assert all(generic > 0 and custom <= 5 for generic, custom in prepared.values()), prepared


@pytest.mark.parametrize("table", ["annotation_assignment", "annotation_label", "annotation_queueslot"])
def test_no_index_a_label_writes_is_covered_by_another(table):
    """Every lease and submit writes each index of these tables: none may be a plain index on columns another
    index of the table leads with (migration 0019 dropped two on the assignments)."""
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT i.indexrelid::regclass::text, i.indisunique, i.indpred IS NOT NULL,
                   array(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(n, o)
                         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o)
            FROM pg_index i WHERE i.indrelid = %s::regclass""", [table])
        indexes = cursor.fetchall()
    assert len(indexes) >= 3, indexes
    covered = [(name, columns) for name, unique, partial, columns in indexes if not unique and not partial
               if any(other != name and not other_partial and other_columns[:len(columns)] == columns
                      for other, _, other_partial, other_columns in indexes)]
    assert covered == []


def test_a_submit_updates_its_item_once_and_counts_its_verdict(loop, make_user):
    """ps_label_submit sets the item's verdict count with its other counters, so the label trigger's recount
    (annotation_item_verdicts_refresh) leaves the item alone: one item update per submit, the count still exact."""
    from annotation.models import Item

    project, ada = loop
    bob = make_user("bob", project=project, role="annotator")
    labeled = []
    for user, winner in ((ada, "A"), (bob, "B")):
        client, _ = _token_client(user)
        lease = client.post(f"/api/projects/{project.slug}/next/").json()
        with connection.cursor() as cursor:
            cursor.execute("SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'annotation_item'")
            before = cursor.fetchone()[0]
        assert client.post(f"/api/assignments/{lease['assignment']}/submit/", {"winner": winner},
                           format="json").status_code == 201
        with connection.cursor() as cursor:
            cursor.execute("SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'annotation_item'")
            assert cursor.fetchone()[0] - before == 1
        labeled.append(lease["item"]["id"])
    assert labeled[0] == labeled[1]  # started items first: bob got ada's item
    item = Item.objects.get(pk=labeled[0])
    assert (item.n_human_labels, item.n_verdicts, item.n_leases, item.state) == (2, 2, 0, "labeled")


def test_the_first_middleware_answers_with_the_headers_and_bodies_of_the_whole_chain(loop, make_user, settings):
    """HotPathMiddleware answers token next / submit before the other middlewares: every header and the body are
    those of the same request through the whole chain (the middleware left out), for a lease, a label, nothing left
    and a domain error; and its path patterns are the URLconf's."""
    from django.urls import reverse

    from annotation.api.hot import _NEXT_PATH, _SUBMIT_PATH

    assert _NEXT_PATH.fullmatch(reverse("api-project-next", kwargs={"slug": "a-b_9"}))
    assert _SUBMIT_PATH.fullmatch(reverse("api-assignment-submit", kwargs={"pk": 12}))
    assert not _NEXT_PATH.fullmatch("/api/projects/x/next/y/") and not _SUBMIT_PATH.fullmatch("/api/assignments/1/")

    def run(user, chain):
        settings.MIDDLEWARE = chain
        client, _ = _token_client(user)
        answers = []
        lease = client.post(f"/api/projects/{project.slug}/next/")
        answers.append(lease)
        body = {"winner": "A", "idempotency_key": f"key-{user.username}"}
        answers.append(client.post(f"/api/assignments/{lease.json()['assignment']}/submit/", body, format="json"))
        answers.append(client.post(f"/api/assignments/{lease.json()['assignment']}/submit/", {"winner": "B"},
                                   format="json"))  # the lease is over: 409
        # SessionMiddleware sets request.session: only the whole chain ran it
        assert {hasattr(a.wsgi_request, "session") for a in answers} == {chain is not full}
        return [(a.status_code, sorted((k, v) for k, v in a.items() if k != "Date"), a.content) for a in answers]

    project, ada = loop
    full = list(settings.MIDDLEWARE)
    assert full[0] == "annotation.api.hot.HotPathMiddleware"
    fast = run(ada, full)
    with CaptureQueriesContext(connection):  # (the chain's answers, for the same kind of user and requests)
        chain = run(make_user("bob", project=project, role="annotator"), full[1:])
    assert [s for s, _, _ in fast] == [200, 201, 409]
    for (status, headers, content), (status2, headers2, content2) in zip(fast, chain):
        assert headers == headers2 and status == status2
        assert "Content-Security-Policy" in dict(headers) and dict(headers)["X-Frame-Options"] == "DENY"
    fast_body, chain_body = json.loads(fast[0][2]), json.loads(chain[0][2])
    assert fast_body["item"] == chain_body["item"] or fast_body.keys() == chain_body.keys()
    assert fast[2][2] == chain[2][2]


def test_the_first_middleware_leaves_to_the_chain_what_it_does_not_answer(loop, settings):
    """An HTTPS redirect due, a body for DRF's path and a session request go through the whole chain."""
    project, ada = loop
    client, _ = _token_client(ada)
    lease = client.post(f"/api/projects/{project.slug}/next/").json()
    coerced = client.post(f"/api/assignments/{lease['assignment']}/submit/", {"winner": "A", "strength": "1"},
                          format="json")  # a value DRF coerces: its path, which stores the label
    assert coerced.status_code == 201 and coerced.json()["strength"] == 1
    bad = client.post(f"/api/assignments/{lease['assignment']}/submit/", "{not json", content_type="application/json")
    assert bad.status_code == 400 and "JSON" in bad.json()["error"]
    session = APIClient()
    session.force_login(ada)
    assert session.post(f"/api/projects/{project.slug}/next/").status_code in (200, 204)
    settings.SECURE_SSL_REDIRECT = True
    client, _ = _token_client(ada)  # (a new client: the middlewares read the setting when they are loaded)
    redirected = client.post(f"/api/projects/{project.slug}/next/")
    assert redirected.status_code == 301 and redirected["Location"].startswith("https://")


@pytest.mark.django_db(transaction=True)
def test_a_lease_taken_on_its_own_commits_without_the_flush_and_nothing_else_does(make_user, settings):
    """services.labeling._lease_statement: `next` in autocommit sets synchronous_commit off for its own transaction
    only (the session's setting is unchanged after it); inside transaction.atomic, or with the setting off, the
    statement is the plain one; the submit never changes it. The lease is there either way."""
    from django.db import transaction

    from annotation.services.labeling import queue_next_for_token

    project = pairwise_project(slug="async", n_items=4, overlap=1)
    ada = make_user("ada", project=project, role="annotator")
    client, key = _token_client(ada)

    def next_sql():
        with CaptureQueriesContext(connection) as queries:
            lease = queue_next_for_token(key=key, slug=project.slug)
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "on"
        assert Assignment.objects.filter(pk=lease["assignment"], status="active").exists()
        return queries.captured_queries[0]["sql"]

    assert "synchronous_commit" in next_sql()
    submit = client.post(f"/api/assignments/{Assignment.objects.get().pk}/submit/", {"winner": "A"}, format="json")
    assert submit.status_code == 201
    with transaction.atomic():
        assert "synchronous_commit" not in next_sql()
    Assignment.objects.filter(status="active").update(status="skipped")
    settings.QUEUE_ASYNC_LEASE_COMMIT = False
    assert "synchronous_commit" not in next_sql()
    # What the statement does to its transaction, seen from inside one: the commit will not wait for the flush.
    from annotation.services.labeling import _NEXT_FOR_TOKEN_SQL, _with_async_commit

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_with_async_commit(_NEXT_FOR_TOKEN_SQL),
                       [key, project.slug, timezone.now(), timezone.now() - timedelta(days=1)])
        assert cursor.fetchone()[1] == "ok"
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "off"
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"


def test_a_revoked_token_stops_working_at_once(loop):
    project, ada = loop
    client, _ = _token_client(ada)
    lease = client.post(f"/api/projects/{project.slug}/next/").json()
    api_tokens_revoke(user=ada)
    refused = client.post(f"/api/projects/{project.slug}/next/")
    assert refused.status_code == 401 and refused.json()["error"] == "Invalid token."
    submit = client.post(f"/api/assignments/{lease['assignment']}/submit/", {"winner": "A"}, format="json")
    assert submit.status_code == 401
    assert not Label.objects.exists() and Assignment.objects.get(pk=lease["assignment"]).status == "active"


def test_an_expired_token_or_an_inactive_user_is_refused(loop, settings):
    project, ada = loop
    client, key = _token_client(ada)
    lease = client.post(f"/api/projects/{project.slug}/next/").json()
    Token.objects.filter(key=key).update(created=timezone.now() - settings.API_TOKEN_MAX_AGE - timedelta(seconds=1))
    expired = client.post(f"/api/assignments/{lease['assignment']}/submit/", {"winner": "A"}, format="json")
    assert expired.status_code == 401 and expired.json()["error"].startswith("token expired")
    client, _ = _token_client(ada)  # a new token...
    ada.is_active = False  # ...of a user an admin deactivated
    ada.save(update_fields=["is_active"])
    assert client.post(f"/api/projects/{project.slug}/next/").status_code == 401
    assert client.post(f"/api/assignments/{lease['assignment']}/submit/", {"winner": "A"},
                       format="json").status_code == 401
    assert not Label.objects.exists()


def test_another_users_token_gets_404_for_the_lease(loop, make_user):
    project, ada = loop
    bob = make_user("bob", project=project, role="annotator")
    lease = _token_client(ada)[0].post(f"/api/projects/{project.slug}/next/").json()
    response = _token_client(bob)[0].post(f"/api/assignments/{lease['assignment']}/submit/", {"winner": "A"},
                                          format="json")
    assert response.status_code == 404 and response.json()["field"] == "assignment"
    assert not Label.objects.exists()


def test_the_bodies_are_the_serializers(loop):
    """next's body is LeaseSerializer's, submit's is LabelSerializer's, for the same rows."""
    project, ada = loop
    client, _ = _token_client(ada)
    body = client.post(f"/api/projects/{project.slug}/next/").json()
    lease = lease_for_user(user=ada, assignment_id=body["assignment"])
    status = queue_status(project=project, annotator=lease.annotator)
    drf = LeaseSerializer({"lease": lease, "queue": {"mine_left": body["queue"]["mine_left"],
                                                     "mine_done": status.mine_done,
                                                     "project_left": status.project_left}}).data
    assert body == json.loads(json.dumps(drf))
    label = client.post(f"/api/assignments/{body['assignment']}/submit/",
                        {"winner": "tie", "strength": 2, "aspects": {}, "rationale": "é \u2028 ok",
                         "shown_order": [1, 0], "time_spent_ms": 1200, "idempotency_key": "same"}, format="json")
    stored = Label.objects.select_related("item__project", "annotator").get(pk=label.json()["id"])
    names = AnnotatorNames(project_id=project.pk, visible=True, viewer_user_id=ada.pk,
                           shown={stored.annotator_id: stored.annotator.name})
    expected = json.loads(json.dumps(LabelSerializer(stored, context={"annotator_names": {project.pk: names}}).data))
    assert label.json() == expected
    replay = client.post(f"/api/assignments/{body['assignment']}/submit/",
                         {"winner": "tie", "strength": 2, "idempotency_key": "same"}, format="json")
    assert replay.status_code == 201 and replay.json() == expected and Label.objects.count() == 1


def test_values_drf_would_coerce_or_refuse_take_the_drf_path(loop):
    project, ada = loop
    client, _ = _token_client(ada)
    lease = client.post(f"/api/projects/{project.slug}/next/").json()["assignment"]
    bad = client.post(f"/api/assignments/{lease}/submit/", {"winner": "C"}, format="json")
    assert bad.status_code == 400 and bad.json()["field"] == "winner" and not Label.objects.exists()
    null = client.post(f"/api/assignments/{lease}/submit/", {"winner": "A", "strength": None}, format="json")
    assert null.status_code == 400 and null.json()["field"] == "strength"
    coerced = client.post(f"/api/assignments/{lease}/submit/", {"winner": "A", "strength": "2"}, format="json")
    assert coerced.status_code == 201 and Label.objects.get().strength == 2


@pytest.mark.parametrize("data", [
    {"winner": "A", "strength": True}, {"winner": "A", "idempotency_key": " k "}, {"winner": "A", "rationale": "\x00"},
    {"ranking": [[0], [1]]}, {"winner": "A", "shown_order": [0, 16]}, ["winner"],
])
def test_plain_label_leaves_to_drf_what_drf_would_change_or_refuse(data):
    assert plain_label(data) is None


def test_plain_label_passes_plain_values_and_drops_unknown_keys():
    assert plain_label({"winner": "A", "strength": 3, "extra": 1}) == {"winner": "A", "strength": 3}


def test_a_session_request_keeps_drfs_csrf_check(loop):
    project, ada = loop
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(ada)
    refused = client.post(f"/api/projects/{project.slug}/next/")
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]
    assert not Assignment.objects.filter(status=AssignmentStatus.ACTIVE).exists()


def test_lease_body_shapes_messages_as_the_serializer():
    messages = [{"role": "user", "content": 5, "name": "n"}]  # a key the serializer drops, a value it makes a str
    lease = {"assignment": 1, "project": "p", "status": "active", "expires_at": timezone.now(), "queue": {},
             "item": {"id": 2, "external_id": "x", "kind": "pairwise", "responses": [],
                      "prompt": {"id": 3, "external_id": "y", "messages": messages}}}
    assert lease_body(lease)["item"]["prompt"]["messages"] == [{"role": "user", "content": "5"}]
