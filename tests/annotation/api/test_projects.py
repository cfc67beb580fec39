"""/api/projects/: members list and read their projects; who may create one (PREFSTUDIO_PROJECT_CREATORS: staff
by default, or anyone signed in) creates it and owns it."""
import pytest

from annotation.models import Membership, Project

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def anyone_creates_projects(settings):
    """These tests are about what creating does; who may create is tested with the default setting below."""
    settings.PREFSTUDIO_PROJECT_CREATORS = "any"


def test_by_default_only_staff_create_projects(api, other_user, settings, django_user_model):
    """The default setting: a signed-in non-staff user is refused (403 naming the setting), nothing is written."""
    settings.PREFSTUDIO_PROJECT_CREATORS = "staff"
    response = api(other_user).post("/api/projects/", {"slug": "mine"}, format="json")
    assert response.status_code == 403, response.json()
    assert "PREFSTUDIO_PROJECT_CREATORS" in response.json()["error"]
    assert not Project.objects.exists() and not Membership.objects.exists()
    staff = django_user_model.objects.create_user(username="stef", password="a-long-test-password", is_staff=True)
    response = api(staff).post("/api/projects/", {"slug": "mine"}, format="json")
    assert response.status_code == 201, response.json()
    assert Membership.objects.get(project__slug="mine").user == staff


def test_members_list_their_projects_with_their_role(api, project, make_user):
    reviewer = make_user("rita", project=project, role="reviewer")
    body = api(reviewer).get("/api/projects/").json()
    assert body["count"] == 1 and body["next"] is None
    (only,) = body["results"]
    assert (only["slug"], only["role"]) == ("kinds", "reviewer")
    assert set(only["task_kinds"]) == {"pairwise", "listwise", "edit", "thumbs"}


def test_retrieve_is_for_members_only(api, project, other_user):
    assert api(project.created_by).get("/api/projects/kinds/").json()["role"] == "owner"
    response = api(other_user).get("/api/projects/kinds/")
    assert response.status_code == 404
    assert response.json() == {"error": "no project 'kinds' among yours", "field": "slug", "details": []}


def test_create_makes_the_caller_owner(api, other_user):
    response = api(other_user).post(
        "/api/projects/",
        {"slug": "rm-data", "name": "RM data", "task_kinds": ["pairwise", "thumbs"], "aspects": ["helpfulness"],
         "strength_levels": ["better", "much better"], "overlap": 3, "rationale_required": True},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["slug"], body["role"], body["overlap"], body["rationale_required"]) == ("rm-data", "owner", 3, True)
    project = Project.objects.get(slug="rm-data")
    assert project.created_by == other_user and project.strength_levels == ["better", "much better"]
    assert Membership.objects.get(project=project).user == other_user


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "slug"),
        ({"slug": "Has Spaces"}, "slug"),
        ({"slug": "UPPER"}, "slug"),  # a valid SlugField, but slugs are lowercase
        ({"slug": "kinds"}, "slug"),  # taken
        ({"slug": "x", "task_kinds": ["ranking"]}, "task_kinds[0]"),
        ({"slug": "x", "task_kinds": []}, "task_kinds"),
        ({"slug": "x", "overlap": 0}, "overlap"),
        ({"slug": "x", "human_budget_fraction": 1.5}, "human_budget_fraction"),
        ({"slug": "x", "human_budget_fraction": 0.5, "human_budget_count": 10}, "human_budget_count"),
        ({"slug": "x", "strength_levels": ["a", "a"]}, "strength_levels"),
        ({"slug": "x", "strength_levels": [str(i) for i in range(11)]}, "strength_levels"),
        ({"slug": "x", "routing_policy": "magic"}, "routing_policy"),
        ({"slug": "x", "name": "nul\x00"}, "name"),
    ],
)
def test_bad_create_requests_name_the_field(api, project, other_user, payload, field):
    response = api(other_user).post("/api/projects/", payload, format="json")
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["field"] == field and body["error"], body
    assert Project.objects.count() == 1


def test_malformed_json_is_a_400(api, other_user):
    response = api(other_user).post("/api/projects/", "{not json", content_type="application/json")
    assert response.status_code == 400 and "JSON parse error" in response.json()["error"]


def test_unknown_api_urls_are_json_404s(api, user):
    response = api(user).get("/api/nothing-here/")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert response.json()["error"].startswith("no API endpoint")


def test_pagination_is_bounded_and_checked(api, project):
    client = api(project.created_by)
    assert client.get("/api/items/?page_size=2").json()["next"].endswith("page=2&page_size=2")
    for bad in ("0", "501", "abc"):
        response = client.get(f"/api/items/?page_size={bad}")
        assert response.status_code == 400 and response.json()["field"] == "page_size"
    assert client.get("/api/items/?page=99").status_code == 404
