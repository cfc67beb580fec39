"""label_create on edit items: "no change needed" (no_change: true) stores the response unchanged."""
import pytest

from annotation.errors import PrefStudioError
from annotation.models import Item, Label, Response
from annotation.services.accounts import annotator_for_user
from annotation.services.labels import label_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def edit_item(project) -> Item:
    return Item.objects.get(project=project, external_id="edit-1")


def test_no_change_points_the_label_at_the_original_response(edit_item, user):
    responses = Response.objects.count()
    label = label_create(item=edit_item, annotator=annotator_for_user(user=user), data={"no_change": True})
    original = edit_item.slots.get(position=0).response
    assert label.edited_response == original and label.edited_response.text == "He go to school."
    assert Response.objects.count() == responses  # no copy of the original
    edit_item.refresh_from_db()
    assert edit_item.n_human_labels == 2  # the imported edit and this one


def test_no_change_with_the_same_text_is_accepted(edit_item, user):
    label = label_create(item=edit_item, annotator=annotator_for_user(user=user),
                         data={"no_change": True, "edited_text": "He go to school.\n"})
    assert label.edited_response.text == "He go to school."


@pytest.mark.parametrize("data, field", [
    ({"no_change": True, "edited_text": "He goes to school."}, "edited_text"),  # contradicts the flag
    ({"no_change": "yes"}, "no_change"),
    ({"edited_text": "He go to school."}, "edited_text"),  # unchanged without the flag: still refused
])
def test_contradictions_are_refused_naming_the_field(edit_item, user, data, field):
    with pytest.raises(PrefStudioError) as caught:
        label_create(item=edit_item, annotator=annotator_for_user(user=user), data=data)
    assert caught.value.field == field and caught.value.status_code == 400
    assert not Label.objects.filter(annotator__user=user).exists()


def test_no_change_does_not_apply_to_other_kinds(project, user):
    pair = Item.objects.get(project=project, external_id="pair-2")
    with pytest.raises(PrefStudioError) as caught:
        label_create(item=pair, annotator=annotator_for_user(user=user), data={"winner": "A", "no_change": True})
    assert caught.value.field == "no_change"
