"""PATCH /api/projects/<slug>/: owners change settings with the service's checks; 400 names the field, 403 for
members who are not owners, 404 for everyone else."""
import pytest

from annotation.models import Project

pytestmark = pytest.mark.django_db
URL = "/api/projects/kinds/"


def test_an_owner_patches_some_settings_and_gets_the_project_back(api, project, user):
    response = api(user).patch(URL, {"overlap": 3, "aspects": ["honesty"], "allow_partial_ranking": True,
                                     "strength_levels": ["s1", "s2", "s3", "s4", "s5"]}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["overlap"], body["aspects"], body["allow_partial_ranking"], body["role"]) == (
        3, ["honesty"], True, "owner")
    project.refresh_from_db()
    assert project.overlap == 3 and len(project.strength_levels) == 5 and project.lease_minutes == 30  # untouched


@pytest.mark.parametrize("payload,field", [
    ({"overlap": 0}, "overlap"),
    ({"overlap": "many"}, "overlap"),
    ({"routing_policy": "vibes"}, "routing_policy"),
    ({"aspects": ["a", "a"]}, "aspects"),
    ({"task_kinds": ["pairwise"]}, "task_kinds"),  # the project has listwise, edit and thumbs items
    ({"human_budget_fraction": 0.5, "human_budget_count": 4}, "human_budget_count"),
    ({"slug": "renamed"}, "slug"),
    ({"overlapp": 2}, "overlapp"),
])
def test_bad_patches_are_400_naming_the_field_and_change_nothing(api, project, user, payload, field):
    response = api(user).patch(URL, payload, format="json")
    assert response.status_code == 400 and response.json()["field"] == field, response.json()
    assert Project.objects.get(pk=project.pk).overlap == 1 and Project.objects.get(pk=project.pk).slug == "kinds"


def test_non_owners_get_403_and_outsiders_404(api, project, make_user, other_user):
    reviewer = make_user("rita", project=project, role="reviewer")
    response = api(reviewer).patch(URL, {"overlap": 5}, format="json")
    assert response.status_code == 403 and "owners" in response.json()["error"]
    assert api(other_user).patch(URL, {"overlap": 5}, format="json").status_code == 404
    assert api().patch(URL, {"overlap": 5}, format="json").status_code in (401, 403)
    assert Project.objects.get(pk=project.pk).overlap == 1
