"""`trl`: TRL preference JSONL — prompt / chosen / rejected, plain strings or message lists.

Conversational records may leave out `prompt` ("implicit prompt"): the prompt is then the
messages that chosen and rejected share, and each completion is the one message after them.

An optional `reference` names the side that is known to be better: "chosen", "rejected" or "tie".
"""
from typing import Any

from ..reader import RecordError, require_object, short_text
from ..records import MAX_ID_LENGTH, ImportOptions, ItemRecord
from .common import completion_text, messages_from, pair_item

DEFAULT_ANNOTATOR = "trl-import"


def _split_implicit(chosen: list[Any], rejected: list[Any]) -> tuple[list[dict[str, str]], Any, Any]:
    chosen_messages = messages_from(chosen, "chosen")
    rejected_messages = messages_from(rejected, "rejected")
    shared = 0
    while (
        shared < min(len(chosen_messages), len(rejected_messages))
        and chosen_messages[shared] == rejected_messages[shared]
    ):
        shared += 1
    if shared == 0:
        raise RecordError("chosen and rejected share no prompt messages and field 'prompt' is missing")
    if shared == len(chosen_messages) == len(rejected_messages):
        raise RecordError("chosen and rejected are the same conversation: there is no completion to compare")
    return chosen_messages[:shared], chosen_messages[shared:], rejected_messages[shared:]


def parse(obj: Any, line: int, options: ImportOptions) -> ItemRecord:
    obj = require_object(obj)
    record_id = short_text(obj, "id", MAX_ID_LENGTH)
    if "chosen" not in obj:
        raise RecordError("field 'chosen' is missing")
    if "rejected" not in obj:
        raise RecordError("field 'rejected' is missing")
    if obj.get("prompt") is None:
        if not (isinstance(obj["chosen"], list) and isinstance(obj["rejected"], list)):
            raise RecordError("field 'prompt' is missing")
        messages, chosen, rejected = _split_implicit(obj["chosen"], obj["rejected"])
    else:
        messages = messages_from(obj["prompt"], "prompt")
        chosen, rejected = obj["chosen"], obj["rejected"]
    return pair_item(
        line=line,
        messages=messages,
        chosen=completion_text(chosen, "chosen"),
        rejected=completion_text(rejected, "rejected"),
        options=options,
        default_annotator=DEFAULT_ANNOTATOR,
        reference=obj.get("reference"),
        external_id=record_id,
    )
