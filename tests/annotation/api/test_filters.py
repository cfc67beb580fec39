"""Choice filters of the list endpoints: an empty or unknown value is a 400 naming the allowed values."""
import pytest
from rest_framework.test import APIClient

from annotation.services.accounts import api_token_get_or_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_get_or_create(user=user)}")
    return client


@pytest.mark.parametrize(
    ("url", "field", "allowed"),
    [
        ("/api/items/?state=", "state", "new, judged, routed"),
        ("/api/items/?kind=", "kind", "pairwise, listwise, edit, thumbs"),
        ("/api/labels/?kind=", "kind", "pairwise"),
        ("/api/responses/?origin=", "origin", "human_edit"),
        ("/api/jobs/?state=", "state", "queued, running, succeeded, failed, cancelled"),
        ("/api/jobs/?kind=", "kind", "diagnostic"),
    ],
)
def test_an_empty_choice_is_a_400_not_every_row(api, url, field, allowed):
    response = api.get(url)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["field"] == field and body["error"].startswith(f"{field}: is empty: leave the parameter out")
    assert allowed in body["error"]


def test_an_unknown_choice_is_a_400_naming_the_allowed_values(api):
    body = api.get("/api/jobs/?state=runing").json()
    assert body == {"error": "state: 'runing' is not one of: queued, running, succeeded, failed, cancelled",
                    "field": "state", "details": ["state: 'runing' is not one of: queued, running, succeeded, "
                                                  "failed, cancelled"]}
    assert api.get("/api/items/?source=robots").json()["error"].startswith("source: 'robots' is not one of: none,")


def test_a_known_choice_filters_and_no_parameter_does_not(api):
    assert api.get("/api/jobs/?state=running").status_code == 200
    assert api.get("/api/jobs/").status_code == 200
    assert api.get("/api/items/?state=new&kind=pairwise").status_code == 200
