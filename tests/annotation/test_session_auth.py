"""The session and its user read by prepared statements (annotation/session_auth.py): the same user as Django's
ModelBackend reads, the same refusals (expired or deleted session, inactive user, changed password), and the
statements prepared on the server."""
from datetime import timedelta

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, get_user_model
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotation.session_auth import ModelBackend, SessionStore

pytestmark = pytest.mark.django_db

PAGE = "/"  # the project list: a page for logged-in users only (login_required)


@pytest.fixture
def ada(make_user, client):
    person = make_user("ada")
    person.first_name, person.email, person.last_login = "Ada", "ada@example.org", timezone.now()
    person.save()
    client.force_login(person)
    return person


def _fields(user) -> dict:
    return {f.attname: getattr(user, f.attname) for f in get_user_model()._meta.concrete_fields}


def test_the_user_read_is_the_one_djangos_backend_reads(ada):
    ours = ModelBackend().get_user(str(ada.pk))  # the session keeps the id as text
    assert type(ours) is get_user_model() and ours._state.adding is False and ours._state.db == "default"
    assert _fields(ours) == _fields(DjangoModelBackend().get_user(ada.pk))
    assert ours.last_login.tzinfo is not None
    assert ModelBackend().get_user(str(ada.pk + 1000)) is None
    assert ModelBackend().get_user("not-a-number") is None


def test_an_inactive_user_is_refused_as_by_djangos_backend(ada, client):
    get_user_model().objects.filter(pk=ada.pk).update(is_active=False)
    assert ModelBackend().get_user(str(ada.pk)) is None
    response = client.get(PAGE)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_logged_in_page_reads_session_and_user_by_prepared_statements(ada, client):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(PAGE).status_code == 200
    session_sql, user_sql = (q["sql"] for q in queries.captured_queries[:2])
    assert session_sql.startswith("SELECT session_data, expire_date FROM django_session WHERE session_key = %s")
    assert user_sql.startswith('SELECT "id", "password"') and user_sql.endswith('WHERE "id" = %s')
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = {row[0] for row in cursor.fetchall()}
    assert any("FROM django_session WHERE session_key = $1" in s for s in prepared), prepared
    assert any('FROM "auth_user" WHERE "id" = $1' in s for s in prepared), prepared


def test_an_expired_or_deleted_session_is_logged_out(ada, client):
    key = client.cookies["sessionid"].value
    assert SessionStore(key).load()["_auth_user_id"] == str(ada.pk)
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    store = SessionStore(key)
    assert store.load() == {} and store.session_key is None  # as Django's: a new key when it is saved
    assert client.get(PAGE).status_code == 302
    client.force_login(ada)
    Session.objects.all().delete()
    assert client.get(PAGE).status_code == 302


def test_a_changed_password_ends_the_session(ada, client):
    assert client.get(PAGE).status_code == 200
    ada.set_password("another-long-password-1")
    ada.save()
    assert client.get(PAGE).status_code == 302


def test_without_prepared_statements_these_are_djangos_reads(ada, client, settings):
    settings.DB_PREPARE_HOT = False
    with CaptureQueriesContext(connection) as queries:
        assert client.get(PAGE).status_code == 200
    session_sql, user_sql = (q["sql"] for q in queries.captured_queries[:2])
    assert session_sql.startswith('SELECT "django_session"."session_key"')
    assert user_sql.startswith('SELECT "auth_user"."id"')


def test_a_session_naming_djangos_backend_stays_logged_in_and_is_saved_with_the_new_name(ada, client):
    """Sessions made before the switch name django.contrib.auth.backends.ModelBackend, which the settings no
    longer list: read as naming this module's backend, so nobody is logged out by the deploy."""
    key = client.cookies["sessionid"].value
    store = SessionStore(key)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store.save()
    assert client.get(PAGE).status_code == 200
    assert SessionStore(key).load()[BACKEND_SESSION_KEY] == "annotation.session_auth.ModelBackend"


def test_a_malformed_session_cookie_is_anonymous(ada, client):
    for key in ("short", "x" * 41 + "!", ""):
        client.cookies["sessionid"] = key
        assert client.get(PAGE).status_code == 302, key


def test_with_database_routers_these_are_djangos_reads(ada, client, settings):
    settings.DATABASE_ROUTERS = ["tests.annotation.test_session_auth.NoRouting"]
    with CaptureQueriesContext(connection) as queries:
        assert client.get(PAGE).status_code == 200
    assert queries.captured_queries[0]["sql"].startswith('SELECT "django_session"."session_key"')


class NoRouting:
    """A router with no opinion: its presence alone must turn the prepared reads off."""


@pytest.mark.django_db(transaction=True)
def test_a_dead_connection_is_replaced_before_the_session_read_when_health_checks_are_on(ada, client):
    """annotation.db.prepared_cursor runs Django's health check first, as Django's own cursors do."""
    connection.ensure_connection()
    connection.health_check_enabled, connection.health_check_done = True, False
    dead = connection.connection
    dead.close()  # as a PostgreSQL restart leaves a persistent connection
    assert client.get(PAGE).status_code == 200
    assert connection.connection is not dead and not connection.connection.closed
