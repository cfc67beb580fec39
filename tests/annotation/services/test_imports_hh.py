"""Importing the real Anthropic HH-RLHF test files."""
import pytest

from annotation.errors import PrefStudioError
from annotation.models import Item, Label, Project, Prompt, Response
from annotation.services.imports import ImportRejected, data_import

pytestmark = pytest.mark.django_db


def _import(path, **kwargs):
    with open(path, "rb") as stream:
        return data_import(project_slug="hh", fmt="hh", stream=stream, **kwargs)


def test_strict_import_of_a_file_with_empty_responses_writes_nothing(datasets):
    """The real harmless-base file has 4 empty and 5 mismatched pairs: strict mode rejects it whole."""
    with pytest.raises(ImportRejected) as caught:
        _import(datasets / "hh_rlhf" / "harmless-base_test.jsonl.gz")
    lines = [e.line for e in caught.value.errors]
    assert lines == [87, 517, 926, 1104, 1255, 1689, 1951, 1953, 2037]
    assert "empty response" in caught.value.details[0]
    assert not Project.objects.exists() and not Item.objects.exists() and not Response.objects.exists()


def test_skip_invalid_imports_the_rest_and_reimport_changes_nothing(datasets):
    path = datasets / "hh_rlhf" / "harmless-base_test.jsonl.gz"
    report = _import(path, skip_invalid=True)
    assert report.items_created == 2303 and len(report.skipped) == 9
    assert Item.objects.count() == 2303 and Label.objects.count() == 2303
    counts = (Prompt.objects.count(), Response.objects.count(), Item.objects.count(), Label.objects.count())
    again = _import(path, skip_invalid=True)
    assert again.changed_nothing and again.items_existing == 2303
    assert counts == (Prompt.objects.count(), Response.objects.count(), Item.objects.count(), Label.objects.count())


def test_hh_prompt_is_the_shared_prefix_and_chosen_wins(datasets):
    _import(datasets / "hh_rlhf" / "helpful-online_test.jsonl.gz", skip_invalid=True)
    item = Item.objects.select_related("prompt").order_by("id").first()
    label = item.labels.get()
    assert item.prompt.messages[-1]["role"] == "user"
    texts = [slot.response.text for slot in item.slots.order_by("position")]
    assert label.winner in ("A", "B") and label.annotator.name == "hh-rlhf"
    # Chosen sits at A or B by a hash of the pair: both occur, so "A wins" is not an import artefact.
    winners = set(Label.objects.values_list("winner", flat=True))
    assert winners == {"A", "B"}
    assert all(texts)


def test_unknown_format_is_a_clear_error(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text("{}\n")
    with open(path, "rb") as stream, pytest.raises(PrefStudioError, match="unknown format"):
        data_import(project_slug="x", fmt="csv", stream=stream)
