"""/api/items/{id}/labels/, /api/labels/, /api/projects/{slug}/labels/: create, idempotency, visibility."""
import re

import pytest

from annotation.models import Annotator, Assignment, AssignmentStatus, Label, Response

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(project, make_user):
    """A co-owner, who may label an item directly (people without a lease go through the queue), in a
    project that wants three human labels per item, so that the items already labeled take hers."""
    project.overlap = 3
    project.save(update_fields=["overlap"])
    return make_user("ada", project=project, role="owner")


def _post(client, item, payload):
    return client.post(f"/api/items/{item.pk}/labels/", payload, format="json")


def _take(client, item, slug="kinds"):
    """Lease `item` through the queue, as an annotator does: take the next item, skip it until it is `item`."""
    while True:
        lease = client.post(f"/api/projects/{slug}/next/")
        assert lease.status_code == 200, f"the queue never offered item {item.pk}"
        if lease.json()["item"]["id"] == item.pk:
            return lease.json()["assignment"]
        client.post(f"/api/assignments/{lease.json()['assignment']}/skip/", {"reason": "not this one"}, format="json")


@pytest.mark.parametrize(
    ("external_id", "payload", "expected"),
    [
        ("pair-2", {"winner": "B", "strength": 2, "aspects": {"helpfulness": "B"}, "rationale": "B answers"},
         {"winner": "B", "strength": 2, "aspects": {"helpfulness": "B"}, "rationale": "B answers"}),
        ("rank-1", {"ranking": [[1], [2], [0]], "shown_order": [2, 0, 1], "time_spent_ms": 9000},
         {"ranking": [[1], [2], [0]], "shown_order": [2, 0, 1], "time_spent_ms": 9000}),
        ("edit-1", {"edited_text": "He goes to the school."}, {"edited_text": "He goes to the school."}),
        ("thumb-1", {"thumbs": "up"}, {"thumbs_up": True, "winner": ""}),
    ],
)
def test_owners_label_every_kind_directly(api, ada, items, external_id, payload, expected):
    item = items[external_id]
    response = _post(api(ada), item, payload)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert {k: body[k] for k in expected} == expected
    assert (body["annotator"], body["annotator_kind"], body["kind"]) == ("ada", "human", item.kind)
    assert body["item"] == item.pk
    assert Label.objects.get(pk=body["id"]).annotator.user == ada
    item.refresh_from_db()
    assert item.n_human_labels >= 1 and item.state == "labeling"  # at overlap 3 it wants more


def test_retry_with_the_same_key_returns_the_same_label(api, ada, items):
    client = api(ada)
    first = _post(client, items["pair-2"], {"winner": "A", "idempotency_key": "retry-1"})
    again = _post(client, items["pair-2"], {"winner": "A", "idempotency_key": "retry-1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert Label.objects.filter(item=items["pair-2"]).count() == 1


def test_a_second_label_is_a_409(api, ada, items):
    client = api(ada)
    assert _post(client, items["pair-2"], {"winner": "A"}).status_code == 201
    response = _post(client, items["pair-2"], {"winner": "B"})
    assert response.status_code == 409
    expected = f"ada has already labeled item {items['pair-2'].pk}"
    assert response.json() == {"error": expected, "field": "item", "details": []}


@pytest.mark.parametrize(
    ("external_id", "payload", "field"),
    [
        ("pair-2", {}, "winner"),
        ("pair-2", {"winner": "left"}, "winner"),
        ("pair-2", {"winner": "A", "strength": 11}, "strength"),
        ("pair-2", {"winner": "A", "strength": 4}, "strength"),
        ("pair-2", {"winner": "A", "aspects": {"wit": "A"}}, "aspects"),
        ("pair-2", {"winner": "A", "aspects": {"honesty": "C"}}, "aspects.honesty"),
        ("pair-2", {"winner": "A", "thumbs": "up"}, "thumbs"),
        ("pair-2", {"winner": "A", "shown_order": [0, 5]}, "shown_order"),
        ("pair-2", {"winner": "A", "shown_order": [0, 16]}, "shown_order[1]"),
        ("pair-2", {"winner": "A", "time_spent_ms": "soon"}, "time_spent_ms"),
        ("pair-2", {"winner": "A", "rationale": "a\x00b"}, "rationale"),
        ("pair-2", {"winner": "A", "idempotency_key": "k" * 65}, "idempotency_key"),
        ("rank-1", {"ranking": [[0, 1]]}, "ranking"),
        ("rank-1", {"ranking": [0, 1, 2]}, "ranking[0]"),
        ("rank-1", {"ranking": [[]]}, "ranking[0]"),
        ("edit-1", {"edited_text": ""}, "edited_text"),
        ("edit-1", {"edited_text": "He go to school."}, "edited_text"),
        ("thumb-1", {"thumbs": True}, "thumbs"),
    ],
)
def test_invalid_labels_are_4xx_naming_the_field_and_write_nothing(api, ada, items, external_id, payload, field):
    before = (Label.objects.count(), Response.objects.count(), Annotator.objects.count())
    response = _post(api(ada), items[external_id], payload)
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["field"] == field, body
    assert field.split("[")[0].split(".")[0] in body["error"]
    assert (Label.objects.count(), Response.objects.count(), Annotator.objects.count()) == before


def test_non_members_and_anonymous_cannot_label(api, items, other_user):
    assert _post(api(other_user), items["pair-2"], {"winner": "A"}).status_code == 404
    assert _post(api(), items["pair-2"], {"winner": "A"}).status_code == 401
    assert not Label.objects.filter(item=items["pair-2"]).exists()


def test_label_lists_follow_the_roles(api, project, items, make_user):
    reviewer = make_user("rita", project=project, role="reviewer")
    amy = make_user("amy", project=project, role="annotator")
    bo = make_user("bo", project=project, role="annotator")
    project.overlap = 3
    project.save(update_fields=["overlap"])
    _take(api(amy), items["pair-2"])
    mine = _post(api(amy), items["pair-2"], {"winner": "A"}).json()  # on her lease
    _take(api(bo), items["pair-2"])
    _post(api(bo), items["pair-2"], {"winner": "B"})
    item_url = f"/api/items/{items['pair-2'].pk}/labels/"

    assert [row["id"] for row in api(amy).get("/api/labels/").json()["results"]] == [mine["id"]]
    assert [row["annotator"] for row in api(amy).get(item_url).json()["results"]] == ["amy"]
    assert {row["annotator"] for row in api(project.created_by).get(item_url).json()["results"]} == {"amy", "bo"}
    assert len(api(reviewer).get(item_url).json()["results"]) == 2
    assert api(reviewer).get("/api/labels/").json()["count"] == 0  # reviewers list their own here

    everything = api(project.created_by).get("/api/projects/kinds/labels/?page_size=100").json()
    assert {row["annotator"] for row in everything["results"]} == {"amy", "bo", "annotator1", "judge-1"}
    assert api(reviewer).get("/api/projects/kinds/labels/").json()["count"] == everything["count"] == 6
    owner_view = api(project.created_by).get("/api/projects/kinds/labels/?annotator=bo").json()["results"]
    assert [row["winner"] for row in owner_view] == ["B"]

    denied = api(amy).get("/api/projects/kinds/labels/")
    assert denied.status_code == 403 and "owners and reviewers" in denied.json()["error"]
    bo_label = Label.objects.get(annotator__name="bo")
    assert api(amy).get(f"/api/labels/{bo_label.pk}/").status_code == 404
    assert api(reviewer).get(f"/api/labels/{bo_label.pk}/").json()["winner"] == "B"


def test_project_labels_of_a_stranger_project_are_404(api, project, other_user):
    assert api(other_user).get("/api/projects/kinds/labels/").status_code == 404
    assert api().get("/api/projects/kinds/labels/").status_code == 401


def test_blind_review_hides_annotator_names_from_reviewers(api, project, ada, items, make_user):
    """Reviewers of a blind-review project (the default) see stable pseudonyms; owners see names."""
    reviewer = make_user("rita", project=project, role="reviewer")
    _take(api(reviewer), items["pair-2"])
    own = _post(api(reviewer), items["pair-2"], {"winner": "B"}).json()
    assert own["annotator"] == "rita"  # your own name is never hidden from you
    ada_label = _post(api(ada), items["pair-2"], {"winner": "A"}).json()
    seen = {row["id"]: row["annotator"] for row in api(reviewer).get("/api/projects/kinds/labels/").json()["results"]}
    pseudonym = seen[ada_label["id"]]
    assert re.fullmatch(r"annotator \d+", pseudonym) and seen[own["id"]] == "rita"
    assert "ada" not in seen.values() and "annotator1" not in seen.values()
    assert api(reviewer).get(f"/api/labels/{ada_label['id']}/").json()["annotator"] == pseudonym  # stable
    assert api(reviewer).get("/api/projects/kinds/labels/?annotator=ada").json()["count"] == 0
    assert api(reviewer).get(f"/api/projects/kinds/labels/?annotator={pseudonym}").json()["count"] == 1

    project.blind_review = False
    project.save()
    assert api(reviewer).get(f"/api/labels/{ada_label['id']}/").json()["annotator"] == "ada"


# -- who may label directly (issue 10, item 4) ---------------------------------------------------------
def test_an_annotator_without_a_lease_gets_403_naming_the_queue(api, project, items, make_user):
    amy = make_user("amy", project=project, role="annotator")
    response = _post(api(amy), items["pair-2"], {"winner": "A"})
    assert response.status_code == 403, response.json()
    assert response.json()["field"] == "item" and "/api/projects/kinds/next/" in response.json()["error"]
    assert not Label.objects.filter(item=items["pair-2"]).exists()


def test_an_annotator_labels_on_the_lease_the_queue_gave(api, project, items, make_user):
    amy = make_user("amy", project=project, role="annotator")
    assignment = _take(api(amy), items["pair-2"])
    response = _post(api(amy), items["pair-2"], {"winner": "B", "idempotency_key": "amy-1"})
    assert response.status_code == 201 and response.json()["annotator"] == "amy"
    retry = _post(api(amy), items["pair-2"], {"winner": "B", "idempotency_key": "amy-1"})
    assert retry.status_code == 201 and retry.json()["id"] == response.json()["id"]
    assert Assignment.objects.get(pk=assignment).status == AssignmentStatus.SUBMITTED


def test_an_item_at_overlap_2_keeps_2_human_labels(api, project, items, make_user):
    """Issue 10: two leased annotators and two owners posting directly used to leave 4 human labels."""
    project.overlap = 2
    project.save(update_fields=["overlap"])
    pair = items["pair-2"]
    holders = [make_user(name, project=project, role="annotator") for name in ("amy", "bo")]
    for person in holders:
        _take(api(person), pair)
    for name in ("olga", "otto"):
        owner = make_user(name, project=project, role="owner")
        full = _post(api(owner), pair, {"winner": "A"})
        assert full.status_code == 409 and "overlap" in full.json()["error"]
    for person in holders:
        assert _post(api(person), pair, {"winner": "A"}).status_code == 201
    assert Label.objects.filter(item=pair, annotator__kind="human").count() == 2
