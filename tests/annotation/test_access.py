"""Who sees what: projects by membership, labels by role; login, logout, CSRF and API tokens."""
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from annotation import selectors
from annotation.services.accounts import annotator_for_user
from annotation.services.labels import label_create
from annotation.services.projects import project_create
from tests.annotation.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(project, items, user, make_user):
    """ann owns 'kinds'; rita reviews it; ada and bo annotate it (each has one label); zed is elsewhere."""
    people = {
        "owner": user,
        "reviewer": make_user("rita", project=project, role="reviewer"),
        "ada": make_user("ada", project=project, role="annotator"),
        "bo": make_user("bo", project=project, role="annotator"),
        "zed": make_user("zed"),
    }
    project_create(slug="elsewhere", owner=people["zed"])
    for name, winner in (("ada", "A"), ("bo", "B")):  # as the queue records them (who may label: test_labels)
        label_create(item=items["pair-2"], annotator=annotator_for_user(user=people[name]), data={"winner": winner})
    return people


def _annotators(labels) -> set[str]:
    return {label.annotator.name for label in labels}


def test_an_annotator_sees_only_their_projects_and_their_own_labels(team, project):
    ada = team["ada"]
    assert [p.slug for p in selectors.projects_for_user(user=ada)] == ["kinds"]
    assert _annotators(selectors.labels_visible_to(user=ada)) == {"ada"}
    assert _annotators(selectors.labels_for_project(user=ada, slug="kinds")) == {"ada"}


def test_owners_and_reviewers_see_every_label_of_the_project(team):
    everyone = {"ada", "bo", "annotator1", "judge-1"}
    assert _annotators(selectors.labels_visible_to(user=team["owner"])) == everyone
    assert _annotators(selectors.labels_visible_to(user=team["reviewer"])) == everyone
    assert selectors.projects_for_user(user=team["reviewer"]).get().role == "reviewer"


def test_an_annotator_does_not_see_other_peoples_edits(team, items):
    """An edited response is part of someone's label: annotators see only their own edits."""
    ada = team["ada"]
    edits = selectors.responses_for_user(user=ada).filter(origin="human_edit")
    assert not edits.exists()
    label_create(item=items["edit-1"], annotator=annotator_for_user(user=ada),
                 data={"edited_text": "He goes to school daily."})
    assert [r.text for r in selectors.responses_for_user(user=ada).filter(origin="human_edit")] == [
        "He goes to school daily."
    ]
    assert selectors.responses_for_user(user=team["owner"]).filter(origin="human_edit").count() == 2


def test_non_members_see_nothing_of_a_project(team, items):
    zed = team["zed"]
    assert [p.slug for p in selectors.projects_for_user(user=zed)] == ["elsewhere"]
    assert not selectors.items_for_user(user=zed).exists()
    assert not selectors.labels_visible_to(user=zed).exists()


# -- the project list page ------------------------------------------------------------------------
def test_project_list_shows_my_projects_with_role_and_counts(team, client):
    client.force_login(team["ada"])
    page = client.get(reverse("project-list"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "kinds" in html and "elsewhere" not in html
    assert "Annotator" in html
    assert re.search(r"<td>5</td>", html)  # five items
    assert "Labeled: 4" in html and "Judged: 1" in html  # overlap 1: one human label finishes an item


def test_project_list_reads_the_kept_counters_not_the_items(team, client):
    """The counts come from the trigger-kept ProjectItemCounts rows: no query of the list counts the items
    (236 ms for a project of a million items, bench/RESULTS.md) - and they match the items' states."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(team["ada"])
    with CaptureQueriesContext(connection) as queries:
        html = client.get(reverse("project-list")).content.decode()
    assert not [q["sql"] for q in queries if 'FROM "annotation_item"' in q["sql"]]
    assert any("annotation_projectitemcounts" in q["sql"] for q in queries)
    assert "Labeled: 4" in html and "Judged: 1" in html and re.search(r"<td>5</td>", html)


def test_project_list_empty_state(client, make_user):
    client.force_login(make_user("newbie"))
    html = client.get("/").content.decode()
    assert 'id="no-projects"' in html and "not a member of any project" in html


def test_pages_need_a_login(client):
    page = client.get("/")
    assert page.status_code == 302 and page["Location"].startswith(reverse("login"))


# -- login, logout, CSRF --------------------------------------------------------------------------
def test_login_form_enforces_csrf(user):
    browser = Client(enforce_csrf_checks=True)
    refused = browser.post(reverse("login"), {"username": "ann", "password": PASSWORD})
    assert refused.status_code == 403
    form = browser.get(reverse("login"))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.content.decode()).group(1)
    done = browser.post(reverse("login"), {"username": "ann", "password": PASSWORD, "csrfmiddlewaretoken": token})
    assert done.status_code == 302 and done["Location"] == reverse("project-list")
    assert browser.get("/").status_code == 200


def test_login_with_a_wrong_password_shows_an_error(user, client):
    page = client.post(reverse("login"), {"username": "ann", "password": "wrong-password"})
    assert page.status_code == 200 and "enter a correct username and password" in page.content.decode()


def test_logout_is_a_post_with_csrf(user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    home = browser.get("/").content.decode()
    assert f'action="{reverse("logout")}"' in home
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', home).group(1)
    assert browser.get(reverse("logout")).status_code == 405
    assert browser.post(reverse("logout")).status_code == 403  # no token
    out = browser.post(reverse("logout"), {"csrfmiddlewaretoken": token})
    assert out.status_code == 302 and out["Location"] == reverse("login")
    assert browser.get("/").status_code == 302


def test_passwords_are_hashed_and_validated(user, django_user_model):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    assert user.password.startswith(("pbkdf2_", "argon2", "bcrypt", "scrypt")) and PASSWORD not in user.password
    with pytest.raises(ValidationError):
        validate_password("12345678", user)


# -- API tokens -----------------------------------------------------------------------------------
def test_api_needs_authentication(api):
    response = api().get("/api/projects/")
    assert response.status_code == 401 and response.json()["error"]
    assert response["WWW-Authenticate"] == "Token"
    assert api().get("/api/items/", HTTP_AUTHORIZATION="Token not-a-token").status_code == 401


def test_api_token_command_prints_a_working_token(team, capsys, api):
    call_command("api_token", "ada")
    key = capsys.readouterr().out.strip()
    assert key == Token.objects.get(user=team["ada"]).key
    call_command("api_token", "ada")
    assert capsys.readouterr().out.strip() == key  # stable
    call_command("api_token", "ada", "--rotate")
    rotated = capsys.readouterr().out.strip()
    assert rotated != key
    response = api().get("/api/projects/", HTTP_AUTHORIZATION=f"Token {rotated}")
    assert response.status_code == 200 and [p["slug"] for p in response.json()["results"]] == ["kinds"]
    assert api().get("/api/projects/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401


def test_api_token_command_unknown_user(db):
    with pytest.raises(CommandError, match="no user"):
        call_command("api_token", "nobody")


def test_session_api_writes_need_csrf(team, items):
    """Browser sessions may use the API, but a write without the CSRF token is refused."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(team["ada"])
    assert browser.get("/api/projects/").status_code == 200
    response = browser.post(
        f"/api/items/{items['pair-1'].pk}/labels/", {"winner": "A"}, content_type="application/json"
    )
    assert response.status_code == 403 and "CSRF" in response.json()["error"]
