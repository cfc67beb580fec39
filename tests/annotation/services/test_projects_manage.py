"""Managing a project in the app (issue 12, item 7): project_update checks every setting (alone, across fields and
against the project's items and labels) and writes all or nothing; members are added by username or e-mail, change
role and leave, and a project always keeps an owner. Everything through the real services and database."""
import io

import pytest
from django.core.management import CommandError, call_command

from annotation.errors import Conflict, NotFound, PermissionDenied, PrefStudioError
from annotation.models import Label, Membership, Project, Role
from annotation.selectors import project_for_user, project_members
from annotation.services.projects import membership_add, membership_remove, membership_role_change, project_update

from ..conftest import NATIVE_ITEMS, jsonl

pytestmark = pytest.mark.django_db


def settings_row(project: Project) -> dict:
    row = Project.objects.filter(pk=project.pk).values().get()
    return {k: v for k, v in row.items() if k != "created_at"}


def test_an_owner_changes_settings_and_they_are_stored(project, user):
    updated = project_update(project=project, user=user, changes={
        "strength_levels": ["a bit", "somewhat", "clearly", "much", "far"], "aspects": ["honesty"], "overlap": 3,
        "blind_review": False, "rationale_required": True, "lease_minutes": 10, "allow_partial_ranking": True,
        "routing_policy": "rules", "human_budget_fraction": 0.25,
    })
    project.refresh_from_db()
    assert updated.overlap == project.overlap == 3 and project.strength_levels[-1] == "far"
    assert project.aspects == ["honesty"] and not project.blind_review and project.rationale_required
    assert (project.lease_minutes, project.routing_policy, project.human_budget_fraction) == (10, "rules", 0.25)
    # Giving the budget as a count replaces the fraction rather than clashing with it.
    project_update(project=project, user=user, changes={"human_budget_count": 12})
    project.refresh_from_db()
    assert (project.human_budget_fraction, project.human_budget_count) == (None, 12)


@pytest.mark.parametrize("changes,field,words", [
    ({"overlap": 0}, "overlap", "from 1 to 100"),
    ({"lease_minutes": 60 * 24 * 30}, "lease_minutes", "from 1 to 1440"),
    ({"aspects": ["honesty", "honesty"]}, "aspects", "distinct"),
    ({"strength_levels": ["x"] * 11}, "strength_levels", "at most 10"),
    ({"task_kinds": []}, "task_kinds", "one or more"),
    ({"routing_policy": "vibes"}, "routing_policy", "one of"),
    ({"human_budget_fraction": 1.5}, "human_budget_fraction", "from 0 to 1"),
    ({"human_budget_fraction": 0.5, "human_budget_count": 3}, "human_budget_count", "not both"),
    ({"name": " "}, "name", "1 to 200"),
    ({"slug": "renamed"}, "slug", "not a setting"),
    ({"task_kinds": ["pairwise", "edit", "thumbs"]}, "task_kinds", "1 listwise items"),
])
def test_bad_settings_name_the_field_and_change_nothing(project, user, changes, field, words):
    before = settings_row(project)
    with pytest.raises(PrefStudioError) as caught:
        project_update(project=project, user=user, changes={"overlap": 2, **changes})
    assert caught.value.field == field and words in caught.value.message, caught.value.message
    assert settings_row(project) == before


def test_a_strength_scale_shorter_than_a_given_strength_is_refused(project, user):
    assert Label.objects.filter(item__project=project, strength=2).exists()  # pair-1's imported label
    with pytest.raises(PrefStudioError, match="1 label.*strength above 1") as caught:
        project_update(project=project, user=user, changes={"strength_levels": ["better"]})
    assert caught.value.field == "strength_levels"
    project_update(project=project, user=user, changes={"strength_levels": ["better", "much better"]})


def test_only_owners_change_settings(project, make_user, other_user):
    reviewer = make_user("rita", project=project, role="reviewer")
    with pytest.raises(PermissionDenied):
        project_update(project=project, user=reviewer, changes={"overlap": 2})
    with pytest.raises(NotFound):
        project_update(project=project, user=other_user, changes={"overlap": 2})
    assert Project.objects.get(pk=project.pk).overlap == 1


def test_members_are_added_by_username_or_email_and_change_role(project, user, make_user, django_user_model):
    make_user("Carol")
    django_user_model.objects.create_user(username="dan", email="Dan@Example.org")
    carol = membership_add(project=project, actor=user, who="carol", role="reviewer")  # case-insensitive
    dan = membership_add(project=project, actor=user, who="dan@example.org", role="annotator")
    assert (carol.user.username, carol.role, dan.user.username, dan.role) == ("Carol", "reviewer", "dan", "annotator")
    assert [m.user.username for m in project_members(project=project)] == ["ann", "Carol", "dan"]
    with pytest.raises(Conflict, match="already a member"):
        membership_add(project=project, actor=user, who="Dan@example.org", role="owner")
    with pytest.raises(NotFound, match="no user with the username or e-mail address 'eve'") as caught:
        membership_add(project=project, actor=user, who="eve", role="annotator")
    assert caught.value.field == "user"
    membership_role_change(project=project, actor=user, membership_id=dan.pk, role="owner")
    assert project_for_user(user=dan.user, slug="kinds").role == "owner"
    membership_remove(project=project, actor=user, membership_id=carol.pk)
    assert not Membership.objects.filter(pk=carol.pk).exists()


def test_the_last_owner_can_neither_leave_nor_step_down(project, user, make_user):
    mine = Membership.objects.get(project=project, user=user)
    with pytest.raises(Conflict, match="last owner"):
        membership_remove(project=project, actor=user, membership_id=mine.pk)
    with pytest.raises(Conflict, match="last owner"):
        membership_role_change(project=project, actor=user, membership_id=mine.pk, role="annotator")
    assert Membership.objects.get(pk=mine.pk).role == Role.OWNER
    other = make_user("olga", project=project, role="owner")
    membership_role_change(project=project, actor=other, membership_id=mine.pk, role="annotator")
    assert Membership.objects.get(pk=mine.pk).role == Role.ANNOTATOR


def test_non_owners_cannot_manage_members(project, make_user):
    annotator = make_user("anna", project=project, role="annotator")
    make_user("zed")
    with pytest.raises(PermissionDenied):
        membership_add(project=project, actor=annotator, who="zed", role="owner")
    assert not Membership.objects.filter(user__username="zed").exists()


def test_import_data_owner_owns_the_new_project(tmp_path, make_user):
    """A project imported from the shell used to have no members: not even a superuser could open it."""
    path = tmp_path / "items.jsonl"
    path.write_bytes(jsonl(NATIVE_ITEMS))
    boss = make_user("boss")
    call_command("import_data", str(path), "--project", "shell-import", "--format", "native", "--owner", "boss",
                 stdout=io.StringIO())
    assert project_for_user(user=boss, slug="shell-import").role == "owner"
    with pytest.raises(CommandError, match="--owner: no user with the username or e-mail address 'nobody'"):
        call_command("import_data", str(path), "--project", "other", "--format", "native", "--owner", "nobody")
    assert not Project.objects.filter(slug="other").exists()
