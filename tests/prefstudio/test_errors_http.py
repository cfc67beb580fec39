"""One way from errors to HTTP (prefstudio/errors_http.py): the same table answers for pages (the styled error
page, its card alone for htmx) and for the API (the one JSON error shape), and a new domain error type needs only
its class."""
import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from annotation.services.projects import membership_set, project_create
from prefstudio.errors_http import STATUS, problem_for
from tests.prefstudio.error_urls import ERRORS, HOSTILE

# What each error of tests/prefstudio/error_urls.py must answer: (status, message, field).
EXPECTED = {
    "gone": (410, f"the item went away {HOSTILE}", "item"),
    "not-found": (404, "no project 'x' among yours", "slug"),
    "forbidden": (403, "only owners may do this", None),
    "conflict": (409, "the job has already finished", None),
    "too-large": (413, "the file is over 10 MB", "file"),
    "bad": (400, "steps must be positive", "steps"),
    "config": (400, "sampling.temperature: must be at least 0", "sampling.temperature"),
    "integrity": (409, "the request conflicts with existing data; reload and retry", None),
}
ESCAPED_HOSTILE = "&lt;script&gt;window.__pwned=1&lt;/script&gt;"


@pytest.mark.urls("tests.prefstudio.error_urls")
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_page_view_that_raises_gets_the_mapped_status_and_the_styled_error_page(name):
    status, message, _ = EXPECTED[name]
    response = Client().get("/page/", {"error": name})
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert html.startswith("<!doctype html>") and "css/app.css" in html and 'class="card narrow" id="error"' in html
    shown = message.replace("'", "&#x27;").replace(HOSTILE, ESCAPED_HOSTILE)
    assert f'<p role="alert">{shown}</p>' in html
    assert "<script>" not in html  # the error's text is escaped like any user text


@pytest.mark.urls("tests.prefstudio.error_urls")
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_an_api_view_that_raises_gets_the_mapped_status_and_the_json_error_shape(name):
    status, message, field = EXPECTED[name]
    response = APIClient().get("/api/raise/", {"error": name})
    assert response.status_code == status
    details = ["archived on Monday"] if name == "gone" else []
    assert response.json() == {"error": message, "field": field, "details": details}


@pytest.mark.urls("tests.prefstudio.error_urls")
def test_an_htmx_request_gets_the_error_card_alone_with_the_status():
    """htmx swaps no 4xx by default: the page around stays; the answer is the card, not a page in the page."""
    response = Client().get("/page/", {"error": "conflict"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 409
    assert html.strip().startswith('<div class="card narrow" id="error">') and "<html" not in html
    assert "the job has already finished" in html


@pytest.mark.urls("tests.prefstudio.error_urls")
def test_an_error_the_table_does_not_know_is_a_bug_and_is_not_turned_into_a_4xx():
    assert problem_for(ERRORS["bug"]()) is None
    with pytest.raises(ZeroDivisionError):
        Client().get("/page/", {"error": "bug"})
    with pytest.raises(ZeroDivisionError):
        APIClient().get("/api/raise/", {"error": "bug"})


def test_subclasses_come_before_their_bases_in_the_table():
    """First match wins: an entry may not be shadowed by an earlier entry for one of its bases."""
    for i, (types, _, _) in enumerate(STATUS):
        for earlier, _, _ in STATUS[:i]:
            for kind in types if isinstance(types, tuple) else (types,):
                assert not issubclass(kind, earlier), f"{kind.__name__} is shadowed by an earlier entry"


@pytest.mark.django_db
def test_the_app_pages_answer_the_selectors_errors_with_the_styled_page(client, user, other_user):
    """The real views: an outsider gets the 404 page naming what is missing, an annotator the 403 page; the
    htmx table of the review queue gets the card alone."""
    project = project_create(slug="mine", owner=user)
    client.force_login(other_user)
    outsider = client.get("/projects/mine/review/")
    assert outsider.status_code == 404
    assert "no project &#x27;mine&#x27; among yours" in outsider.content.decode()
    assert '<h1>Not found</h1>' in outsider.content.decode()
    membership_set(project=project, user=other_user, role="annotator")
    annotator = client.get("/projects/mine/review/")
    assert annotator.status_code == 403 and "<h1>Not allowed</h1>" in annotator.content.decode()
    assert "only owners and reviewers of project &#x27;mine&#x27; may see this" in annotator.content.decode()
    fragment = client.get("/projects/mine/review/", headers={"HX-Request": "true"})
    assert fragment.status_code == 403 and "<html" not in fragment.content.decode()


@pytest.mark.django_db
def test_urls_no_view_matches_get_the_styled_page_and_json_under_the_api(client, user):
    client.force_login(user)
    page = client.get("/no-such-page/")
    assert page.status_code == 404 and "<h1>Not found</h1>" in page.content.decode()
    assert "nothing at /no-such-page/" in page.content.decode()
    api = client.get("/api/no-such-endpoint/")
    assert api.status_code == 404
    assert json.loads(api.content) == {"error": "no API endpoint at /api/no-such-endpoint/", "field": None,
                                       "details": []}


@pytest.mark.django_db
def test_a_domain_error_from_a_real_api_view_keeps_the_json_shape(user, other_user):
    project_create(slug="mine", owner=user)
    client = APIClient()
    client.force_authenticate(other_user)
    response = client.get("/api/projects/mine/")
    assert response.status_code == 404
    assert response.json() == {"error": "no project 'mine' among yours", "field": "slug", "details": []}
