"""/api/projects/{slug}/review/ and /api/items/{id}/resolve/: the queue, resolving, and who may."""
import pytest

from annotation.models import ItemState, Label, LabelRole
from tests.annotation.review_data import IN_QUEUE, item, review_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(user):
    return review_project(owner=user)


@pytest.fixture
def rita(project, make_user):
    return make_user("rita", project=project, role="reviewer")


def _resolve(client, target, payload):
    return client.post(f"/api/items/{target.pk}/resolve/", payload, format="json")


def test_the_queue_lists_items_with_their_reasons(api, project, rita):
    response = api(rita).get("/api/projects/rev/review/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == len(IN_QUEUE)
    entries = {e["item"]["external_id"]: e for e in body["results"]}
    assert set(entries) == IN_QUEUE
    assert entries["split"]["reasons"] == [{"code": "disagreement", "label": "Disagreement", "detail": "A ×1 · B ×1"}]
    assert entries["flagged"]["reasons"][0]["code"] == "flag"
    assert entries["split"]["item"]["n_human_labels"] == 2 and entries["split"]["item"]["state"] == "labeled"


def test_resolving_returns_the_review_label_and_the_item_leaves_the_queue(api, project, rita):
    client = api(rita)
    split = item(project, "split")
    response = _resolve(client, split, {"winner": "B", "strength": 1, "note": "B is *what the user wanted*."})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["role"], body["winner"], body["strength"], body["annotator"]) == ("review", "B", 1, "rita")
    assert body["rationale"] == "B is *what the user wanted*."
    assert Label.objects.get(pk=body["id"]).role == LabelRole.REVIEW
    split.refresh_from_db()
    assert split.state == ItemState.FINAL
    queue = client.get("/api/projects/rev/review/").json()
    assert {e["item"]["external_id"] for e in queue["results"]} == IN_QUEUE - {"split"}


def test_resolving_twice_is_a_409(api, project, rita, user):
    split = item(project, "split")
    assert _resolve(api(rita), split, {"winner": "A", "note": "first"}).status_code == 201
    response = _resolve(api(user), split, {"winner": "B", "note": "second"})
    assert response.status_code == 409
    assert response.json() == {"error": f"item {split.pk} is already final", "field": "item", "details": []}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"winner": "A"}, "note"),
        ({"winner": "A", "note": ""}, "note"),
        ({"note": "why"}, "winner"),
        ({"winner": "A", "strength": 4, "note": "why"}, "strength"),
        ({"winner": "A", "ranking": [[0], [1]], "note": "why"}, "ranking"),
    ],
)
def test_a_bad_resolution_is_a_400_naming_the_field(api, project, rita, payload, field):
    response = _resolve(api(rita), item(project, "split"), payload)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert item(project, "split").state == ItemState.LABELED


def test_annotators_get_403_and_outsiders_404(api, project, make_user):
    ada = make_user("ada", project=project, role="annotator")
    zed = make_user("zed")
    assert api(ada).get("/api/projects/rev/review/").status_code == 403
    assert api(zed).get("/api/projects/rev/review/").status_code == 404
    assert _resolve(api(ada), item(project, "split"), {"winner": "A", "note": "x"}).status_code == 403
    assert _resolve(api(zed), item(project, "split"), {"winner": "A", "note": "x"}).status_code == 404
    assert api().get("/api/projects/rev/review/").status_code == 401
    assert not Label.objects.filter(role=LabelRole.REVIEW).exists()
