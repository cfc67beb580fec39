"""Gold references in every import format: parsed into the stored form, checked against the item's kind with an
error that names the line, written with the item (annotation.importing.references, services.imports)."""
import io
import json

import pytest

from annotation.importing import parse_file
from annotation.models import Item
from annotation.services.imports import ImportRejected, data_import


def _parse(fmt, *records):
    return parse_file(io.BytesIO("".join(json.dumps(r) + "\n" for r in records).encode()), fmt)


PAIR = {"id": "p1", "kind": "pairwise", "prompt": "q", "responses": [{"text": "a"}, {"text": "b"}]}
LIST = {"id": "l1", "kind": "listwise", "prompt": "q", "responses": [{"text": "a"}, {"text": "b"}, {"text": "c"}]}


@pytest.mark.parametrize("given,stored", [
    ({"winner": "B"}, {"winner": "B"}), ("A", {"winner": "A"}), ({"winner": "both_bad"}, {"winner": "tie"}),
    (None, None),
])
def test_native_pairwise_references_are_stored_in_one_form(given, stored):
    result = _parse("native", {**PAIR, "reference": given})
    assert result.ok and result.records[0].reference == stored


def test_native_listwise_reference_is_a_ranking_with_ties():
    result = _parse("native", {**LIST, "reference": {"ranking": [[2], [0, 1]]}}, {**LIST, "id": "l2",
                                                                                 "reference": [1, 0, 2]})
    assert result.ok, result.errors
    assert [r.reference for r in result.records] == [{"ranking": [[2], [0, 1]]}, {"ranking": [[1], [0], [2]]}]


@pytest.mark.parametrize("record,words", [
    ({**PAIR, "reference": {"winner": "C"}}, "winner"),
    ({**PAIR, "reference": {"ranking": [[0], [1]]}}, "only 'winner'"),
    ({**LIST, "reference": {"ranking": [[0], [1]]}}, "missing position"),
    ({**LIST, "reference": "A"}, "non-empty list"),
    ({"id": "e1", "kind": "edit", "prompt": "q", "responses": [{"text": "a"}], "reference": {"winner": "A"}},
     "only for pairwise and listwise"),
])
def test_a_reference_that_does_not_fit_the_kind_is_an_error_naming_the_line(record, words):
    result = _parse("native", PAIR, record)
    assert not result.ok and result.errors[0].line == 2
    assert "reference" in result.errors[0].reason and words in result.errors[0].reason, result.errors[0].reason


def test_trl_and_hh_references_name_the_side_and_land_on_its_drawn_position():
    trl = _parse("trl", {"prompt": "q", "chosen": "good", "rejected": "bad", "reference": "rejected"},
                 {"prompt": "q2", "chosen": "x", "rejected": "y", "reference": "tie"})
    assert trl.ok, trl.errors
    first = trl.records[0]
    rejected_position = [r.text for r in first.responses].index("bad")
    assert first.reference == {"winner": "AB"[rejected_position]}
    assert trl.records[1].reference == {"winner": "tie"}
    hh = _parse("hh", {"chosen": "\n\nHuman: hi\n\nAssistant: hello", "rejected": "\n\nHuman: hi\n\nAssistant: go",
                       "reference": "chosen"})
    chosen_position = [r.text for r in hh.records[0].responses].index("hello")
    assert hh.records[0].reference == {"winner": "AB"[chosen_position]}
    bad = _parse("trl", {"prompt": "q", "chosen": "a", "rejected": "b"}, {"prompt": "q", "chosen": "a",
                                                                          "rejected": "c", "reference": "A"})
    assert bad.errors[0].line == 2 and "chosen, rejected, tie" in bad.errors[0].reason


def test_ranked_reference_is_the_known_ranking_of_the_completions():
    record = {"prompt": "q", "completions": [{"text": "a", "score": 1}, {"text": "b", "score": 2}],
              "reference": [[1], [0]]}
    assert _parse("ranked", record).records[0].reference == {"ranking": [[1], [0]]}
    assert "reference.ranking" in _parse("ranked", {**record, "reference": [[5]]}).errors[0].reason


@pytest.mark.django_db
def test_import_writes_the_reference_and_a_bad_one_rejects_the_file():
    data = "".join(json.dumps(r) + "\n" for r in [
        {**PAIR, "reference": {"winner": "B"}}, {**PAIR, "id": "p2"}, {**LIST, "reference": [[2], [0, 1]]}])
    data_import(project_slug="refs", fmt="native", stream=io.BytesIO(data.encode()))
    stored = dict(Item.objects.filter(project__slug="refs").values_list("external_id", "reference"))
    assert stored == {"p1": {"winner": "B"}, "p2": None, "l1": {"ranking": [[2], [0, 1]]}}
    bad = json.dumps({**PAIR, "id": "p3", "reference": {"winner": "nope"}}) + "\n"
    with pytest.raises(ImportRejected) as exc:
        data_import(project_slug="refs", fmt="native", stream=io.BytesIO(bad.encode()))
    assert "line 1" in str(exc.value.errors[0]) and "reference" in str(exc.value.errors[0])
    assert not Item.objects.filter(external_id="p3").exists()


@pytest.mark.django_db
def test_reimporting_an_item_with_a_reference_sets_it_and_without_one_keeps_it():
    first = json.dumps(PAIR) + "\n"
    data_import(project_slug="again", fmt="native", stream=io.BytesIO(first.encode()))
    with_ref = json.dumps({**PAIR, "reference": {"winner": "A"}}) + "\n"
    data_import(project_slug="again", fmt="native", stream=io.BytesIO(with_ref.encode()))
    assert Item.objects.get(project__slug="again", external_id="p1").reference == {"winner": "A"}
    data_import(project_slug="again", fmt="native", stream=io.BytesIO(first.encode()))
    assert Item.objects.get(project__slug="again", external_id="p1").reference == {"winner": "A"}
    bad = with_ref.replace('"A"', '"B"') + json.dumps({**PAIR, "id": "p9", "kind": "edit"}) + "\n"
    with pytest.raises(ImportRejected):
        data_import(project_slug="again", fmt="native", stream=io.BytesIO(bad.encode()))
    assert Item.objects.get(project__slug="again", external_id="p1").reference == {"winner": "A"}  # rolled back
