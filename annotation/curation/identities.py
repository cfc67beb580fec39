"""Who gave a vote, in text that is stored once and shown to many viewers.

Reasons (noise signals, routing) and statistics (competence per annotator) are written when curation
runs, but read later by viewers who may or may not see who labeled what (a blind project shows names
to its owners only). So stored text never holds a name: it holds a token naming the annotator's id,
`{annotator:12}`, and whoever renders it for a viewer replaces each token by what that viewer may see
(the name, or a pseudonym such as "annotator 3"). See annotation/selectors/identities.py.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["annotator_token", "annotator_ids_in", "render_annotators", "render_annotators_json"]

# Braces and a fixed word: no reason text or statistic key we write looks like this by accident.
_TOKEN = re.compile(r"\{annotator:(\d+)\}")


def annotator_token(annotator_id: int) -> str:
    """The stand-in for annotator `annotator_id` in stored text."""
    return f"{{annotator:{int(annotator_id)}}}"


def annotator_ids_in(text: str) -> set[int]:
    """The annotator ids whose tokens occur in `text`."""
    return {int(m) for m in _TOKEN.findall(text or "")}


def render_annotators(text: str, name_of: Callable[[int], str]) -> str:
    """`text` with every token replaced by `name_of(annotator id)`."""
    if not text or "{annotator:" not in text:
        return text
    return _TOKEN.sub(lambda m: name_of(int(m.group(1))), text)


def render_annotators_json(value: Any, name_of: Callable[[int], str]) -> Any:
    """A copy of a JSON value (dicts, lists, strings, numbers) with the tokens of every string rendered,
    dictionary keys included (competence statistics are keyed by annotator)."""
    if isinstance(value, str):
        return render_annotators(value, name_of)
    if isinstance(value, dict):
        return {render_annotators(str(k), name_of): render_annotators_json(v, name_of) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [render_annotators_json(v, name_of) for v in value]
    return value
