"""The labeling form → a label payload in the native format (`services.labels`).

Types only: which values are allowed (scale, aspects, ranking rules, an edit that changes
something) is checked by the service, so the page and the API reject the same things.
"""
import re
from dataclasses import dataclass, field

from django.http import QueryDict

from ..errors import PrefStudioError
from ..models import TaskKind


@dataclass
class FormValues:
    """What the annotator entered, kept to fill the form again when a submission is refused."""

    winner: str = ""
    strength: str = ""
    aspects: dict[str, str] = field(default_factory=dict)  # aspect name -> winner
    ranks: dict[int, str] = field(default_factory=dict)  # position -> rank ("" = unranked)
    edited_text: str | None = None
    no_change: bool = False  # edit items: "No change needed" (the response is fine as it is)
    thumbs: str = ""
    rationale: str = ""
    time_spent_ms: str = ""


def form_values(post: QueryDict, *, aspects: list[str], positions: list[int]) -> FormValues:
    """Read the form. Aspect fields are `aspect_<index>` (names may hold spaces), ranks `rank_<position>`."""
    edited = post.get("edited_text")
    return FormValues(
        winner=post.get("winner", ""),
        strength=post.get("strength", ""),
        aspects={name: post.get(f"aspect_{i}", "") for i, name in enumerate(aspects)},
        ranks={p: post.get(f"rank_{p}", "").strip() for p in positions},
        # Browsers send textarea line breaks as CRLF; the original uses LF.
        edited_text=None if edited is None else edited.replace("\r\n", "\n"),
        no_change=post.get("no_change") == "1",
        thumbs=post.get("thumbs", ""),
        rationale=post.get("rationale", "").replace("\r\n", "\n"),
        time_spent_ms=post.get("time_spent_ms", ""),
    )


def label_payload(values: FormValues, *, kind: str, shown_order: list[int]) -> dict:
    """The label payload for an item of `kind`; PrefStudioError naming the field if a value is missing."""
    payload: dict = {"shown_order": shown_order}
    if values.rationale.strip():
        payload["rationale"] = values.rationale
    if values.time_spent_ms:
        payload["time_spent_ms"] = _integer(values.time_spent_ms, "time_spent_ms")
    if kind == TaskKind.PAIRWISE:
        if not values.winner:
            raise PrefStudioError("Choose a verdict: A, B, tie or both bad.", field="winner")
        payload["winner"] = values.winner
        if values.strength:
            payload["strength"] = _integer(values.strength, "strength")
        payload["aspects"] = {name: verdict for name, verdict in values.aspects.items() if verdict}
    elif kind == TaskKind.LISTWISE:
        payload["ranking"] = _ranking(values.ranks)
    elif kind == TaskKind.EDIT and values.no_change:
        payload["no_change"] = True  # whatever the editor holds: the button says the original needs no change
    elif kind == TaskKind.EDIT:
        if values.edited_text is None or not values.edited_text.strip():
            raise PrefStudioError("The edited response is empty.", field="edited_text")
        payload["edited_text"] = values.edited_text
    elif kind == TaskKind.THUMBS:
        if values.thumbs not in ("up", "down"):
            raise PrefStudioError("Choose thumbs up or thumbs down.", field="thumbs")
        payload["thumbs"] = values.thumbs
    return payload


# The services name fields as the API sends them; the page says what the annotator sees.
FIELD_WORDS = {
    "winner": "the verdict", "strength": "the strength", "aspects": "the aspects", "rationale": "the rationale",
    "ranking": "the ranking", "edited_text": "your edit", "thumbs": "the thumbs", "time_spent_ms": "the time spent",
}
_FIELD = re.compile(r"field '([\w.\[\]]+)'")


def page_message(error: PrefStudioError) -> str:
    """The service's message with field names in words: "field 'edited_text' is ..." → "Your edit is ..."."""
    text = _FIELD.sub(lambda m: FIELD_WORDS.get(m.group(1).split(".")[0], m.group(1)), error.message)
    return text[:1].upper() + text[1:]


def _integer(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise PrefStudioError(f"field '{name}' must be a whole number, got {value!r}", field=name) from None


def _ranking(ranks: dict[int, str]) -> list[list[int]]:
    """{position: rank} → tie groups, best first: equal ranks tie, blank ranks are left out (top-k)."""
    by_rank: dict[int, list[int]] = {}
    for position, rank in ranks.items():
        if rank:
            by_rank.setdefault(_integer(rank, "ranking"), []).append(position)
    if not by_rank:
        raise PrefStudioError("Rank the responses before submitting.", field="ranking")
    return [sorted(by_rank[rank]) for rank in sorted(by_rank)]
