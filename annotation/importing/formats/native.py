"""`native`: PrefStudio's own JSONL — items, responses and labels by named annotators and judges.

One item per line (the README documents every field, with an example):

    {"id": "pandalm-0", "kind": "pairwise",
     "prompt": "Rewrite ...", "prompt_id": "optional", "metadata": {}, "prompt_metadata": {},
     "responses": [{"text": "...", "model": "llama-7b"}, {"text": "...", "model": "bloom-7b"}],
     "labels": [{"annotator": "annotator1", "annotator_kind": "human", "winner": "B"},
                {"annotator": "gpt-3.5-turbo", "annotator_kind": "judge", "unparsable": true,
                 "raw_output": "garbage"}],
     "reference": {"winner": "B"}}          (optional: the known answer; {"ranking": [[1], [0, 2]]} for a list)
"""
from typing import Any

from ..ids import canonical_json, prompt_id_of_json, response_id
from ..reader import RecordError, field_of, int_in_range, is_blank, nonempty_text, require_object, short_text
from ..records import INT64, KINDS, MAX_ID_LENGTH, MAX_MODEL_LENGTH, ImportOptions, ItemRecord, ResponseRecord
from ..references import reference_check
from .common import label_checked, messages_from, pairwise_label_fast, parse_label

COUNTS = {"pairwise": (2, 2), "listwise": (2, 16), "edit": (1, 1), "thumbs": (1, 1)}


def _response_fast(obj: Any) -> ResponseRecord | None:
    """What `_response_checked` returns for a valid response, or None whenever a check might fail (then
    `_response_checked` decides and names the problem). Never raises. The same checks with plain dict access on
    exact JSON types (see common.pairwise_label_fast for why); tests/annotation/importing/test_fast_paths.py holds
    the two equal."""
    if type(obj) is not dict:
        return None
    get = obj.get
    text = get("text")
    if type(text) is not str or not text or text.isspace():
        return None
    model = get("model")
    if model is None:
        model = ""
    elif type(model) is not str or len(model) > MAX_MODEL_LENGTH:
        return None
    seed = get("seed")
    if seed is not None and (type(seed) is not int or not INT64[0] <= seed <= INT64[1]):
        return None
    external_id = get("id")
    if external_id is not None and (type(external_id) is not str or len(external_id) > MAX_ID_LENGTH):
        return None
    gen_params = get("gen_params")
    if gen_params is not None and type(gen_params) is not dict:
        return None
    return ResponseRecord(
        text=text, external_id=external_id or response_id(text, model), model_name=model, gen_params=gen_params or {},
        seed=seed,
    )


def _response_checked(obj: Any, i: int) -> ResponseRecord:
    where = f"responses[{i}]."
    obj = require_object(obj, f"responses[{i}]")
    text = field_of(obj, "text", str, where=where)
    if is_blank(text):
        raise RecordError(f"field '{where}text' is an empty response")
    model = short_text(obj, "model", MAX_MODEL_LENGTH, where=where) or ""
    seed = int_in_range(obj, "seed", *INT64, where=where)
    return ResponseRecord(
        text=text,
        external_id=short_text(obj, "id", MAX_ID_LENGTH, where=where) or response_id(text, model),
        model_name=model,
        gen_params=field_of(obj, "gen_params", dict, required=False, where=where) or {},
        seed=seed,
    )


def parse(obj: Any, line: int, options: ImportOptions) -> ItemRecord:
    # Each field is first looked at with plain dict access on exact JSON types; where that is not clearly valid,
    # the general check (field_of and friends) decides, in the same order as ever, and words the error.
    obj = require_object(obj)
    get = obj.get
    record_id = get("id")
    if type(record_id) is not str or not record_id or record_id.isspace():
        record_id = nonempty_text(obj, "id")
    if len(record_id) > MAX_ID_LENGTH:
        raise RecordError(f"field 'id' is longer than {MAX_ID_LENGTH} characters ({len(record_id)})")
    kind = get("kind")
    if type(kind) is not str:
        kind = field_of(obj, "kind", str)
    if kind not in KINDS:
        raise RecordError(f"field 'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
    prompt = get("prompt")
    if prompt is None:
        raise RecordError("field 'prompt' is missing")
    messages = messages_from(prompt, "prompt")
    raw_responses = get("responses")
    if type(raw_responses) is not list:
        raw_responses = field_of(obj, "responses", list)
    low, high = COUNTS[kind]
    if not low <= len(raw_responses) <= high:
        wanted = str(low) if low == high else f"{low} to {high}"
        raise RecordError(f"a {kind} item needs {wanted} responses, got {len(raw_responses)}")
    responses = [_response_fast(r) for r in raw_responses]  # never raises; None where doubtful
    if not all(responses):  # a record is always true, None is not
        responses = [
            response if response is not None else _response_checked(raw, i)
            for i, (response, raw) in enumerate(zip(responses, raw_responses))
        ]
    raw_labels = get("labels")
    if type(raw_labels) is not list:
        raw_labels = field_of(obj, "labels", list, required=False) or []
    if kind == "pairwise":  # every label through the fast path first (it never raises), then the doubtful ones
        n_responses = len(responses)
        labels = [pairwise_label_fast(label, n_responses) for label in raw_labels]
        if not all(labels):
            labels = [
                label if label is not None else label_checked(raw, kind, responses, f"labels[{i}].")
                for i, (label, raw) in enumerate(zip(labels, raw_labels))
            ]
    else:
        labels = [parse_label(label, kind, responses, f"labels[{i}].") for i, label in enumerate(raw_labels)]
    if len(labels) > 1 and len({label.annotator for label in labels}) < len(labels):
        seen: dict[str, int] = {}
        for i, label in enumerate(labels):
            if label.annotator in seen:
                raise RecordError(f"labels[{i}] repeats annotator {label.annotator!r} (one label per annotator)")
            seen[label.annotator] = i
    given_prompt_id = get("prompt_id")
    if given_prompt_id is not None:
        given_prompt_id = short_text(obj, "prompt_id", MAX_ID_LENGTH)
    messages_json = canonical_json(messages)
    return ItemRecord(
        line=line,
        external_id=record_id,
        kind=kind,
        prompt_external_id=given_prompt_id or prompt_id_of_json(messages_json),
        messages=messages,
        responses=responses,
        labels=labels,
        prompt_metadata=_optional_object(obj, "prompt_metadata"),
        metadata=_optional_object(obj, "metadata"),
        reference=reference_check(get("reference"), kind=kind, n_responses=len(responses)),
        messages_json=messages_json,
    )


def _optional_object(obj: dict[str, Any], name: str) -> dict[str, Any]:
    """`field_of(obj, name, dict, required=False) or {}`, without the general check for the usual absent or
    plain object."""
    value = obj.get(name)
    if value is None:
        return {}
    if type(value) is dict:
        return value or {}
    return field_of(obj, name, dict, required=False) or {}
