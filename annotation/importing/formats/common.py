"""Pieces shared by the import formats: messages, labels, rankings, pairs."""
from typing import Any

from ..ids import pair_ids, swap_for
from ..reader import RecordError, field_of, int_in_range, is_blank, nonempty_text, require_object
from ..records import (
    ANNOTATOR_KINDS,
    MAX_ANNOTATOR_LENGTH,
    MAX_INT32,
    ROLES,
    WINNERS,
    ImportOptions,
    ItemRecord,
    LabelRecord,
    ResponseRecord,
)


def messages_from(value: Any, name: str) -> list[dict[str, str]]:
    """A prompt as chat messages: a plain string is one user turn."""
    if isinstance(value, str):
        if is_blank(value):
            raise RecordError(f"field '{name}' is empty")
        return [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise RecordError(f"field '{name}' must be a string or a non-empty list of messages")
    messages = []
    for i, message in enumerate(value):
        where = f"{name}[{i}]."
        message = require_object(message, f"{name}[{i}]")
        role = field_of(message, "role", str, where=where)
        if role not in ROLES:
            raise RecordError(f"field '{where}role' must be one of {', '.join(ROLES)}, got {role!r}")
        content = field_of(message, "content", str, where=where)
        messages.append({"role": role, "content": content})
    return messages


def completion_text(value: Any, name: str) -> str:
    """A completion given as a string or as a list holding one assistant message."""
    if value is None:
        raise RecordError(f"field '{name}' is missing")
    if isinstance(value, list):
        messages = messages_from(value, name)
        if len(messages) != 1 or messages[0]["role"] != "assistant":
            raise RecordError(f"field '{name}' must hold exactly one assistant message")
        value = messages[0]["content"]
    if not isinstance(value, str):
        raise RecordError(f"field '{name}' must be a string or a list of messages")
    if is_blank(value):
        raise RecordError(f"field '{name}' is an empty response")
    return value


def check_ranking(value: Any, n: int, where: str, *, allow_partial: bool = False) -> list[list[int]]:
    """Tie groups of positions, best first. A flat list [2, 0, 1] means no ties.

    The groups must cover every position 0..n-1 exactly once (or, when partial rankings are
    allowed, a prefix of the order: the top-k, each position at most once).
    """
    if not isinstance(value, list) or not value:
        raise RecordError(f"field '{where}' must be a non-empty list")
    groups = [g if isinstance(g, list) else [g] for g in value]
    flat: list[int] = []
    for group in groups:
        if not group:
            raise RecordError(f"field '{where}' has an empty tie group")
        for position in group:
            if isinstance(position, bool) or not isinstance(position, int):
                raise RecordError(f"field '{where}' must hold response positions (integers), got {position!r}")
            flat.append(position)
    outside = [p for p in flat if p < 0 or p >= n]
    if outside:
        raise RecordError(f"field '{where}' names position {outside[0]}, outside 0..{n - 1}")
    if len(set(flat)) != len(flat):
        twice = next(p for p in flat if flat.count(p) > 1)
        raise RecordError(
            f"field '{where}' names position {twice} twice: it must be a permutation of the responses"
        )
    if len(flat) != n and not allow_partial:
        missing = sorted(set(range(n)) - set(flat))
        raise RecordError(
            f"field '{where}' is not a permutation of the {n} responses (missing position(s) {missing})"
        )
    return groups


def parse_label(obj: Any, kind: str, responses: list[ResponseRecord], where: str) -> LabelRecord:
    """A label of an item of `kind` with `responses`; raises RecordError naming the field (prefixed by `where`)."""
    if kind == "pairwise":
        label = pairwise_label_fast(obj, len(responses))
        if label is not None:
            return label
    return label_checked(obj, kind, responses, where)


def label_checked(obj: Any, kind: str, responses: list[ResponseRecord], where: str) -> LabelRecord:
    """`parse_label` by the general field checks alone: what decides, and words the error, when the fast path
    is not sure."""
    obj = require_object(obj, where.rstrip("."))
    annotator = nonempty_text(obj, "annotator", where)
    if len(annotator) > MAX_ANNOTATOR_LENGTH:
        raise RecordError(f"field '{where}annotator' is longer than {MAX_ANNOTATOR_LENGTH} characters")
    annotator_kind = field_of(obj, "annotator_kind", str, where=where)
    if annotator_kind not in ANNOTATOR_KINDS:
        raise RecordError(f"field '{where}annotator_kind' must be 'human' or 'judge', got {annotator_kind!r}")
    label = LabelRecord(annotator=annotator, annotator_kind=annotator_kind)
    label.rationale = field_of(obj, "rationale", str, required=False, where=where) or ""
    label.raw_output = field_of(obj, "raw_output", str, required=False, where=where) or ""
    label.unparsable = bool(field_of(obj, "unparsable", bool, required=False, where=where))
    label.swap_consistent = field_of(obj, "swap_consistent", bool, required=False, where=where)
    label.time_spent_ms = int_in_range(obj, "time_spent_ms", 0, MAX_INT32, where=where)
    probability = field_of(obj, "probability", float, required=False, where=where)
    if probability is not None and not 0.0 <= probability <= 1.0:
        raise RecordError(f"field '{where}probability' must be between 0 and 1, got {probability}")
    label.probability = None if probability is None else float(probability)
    shown = field_of(obj, "shown_order", list, required=False, where=where)
    if shown is not None:
        n = len(responses)
        if any(isinstance(p, bool) or not isinstance(p, int) for p in shown) or sorted(shown) != list(range(n)):
            raise RecordError(f"field '{where}shown_order' must be a permutation of the positions 0..{n - 1}")
        label.shown_order = shown
    if label.unparsable:
        if annotator_kind != "judge":
            raise RecordError(f"field '{where}unparsable' is only for judge labels")
        return label
    if kind == "pairwise":
        label.winner = field_of(obj, "winner", str, where=where)
        if label.winner not in WINNERS:
            raise RecordError(f"field '{where}winner' must be one of {', '.join(WINNERS)}, got {label.winner!r}")
        strength = field_of(obj, "strength", int, required=False, where=where)
        if strength is not None and not 1 <= strength <= 10:
            raise RecordError(f"field '{where}strength' must be between 1 and 10, got {strength}")
        label.strength = strength
        aspects = field_of(obj, "aspects", dict, required=False, where=where) or {}
        for aspect, verdict in aspects.items():
            if verdict not in WINNERS:
                raise RecordError(f"field '{where}aspects.{aspect}' must be one of {', '.join(WINNERS)}")
        label.aspects = aspects
    elif kind == "listwise":
        label.ranking = check_ranking(obj.get("ranking"), len(responses), f"{where}ranking")
    elif kind == "edit":
        label.edited_text = nonempty_text(obj, "edited_text", where)
    elif kind == "thumbs":
        thumbs = field_of(obj, "thumbs", (str, bool), where=where)
        if isinstance(thumbs, str):
            if thumbs not in ("up", "down"):
                raise RecordError(f"field '{where}thumbs' must be 'up' or 'down', got {thumbs!r}")
            thumbs = thumbs == "up"
        label.thumbs_up = thumbs
    return label


def pairwise_label_fast(obj: Any, n_responses: int) -> LabelRecord | None:
    """What `parse_label` returns for a valid pairwise label, or None whenever a check might fail (then
    `parse_label`'s own checks decide, and name the problem). Never raises.

    Why: `parse_label` checks every field with the general helpers (a dozen `field_of` calls a label, most for
    absent fields), which was the largest part of the import's CPU. This does the same checks with plain dict
    access on exact JSON types, accepts only labels they accept and returns the label they return; anything
    unusual (an unparsable verdict, a wrong type, a value out of range) is left to them. tests/annotation/importing/test_fast_paths.py
    holds the two equal on every field's valid and invalid values.
    """
    if type(obj) is not dict:
        return None
    get = obj.get
    annotator, annotator_kind, winner = get("annotator"), get("annotator_kind"), get("winner")
    if (
        type(annotator) is not str or type(annotator_kind) is not str or type(winner) is not str
        or annotator_kind not in ANNOTATOR_KINDS or winner not in WINNERS
        or not annotator or annotator.isspace() or len(annotator) > MAX_ANNOTATOR_LENGTH
    ):
        return None
    label = LabelRecord(annotator, annotator_kind, winner)
    if len(obj) == 3:  # nothing but the three fields just checked
        return label
    for name in ("rationale", "raw_output"):
        value = get(name)
        if value is not None:
            if type(value) is not str:
                return None
            setattr(label, name, value)
    value = get("unparsable")
    if value is not None and value is not False:  # an unparsable verdict returns before its winner is read
        return None
    value = get("swap_consistent")
    if value is not None:
        if type(value) is not bool:
            return None
        label.swap_consistent = value
    value = get("time_spent_ms")
    if value is not None:
        if type(value) is not int or not 0 <= value <= MAX_INT32:
            return None
        label.time_spent_ms = value
    value = get("probability")
    if value is not None:
        if (type(value) is not float and type(value) is not int) or not 0.0 <= value <= 1.0:
            return None
        label.probability = float(value)
    value = get("shown_order")
    if value is not None:
        if type(value) is not list or any(type(p) is not int for p in value) or sorted(value) != list(
                range(n_responses)):
            return None
        label.shown_order = value
    value = get("strength")
    if value is not None:
        if type(value) is not int or not 1 <= value <= 10:
            return None
        label.strength = value
    value = get("aspects")
    if value is not None:
        if type(value) is not dict or any(type(v) is not str or v not in WINNERS for v in value.values()):
            return None
        label.aspects = value or {}
    return label


def pair_item(
    *,
    line: int,
    messages: list[dict[str, str]],
    chosen: str,
    rejected: str,
    options: ImportOptions,
    default_annotator: str,
    external_id: str | None = None,
    chosen_model: str = "",
    rejected_model: str = "",
    metadata: dict[str, Any] | None = None,
    reference: Any = None,
) -> ItemRecord:
    """A pairwise item from a (chosen, rejected) pair, labeled by the file's annotator. `reference`: the file's
    "chosen" | "rejected" | "tie" (None = none), stored as the winner at the side's drawn position."""
    content_key, prompt_key, chosen_id, rejected_id = pair_ids(messages, chosen, rejected, chosen_model, rejected_model)
    key = external_id or content_key
    first = ResponseRecord(text=chosen, external_id=chosen_id, model_name=chosen_model)
    second = ResponseRecord(text=rejected, external_id=rejected_id, model_name=rejected_model)
    swapped = swap_for(key)
    responses = [second, first] if swapped else [first, second]
    label = LabelRecord(
        annotator=options.annotator or default_annotator,
        annotator_kind=options.annotator_kind,
        winner="B" if swapped else "A",
    )
    return ItemRecord(
        line=line,
        external_id=key,
        kind="pairwise",
        prompt_external_id=prompt_key,
        messages=messages,
        responses=responses,
        labels=[label],
        metadata=metadata or {},
        reference=_side_reference(reference, swapped),
    )


SIDES = ("chosen", "rejected", "tie")


def _side_reference(value: Any, swapped: bool) -> dict[str, str] | None:
    """A trl / hh reference ("chosen" | "rejected" | "tie") as the stored {"winner": ..} of the drawn positions."""
    if value is None:
        return None
    if value not in SIDES:
        raise RecordError(f"field 'reference' must be one of {', '.join(SIDES)} (the side known to be better), "
                          f"got {value!r}")
    if value == "tie":
        return {"winner": "tie"}
    chosen_is_a = not swapped
    return {"winner": "A" if (value == "chosen") == chosen_is_a else "B"}
