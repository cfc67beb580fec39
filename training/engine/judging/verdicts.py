"""Reading a judge's text output: the verdict, a rating, a yes/no answer, a checklist.

Judges are models, and model output is hostile input: empty, truncated, rambling, naming both answers,
smuggling a second verdict after the first, or not text at all. Every parser here returns None rather
than guess -- an unreadable output becomes an `unparsable` label with its raw output, never a verdict.
What counts as a verdict, in order:

1. a JSON object with a "verdict" field ('{"verdict": "A", "rationale": "..."}'); a field with any
   other value makes the output unparsable, whatever the text around it says;
2. bracketed markers "[[A]]", "[[B]]", "[[C]]" / "[[tie]]" (MT-Bench's format; C means tie), all
   agreeing;
3. labelled lines "Verdict: A", "Winner: B", "Answer: tie", all agreeing;
4. a first line that is nothing but the verdict ("A", "**B**", "(A)", "Response B", "A is better.",
   "Tie").

Case matters for A and B outside JSON and brackets ("a" is an article); "tie" is read in any case.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

__all__ = ["Verdict", "clean_output", "parse_checklist", "parse_rating", "parse_verdict", "parse_yes_no"]

VERDICTS = ("A", "B", "tie")
_TIE_WORDS = {"tie", "c", "draw", "equal"}
_BRACKETS = re.compile(r"\[\[\s*([A-Za-z]+)\s*\]\]")
_LABELLED = re.compile(r"^\W*(?:(?:my|the|final|overall)\s+)*(?:verdict|winner|answer|decision|better\s+response)\W*[:=]\s*(.+)$",
                       re.IGNORECASE | re.MULTILINE)
_DECORATION = " \t*_`'\"()[].,:;!"
_FIRST_LINE = re.compile(
    r"^(?:(?:response|output|assistant|answer)\s+)?(A|B|tie)(?:\s+is\s+(?:better|the\s+better\s+(?:one|response)))?$",
    re.IGNORECASE,
)
MAX_SCAN_CHARS = 20_000  # a judge that rambles past this has not answered in the format asked


@dataclass(frozen=True)
class Verdict:
    """A parsed verdict in the positions the judge saw ("A" = the response shown first) and its reasons."""

    winner: str  # "A", "B" or "tie"
    rationale: str = ""


def clean_output(text: str) -> str:
    """`text` safe to store: NUL characters (which PostgreSQL text cannot hold) become U+FFFD."""
    return text.replace("\x00", "\ufffd")


def _norm_verdict(value: str, *, strict_case: bool) -> str | None:
    word = value.strip(_DECORATION)
    if word in ("A", "B"):
        return word
    if not strict_case and word in ("a", "b"):
        return word.upper()
    if word.lower() in _TIE_WORDS and (word.lower() != "c" or not strict_case or word == "C"):
        return "tie"
    return None


def _json_object(text: str) -> dict | None:
    """The first JSON object in `text` (the whole text, or a {...} span in it), if any."""
    start = text.find("{")
    while start != -1:
        try:
            value, _ = json.JSONDecoder().raw_decode(text[start:])
        except ValueError:
            start = text.find("{", start + 1)
            continue
        return value if isinstance(value, dict) else None
    return None


def _agreeing(values: list[str | None]) -> str | None | bool:
    """The one verdict all found values agree on; False when they conflict or one is unreadable; None when none."""
    if not values:
        return None
    if any(v is None for v in values) or len(set(values)) > 1:
        return False
    return values[0]


def parse_verdict(text: str) -> Verdict | None:
    """The verdict in a judge's output, or None when there is none or it is ambiguous. See the module doc."""
    if not isinstance(text, str):
        return None
    text = text[:MAX_SCAN_CHARS].strip()
    if not text:
        return None
    obj = _json_object(text)
    if obj is not None and "verdict" in obj:
        value = obj["verdict"]
        word = value.strip() if isinstance(value, str) else ""
        winner = word.upper() if word.upper() in ("A", "B") else "tie" if word.lower() == "tie" else None
        if winner is None:
            return None
        reason = next((obj[k] for k in ("rationale", "reason", "explanation") if isinstance(obj.get(k), str)), "")
        return Verdict(winner, reason.strip())
    # Every verdict-shaped signal in the text must agree: "A" on the first line and "[[B]]" below it
    # is a judge contradicting itself (or an injected verdict), not an answer.
    signals = [_norm_verdict(m, strict_case=False) for m in _BRACKETS.findall(text)]
    signals += [_norm_verdict((m.split() or [""])[0], strict_case=True) for m in _LABELLED.findall(text)]
    first, _, rest = text.partition("\n")
    match = _FIRST_LINE.match(first.strip(_DECORATION))
    if match is not None:
        word = match.group(1)
        # Lower-case "a"/"b" alone on a line is an article, not a verdict.
        signals.append("tie" if word.lower() == "tie" else word if word in ("A", "B") else None)
    agreed = _agreeing(signals)
    if not agreed:
        return None
    return Verdict(agreed, rest.strip() if match is not None else text)


_RATING_JSON_KEYS = ("rating", "score")
_RATING_BRACKETS = re.compile(r"\[\[\s*(\d+)\s*(?:/\s*10\s*)?\]\]")
_RATING_LINE = re.compile(r"^\W*(?:rating|score)\W*[:=]\s*(\d+)(?:\s*/\s*\d+)?\W*$", re.IGNORECASE | re.MULTILINE)
_RATING_ALONE = re.compile(r"^\W*(\d+)(?:\s*/\s*10)?\W*$")


def parse_rating(text: str, *, low: int = 1, high: int = 10) -> int | None:
    """An integer rating in [low, high]: JSON {"rating": 7}, "[[7]]", "Rating: 7", or a first line "7" / "7/10"."""
    if not isinstance(text, str) or not text.strip():
        return None
    text = text[:MAX_SCAN_CHARS].strip()
    found: list[str] = []
    obj = _json_object(text)
    if obj is not None and any(k in obj for k in _RATING_JSON_KEYS):
        value = next(obj[k] for k in _RATING_JSON_KEYS if k in obj)
        found = [str(value)] if isinstance(value, int) and not isinstance(value, bool) else ["invalid"]
    else:
        found = _RATING_BRACKETS.findall(text) or _RATING_LINE.findall(text)
        if not found:
            alone = _RATING_ALONE.match(text.partition("\n")[0])
            found = [alone.group(1)] if alone else []
    if not found or len(set(found)) > 1 or not found[0].isdigit():
        return None
    value = int(found[0])
    return value if low <= value <= high else None


def parse_yes_no(text: str) -> bool | None:
    """True for yes, False for no: JSON {"answer": "yes"} or a first word yes/no; else None."""
    if not isinstance(text, str) or not text.strip():
        return None
    text = text[:MAX_SCAN_CHARS].strip()
    obj = _json_object(text)
    if obj is not None and "answer" in obj:
        value = obj["answer"]
        word = value.strip().lower() if isinstance(value, str) else ""
    else:
        word = re.split(r"[\s.,;:!]", text.strip(_DECORATION), maxsplit=1)[0].lower()
    return {"yes": True, "no": False}.get(word)


_ITEM = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+(.+?)\s*$")


def parse_checklist(text: str, *, max_items: int = 10, max_chars: int = 300) -> list[str] | None:
    """The yes/no questions of a checklist: a JSON list of strings (or {"checklist": [...]}) or list lines.

    Returns at most `max_items` distinct questions, or None when there is none. Over-long lines are not
    questions (a model that runs on has not written a checklist).
    """
    if not isinstance(text, str) or not text.strip():
        return None
    text = text[:MAX_SCAN_CHARS].strip()
    items: list = []
    try:
        value = json.loads(text)
    except ValueError:
        value = _json_object(text)
    if isinstance(value, dict):
        value = value.get("checklist")
    if isinstance(value, list):
        items = [v for v in value if isinstance(v, str)]
    else:
        items = [m.group(1) for line in text.splitlines() if (m := _ITEM.match(line))]
    questions: list[str] = []
    for item in items:
        item = " ".join(item.split())
        if item and len(item) <= max_chars and item not in questions:
            questions.append(item)
    return questions[:max_items] or None
