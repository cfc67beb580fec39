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

from ..ids import prompt_id, response_id
from ..reader import RecordError, field_of, int_in_range, is_blank, nonempty_text, require_object, short_text
from ..records import INT64, KINDS, MAX_ID_LENGTH, MAX_MODEL_LENGTH, ImportOptions, ItemRecord, ResponseRecord
from ..references import reference_check
from .common import messages_from, parse_label

COUNTS = {"pairwise": (2, 2), "listwise": (2, 16), "edit": (1, 1), "thumbs": (1, 1)}


def _response(obj: Any, i: int) -> ResponseRecord:
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
    obj = require_object(obj)
    record_id = nonempty_text(obj, "id")
    if len(record_id) > MAX_ID_LENGTH:
        raise RecordError(f"field 'id' is longer than {MAX_ID_LENGTH} characters ({len(record_id)})")
    kind = field_of(obj, "kind", str)
    if kind not in KINDS:
        raise RecordError(f"field 'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
    messages = messages_from(obj.get("prompt"), "prompt") if obj.get("prompt") is not None else None
    if messages is None:
        raise RecordError("field 'prompt' is missing")
    raw_responses = field_of(obj, "responses", list)
    low, high = COUNTS[kind]
    if not low <= len(raw_responses) <= high:
        wanted = str(low) if low == high else f"{low} to {high}"
        raise RecordError(f"a {kind} item needs {wanted} responses, got {len(raw_responses)}")
    responses = [_response(r, i) for i, r in enumerate(raw_responses)]
    raw_labels = field_of(obj, "labels", list, required=False) or []
    labels = [parse_label(label, kind, responses, f"labels[{i}].") for i, label in enumerate(raw_labels)]
    seen: dict[str, int] = {}
    for i, label in enumerate(labels):
        if label.annotator in seen:
            raise RecordError(f"labels[{i}] repeats annotator {label.annotator!r} (one label per annotator)")
        seen[label.annotator] = i
    return ItemRecord(
        line=line,
        external_id=record_id,
        kind=kind,
        prompt_external_id=short_text(obj, "prompt_id", MAX_ID_LENGTH) or prompt_id(messages),
        messages=messages,
        responses=responses,
        labels=labels,
        prompt_metadata=field_of(obj, "prompt_metadata", dict, required=False) or {},
        metadata=field_of(obj, "metadata", dict, required=False) or {},
        reference=reference_check(obj.get("reference"), kind=kind, n_responses=len(responses)),
    )
