"""`ranked`: a prompt with k scored or ranked completions (UltraFeedback style) → one listwise item.

    {"id": "q1", "prompt": "...", "completions": [
        {"text": "...", "model": "m1", "score": 8.5}, {"text": "...", "model": "m2", "score": 6}]}

`instruction` is accepted for `prompt` and `response` for `text` (UltraFeedback's names), and
`overall_score` for `score`. Every completion has a `score` (higher is better) or every one a
`rank` (1 is best); equal values are ties. The ordering is recorded as a ranking label by the
import's annotator (by default the judge "ranked-import"). An optional `reference` is the known ranking of the
completions' positions (tie groups, best first), e.g. [[1], [0, 2]].
"""
from typing import Any

from ..ids import content_id, prompt_id, response_id
from ..reader import RecordError, field_of, require_object, short_text
from ..records import MAX_ID_LENGTH, MAX_MODEL_LENGTH, ImportOptions, ItemRecord, LabelRecord, ResponseRecord
from ..references import reference_check
from .common import completion_text, messages_from

DEFAULT_ANNOTATOR = "ranked-import"
MAX_RESPONSES = 16


def _value(completion: dict[str, Any], i: int) -> tuple[str, float]:
    for key, sign in (("score", -1.0), ("overall_score", -1.0), ("rank", 1.0)):
        if completion.get(key) is not None:
            value = field_of(completion, key, float, where=f"completions[{i}].")
            return ("rank" if key == "rank" else "score"), sign * float(value)
    raise RecordError(f"field 'completions[{i}].score' (or 'rank') is missing")


def parse(obj: Any, line: int, options: ImportOptions) -> ItemRecord:
    obj = require_object(obj)
    record_id = short_text(obj, "id", MAX_ID_LENGTH)
    prompt_value = obj.get("prompt", obj.get("instruction"))
    if prompt_value is None:
        raise RecordError("field 'prompt' is missing")
    messages = messages_from(prompt_value, "prompt")
    completions = obj.get("completions", obj.get("responses"))
    if not isinstance(completions, list):
        raise RecordError("field 'completions' is missing or not a list")
    if not 2 <= len(completions) <= MAX_RESPONSES:
        raise RecordError(f"field 'completions' must hold 2 to {MAX_RESPONSES} completions, got {len(completions)}")
    responses, keys, kinds = [], [], set()
    for i, completion in enumerate(completions):
        completion = require_object(completion, f"completions[{i}]")
        text = completion_text(completion.get("text", completion.get("response")), f"completions[{i}].text")
        model = short_text(completion, "model", MAX_MODEL_LENGTH, where=f"completions[{i}].") or ""
        kind, key = _value(completion, i)
        kinds.add(kind)
        keys.append(key)
        responses.append(ResponseRecord(text=text, external_id=response_id(text, model), model_name=model))
    if len(kinds) > 1:
        raise RecordError("completions mix 'score' and 'rank': use one for all")
    ranking: list[list[int]] = []
    for position in sorted(range(len(keys)), key=lambda p: keys[p]):
        if ranking and keys[ranking[-1][0]] == keys[position]:
            ranking[-1].append(position)
        else:
            ranking.append([position])
    label = LabelRecord(
        annotator=options.annotator or DEFAULT_ANNOTATOR,
        annotator_kind=options.annotator_kind if options.annotator else "judge",
        ranking=ranking,
    )
    return ItemRecord(
        line=line,
        external_id=record_id or content_id(messages, [r.text for r in responses], prefix="rank-"),
        kind="listwise",
        prompt_external_id=prompt_id(messages),
        messages=messages,
        responses=responses,
        labels=[label],
        metadata={"scores" if kinds == {"score"} else "ranks": [abs(k) for k in keys]},
        reference=reference_check(obj.get("reference"), kind="listwise", n_responses=len(responses)),
    )
