"""The arrays every curation algorithm takes: votes in long form, one entry per (item, annotator) verdict.

Indices, not database ids: `items[k]` indexes `item_ids`, `annotators[k]` indexes `annotator_ids`. Humans and
LLM judges are annotators alike (`annotator_is_judge` tells them apart), so a weak judge can be given low
competence by the same model that weighs people. A reviewer's resolution is not a vote: it is the item's
`gold` class, which agreement and competence use as ground truth where present.

Pairwise classes: 0 = A better, 1 = B better, 2 = tie ("both bad" counts as a tie: no preference between
the two). -1 in `gold` (or in a consensus) means "none".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

__all__ = ["A", "B", "TIE", "NONE", "CLASSES", "WINNER_TO_CLASS", "CLASS_TO_WINNER", "PairwiseVotes",
           "RankingVotes"]

A, B, TIE, NONE = 0, 1, 2, -1
CLASSES = 3
WINNER_TO_CLASS = {"A": A, "B": B, "tie": TIE, "both_bad": TIE}
CLASS_TO_WINNER = {A: "A", B: "B", TIE: "tie"}


@dataclass(frozen=True)
class PairwiseVotes:
    """Pairwise verdicts of a project (or any set of items), one entry per vote.

    Per vote (length N):
      items        int    index into item_ids (int32 or int64: the vote selector gives int32)
      annotators   int    index into annotator_ids (likewise)
      values       int8   0 = A better, 1 = B better, 2 = tie
      strength     float  strength normalised to (0, 1] (level / number of levels); NaN where not given
      probability  float  a judge's P(A better) after both orders; NaN for people and plain verdicts
      swap_consistent float 1.0 / 0.0 for judges that checked both orders; NaN otherwise
    (strength, probability, swap_consistent: None = all NaN, held as a read-only view of one NaN)
    Per item (length I):  item_ids int64 (database ids), gold int8 (a reviewer's class, -1 where none)
    Per annotator (length J): annotator_ids int64, annotator_is_judge bool, annotator_names (display only)
    """

    items: np.ndarray
    annotators: np.ndarray
    values: np.ndarray
    item_ids: np.ndarray
    annotator_ids: np.ndarray
    annotator_is_judge: np.ndarray
    strength: np.ndarray | None = None
    probability: np.ndarray | None = None
    swap_consistent: np.ndarray | None = None
    gold: np.ndarray | None = None
    annotator_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.values)
        for name in ("items", "annotators"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries, values has {n}")
        for name in ("strength", "probability", "swap_consistent"):
            array = getattr(self, name)
            if array is None:  # not given: a read-only NaN view of one float, no memory per vote
                object.__setattr__(self, name, np.broadcast_to(np.float64(np.nan), (n,)))
            elif len(array) != n:
                raise ValueError(f"{name} has {len(array)} entries, values has {n}")
        if self.gold is None:
            object.__setattr__(self, "gold", np.full(len(self.item_ids), NONE, dtype=np.int8))
        if len(self.gold) != len(self.item_ids):
            raise ValueError(f"gold has {len(self.gold)} entries, item_ids has {len(self.item_ids)}")
        if len(self.annotator_is_judge) != len(self.annotator_ids):
            raise ValueError("annotator_is_judge and annotator_ids differ in length")
        if n and (self.items.min() < 0 or self.items.max() >= len(self.item_ids)):
            raise ValueError("items holds an index outside item_ids")
        if n and (self.annotators.min() < 0 or self.annotators.max() >= len(self.annotator_ids)):
            raise ValueError("annotators holds an index outside annotator_ids")
        if n and not np.isin(self.values, (A, B, TIE)).all():
            raise ValueError("values must be 0 (A), 1 (B) or 2 (tie)")

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_annotators(self) -> int:
        return len(self.annotator_ids)

    @property
    def vote_is_judge(self) -> np.ndarray:
        """(N,) bool: the vote came from an LLM judge."""
        return self.annotator_is_judge[self.annotators]

    def subset(self, mask: np.ndarray) -> "PairwiseVotes":
        """The votes where `mask` (N,) is true; items and annotators keep their indices."""
        return PairwiseVotes(
            items=self.items[mask], annotators=self.annotators[mask], values=self.values[mask],
            item_ids=self.item_ids, annotator_ids=self.annotator_ids, annotator_is_judge=self.annotator_is_judge,
            strength=_take(self.strength, mask), probability=_take(self.probability, mask),
            swap_consistent=_take(self.swap_consistent, mask), gold=self.gold, annotator_names=self.annotator_names,
        )


    @cached_property
    def in_item_order(self) -> bool:
        """The votes are sorted by item (as the selectors give them; split_orders' added votes are not)."""
        return bool(np.all(self.items[1:] >= self.items[:-1]))

    def item_blocks(self, size: int):
        """(start, the votes of items [start, start + size)) for consecutive blocks of every item (item_range each):
        how the aggregation's per-item work runs a block of items at a time."""
        for start in range(0, self.n_items, size):
            yield start, self.item_range(start, min(self.n_items, start + size))

    def annotators_with_votes(self) -> np.ndarray:
        """(J,) bool: the annotator has a vote here (a mark per vote, not a bincount, whose intp copy of the
        indices is 8 bytes a vote)."""
        out = np.zeros(self.n_annotators, dtype=bool)
        out[self.annotators] = True
        return out

    def item_range(self, start: int, stop: int) -> "PairwiseVotes":
        """The votes of items [start, stop), those items indexed from 0 (annotators keep their indices): a slice of
        every vote array when the votes are in item order, else a mask."""
        if self.in_item_order:
            # (the bounds in the indices' own dtype: int64 bounds would make searchsorted copy int32 indices to
            # int64 first, 24 MB and a pass over every vote at 3M votes, on each call)
            lo, hi = np.searchsorted(self.items, np.array([start, stop], dtype=self.items.dtype))
            take = slice(int(lo), int(hi))
        else:
            take = np.flatnonzero((self.items >= start) & (self.items < stop))
        return PairwiseVotes(
            items=self.items[take] - self.items.dtype.type(start), annotators=self.annotators[take],
            values=self.values[take], item_ids=self.item_ids[start:stop], annotator_ids=self.annotator_ids,
            annotator_is_judge=self.annotator_is_judge, strength=_take(self.strength, take),
            probability=_take(self.probability, take), swap_consistent=_take(self.swap_consistent, take),
            gold=self.gold[start:stop], annotator_names=self.annotator_names,
        )


def _take(values: np.ndarray, mask) -> np.ndarray:
    """values[mask] (a bool mask, an index array or a slice), a one-value view staying a view (a NaN column not
    given stays free of per-vote memory)."""
    if values.ndim == 1 and len(values) and values.strides[0] == 0:
        if isinstance(mask, slice):
            n = len(range(*mask.indices(len(values))))
        else:
            mask = np.asarray(mask)
            n = int(np.count_nonzero(mask)) if mask.dtype == bool else len(mask)
        return np.broadcast_to(values[0], (n,))
    return values[mask]


@dataclass(frozen=True)
class RankingVotes:
    """Listwise verdicts: `rankings[k]` is vote k's tie groups of positions, best first ([[2], [0, 1]]).

    A partial ranking leaves positions out. `n_responses[i]` is how many responses item i shows.
    """

    items: np.ndarray
    annotators: np.ndarray
    rankings: list[list[list[int]]]
    item_ids: np.ndarray
    n_responses: np.ndarray
    annotator_ids: np.ndarray
    annotator_is_judge: np.ndarray
    gold: list[list[list[int]] | None] = field(default_factory=list)
    annotator_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (len(self.items) == len(self.annotators) == len(self.rankings)):
            raise ValueError("items, annotators and rankings differ in length")
        if len(self.n_responses) != len(self.item_ids):
            raise ValueError("n_responses and item_ids differ in length")
        if not self.gold:
            object.__setattr__(self, "gold", [None] * len(self.item_ids))

    @property
    def n_items(self) -> int:
        return len(self.item_ids)
