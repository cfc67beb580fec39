"""/api/items/, /api/prompts/, /api/responses/: member-only reads, filters, position order."""
import io

import pytest

from annotation.models import Item, ItemFlag, Route
from annotation.services.imports import data_import
from tests.annotation.conftest import hh_lines

pytestmark = pytest.mark.django_db


@pytest.fixture
def hh(project, user, datasets) -> int:
    """The first 200 real HH-RLHF helpful-base pairs, imported into 'kinds' beside the hand-built items."""
    data = hh_lines(datasets / "hh_rlhf" / "helpful-base_test.jsonl.gz", 200)
    report = data_import(project_slug="kinds", fmt="hh", stream=io.BytesIO(data), user=user, skip_invalid=True)
    return report.items_created


def _ids(client, query: str) -> set[str]:
    response = client.get(f"/api/items/?page_size=500&{query}")
    assert response.status_code == 200, response.json()
    return {row["external_id"] for row in response.json()["results"]}


def test_item_filters(api, user, items, hh):
    client = api(user)
    assert hh > 190 and len(_ids(client, "")) == hh + 5
    assert _ids(client, "kind=listwise") == {"rank-1"}
    assert _ids(client, "kind=thumbs&source=ai") == {"thumb-1"}
    assert _ids(client, "source=none") == {"pair-2"}
    assert _ids(client, "state=new") == {"pair-2"}
    assert _ids(client, "state=judged") == {"thumb-1"}
    assert len(_ids(client, "kind=pairwise&source=human&state=labeled")) == hh + 1
    hh_items = Item.objects.filter(project__slug="kinds", external_id__startswith="pair-").exclude(
        external_id__in=["pair-1", "pair-2"]
    ).order_by("id")
    routed = [item.external_id for item in hh_items[:3]]
    Item.objects.filter(external_id__in=routed).update(route=Route.HUMAN)  # no routing service yet
    assert _ids(client, "route=human") == set(routed)
    ItemFlag.objects.create(item=hh_items[0], name="identical_responses", value=1.0, reason="same text")
    ItemFlag.objects.create(item=items["pair-1"], name="length_only", value=0.9, reason="longer wins")
    assert _ids(client, "flag=identical_responses") == {routed[0]}
    assert _ids(client, "flag=identical_responses&route=human") == {routed[0]}
    assert _ids(client, "flag=nothing") == set()
    assert _ids(client, "project=elsewhere") == set()


@pytest.mark.parametrize("query", ["state=done", "kind=ranking", "source=people", "route=robot"])
def test_bad_filter_values_are_400s_naming_the_filter(api, user, project, query):
    response = api(user).get(f"/api/items/?{query}")
    assert response.status_code == 400 and response.json()["field"] == query.split("=")[0]


def test_item_detail_has_messages_and_responses_in_position_order(api, user, items):
    body = api(user).get(f"/api/items/{items['rank-1'].pk}/").json()
    assert body["kind"] == "listwise" and body["prompt"]["messages"] == [
        {"role": "user", "content": "Sort these answers."}
    ]
    assert [(r["position"], r["text"]) for r in body["responses"]] == [(0, "first"), (1, "second"), (2, "third")]


def test_hh_item_detail_is_the_conversation_and_two_replies(api, user, hh):
    client = api(user)
    listed = client.get("/api/items/?kind=pairwise&source=human&page_size=1").json()["results"][0]
    body = client.get(f"/api/items/{listed['id']}/").json()
    roles = [m["role"] for m in body["prompt"]["messages"]]
    assert roles[0] == "user" and roles[-1] == "user"
    assert [r["position"] for r in body["responses"]] == [0, 1] and all(r["text"] for r in body["responses"])


def test_non_members_cannot_read_items_prompts_or_responses(api, items, other_user):
    client = api(other_user)
    item = items["pair-1"]
    assert client.get("/api/items/").json()["count"] == 0
    assert client.get(f"/api/items/{item.pk}/").status_code == 404
    assert client.get(f"/api/prompts/{item.prompt_id}/").status_code == 404
    assert client.get(f"/api/responses/{item.slots.first().response_id}/").status_code == 404
    assert client.get("/api/items/abc/").status_code == 404


def test_prompts_and_responses_filters(api, user, items):
    client = api(user)
    prompts = client.get("/api/prompts/?project=kinds").json()
    assert prompts["count"] == 5
    prompt_id = items["pair-1"].prompt_id
    assert client.get(f"/api/prompts/{prompt_id}/").json()["messages"][0]["content"] == "Name a prime number."
    texts = {r["text"] for r in client.get(f"/api/responses/?prompt={prompt_id}").json()["results"]}
    assert texts == {"7 is prime.", "9 is prime."}
    edits = client.get("/api/responses/?origin=human_edit").json()["results"]
    assert [(e["text"], e["origin"]) for e in edits] == [("He goes to school.", "human_edit")]
    assert edits[0]["parent"] == items["edit-1"].slots.get().response_id
    assert client.get("/api/responses/?prompt=1.5").status_code == 400


def test_annotators_do_not_see_others_edits_through_the_api(api, project, make_user):
    ada = make_user("ada", project=project, role="annotator")
    assert api(ada).get("/api/responses/?origin=human_edit").json()["count"] == 0
    assert api(ada).get("/api/responses/").json()["count"] == 9  # 2 + 2 + 3 + 1 + 1 imported
