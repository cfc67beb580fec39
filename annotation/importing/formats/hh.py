"""`hh`: Anthropic HH-RLHF — two full transcripts that share every turn but the last reply.

The prompt is the conversation up to the last "\\n\\nAssistant:" of `chosen`; the responses are
what follows it in each transcript. Transcripts that differ earlier are not one prompt's pair.

An optional `reference` names the side that is known to be better: "chosen", "rejected" or "tie".
"""
import re
from typing import Any

from ..reader import RecordError, field_of, require_object
from ..records import ImportOptions, ItemRecord
from .common import pair_item

DEFAULT_ANNOTATOR = "hh-rlhf"
ASSISTANT = "\n\nAssistant:"
_TURN = re.compile(r"\n\n(Human|Assistant):")


def transcript_messages(prefix: str) -> list[dict[str, str]]:
    """'\\n\\nHuman: hi\\n\\nAssistant: hello' → [{user: hi}, {assistant: hello}]."""
    parts = _TURN.split(prefix)
    # parts = [before-first-turn, role, text, role, text, ...]
    if parts[0].strip():
        raise RecordError("transcript does not start with a '\\n\\nHuman:' turn")
    messages = []
    for role, text in zip(parts[1::2], parts[2::2]):
        messages.append({"role": "user" if role == "Human" else "assistant", "content": text.strip()})
    if not messages or messages[-1]["role"] != "user":
        raise RecordError("the prompt must end with a Human turn")
    return messages


def _last_reply(transcript: str, name: str) -> tuple[str, str]:
    cut = transcript.rfind(ASSISTANT)
    if cut < 0:
        raise RecordError(f"field '{name}' has no '\\n\\nAssistant:' turn")
    return transcript[:cut], transcript[cut + len(ASSISTANT):].strip()


def parse(obj: Any, line: int, options: ImportOptions) -> ItemRecord:
    obj = require_object(obj)
    chosen_prefix, chosen = _last_reply(field_of(obj, "chosen", str), "chosen")
    rejected_prefix, rejected = _last_reply(field_of(obj, "rejected", str), "rejected")
    if chosen_prefix != rejected_prefix:
        raise RecordError("chosen and rejected differ before their last Assistant turn (not one prompt's pair)")
    if not chosen:
        raise RecordError("field 'chosen' ends in an empty response")
    if not rejected:
        raise RecordError("field 'rejected' ends in an empty response")
    return pair_item(
        line=line,
        messages=transcript_messages(chosen_prefix),
        chosen=chosen,
        rejected=rejected,
        options=options,
        default_annotator=DEFAULT_ANNOTATOR,
        reference=obj.get("reference"),
    )
