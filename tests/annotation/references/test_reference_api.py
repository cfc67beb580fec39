"""Owners set and clear an item's reference (REST and the review page); reviewers read it; annotators never see
it, in this endpoint or in any task payload; the project's reference_use / attention_rate are settings."""
import re

import pytest

from annotation.models import Assignment, Item

pytestmark = pytest.mark.django_db


def _url(item) -> str:
    return f"/api/items/{item.pk}/reference/"


def test_an_owner_sets_reads_and_clears_a_reference(api, items, user):
    pair = items["pair-2"]
    response = api(user).put(_url(pair), {"reference": {"winner": "B"}}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json() == {"item": pair.pk, "reference": {"winner": "B"}, "reference_use": "evaluation"}
    assert Item.objects.get(pk=pair.pk).reference == {"winner": "B"}
    rank = items["rank-1"]
    assert api(user).put(_url(rank), {"reference": [[1], [0, 2]]}, format="json").json()["reference"] == {
        "ranking": [[1], [0, 2]]}
    assert api(user).delete(_url(pair)).status_code == 204
    assert Item.objects.get(pk=pair.pk).reference is None


@pytest.mark.parametrize("name,payload,words", [
    ("pair-2", {"reference": {"winner": "C"}}, "winner"),
    ("rank-1", {"reference": {"ranking": [[0], [0]]}}, "twice"),
    ("edit-1", {"reference": {"winner": "A"}}, "only for pairwise and listwise"),
])
def test_a_reference_that_does_not_fit_is_400_naming_it(api, items, user, name, payload, words):
    response = api(user).put(_url(items[name]), payload, format="json")
    assert response.status_code == 400 and response.json()["field"] == "reference", response.json()
    assert words in response.json()["error"]
    assert Item.objects.get(pk=items[name].pk).reference is None


def test_reviewers_read_annotators_get_403_outsiders_404(api, project, items, make_user, other_user):
    Item.objects.filter(pk=items["pair-1"].pk).update(reference={"winner": "A"})
    reviewer = make_user("rita", project=project, role="reviewer")
    annotator = make_user("andy", project=project, role="annotator")
    url = _url(items["pair-1"])
    assert api(reviewer).get(url).json()["reference"] == {"winner": "A"}
    assert api(reviewer).put(url, {"reference": None}, format="json").status_code == 403
    assert api(annotator).get(url).status_code == 403
    assert api(other_user).get(url).status_code == 404
    assert Item.objects.get(pk=items["pair-1"].pk).reference == {"winner": "A"}


def test_annotators_never_see_a_reference_in_what_they_are_served(api, client, project, items, make_user):
    """Evaluation-only references: not in the item API, the queue's lease, or the task page."""
    Item.objects.filter(project=project).exclude(kind__in=["edit", "thumbs"]).update(
        reference={"winner": "B"})
    Item.objects.filter(kind="listwise", project=project).update(reference={"ranking": [[2], [1], [0]]})
    annotator = make_user("andy", project=project, role="annotator")
    item_json = api(annotator).get(f"/api/items/{items['pair-2'].pk}/").content.decode()
    assert "reference" not in item_json
    lease = api(annotator).post(f"/api/projects/{project.slug}/next/")
    assert lease.status_code in (200, 201) and "reference" not in lease.content.decode()
    client.force_login(annotator)
    lease_id = Assignment.objects.get(annotator__user=annotator, status="active").pk
    page = client.get(f"/projects/{project.slug}/label/{lease_id}/")
    assert page.status_code == 200 and not re.search(r"\breference\b", page.content.decode(), re.I)


def test_the_review_page_shows_the_reference_and_owners_set_it(client, project, items, user, make_user):
    client.force_login(user)
    pair = items["pair-2"]
    page = client.get(f"/projects/{project.slug}/review/{pair.pk}/")
    assert page.status_code == 200 and 'id="reference-form"' in page.content.decode()
    response = client.post(f"/projects/{project.slug}/review/{pair.pk}/reference/", {"winner": "tie"})
    assert response.status_code == 302 and Item.objects.get(pk=pair.pk).reference == {"winner": "tie"}
    bad = client.post(f"/projects/{project.slug}/review/{items['rank-1'].pk}/reference/", {"ranking": "[[0]]"})
    assert bad.status_code == 400 and "missing position" in bad.content.decode()
    reviewer = make_user("rita", project=project, role="reviewer")
    client.force_login(reviewer)
    page = client.get(f"/projects/{project.slug}/review/{pair.pk}/").content.decode()
    assert "Gold reference" in page and 'id="reference-form"' not in page
    assert client.post(f"/projects/{project.slug}/review/{pair.pk}/reference/", {"winner": "A"}).status_code == 403


@pytest.mark.parametrize("payload,field", [
    ({"reference_use": "vibes"}, "reference_use"),
    ({"attention_rate": 0.9}, "attention_rate"),
    ({"attention_rate": -0.1}, "attention_rate"),
])
def test_reference_settings_are_validated(api, project, user, payload, field):
    response = api(user).patch(f"/api/projects/{project.slug}/", payload, format="json")
    assert response.status_code == 400 and field in str(response.json()), response.json()


def test_reference_settings_patch_and_page(api, client, project, user):
    body = api(user).patch(f"/api/projects/{project.slug}/", {"reference_use": "attention", "attention_rate": 0.2},
                           format="json").json()
    assert (body["reference_use"], body["attention_rate"]) == ("attention", 0.2)
    client.force_login(user)
    page = client.get(f"/projects/{project.slug}/settings/").content.decode()
    assert 'name="reference_use"' in page and 'name="attention_rate"' in page
    project.refresh_from_db()
    assert (project.reference_use, project.attention_rate) == ("attention", 0.2)
