"""Row shapes shared by the dataset builder and the export, without the export's pyarrow (`curate` does not load
it): the speakers of a plain-text prompt, and `row_plain`, the shapes the SQL line export renders as they are."""
from __future__ import annotations

from typing import Any

__all__ = ["SPEAKERS", "row_plain"]

# role -> speaker of an HH-style plain-text prompt (export.prompt_text)
SPEAKERS = {"system": "System", "user": "Human", "assistant": "Assistant", "tool": "Tool"}
_ROLES = frozenset(SPEAKERS)
_VOTE_KEYS = frozenset({"A", "B", "n", "tie"})
_NUMBER_KEYS = ("agreement", "probability", "noise_score")
_TEXT_KEYS = ("item", "origin", "source")


def _number_or_none(value: Any) -> bool:
    return value is None or type(value) is int or type(value) is float  # not bool: JSON true is no number


def _plain_messages(messages: Any) -> bool:
    return type(messages) is list and all(
        type(m) is dict and type(m.get("role")) is str and m["role"] in _ROLES and type(m.get("content")) is str
        for m in messages)


def _plain_payload(kind: str, data: Any) -> bool:
    if type(data) is not dict or not _plain_messages(data.get("prompt")):
        return False
    if kind == "pairwise":
        return (type(data.get("chosen")) is str and type(data.get("rejected")) is str
                and _number_or_none(data.get("margin")))
    if kind == "unpaired":
        return type(data.get("completion")) is str and type(data.get("label")) is bool
    if kind == "listwise":
        responses, ranking = data.get("responses"), data.get("ranking")
        return (type(responses) is list and all(type(r) is str for r in responses) and type(ranking) is list
                and all(type(group) is list and all(type(k) is int and k >= 0 for k in group) for group in ranking))
    return False


def _plain_provenance(provenance: Any) -> bool:
    if type(provenance) is not dict:
        return False
    reasons, votes = provenance.get("reasons"), provenance.get("votes")
    return (
        # absent or a list: the SQL takes a JSON null here for a one-element list of null
        ("reasons" not in provenance or (type(reasons) is list and all(type(r) is str for r in reasons)))
        and all(_number_or_none(provenance.get(k)) for k in _NUMBER_KEYS)
        and all(provenance.get(k) is None or type(provenance.get(k)) is str for k in _TEXT_KEYS)
        and (votes is None or (type(votes) is dict and votes.keys() <= _VOTE_KEYS
                               and all(type(n) is int for n in votes.values())))
    )


def row_plain(kind: str, data: Any, provenance: Any) -> bool:
    """Whether a row of `kind` is of the shapes the SQL line export (annotation/selectors/dataset_lines.py)
    renders exactly for every format of its kind, with or without provenance: a prompt of {role, content}
    strings (roles system, user, assistant, tool), the kind's fields of their JSON types, and provenance
    numbers, strings, string reasons and integer votes under the keys A, B, n, tie.

    At least as strict as the SQL's own per-row check, so a version whose rows of a kind all pass may skip
    that check (curation.dataset.RowBuilder records the kinds in the version's stats, "sql_lines"). Reasons
    naming annotators are not a shape: the export still looks for them in every row."""
    return _plain_payload(kind, data) and _plain_provenance(provenance)
