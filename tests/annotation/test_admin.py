"""The Django admin: every model has working pages, and untrusted model output stays escaped."""
import pytest
from django.contrib import admin
from django.urls import reverse

from annotation.models import Annotator, Response
from annotation.services.labels import label_create
from training.models import Job, ModelArtifact

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert('x')</script>"


@pytest.fixture
def staff(client, django_user_model):
    boss = django_user_model.objects.create_superuser(username="boss", password="a-long-test-password")
    client.force_login(boss)
    return client


def test_every_annotation_and_training_model_is_registered():
    from django.apps import apps

    models = [*apps.get_app_config("annotation").get_models(), *apps.get_app_config("training").get_models()]
    assert [m.__name__ for m in models if not admin.site.is_registered(m)] == []


def test_every_changelist_add_and_change_page_opens(staff, items):
    judge = Annotator.objects.get(name="judge-1")
    Job.objects.create(kind="judge", project=items["pair-1"].project, config={"judge": judge.name})
    ModelArtifact.objects.create(name="tiny", location="/models/tiny")
    for model, _ in admin.site._registry.items():
        if model._meta.app_label not in ("annotation", "training"):
            continue
        info = (model._meta.app_label, model._meta.model_name)
        assert staff.get(reverse("admin:%s_%s_changelist" % info)).status_code == 200, info
        assert staff.get(reverse("admin:%s_%s_add" % info)).status_code == 200, info
        first = model.objects.first()
        if first is not None:
            assert staff.get(reverse("admin:%s_%s_change" % info, args=[first.pk])).status_code == 200, info


def test_untrusted_text_is_escaped(staff, items):
    item = items["pair-2"]
    judge = Annotator.objects.get(name="judge-1")
    label = label_create(item=item, annotator=judge, data={"unparsable": True, "raw_output": SCRIPT})
    Response.objects.filter(pk=item.slots.first().response_id).update(text=SCRIPT)
    for url in (
        reverse("admin:annotation_label_changelist"),
        reverse("admin:annotation_label_change", args=[label.pk]),
        reverse("admin:annotation_response_changelist"),
        reverse("admin:annotation_response_change", args=[item.slots.first().response_id]),
    ):
        html = staff.get(url).content.decode()
        assert SCRIPT not in html, url
        assert "&lt;script&gt;" in html, url


def test_admin_needs_staff(client, user):
    client.force_login(user)
    response = client.get(reverse("admin:annotation_item_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
