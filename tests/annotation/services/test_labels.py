"""label_create: one label per item and annotator, validated like an import, idempotent. (A person's label
through the queue, label_submit / label_submit_for_user, is tested in test_labeling.py.)"""
import pytest

from annotation.errors import Conflict, PrefStudioError
from annotation.models import Annotator, Item, ItemState, Label, Response, ResponseOrigin
from annotation.services.accounts import annotator_for_user
from annotation.services.labels import label_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def me(user) -> Annotator:
    return annotator_for_user(user=user)


def _counts() -> tuple[int, int, int]:
    return Label.objects.count(), Response.objects.count(), Annotator.objects.count()


def test_pairwise_label_is_stored_and_the_item_recounted(items, me):
    item = items["pair-2"]
    assert item.n_human_labels == 0 and item.state == ItemState.NEW
    label = label_create(
        item=item, annotator=me,
        data={"winner": "B", "strength": 3, "aspects": {"honesty": "B"}, "shown_order": [1, 0], "time_spent_ms": 4200},
    )
    assert (label.winner, label.strength, label.aspects, label.shown_order) == ("B", 3, {"honesty": "B"}, [1, 0])
    assert label.kind == "pairwise" and label.annotator == me and label.time_spent_ms == 4200
    item.refresh_from_db()
    assert item.n_human_labels == 1 and item.state == ItemState.LABELED and item.source == "human"


def test_listwise_label_keeps_tie_groups(items, me):
    label = label_create(item=items["rank-1"], annotator=me, data={"ranking": [[1], [0, 2]]})
    assert label.ranking == [[1], [0, 2]]
    items["rank-1"].refresh_from_db()
    assert items["rank-1"].n_human_labels == 2


def test_thumbs_label(items, me):
    label = label_create(item=items["thumb-1"], annotator=me, data={"thumbs": "down"})
    assert label.thumbs_up is False
    items["thumb-1"].refresh_from_db()
    assert items["thumb-1"].source == "hybrid"  # a judge and now a person


def test_edit_label_stores_the_edit_as_a_child_response(items, me):
    item = items["edit-1"]
    original = item.slots.get().response
    label = label_create(item=item, annotator=me, data={"edited_text": "He went to school."})
    edit = label.edited_response
    assert edit.text == "He went to school." and edit.origin == ResponseOrigin.HUMAN_EDIT
    assert edit.parent == original and edit.prompt_id == item.prompt_id


def test_an_edit_that_changes_nothing_is_rejected(items, me):
    before = _counts()
    original = items["edit-1"].slots.get().response.text
    with pytest.raises(PrefStudioError) as caught:
        label_create(item=items["edit-1"], annotator=me, data={"edited_text": f"  {original}\n"})
    assert caught.value.field == "edited_text" and caught.value.status_code == 400
    assert _counts() == before


def test_same_idempotency_key_returns_the_first_label(items, me):
    first = label_create(item=items["pair-2"], annotator=me, data={"winner": "A"}, idempotency_key="k-1")
    again = label_create(item=items["pair-2"], annotator=me, data={"winner": "B"}, idempotency_key="k-1")
    assert again.pk == first.pk and again.winner == "A"
    assert Label.objects.filter(item=items["pair-2"]).count() == 1


def test_a_second_label_by_the_same_annotator_is_a_conflict(items, me):
    label_create(item=items["pair-2"], annotator=me, data={"winner": "A"})
    with pytest.raises(Conflict) as caught:
        label_create(item=items["pair-2"], annotator=me, data={"winner": "B"}, idempotency_key="other")
    assert caught.value.status_code == 409 and caught.value.field == "item"
    assert Label.objects.filter(item=items["pair-2"]).count() == 1


def test_a_key_used_on_another_item_is_a_conflict(items, me):
    label_create(item=items["pair-2"], annotator=me, data={"winner": "A"}, idempotency_key="k-2")
    with pytest.raises(Conflict) as caught:
        label_create(item=items["pair-1"], annotator=me, data={"winner": "A"}, idempotency_key="k-2")
    assert caught.value.field == "idempotency_key"
    assert not Label.objects.filter(item=items["pair-1"], annotator=me).exists()


@pytest.mark.parametrize(
    ("external_id", "data", "field"),
    [
        ("pair-2", {}, "winner"),
        ("pair-2", {"winner": "C"}, "winner"),
        ("pair-2", {"winner": "A", "strength": 4}, "strength"),  # the project has 3 levels
        ("pair-2", {"winner": "A", "aspects": {"style": "A"}}, "aspects"),
        ("pair-2", {"winner": "A", "aspects": {"honesty": "X"}}, "aspects.honesty"),
        ("pair-2", {"winner": "A", "ranking": [[0], [1]]}, "ranking"),  # not a pairwise field
        ("pair-2", {"winner": "A", "shown_order": [0, 0]}, "shown_order"),
        ("pair-2", {"winner": "A", "shown_order": ["a", 1]}, "shown_order"),
        ("pair-2", {"winner": "A", "time_spent_ms": -1}, "time_spent_ms"),
        ("pair-2", {"winner": "A", "time_spent_ms": 2**31}, "time_spent_ms"),
        ("pair-2", {"winner": "A", "rationale": "nul \x00 byte"}, "rationale"),
        ("pair-2", {"winner": "A", "probability": 0.5}, "probability"),  # judges only
        ("rank-1", {"ranking": [[0], [1]]}, "ranking"),  # misses position 2
        ("rank-1", {"ranking": [[0], [0], [1, 2]]}, "ranking"),
        ("rank-1", {"ranking": [[0], [3], [1, 2]]}, "ranking"),
        ("edit-1", {"edited_text": "   "}, "edited_text"),
        ("thumb-1", {"thumbs": "sideways"}, "thumbs"),
        ("thumb-1", {}, "thumbs"),
    ],
)
def test_invalid_payloads_name_the_field_and_write_nothing(items, me, external_id, data, field):
    item = items[external_id]
    before = (*_counts(), item.n_human_labels)
    with pytest.raises(PrefStudioError) as caught:
        label_create(item=item, annotator=me, data=data)
    assert caught.value.field == field, caught.value.message
    assert 400 <= caught.value.status_code < 500
    item.refresh_from_db()
    assert (*_counts(), item.n_human_labels) == before


def test_project_rules_rationale_required_and_partial_rankings(items, me, project):
    project.rationale_required = True
    project.allow_partial_ranking = True
    project.save()
    with pytest.raises(PrefStudioError, match="rationale") as caught:
        label_create(item=items["pair-2"], annotator=me, data={"winner": "A", "rationale": "  "})
    assert caught.value.field == "rationale"
    label = label_create(item=items["rank-1"], annotator=me, data={"ranking": [[2]], "rationale": "third is best"})
    assert label.ranking == [[2]]  # a top-1 ranking is stored as given, not padded


def test_closed_items_take_no_labels(items, me):
    Item.objects.filter(pk=items["pair-2"].pk).update(state=ItemState.FINAL)
    with pytest.raises(Conflict, match="final"):
        label_create(item=items["pair-2"], annotator=me, data={"winner": "A"})


def test_annotator_for_user_is_stable_and_never_takes_an_imported_name(project, make_user):
    """'annotator1' exists from the import (no user): a user of that name gets a suffixed annotator."""
    person = make_user("annotator1")
    annotator = annotator_for_user(user=person)
    assert annotator.name == f"annotator1-{person.pk}" and annotator.kind == "human"
    assert annotator_for_user(user=person).pk == annotator.pk
    assert Annotator.objects.get(name="annotator1").user is None


@pytest.mark.parametrize(("kind", "field"), [("pair-2", "rationale"), ("edit-1", "edited_text")])
def test_a_text_over_the_text_limit_is_refused_naming_the_field(items, me, settings, kind, field):
    settings.PREFSTUDIO_MAX_TEXT_CHARS = 50
    data = {"rationale": "r" * 51} if field == "rationale" else {"edited_text": "e" * 51}
    if kind == "pair-2":
        data["winner"] = "A"
    before = _counts()
    with pytest.raises(PrefStudioError) as caught:
        label_create(item=items[kind], annotator=me, data=data)
    assert caught.value.field == field
    assert caught.value.message == (
        f"field '{field}' is 51 characters long, over the 50-character text limit (PREFSTUDIO_MAX_TEXT_CHARS)"
    )
    assert _counts() == before
    data[field] = data[field][:50]  # at the limit: accepted
    assert label_create(item=items[kind], annotator=me, data=data).pk


def test_an_unparsable_judge_verdict_is_accepted_where_partial_rankings_are_allowed(items, project):
    """Judge jobs used to fail on such projects: the ranking was checked before the verdict was seen to be
    unparsable (issue 12, item 4)."""
    project.allow_partial_ranking = True
    project.save()
    judge = Annotator.objects.create(name="judge-x", kind="judge")
    label = label_create(item=items["rank-1"], annotator=judge, data={"unparsable": True, "raw_output": "hmm"})
    assert label.status == "unparsable" and label.ranking in (None, []) and label.raw_output == "hmm"
    partial = label_create(item=items["rank-1"], annotator=Annotator.objects.create(name="judge-y", kind="judge"),
                           data={"ranking": [[1]], "probability": 0.7})
    assert partial.ranking == [[1]]  # a parsable top-1 ranking still goes through the partial-ranking check
