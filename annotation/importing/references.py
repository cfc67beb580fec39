"""Gold references: the known answer of an item in a label's terms, checked against the item's kind.

Stored form (Item.reference): {"winner": "A" | "B" | "tie"} for a pair, {"ranking": [[2], [0, 1]]} (tie groups of
response positions, best first, covering every position) for a list; None = no reference. Edit and thumbs items
take none. Import files may write the short forms too: a pair's winner as a bare string, a ranking as a bare
list. `trl` / `hh` files do not know which side becomes "A" (positions are drawn per item), so they name the side:
"chosen" | "rejected" | "tie" (formats.common.pair_item turns it into A / B).

Plain Python, no Django: the import formats and the owner's edit (annotation.services.references) share it.
"""
from __future__ import annotations

from typing import Any

from .reader import RecordError

__all__ = ["REFERENCE_KINDS", "PAIR_WINNERS", "reference_check", "reference_class"]

REFERENCE_KINDS = ("pairwise", "listwise")
PAIR_WINNERS = ("A", "B", "tie")  # "both_bad" is a label's way to say tie; a reference says "tie"


def reference_check(value: Any, *, kind: str, n_responses: int, where: str = "reference") -> dict | None:
    """The stored form of `value` for an item of `kind` with `n_responses` responses, or None for None.

    Raises RecordError naming `where` and what is wrong: a reference on an edit / thumbs item, an unknown winner,
    a ranking that is not a permutation of the positions (ties as groups)."""
    if value is None:
        return None
    if kind not in REFERENCE_KINDS:
        raise RecordError(f"field '{where}' is only for pairwise and listwise items, not {kind}")
    if kind == "pairwise":
        winner = value.get("winner") if isinstance(value, dict) else value
        if isinstance(value, dict) and set(value) - {"winner"}:
            raise RecordError(f"field '{where}' of a pairwise item holds only 'winner', got {sorted(value)}")
        if winner == "both_bad":
            winner = "tie"
        if winner not in PAIR_WINNERS:
            raise RecordError(f"field '{where}' of a pairwise item must be a winner "
                              f"({', '.join(PAIR_WINNERS)}), got {winner!r}")
        return {"winner": winner}
    ranking = value.get("ranking") if isinstance(value, dict) else value
    if isinstance(value, dict) and set(value) - {"ranking"}:
        raise RecordError(f"field '{where}' of a listwise item holds only 'ranking', got {sorted(value)}")
    from .formats.common import check_ranking  # the labels' own ranking rules (tie groups, a permutation)

    return {"ranking": check_ranking(ranking, n_responses, f"{where}.ranking")}


def reference_class(reference: dict | None) -> int:
    """A pairwise reference as a curation class (0 = A, 1 = B, 2 = tie, -1 = none or not a pair's)."""
    if not reference or "winner" not in reference:
        return -1
    return {"A": 0, "B": 1, "tie": 2}.get(reference["winner"], -1)
