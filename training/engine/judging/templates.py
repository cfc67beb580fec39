"""Judge prompt templates: the built-in defaults and how a template becomes chat messages.

A template is text with `$placeholders` (Python's string.Template: `$question`, `${response_a}`); a
literal dollar sign is `$$`. Projects keep versioned copies (training.models.JudgeTemplate) that
start from these defaults; the version a judge used is part of its identity. Placeholders per mode:

    pairwise         $guidelines $question $response_a $response_b
    rating           $guidelines $question $response
    checklist_write  $guidelines $question $max_items
    checklist_check  $question $response $check

The verdict comes first in every answer format, so its distribution is the distribution of the
first answer tokens (training.engine.judging.scoring).
"""
from __future__ import annotations

from string import Template

from ..backends import Messages

__all__ = ["DEFAULT_TEMPLATES", "MODES", "PLACEHOLDERS", "check_template", "conversation_text", "render"]

MODES = ("pairwise", "rating", "checklist_write", "checklist_check")

PLACEHOLDERS = {
    "pairwise": ("guidelines", "question", "response_a", "response_b"),
    "rating": ("guidelines", "question", "response"),
    "checklist_write": ("guidelines", "question", "max_items"),
    "checklist_check": ("question", "response", "check"),
}

DEFAULT_TEMPLATES = {
    "pairwise": """You are a careful judge. Compare two responses to the conversation below and decide which one is better.
$guidelines
[Conversation]
$question

[Response A]
$response_a

[Response B]
$response_b

Answer with A, B or tie on the first line, then give your reasons.""",
    "rating": """You are a careful judge. Rate the response to the conversation below from 1 (worst) to 10 (best).
$guidelines
[Conversation]
$question

[Response]
$response

Answer with the rating (a number from 1 to 10) on the first line, then give your reasons.""",
    "checklist_write": """Write a checklist of at most $max_items yes/no questions that a good answer to the conversation below must satisfy.
$guidelines
[Conversation]
$question

Write one question per line, each starting with "- ".""",
    "checklist_check": """Does the response satisfy this check? Answer yes or no on the first line.

[Conversation]
$question

[Response]
$response

[Check]
$check""",
}


def check_template(text: str, mode: str) -> None:
    """Raise ValueError if `text` is not a usable template for `mode` (bad `$`, unknown or missing placeholder)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    template = Template(text)
    if not template.is_valid():
        raise ValueError("the template has a stray '$' (write $$ for a dollar sign)")
    used = set(template.get_identifiers())
    unknown = sorted(used - set(PLACEHOLDERS[mode]))
    if unknown:
        raise ValueError(f"unknown placeholder(s) {unknown} for a {mode} template; use {PLACEHOLDERS[mode]}")
    needed = {"question", "response_a", "response_b"} if mode == "pairwise" else {"question"}
    if mode in ("rating", "checklist_check"):
        needed.add("response")
    missing = sorted(needed - used)
    if missing:
        raise ValueError(f"a {mode} template must use ${', $'.join(missing)}")


def conversation_text(messages: Messages) -> str:
    """A conversation as the judge reads it: a lone user turn as is, longer ones as "Role: text" turns."""
    if len(messages) == 1 and messages[0].get("role") == "user":
        return messages[0].get("content", "")
    return "\n\n".join(f"{m.get('role', 'user').capitalize()}: {m.get('content', '')}" for m in messages)


def render(text: str, **values: object) -> Messages:
    """The judge's request: the template filled in, as one user message. Values are inserted verbatim."""
    filled = Template(text).safe_substitute({k: str(v) for k, v in values.items()})
    return [{"role": "user", "content": filled}]
