"""The labeling pages without a browser: access, the forms without JavaScript, the lease fragment."""
import io
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Assignment, AssignmentStatus, Label, Project
from annotation.services.imports import data_import
from annotation.services.labeling import queue_next_for_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(project, make_user, client):
    person = make_user("ada", project=project, role="annotator")
    client.force_login(person)
    return person


def _lease(user, slug="kinds") -> Assignment:
    return queue_next_for_user(user=user, slug=slug)


def _url(lease: Assignment, action: str = "") -> str:
    return f"/projects/{lease.item.project.slug}/label/{lease.pk}/" + (f"{action}/" if action else "")


def test_queue_page_shows_what_is_left_and_starts_labeling(client, ada):
    page = client.get("/projects/kinds/label/")
    assert page.status_code == 200
    assert page.context["status"].mine_left == 2 and b"Start labeling" in page.content
    started = client.post("/projects/kinds/label/next/")
    lease = Assignment.objects.get(annotator__user=ada)
    assert started.status_code == 302 and started["Location"] == _url(lease)
    assert b"Continue labeling" in client.get("/projects/kinds/label/").content


def test_queue_page_says_when_nothing_is_left(client, ada):
    for _ in range(2):  # ada skips both items open to her, in her own words
        response = client.post(_url(_lease(ada), "skip"), {"reason": "other", "reason_detail": "not for me"})
    assert response["Location"] == "/projects/kinds/label/"
    assert set(Assignment.objects.values_list("skip_reason", flat=True)) == {"not for me"}
    assert b"Nothing left for you" in client.get("/projects/kinds/label/").content


@pytest.mark.parametrize("path", ["/projects/kinds/label/", "/projects/nope/label/"])
def test_non_members_get_404(client, make_user, project, path):
    client.force_login(make_user("stranger"))
    assert client.get(path).status_code == 404
    assert client.post(path + "next/").status_code == 404


def test_someone_elses_lease_is_404(client, ada, project, make_user):
    lease = _lease(make_user("bob", project=project))
    for action in ("", "submit", "skip", "refresh"):
        response = client.get(_url(lease)) if not action else client.post(_url(lease, action), {"winner": "A"})
        assert response.status_code == 404, action
    assert Assignment.objects.get(pk=lease.pk).status == AssignmentStatus.ACTIVE


def test_a_missing_verdict_re_renders_the_page_with_a_message_and_changes_nothing(client, ada):
    lease = _lease(ada)
    response = client.post(_url(lease, "submit"), {"idempotency_key": "k1", "rationale": "kept"})
    assert response.status_code == 400
    assert "Choose a verdict" in response.context["error_message"]
    assert response.context["values"].rationale == "kept" and b"kept</textarea>" in response.content
    assert not Label.objects.filter(annotator__user=ada).exists()
    assert Assignment.objects.get(pk=lease.pk).status == AssignmentStatus.ACTIVE


def test_a_ranking_submitted_without_javascript_uses_the_rank_numbers(client, ada):
    """Equal numbers tie; with partial rankings allowed, a blank number leaves a response unranked."""
    record = {"id": "r", "kind": "listwise", "prompt": "Rank.", "responses": [{"text": t} for t in "xyz"]}
    data_import(project_slug="ranks", fmt="native", stream=io.BytesIO(json.dumps(record).encode()), user=ada)
    Project.objects.filter(slug="ranks").update(allow_partial_ranking=True)
    lease = _lease(ada, slug="ranks")
    response = client.post(_url(lease, "submit"), {"rank_0": "2", "rank_1": "", "rank_2": "2"})
    assert response.status_code == 302
    assert Label.objects.get(annotator__user=ada).ranking == [[0, 2]]


def test_refresh_extends_the_lease_and_returns_the_fragment(client, ada):
    lease = _lease(ada)
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() + timedelta(minutes=1))
    response = client.post(_url(lease, "refresh"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.strip().startswith('<span id="lease"') and "Reserved for you" in html and "<html" not in html
    assert Assignment.objects.get(pk=lease.pk).expires_at > timezone.now() + timedelta(minutes=25)
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    ended = client.post(_url(lease, "refresh"), headers={"HX-Request": "true"}).content.decode()
    assert "reservation of this item ended" in ended and "hx-trigger" not in ended


def test_a_finished_lease_sends_you_back_to_the_queue(client, ada):
    lease = _lease(ada)
    client.post(_url(lease, "submit"), {"winner": "A"})
    response = client.get(_url(lease))
    assert response.status_code == 302 and response["Location"] == "/projects/kinds/label/"


def test_model_output_is_rendered_through_the_sanitiser(client, ada, items):
    lease = _lease(ada)
    slot = lease.item.slots.get(position=0)
    slot.response.text = '<script>window.__pwned=1</script> <img src=x onerror="alert(1)">'
    slot.response.save(update_fields=["text"])
    html = client.get(_url(lease)).content.decode()
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert "<script>window.__pwned" not in html and "<img src=x" not in html
