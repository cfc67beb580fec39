"""Creating labels: validated by the importer's own rules, idempotent, one per item and annotator.

`label_create` is the one write path for a single label given interactively: a person's label reaches it
through the labeling queue (`services.labeling.label_submit`, with its lease checks, from the task page and the
REST API), review and judge jobs call it directly.
The payload uses the field names of the native import format (winner, strength, aspects, rationale,
ranking, edited_text, thumbs, shown_order, time_spent_ms; judges also probability, raw_output,
swap_consistent, unparsable), and is checked by the same `parse_label` / `check_ranking` the importer uses, so a label accepted here
is one an import would accept, and the other way round.
"""
import re
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from ..errors import Conflict, PrefStudioError
from ..importing import LabelRecord, ResponseRecord, text_too_long
from ..importing.formats.common import check_ranking, parse_label
from ..importing.ids import content_id
from ..importing.reader import RecordError
from ..models import (
    Annotator,
    Item,
    ItemResponse,
    ItemState,
    Label,
    LabelRole,
    LabelStatus,
    Project,
    Response,
    ResponseOrigin,
    TaskKind,
)
from .items import items_recount
from .routing import routing_disagreement_check

COMMON_FIELDS = frozenset({"rationale", "shown_order", "time_spent_ms"})
KIND_FIELDS = {
    TaskKind.PAIRWISE: frozenset({"winner", "strength", "aspects"}),
    TaskKind.LISTWISE: frozenset({"ranking"}),
    TaskKind.EDIT: frozenset({"edited_text", "no_change"}),
    TaskKind.THUMBS: frozenset({"thumbs"}),
}
JUDGE_FIELDS = frozenset({"probability", "raw_output", "swap_consistent", "unparsable"})
# Free texts of a label, capped at settings.PREFSTUDIO_MAX_TEXT_CHARS as in imports.
TEXT_FIELDS = ("rationale", "raw_output", "edited_text")
# Items in these states are decided; a late label would silently change a final verdict.
CLOSED_STATES = frozenset({ItemState.FINAL, ItemState.EXCLUDED})
# time_spent_ms is a PositiveIntegerField: PostgreSQL's integer tops out at 2**31 - 1 (~24.8 days).
MAX_TIME_SPENT_MS = 2**31 - 1
KEY_LENGTH = Label._meta.get_field("idempotency_key").max_length
_FIELD_IN_MESSAGE = re.compile(r"field '([^']+)'")


@transaction.atomic
def label_create(
    *,
    item: Item,
    annotator: Annotator,
    data: dict[str, Any],
    idempotency_key: str | None = None,
    role: str = LabelRole.ANNOTATION,
) -> Label:
    """Record `annotator`'s label on `item` and update the item's counters.

    `role` is ANNOTATION for a verdict given while labeling, REVIEW for a reviewer's resolution
    (annotation.services.review), which is validated by the same rules and counted by no counter.

    Retrying with the same `idempotency_key` returns the label the first call made (the payload
    of the retry is not compared). A second label by the same annotator on the same item, or a key
    already used for another item or annotator, raises Conflict (409). A payload that does not fit
    the item's kind or the project's settings raises PrefStudioError naming the field; nothing is
    written then. Takes a row lock on the item, so labels on one item are recorded one at a time.
    """
    item = Item.objects.select_for_update().select_related("project", "prompt").get(pk=item.pk)
    if idempotency_key is not None:
        if not idempotency_key or len(idempotency_key) > KEY_LENGTH or "\x00" in idempotency_key:
            raise PrefStudioError(f"idempotency_key must be 1 to {KEY_LENGTH} characters", field="idempotency_key")
        replay = Label.objects.filter(idempotency_key=idempotency_key).first()
        if replay is not None:
            if replay.item_id == item.pk and replay.annotator_id == annotator.pk:
                return replay
            raise Conflict("idempotency_key was already used for another label", field="idempotency_key")
    if Label.objects.filter(item=item, annotator=annotator, role=role).exists():
        verb = "reviewed" if role == LabelRole.REVIEW else "labeled"
        raise Conflict(f"{annotator.name} has already {verb} item {item.pk}", field="item")
    if item.state in CLOSED_STATES:
        raise Conflict(f"item {item.pk} is {item.state} and takes no more labels", field="item")
    slots = list(ItemResponse.objects.filter(item=item).select_related("response").order_by("position"))
    record = _validated(item=item, annotator=annotator, slots=slots, data=data)
    edited = _edit_response(item=item, annotator=annotator, original=slots[0].response, record=record)
    try:
        with transaction.atomic():
            label = Label.objects.create(
                item=item,
                annotator=annotator,
                kind=item.kind,
                role=role,
                status=LabelStatus.UNPARSABLE if record.unparsable else LabelStatus.OK,
                winner=record.winner,
                strength=record.strength,
                aspects=record.aspects,
                rationale=record.rationale,
                ranking=record.ranking,
                edited_response=edited,
                thumbs_up=record.thumbs_up,
                shown_order=record.shown_order,
                time_spent_ms=record.time_spent_ms,
                probability=record.probability,
                raw_output=record.raw_output,
                swap_consistent=record.swap_consistent,
                idempotency_key=idempotency_key,
            )
    except IntegrityError as exc:  # a concurrent request with the same key, on another item
        raise Conflict("the label conflicts with one recorded meanwhile", field="idempotency_key") from exc
    items_recount(item_ids=[item.pk])
    if role == LabelRole.ANNOTATION and not annotator.is_judge and label.status == LabelStatus.OK:
        routing_disagreement_check(item=item)  # a person against the judges on a routed item: review it
    return label


# -- validation ---------------------------------------------------------------------------------------
def _validated(*, item: Item, annotator: Annotator, slots: list[ItemResponse], data: dict[str, Any]) -> LabelRecord:
    payload = {key: value for key, value in data.items() if value is not None}
    allowed = COMMON_FIELDS | KIND_FIELDS[item.kind] | (JUDGE_FIELDS if annotator.is_judge else frozenset())
    for key in payload:
        if key not in allowed:
            raise PrefStudioError(
                f"field '{key}' does not apply to a {item.kind} label by a {annotator.kind}", field=key
            )
    no_change = _no_change(item=item, slots=slots, payload=payload)
    _check_text_lengths(payload)
    _reject_nul(payload, "")
    _check_shape(payload)
    project: Project = item.project
    responses = [ResponseRecord(text=s.response.text, external_id=s.response.external_id) for s in slots]
    partial = None
    # A judge's unparsable verdict has no ranking to check: parse_label accepts it as such (checking the ranking
    # first refused every unparsable judge verdict on projects that allow partial rankings).
    if item.kind == TaskKind.LISTWISE and project.allow_partial_ranking and not payload.get("unparsable"):
        partial = _shared_rule(check_ranking, payload.get("ranking"), len(responses), "ranking", allow_partial=True)
        ranked = {position for group in partial for position in group}
        rest = [p for p in range(len(responses)) if p not in ranked]
        # The shared parser wants a full ranking; the unranked tail completes it for the other checks.
        payload["ranking"] = partial + ([rest] if rest else [])
    obj = {**payload, "annotator": annotator.name, "annotator_kind": annotator.kind}
    record: LabelRecord = _shared_rule(parse_label, obj, item.kind, responses, "")
    if partial is not None:
        record.ranking = partial
    _check_project_rules(project=project, record=record)
    if item.kind == TaskKind.EDIT and not no_change and record.edited_text.strip() == slots[0].response.text.strip():
        raise PrefStudioError("field 'edited_text' is the same as the original response", field="edited_text")
    return record


def _no_change(*, item: Item, slots: list[ItemResponse], payload: dict[str, Any]) -> bool:
    """`no_change: true` on an edit label: the response needs no edit, and the label stores it unchanged.

    Takes `no_change` out of `payload` and puts the original text in as `edited_text` (the one an import of
    this label carries); an `edited_text` that differs from the original contradicts the flag and is refused."""
    flag = payload.pop("no_change", None)
    if flag is None or flag is False:
        return False
    if flag is not True:
        raise PrefStudioError("field 'no_change' must be true or false", field="no_change")
    original = slots[0].response.text
    edited = payload.get("edited_text")
    if edited is not None and (not isinstance(edited, str) or edited.strip() != original.strip()):
        raise PrefStudioError("field 'edited_text' differs from the original response, but no_change is true",
                              field="edited_text")
    payload["edited_text"] = original
    return True


def _shared_rule(check, *args, **kwargs):
    """Run one of the importer's checks, turning its RecordError into an error naming the field."""
    try:
        return check(*args, **kwargs)
    except RecordError as exc:
        found = _FIELD_IN_MESSAGE.search(str(exc))
        raise PrefStudioError(str(exc), field=found.group(1) if found else None) from exc


def _check_text_lengths(payload: dict[str, Any]) -> None:
    """The label's free texts are at most PREFSTUDIO_MAX_TEXT_CHARS long, as in an import."""
    for name in TEXT_FIELDS:
        value = payload.get(name)
        if isinstance(value, str):
            problem = text_too_long(value, f"field '{name}'", settings.PREFSTUDIO_MAX_TEXT_CHARS)
            if problem:
                raise PrefStudioError(problem, field=name)


def _check_shape(payload: dict[str, Any]) -> None:
    """What the shared parser assumes but does not check (it reads files, not arbitrary requests)."""
    shown = payload.get("shown_order")
    if shown is not None and (
        not isinstance(shown, list) or any(isinstance(p, bool) or not isinstance(p, int) for p in shown)
    ):
        raise PrefStudioError("field 'shown_order' must be a list of response positions", field="shown_order")
    spent = payload.get("time_spent_ms")
    if isinstance(spent, int) and not isinstance(spent, bool) and spent > MAX_TIME_SPENT_MS:
        raise PrefStudioError(f"field 'time_spent_ms' must be at most {MAX_TIME_SPENT_MS}", field="time_spent_ms")


def _check_project_rules(*, project: Project, record: LabelRecord) -> None:
    levels = len(project.strength_levels or [])
    if record.strength is not None and record.strength > levels:
        scale = f"between 1 and {levels}" if levels else "empty (this project has no strength scale)"
        raise PrefStudioError(f"field 'strength' must be {scale}, got {record.strength}", field="strength")
    unknown = sorted(set(record.aspects) - set(project.aspects or []))
    if unknown:
        known = ", ".join(project.aspects or []) or "none"
        raise PrefStudioError(
            f"field 'aspects' names unknown aspect(s) {unknown}; this project has: {known}", field="aspects"
        )
    if project.rationale_required and not record.unparsable and not record.rationale.strip():
        raise PrefStudioError("field 'rationale' is required in this project", field="rationale")


def _reject_nul(value: Any, path: str) -> None:
    """PostgreSQL text and jsonb cannot hold NUL characters; say which field has one."""
    if isinstance(value, str) and "\x00" in value:
        raise PrefStudioError(f"field '{path}' contains a NUL character", field=path)
    if isinstance(value, dict):
        for key, inner in value.items():
            where = f"{path}.{key}" if path else str(key)
            _reject_nul(key, where)
            _reject_nul(inner, where)
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            _reject_nul(inner, f"{path}[{i}]")


def _edit_response(*, item: Item, annotator: Annotator, original: Response, record: LabelRecord) -> Response | None:
    """The edited text as a Response (origin human_edit, parent = the item's response).

    Keyed like the importer keys edits, so importing the same edit later finds this row.
    """
    if item.kind != TaskKind.EDIT:
        return None
    text = record.edited_text
    if text == original.text:  # no change needed: the label points at the response itself
        return original
    external_id = content_id("edit", annotator.name, original.external_id, text, prefix="e-")
    response, _ = Response.objects.get_or_create(
        prompt=item.prompt,
        external_id=external_id,
        defaults={"text": text, "origin": ResponseOrigin.HUMAN_EDIT, "parent": original},
    )
    return response
