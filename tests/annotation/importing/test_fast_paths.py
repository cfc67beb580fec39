"""The parser's fast paths (issue 16 item 3) accept exactly what the general checks accept, with the same result.

`pairwise_label_fast` and native `_response_fast` look at a label / response with plain dict access and return
None whenever a check might fail; `label_checked` / `_response_checked` (the general field checks) then decide
and word the error. Each field is set to valid and invalid values of every JSON type: the fast path must give
the checked path's record or None, never anything else, and never raise. A whole file of such records parses to
the same records and errors with the fast paths as without them.
"""
import copy
import io
import json

import pytest

from annotation.importing import parse_file
from annotation.importing.formats import common, native
from annotation.importing.formats.common import label_checked, pairwise_label_fast
from annotation.importing.reader import RecordError
from annotation.importing.records import ResponseRecord

# Values of every JSON type, at and past each field's limits (ranges, lengths, winners, kinds, permutations).
VALUES = [
    None, "", " ", "\t\n", "x", "A", "B", "tie", "both_bad", "C", "human", "judge", "up", "x" * 150, "x" * 151,
    "x" * 200, "x" * 201, True, False, 0, 1, -1, 2, 10, 11, 0.0, 0.5, 1.0, 1.5, -0.5, 1e300, 2**31 - 1, 2**31,
    2**63 - 1, 2**63, -(2**63), -(2**63) - 1, [], [0], [0, 1], [1, 0], [0, 0], [0, True], [[0], [1]], {}, {"a": "A"},
    {"a": "C"}, {"a": 1}, {"a": "A", "b": "tie"},
]
DELETED = object()
RICH_LABEL = {
    "annotator": "ann", "annotator_kind": "human", "winner": "A", "strength": 3, "aspects": {"help": "B"},
    "rationale": "because", "shown_order": [1, 0], "time_spent_ms": 1200, "probability": 0.75, "raw_output": "raw",
    "swap_consistent": True, "unparsable": False,
}
LABELS = [
    {"annotator": "ann", "annotator_kind": "human", "winner": "A"},
    {"annotator": "gpt", "annotator_kind": "judge", "winner": "tie"},
    RICH_LABEL,
]
LABEL_FIELDS = [*RICH_LABEL, "ranking", "thumbs", "edited_text", "other"]
RESPONSES = [{"text": "one"}, {"text": "one", "model": "m1", "id": "r1", "seed": 5, "gen_params": {"t": 0.7}}]
RESPONSE_FIELDS = ["text", "model", "id", "seed", "gen_params", "other"]
TWO = [ResponseRecord(text="a", external_id="ra"), ResponseRecord(text="b", external_id="rb")]


def variants(base: dict, fields: list[str]):
    """`base` with each field deleted or set to each of VALUES, one field at a time."""
    for name in fields:
        for value in [*VALUES, DELETED]:
            obj = copy.deepcopy(base)
            if value is DELETED:
                obj.pop(name, None)
            else:
                obj[name] = value
            yield obj


def checked_or_error(check, *args):
    try:
        return check(*args)
    except RecordError as exc:
        return exc


def test_the_usual_labels_and_responses_take_the_fast_path():
    for label in LABELS:
        assert pairwise_label_fast(label, 2) == label_checked(label, "pairwise", TWO, "labels[0].")
    for response in RESPONSES:
        assert native._response_fast(response) == native._response_checked(response, 0)


@pytest.mark.parametrize("base, least", [
    *((label, 20) for label in LABELS),
    ({**RICH_LABEL, "annotator_kind": "judge", "unparsable": True}, 3),  # fast only where unparsable is unset
])
def test_a_fast_label_is_the_checked_label_or_none(base, least):
    taken = 0
    for obj in [*variants(base, LABEL_FIELDS), *VALUES]:
        fast = pairwise_label_fast(obj, 2)
        if fast is not None:
            taken += 1
            assert fast == checked_or_error(label_checked, obj, "pairwise", TWO, ""), obj
    assert taken >= least  # the fast path is taken for the valid variants, not just refused


@pytest.mark.parametrize("base", RESPONSES)
def test_a_fast_response_is_the_checked_response_or_none(base):
    taken = 0
    for obj in [*variants(base, RESPONSE_FIELDS), *VALUES]:
        fast = native._response_fast(obj)
        if fast is not None:
            taken += 1
            assert fast == checked_or_error(native._response_checked, obj, 0), obj
    assert taken > 20


def mutated_file() -> bytes:
    """Native records with every field of the item, its responses and labels mutated, one per line."""
    base = {
        "id": "i", "kind": "pairwise", "prompt": "Why?", "prompt_id": "p1", "metadata": {"m": 1},
        "prompt_metadata": {"q": [1, 2]}, "responses": copy.deepcopy(RESPONSES[::-1]),
        "labels": copy.deepcopy(LABELS[:2]),
        "reference": {"winner": "B"},
    }
    records = list(variants(base, [*base, "other"]))
    for i in range(2):
        for response in variants(base["responses"][i], RESPONSE_FIELDS):
            records.append({**base, "responses": [response if j == i else r for j, r in enumerate(base["responses"])]})
    for label in [*variants(RICH_LABEL, LABEL_FIELDS), *VALUES]:
        records.append({**base, "labels": [LABELS[1], label]})
    for n, record in enumerate(records):
        record["id"] = f"m{n}"
    records += [{**base, "kind": kind} for kind in ("listwise", "edit", "thumbs")]
    return "\n".join(json.dumps(record) for record in records).encode() + b"\n"


def test_a_file_parses_to_the_same_records_and_errors_with_and_without_the_fast_paths(monkeypatch):
    data = mutated_file()
    fast = parse_file(io.BytesIO(data), "native")
    monkeypatch.setattr(native, "pairwise_label_fast", lambda obj, n: None)
    monkeypatch.setattr(common, "pairwise_label_fast", lambda obj, n: None)
    monkeypatch.setattr(native, "_response_fast", lambda obj: None)
    checked = parse_file(io.BytesIO(data), "native")
    assert fast.records == checked.records and fast.errors == checked.errors
    assert len(fast.records) > 500 and len(fast.errors) > 500  # both kinds of line are in the file


def test_lines_the_quick_json_reading_leaves_to_the_decoder_keep_their_errors():
    good = {"id": "x", "kind": "pairwise", "prompt": "p", "responses": [{"text": "a"}, {"text": "b"}]}
    line = json.dumps(good).encode()
    data = b"\n".join([
        b"  " + line.replace(b'"x"', b'"lead"'),  # leading whitespace: parsed
        line.replace(b'"x"', b'"crlf"') + b"\r",  # a CRLF line end: parsed
        line.replace(b'"x"', b'"tab"') + b" \t",  # trailing blanks: parsed
        line + b"\x0c",  # a form feed is not JSON whitespace
        line + b" x",
        b'{"id": NaN}',
        b'{"id": 1e400}',
    ]) + b"\n"
    result = parse_file(io.BytesIO(data), "native")
    assert [r.external_id for r in result.records] == ["lead", "crlf", "tab"]
    assert [(e.line, e.reason) for e in result.errors] == [
        (4, "invalid JSON: Extra data at the end of the line"),
        (5, "invalid JSON: Extra data at column 93"),
        (6, "invalid JSON: NaN is not a JSON number"),
        (7, "invalid JSON: the number 1e400 is too large"),
    ]


def test_the_record_digest_changes_with_every_field_of_the_record_its_responses_and_labels():
    """record_digest lists the fields of responses and labels by hand: a field added later must be listed too."""
    from dataclasses import fields, replace

    from annotation.importing.formats import record_digest
    from annotation.importing.records import ItemRecord, LabelRecord

    label = LabelRecord(annotator="ann", annotator_kind="human", winner="A")
    record = ItemRecord(
        line=1, external_id="i", kind="pairwise", prompt_external_id="p", messages=[{"role": "user", "content": "q"}],
        responses=[ResponseRecord(text="a", external_id="ra"), ResponseRecord(text="b", external_id="rb")],
        labels=[label],
    )
    other = {str: "other", int: 7, bool: True, dict: {"k": "B"}, list: [1, 0], float: 0.25}
    base = record_digest(record)

    def changed(value):
        return other[int] if value is None else other[type(value)]

    for f in fields(ItemRecord):
        if f.name in ("line", "external_id", "messages_json", "responses", "labels"):  # the key, not the content
            continue
        assert record_digest(replace(record, **{f.name: changed(getattr(record, f.name))})) != base, f.name
    for f in fields(ResponseRecord):
        response = replace(record.responses[1], **{f.name: changed(getattr(record.responses[1], f.name))})
        assert record_digest(replace(record, responses=[record.responses[0], response])) != base, f.name
    for f in fields(LabelRecord):
        changed_label = replace(label, **{f.name: changed(getattr(label, f.name))})
        assert record_digest(replace(record, labels=[changed_label])) != base, f.name
    # equal content is the same digest, whatever the objects (the repeat of an item is dropped)
    assert record_digest(replace(record, labels=[replace(label)], messages=[{"content": "q", "role": "user"}])) == base
