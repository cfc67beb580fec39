"""The review pages through Django's test client: access, blind names, escaping, the resolve form."""
import re

import pytest

from annotation.models import ItemState, Label, LabelRole
from annotation.services.review import review_resolve
from tests.annotation.review_data import IN_QUEUE, item, review_project

pytestmark = pytest.mark.django_db

HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'


@pytest.fixture
def project(user):
    return review_project(owner=user)


@pytest.fixture
def rita(client, project, make_user):
    reviewer = make_user("rita", project=project, role="reviewer")
    client.force_login(reviewer)
    return reviewer


def _item_url(project, external_id: str) -> str:
    return f"/projects/rev/review/{item(project, external_id).pk}/"


def test_the_queue_page_lists_every_item_to_review(client, project, rita):
    page = client.get("/projects/rev/review/")
    html = page.content.decode()
    assert page.status_code == 200
    assert html.count('<tr data-item="') == len(IN_QUEUE)
    for external_id in IN_QUEUE:
        assert _item_url(project, external_id) in html
    assert "A ×1 · B ×1" in html and "responses are 97% identical" in html


def test_an_htmx_request_gets_only_the_table(client, project, rita):
    html = client.get("/projects/rev/review/", headers={"HX-Request": "true"}).content.decode()
    assert html.lstrip().startswith('<section id="queue-table"') and "<html" not in html


def test_annotators_get_403_and_outsiders_404(client, project, make_user):
    client.force_login(make_user("ada", project=project, role="annotator"))
    assert client.get("/projects/rev/review/").status_code == 403
    assert client.get(_item_url(project, "split")).status_code == 403
    assert client.post(_item_url(project, "split") + "resolve/", {"winner": "A", "note": "x"}).status_code == 403
    client.force_login(make_user("zed"))
    assert client.get("/projects/rev/review/").status_code == 404
    assert client.get(_item_url(project, "split")).status_code == 404
    assert not Label.objects.filter(role=LabelRole.REVIEW).exists()


def test_the_item_page_hides_names_under_blind_review(client, project, rita):
    html = client.get(_item_url(project, "split")).content.decode()
    assert len(set(re.findall(r"annotator \d+", html))) == 2  # per-project pseudonyms (selectors.identities)
    assert "alice" not in html and "bert" not in html
    assert "judge-gpt" in html and "flipped when swapped" in html and "0.82" in html
    assert "&lt;b&gt;Winner&lt;/b&gt;: maybe?" in html  # the unparsable judge's raw output, as text
    assert "<em>shorter</em>" in html  # rationales are markdown


def test_hostile_text_is_shown_as_text(client, user, rita):
    records = [{
        "id": "evil", "kind": "pairwise", "prompt": HOSTILE,
        "responses": [{"text": HOSTILE}, {"text": "[click](javascript:alert(1))"}],
        "labels": [{"annotator": "x", "annotator_kind": "human", "winner": "A", "rationale": HOSTILE},
                   {"annotator": "y", "annotator_kind": "human", "winner": "B"}],
    }]
    evil = review_project(owner=user, slug="evil", records=records)
    rita.memberships.create(project=evil, role="reviewer")
    html = client.get(f"/projects/evil/review/{item(evil, 'evil').pk}/").content.decode()
    assert "<script>window.__pwned" not in html and "<img" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert "[click](javascript:alert(1))" in html  # a javascript: link stays text, never a link


def test_resolving_with_the_form_makes_the_item_final_and_returns_to_the_queue(client, project, rita):
    url = _item_url(project, "split")
    response = client.post(url + "resolve/", {"winner": "B", "strength": "2", "aspect-honesty": "B",
                                              "note": "B is right."}, follow=True)
    assert response.redirect_chain == [("/projects/rev/review/", 302)]
    html = response.content.decode()
    assert "resolved: it is final now" in html and url not in html
    label = Label.objects.get(item=item(project, "split"), role=LabelRole.REVIEW)
    assert (label.winner, label.strength, label.aspects, label.rationale) == ("B", 2, {"honesty": "B"}, "B is right.")
    final = client.get(url).content.decode()
    assert 'id="resolution"' in final and 'id="resolve-form"' not in final and "B is right." in final


def test_a_ranking_is_resolved_from_rank_numbers_with_ties(client, project, rita):
    response = client.post(_item_url(project, "rank-diff") + "resolve/",
                           {"rank-0": "2", "rank-1": "1", "rank-2": "2", "note": "A and C tie"})
    assert response.status_code == 302
    assert Label.objects.get(role=LabelRole.REVIEW).ranking == [[1], [0, 2]]


def test_a_bad_form_comes_back_with_the_error_and_changes_nothing(client, project, rita):
    url = _item_url(project, "split") + "resolve/"
    page = client.post(url, {"note": "no verdict"})
    assert page.status_code == 400
    assert "This field is required." in page.content.decode() and "no verdict" in page.content.decode()
    assert item(project, "split").state == ItemState.LABELED
    # A strength outside the project's scale is not among the choices.
    page = client.post(url, {"winner": "A", "strength": "9", "note": "strong"})
    assert page.status_code == 400 and "Select a valid choice" in page.content.decode()


def test_htmx_gets_the_form_back_in_place_or_a_redirect(client, project, rita):
    url = _item_url(project, "thumb-split") + "resolve/"
    bad = client.post(url, {"thumbs": "up"}, headers={"HX-Request": "true"})
    html = bad.content.decode()
    assert bad.status_code == 200 and html.lstrip().startswith('<form id="resolve-form"') and "<html" not in html
    good = client.post(url, {"thumbs": "up", "note": "helpful"}, headers={"HX-Request": "true"})
    assert good.status_code == 200 and good["HX-Redirect"] == "/projects/rev/review/"
    assert item(project, "thumb-split").state == ItemState.FINAL


def test_a_resolution_racing_another_is_a_409_on_the_page(client, project, rita, user):
    """The service's refusal reaches the page: here another reviewer resolved the item first."""
    url = _item_url(project, "split")
    client.get(url)
    review_resolve(item=item(project, "split"), reviewer_user=user, data={"winner": "A"}, note="owner first")
    page = client.post(url + "resolve/", {"winner": "B", "note": "late"})
    assert page.status_code == 409 and "is already final" in page.content.decode()
