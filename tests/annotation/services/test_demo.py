"""demo_load: the demo users and projects from the slices shipped in demo/data/."""
from pathlib import Path

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.test import RequestFactory

from annotation.errors import PrefStudioError
from annotation.models import Item, Label, Membership, Project, Prompt, Response, Role
from annotation.services.demo import DEMO_ANNOTATOR, DEMO_OWNER, demo_load

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parents[3] / "demo" / "data"


def _login(username: str, password: str):
    """authenticate() as the login page calls it: with a request (django-axes' backend needs one)."""
    return authenticate(RequestFactory().post("/accounts/login/"), username=username, password=password)


def _counts() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (get_user_model(), Project, Membership, Prompt, Response, Item, Label))


def test_demo_load_creates_the_users_and_projects():
    report = demo_load(data_dir=DATA)
    assert sorted(report.projects_created) == [
        "hh-demo", "lamp-demo", "pandalm-demo", "pandalm-thumbs-demo", "qa-feedback-demo",
    ]
    assert sorted(report.users_created) == ["annotator", "demo"]
    owner = _login(DEMO_OWNER.username, DEMO_OWNER.password)
    annotator = _login(DEMO_ANNOTATOR.username, DEMO_ANNOTATOR.password)
    assert owner is not None and owner.is_superuser and annotator is not None and not annotator.is_staff
    for project in Project.objects.all():
        roles = dict(project.memberships.values_list("user__username", "role"))
        assert roles == {"demo": Role.OWNER, "annotator": Role.ANNOTATOR}
    pandalm = Project.objects.get(slug="pandalm-demo")
    # 200 source pairs less the 3 with an empty response; every pair has 3 humans and 2 judges.
    assert pandalm.items.count() == 197
    assert set(pandalm.items.values_list("n_human_labels", "n_judge_labels")) == {(3, 2)}
    # Thumbs: both responses of the 94 pairs (of the first 100 with two non-empty responses) someone preferred.
    thumbs = Project.objects.get(slug="pandalm-thumbs-demo")
    assert thumbs.task_kinds == ["thumbs"] and thumbs.items.filter(kind="thumbs").count() == 188
    assert Label.objects.filter(item__project=thumbs, thumbs_up=True).count() == Label.objects.filter(
        item__project=thumbs, thumbs_up=False).count()
    # HH: 300 raw lines, 2 of them with an empty reply are skipped (skip_invalid only here).
    assert Project.objects.get(slug="hh-demo").items.count() == 298
    assert len(report.imports["hh-demo"].skipped) == 2
    qa = Project.objects.get(slug="qa-feedback-demo")
    assert qa.items.filter(kind="listwise").count() == 50 and qa.items.filter(kind="edit").count() == 47
    assert sorted(qa.task_kinds) == ["edit", "listwise"]
    lamp = Project.objects.get(slug="lamp-demo")
    assert lamp.items.filter(kind="edit").count() == 20
    assert Label.objects.filter(item__project=lamp, kind="listwise").count() == 60


def test_demo_load_twice_changes_nothing():
    demo_load(data_dir=DATA)
    before = _counts()
    again = demo_load(data_dir=DATA)
    assert again.changed_nothing and not again.users_created and not again.projects_created
    assert _counts() == before


def test_demo_load_keeps_a_changed_password():
    """An existing demo user is left as it is (a person may have changed the password)."""
    demo_load(data_dir=DATA)
    owner = get_user_model().objects.get(username="demo")
    owner.set_password("another-long-password")
    owner.save()
    demo_load(data_dir=DATA)
    assert _login("demo", "another-long-password") is not None


def test_demo_load_without_the_data_is_a_clear_error(tmp_path):
    with pytest.raises(PrefStudioError, match="demo data not found"):
        demo_load(data_dir=tmp_path)
    assert not Project.objects.exists() and not get_user_model().objects.exists()
