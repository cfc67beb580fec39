"""A database that is out of reach answers 503 + Retry-After (prefstudio/errors_http.py), on real PostgreSQL
failures: a connection whose backend the server terminated (what a restart does to open connections), and a
server that refuses connections (a closed port)."""
import socket
from collections.abc import Iterator

import psycopg
import pytest
from django.db import OperationalError, connection
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from prefstudio.errors_http import server_error
from annotation.services.accounts import api_token_get_or_create

pytestmark = pytest.mark.django_db(transaction=True)  # the test breaks its own connection: nothing to roll back


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # free, and nobody listens on it once this socket closes


@pytest.fixture
def database_down() -> Iterator[None]:
    """The default connection points at a port where no PostgreSQL listens, until the test ends."""
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(closed_port()))
    yield
    connection.close()
    connection.settings_dict.clear()
    connection.settings_dict.update(saved)


def terminate_own_backend() -> None:
    """pg_terminate_backend on the test's own connection, from a second one: what a server restart does."""
    pid = connection.cursor().connection.info.backend_pid
    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"],
                         password=db["PASSWORD"] or None, dbname=db["NAME"], autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]


def test_an_api_request_while_the_database_refuses_connections_is_a_json_503(user, settings, database_down):
    settings.DB_UNAVAILABLE_RETRY_AFTER_SECONDS = 7
    response = APIClient().get("/api/projects/", HTTP_AUTHORIZATION="Token 0123456789abcdef")
    assert response.status_code == 503 and response["Retry-After"] == "7"
    assert response.json() == {"error": "the database is unavailable for a moment: retry after a few seconds",
                               "field": None, "details": []}


def test_a_label_submit_after_a_database_restart_is_a_503_not_a_500(user):
    key = api_token_get_or_create(user=user)
    terminate_own_backend()
    response = APIClient().post("/api/projects/", {"slug": "x", "name": "X"}, format="json",
                                HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 503 and int(response["Retry-After"]) > 0
    assert response.json()["error"].startswith("the database is unavailable")
    connection.close()  # what Django does at the end of a request with a broken connection
    assert APIClient().get("/api/projects/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200  # back


def test_a_page_after_a_database_restart_is_a_styled_503(user, client):
    client.force_login(user)
    terminate_own_backend()
    response = client.get("/")
    assert response.status_code == 503 and response["Retry-After"] == "5"
    html = response.content.decode()
    assert "<h1>Unavailable for a moment</h1>" in html and "css/app.css" in html
    connection.close()
    assert client.get("/").status_code == 200


def test_an_outage_outside_any_view_reaches_handler500_which_answers_503_too():
    """Django calls handler500 while it handles the exception (a middleware's, say): sys.exc_info() is set."""
    for path, kind in (("/api/items/", "application/json"), ("/projects/", "text/html")):
        try:
            raise OperationalError("connection refused")
        except OperationalError:
            response = server_error(RequestFactory().get(path))
        assert response.status_code == 503 and response["Content-Type"].startswith(kind)
    plain = server_error(RequestFactory().get("/api/items/"))  # no exception: an ordinary 500
    assert plain.status_code == 500


def test_errors_that_are_the_requests_fault_stay_4xx(user, client):
    """Only the database being out of reach is a 503: a bad request is still a 4xx, a missing page a 404."""
    key = api_token_get_or_create(user=user)
    assert APIClient().get("/api/items/?state=bogus", HTTP_AUTHORIZATION=f"Token {key}").status_code == 400
    assert Client().get("/api/nothing-here/").status_code == 404
