"""The project settings and members pages through Django's test client: owners only, errors inline, a preview of
the task page that follows unsaved edits, members added by username or e-mail, roles changed, the last owner kept."""
import pytest

from annotation.models import Membership, Project

pytestmark = pytest.mark.django_db
SETTINGS = "/projects/kinds/settings/"
MEMBERS = "/projects/kinds/members/"


def form_data(**changes) -> dict:
    """The settings form as the page submits it for project 'kinds' (defaults), with `changes`."""
    data = {"name": "kinds", "description": "", "guidelines": "", "aspects": "helpfulness, honesty, harmlessness",
            "task_kinds": ["pairwise", "listwise", "edit", "thumbs"], "strength_scale": "3", "overlap": "1",
            "blind_review": "on", "lease_minutes": "30", "routing_policy": "all_human",
            "human_budget_fraction": "", "human_budget_count": "", "reference_use": "evaluation",
            "attention_rate": "0.05", "action": "save"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def owner_client(client, project, user):
    client.force_login(user)
    return client


def test_the_settings_page_shows_the_current_settings_and_a_preview_of_every_kind(owner_client):
    page = owner_client.get(SETTINGS)
    html = page.content.decode()
    assert page.status_code == 200
    assert 'value="helpfulness, honesty, harmlessness"' in html and 'name="strength_scale"' in html
    assert "Human labels wanted per item" in html  # help from the ProjectSettings docstring
    for kind in ("pairwise", "listwise", "edit", "thumbs"):
        assert f'class="preview-kind labeling" data-kind="{kind}"' in html
    assert "Name a prime number." in html and "7 is prime." in html  # the project's first pairwise item
    assert "much better" in html and "<script>" not in html.split('id="preview"')[1]


def test_saving_changes_the_project_and_the_labeling_rules(owner_client, project):
    response = owner_client.post(SETTINGS, form_data(strength_scale="5", aspects="honesty", overlap="2",
                                                     rationale_required="on", blind_review=None,
                                                     allow_partial_ranking="on", routing_policy="rules",
                                                     human_budget_fraction="0.5", guidelines="Be *kind*."))
    assert response.status_code == 302 and response.url == SETTINGS
    project.refresh_from_db()
    assert len(project.strength_levels) == 5 and project.aspects == ["honesty"] and project.overlap == 2
    assert project.rationale_required and not project.blind_review and project.allow_partial_ranking
    assert (project.routing_policy, project.human_budget_fraction, project.guidelines) == ("rules", 0.5, "Be *kind*.")
    html = owner_client.get(SETTINGS).content.decode()
    assert "Settings saved." in html and "clearly better" in html and "<em>kind</em>" in html


def test_errors_are_shown_on_their_fields_and_nothing_is_saved(owner_client, project):
    response = owner_client.post(SETTINGS, form_data(overlap="0", aspects="a, a"))
    assert response.status_code == 400
    html = response.content.decode()
    assert "overlap must be a whole number from 1 to 100" in html or "aspects must be distinct" in html
    response = owner_client.post(SETTINGS, form_data(task_kinds=["pairwise"]))
    assert response.status_code == 400 and "items of the kinds you removed" in response.content.decode()
    response = owner_client.post(SETTINGS, form_data(strength_scale="0"))  # pair-1 has a label of strength 2
    assert response.status_code == 400 and "strength above 0" in response.content.decode()
    assert Project.objects.get(pk=project.pk).overlap == 1 and len(Project.objects.get(pk=project.pk).task_kinds) == 4


def test_the_preview_follows_unsaved_edits(owner_client, project):
    response = owner_client.post(SETTINGS + "preview/", form_data(strength_scale="5", aspects="tone",
                                                                  rationale_required="on"), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith('<section class="card preview" id="preview"')
    assert "tone" in html and "clearly better" in html and '<span class="req">required</span>' in html
    refused = owner_client.post(SETTINGS + "preview/", form_data(task_kinds=["pairwise"]), HTTP_HX_REQUEST="true")
    assert "items of the kinds you removed" in refused.content.decode()  # says why these edits cannot be saved
    project.refresh_from_db()
    assert len(project.strength_levels) == 3 and project.aspects != ["tone"]  # nothing saved
    no_js = owner_client.post(SETTINGS, form_data(strength_scale="5", action="preview"))
    assert no_js.status_code == 200 and "clearly better" in no_js.content.decode()
    assert len(Project.objects.get(pk=project.pk).strength_levels) == 3


def test_a_project_without_items_previews_a_sample(client, other_user):
    from annotation.services.projects import project_create

    project_create(slug="empty", owner=other_user)
    client.force_login(other_user)
    html = client.get("/projects/empty/settings/").content.decode()
    assert "why the sky is blue" in html


def test_only_owners_see_the_settings_and_members_pages(client, project, make_user, other_user):
    reviewer = make_user("rita", project=project, role="reviewer")
    client.force_login(reviewer)
    assert client.get(SETTINGS).status_code == 403 and client.get(MEMBERS).status_code == 403
    assert client.post(SETTINGS, form_data(overlap="9")).status_code == 403
    client.force_login(other_user)
    assert client.get(SETTINGS).status_code == 404 and client.get(MEMBERS).status_code == 404
    assert Project.objects.get(pk=project.pk).overlap == 1


def test_members_are_added_changed_and_removed_but_the_last_owner_stays(owner_client, project, user, make_user,
                                                                        django_user_model):
    django_user_model.objects.create_user(username="dan", email="dan@example.org")
    make_user("carol")
    assert owner_client.post(MEMBERS + "add/", {"who": "dan@example.org", "role": "reviewer"}).status_code == 302
    assert owner_client.post(MEMBERS + "add/", {"who": "carol", "role": "annotator"}).status_code == 302
    html = owner_client.get(MEMBERS).content.decode()
    assert "dan added as Reviewer" in html or 'data-user="dan"' in html
    assert html.index('data-user="ann"') < html.index('data-user="dan"') < html.index('data-user="carol"')
    missing = owner_client.post(MEMBERS + "add/", {"who": "nobody", "role": "annotator"})
    assert missing.status_code == 400 and "no user with the username or e-mail address" in missing.content.decode()
    dan = Membership.objects.get(project=project, user__username="dan")
    assert owner_client.post(f"{MEMBERS}{dan.pk}/role/", {"role": "annotator"}).status_code == 302
    assert Membership.objects.get(pk=dan.pk).role == "annotator"
    assert owner_client.post(f"{MEMBERS}{dan.pk}/remove/").status_code == 302
    assert not Membership.objects.filter(pk=dan.pk).exists()
    mine = Membership.objects.get(project=project, user=user)
    refused = owner_client.post(f"{MEMBERS}{mine.pk}/remove/")
    assert refused.status_code == 409 and "last owner" in refused.content.decode()
    refused = owner_client.post(f"{MEMBERS}{mine.pk}/role/", {"role": "reviewer"})
    assert refused.status_code == 409 and Membership.objects.get(pk=mine.pk).role == "owner"
