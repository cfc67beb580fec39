"""/api/projects/{slug}/next/ and /api/assignments/{id}/submit|skip|refresh/: the queue over REST.

The 'kinds' project (tests/annotation/conftest.py) wants one human label per item; annotator1
already labeled pair-1, rank-1 and edit-1, so a new annotator is given pair-2, then thumb-1.
"""
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Assignment, AssignmentStatus, Item, Label, Membership

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(project, make_user):
    return make_user("ada", project=project, role="annotator")


def _next(client, slug="kinds"):
    return client.post(f"/api/projects/{slug}/next/")


def _submit(client, lease_id, payload):
    return client.post(f"/api/assignments/{lease_id}/submit/", payload, format="json")


def _expire(lease_id):
    # Time travel: the lease ran out a minute ago (the API has no clock to move).
    Assignment.objects.filter(pk=lease_id).update(expires_at=timezone.now() - timedelta(minutes=1))


def test_next_leases_an_item_with_its_prompt_and_responses_in_position_order(api, ada, items):
    response = _next(api(ada))
    assert response.status_code == 200, response.json()
    body = response.json()
    item = items["pair-2"]
    assert body["item"]["id"] == item.pk and body["item"]["kind"] == "pairwise"
    assert body["item"]["prompt"]["messages"] == [{"role": "user", "content": "Say hi."}]
    assert [(r["position"], r["text"]) for r in body["item"]["responses"]] == [(0, "Hi!"), (1, "Hello there.")]
    assert body["project"] == "kinds" and body["status"] == "active"
    assert body["queue"] == {"mine_left": 1, "mine_done": 0, "project_left": 2}
    lease = Assignment.objects.get(pk=body["assignment"])
    assert (lease.item_id, lease.annotator.user, lease.status) == (item.pk, ada, AssignmentStatus.ACTIVE)
    assert body["expires_at"] == lease.expires_at.isoformat().replace("+00:00", "Z")
    assert Item.objects.get(pk=item.pk).n_leases == 1


def test_next_again_returns_the_lease_you_hold(api, ada):
    client = api(ada)
    first, again = _next(client).json(), _next(client).json()
    assert first["assignment"] == again["assignment"]
    assert Assignment.objects.count() == 1


def test_submit_stores_the_label_releases_the_lease_and_next_moves_on_until_204(api, ada, items):
    client = api(ada)
    lease = _next(client).json()["assignment"]
    response = _submit(client, lease, {"winner": "B", "strength": 2, "shown_order": [1, 0], "time_spent_ms": 4200})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["winner"], body["strength"], body["shown_order"], body["annotator"]) == ("B", 2, [1, 0], "ada")
    label = Label.objects.get(pk=body["id"])
    assert label.item_id == items["pair-2"].pk and label.time_spent_ms == 4200
    assert Assignment.objects.get(pk=lease).status == AssignmentStatus.SUBMITTED
    assert Item.objects.get(pk=items["pair-2"].pk).n_leases == 0

    second = _next(client).json()
    assert second["item"]["id"] == items["thumb-1"].pk
    assert second["queue"]["mine_done"] == 1
    assert _submit(client, second["assignment"], {"thumbs": "down"}).status_code == 201
    done = _next(client)
    assert done.status_code == 204 and done.content == b""


def test_submit_is_idempotent_with_a_key(api, ada):
    client = api(ada)
    lease = _next(client).json()["assignment"]
    payload = {"winner": "A", "idempotency_key": "click-1"}
    first, again = _submit(client, lease, payload), _submit(client, lease, payload)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert Label.objects.filter(annotator__user=ada).count() == 1
    # Without the key, a second submit on the released lease is refused.
    refused = _submit(client, lease, {"winner": "A"})
    assert refused.status_code == 409 and refused.json()["field"] == "assignment"


def test_a_key_used_for_another_item_is_a_409(api, ada):
    client = api(ada)
    first = _next(client).json()["assignment"]
    assert _submit(client, first, {"winner": "A", "idempotency_key": "k"}).status_code == 201
    second = _next(client).json()["assignment"]
    response = _submit(client, second, {"thumbs": "up", "idempotency_key": "k"})
    assert response.status_code == 409 and response.json()["field"] == "idempotency_key"
    assert Assignment.objects.get(pk=second).status == AssignmentStatus.ACTIVE


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"winner": "C"}, "winner"),
        ({"winner": "A", "strength": 4}, "strength"),  # the default scale has 3 levels
        ({"winner": "A", "aspects": {"speed": "A"}}, "aspects"),
        ({"ranking": [[0], [1]]}, "ranking"),  # not a pairwise field
        ({}, "winner"),
    ],
)
def test_a_bad_label_is_a_400_naming_the_field_and_changes_nothing(api, ada, payload, field):
    client = api(ada)
    lease = _next(client).json()["assignment"]
    response = _submit(client, lease, payload)
    assert response.status_code == 400, response.json()
    assert response.json()["field"] == field
    assert not Label.objects.filter(annotator__user=ada).exists()
    assert Assignment.objects.get(pk=lease).status == AssignmentStatus.ACTIVE


def test_an_expired_lease_cannot_be_submitted_or_refreshed(api, ada):
    client = api(ada)
    lease = _next(client).json()["assignment"]
    _expire(lease)
    response = _submit(client, lease, {"winner": "A"})
    assert response.status_code == 409
    assert response.json() == {
        "error": "your lease on this item expired; take the next item", "field": "assignment", "details": [],
    }
    assert client.post(f"/api/assignments/{lease}/refresh/").status_code == 409
    assert not Label.objects.filter(annotator__user=ada).exists()


def test_refresh_extends_the_lease(api, ada):
    client = api(ada)
    lease = _next(client).json()["assignment"]
    Assignment.objects.filter(pk=lease).update(expires_at=timezone.now() + timedelta(minutes=1))
    response = client.post(f"/api/assignments/{lease}/refresh/")
    assert response.status_code == 200, response.json()
    expires = Assignment.objects.get(pk=lease).expires_at
    assert expires > timezone.now() + timedelta(minutes=25)  # the project's 30-minute lease, from now
    assert response.json()["status"] == "active"


def test_skip_needs_a_reason_and_the_item_goes_to_others(api, ada, project, make_user, items):
    client = api(ada)
    lease = _next(client).json()["assignment"]
    missing = client.post(f"/api/assignments/{lease}/skip/", {"reason": ""}, format="json")
    assert missing.status_code == 400 and missing.json()["field"] == "reason"
    response = client.post(f"/api/assignments/{lease}/skip/", {"reason": "not my language"}, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["skip_reason"]) == ("skipped", "not my language")
    assert _next(client).json()["item"]["id"] == items["thumb-1"].pk  # never pair-2 again for ada
    bob = make_user("bob", project=project)
    assert _next(api(bob)).json()["item"]["id"] == items["pair-2"].pk


def test_non_members_and_other_annotators_get_404(api, ada, project, make_user):
    stranger = make_user("stranger")
    assert _next(api(stranger)).status_code == 404
    assert _next(api(ada), slug="no-such-project").status_code == 404
    lease = _next(api(ada)).json()["assignment"]
    colleague = make_user("colleague", project=project)
    for action, body in (("submit", {"winner": "A"}), ("skip", {"reason": "x"}), ("refresh", {})):
        for outsider in (stranger, colleague):
            response = api(outsider).post(f"/api/assignments/{lease}/{action}/", body, format="json")
            assert response.status_code == 404, (action, response.json())
    assert Assignment.objects.get(pk=lease).status == AssignmentStatus.ACTIVE


def test_a_lease_is_gone_once_you_leave_the_project(api, ada, project):
    lease = _next(api(ada)).json()["assignment"]
    Membership.objects.filter(project=project, user=ada).delete()
    assert _submit(api(ada), lease, {"winner": "A"}).status_code == 404
    assert not Label.objects.filter(annotator__user=ada).exists()


def test_the_queue_needs_a_login(api, project):
    assert _next(api()).status_code == 401
