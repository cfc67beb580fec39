"""Per-run choices about which votes go into an aggregate and how: who is in, what each kind is believed to be
worth, and whether a judge's two presentation orders count as one observation or two.

    select_annotators(votes, include=, exclude=)   keep the votes of some annotators (by name or index)
    competence_prior(votes, priors)                 (J,) prior P(correct) from {"human": .8, "judge": .6, name: ..}
    split_orders(votes, orders="two")               a swap-checked judge verdict -> two votes, one per order

All return new arrays / PairwiseVotes; indices of items and annotators are kept, so a consensus over the result
lines up with the input. No Django.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from ..votes import A, B, TIE, PairwiseVotes

__all__ = ["ORDERS", "select_annotators", "competence_prior", "split_orders"]

ORDERS = ("one", "two")


def _indices(votes: PairwiseVotes, names: Iterable[str | int]) -> np.ndarray:
    """Annotator indices of `names` (display names or int indices); unknown names raise, naming them."""
    lookup = {name: j for j, name in enumerate(votes.annotator_names)}
    out, unknown = [], []
    for name in names:
        if isinstance(name, (int, np.integer)) and 0 <= int(name) < votes.n_annotators:
            out.append(int(name))
        elif name in lookup:
            out.append(lookup[name])
        else:
            unknown.append(str(name))
    if unknown:
        raise ValueError(f"unknown annotator(s): {', '.join(sorted(unknown))}")
    return np.array(out, dtype=np.int64)


def select_annotators(votes: PairwiseVotes, *, include: Iterable[str | int] | None = None,
                      exclude: Iterable[str | int] = ()) -> PairwiseVotes:
    """The votes of the annotators in `include` (all when None) minus those in `exclude`.

    Raises ValueError for a name that is not an annotator of `votes` (a typo must not silently keep a weak
    judge in) and when nobody is left.
    """
    keep = np.ones(votes.n_annotators, dtype=bool)
    if include is not None:
        keep[:] = False
        keep[_indices(votes, include)] = True
    keep[_indices(votes, exclude)] = False
    if votes.n_annotators and not keep.any():
        raise ValueError("the include / exclude lists leave no annotator")
    if keep.all():  # the same votes, not a copy of them (six (N,) arrays: ~120 MB at 3M votes, held all run)
        return votes
    return votes.subset(keep[votes.annotators])


def competence_prior(votes: PairwiseVotes, priors: Mapping[str, float]) -> np.ndarray:
    """(J,) prior accuracy per annotator: priors[name] for a named annotator, else priors["judge"] or
    priors["human"] by kind, else NaN (no prior). Values must lie in (0, 1)."""
    bad = {k: v for k, v in priors.items() if not 0 < float(v) < 1}
    if bad:
        raise ValueError(f"competence priors must lie in (0, 1): {bad}")
    names = set(votes.annotator_names)
    unknown = set(priors) - names - {"human", "judge"}
    if unknown:
        raise ValueError(f"competence prior for unknown annotator(s): {', '.join(sorted(unknown))}")
    out = np.full(votes.n_annotators, np.nan)
    for j in range(votes.n_annotators):
        name = votes.annotator_names[j] if j < len(votes.annotator_names) else None
        kind = "judge" if votes.annotator_is_judge[j] else "human"
        if name in priors:
            out[j] = priors[name]
        elif kind in priors:
            out[j] = priors[kind]
    return out


def split_orders(votes: PairwiseVotes, *, orders: str = "two") -> PairwiseVotes:
    """With orders="two", every judge verdict that checked both presentation orders becomes two votes of the
    same annotator on the same item, one per order; "one" returns `votes` unchanged.

    The stored verdict keeps only the combined class and whether the two orders agreed, so the per-order
    classes are reconstructed: swap_consistent = 1 -> (v, v); = 0 and v = tie (the usual combination of an
    A and a B) -> (A, B); = 0 and v in {A, B} -> (v, tie) (one order preferred v, the other did not).
    Two agreeing orders thus weigh twice and a position-biased judge's contradiction cancels out, which is
    what counting the orders as independent observations means. Both copies keep swap_consistent, so the
    supervised aggregator can still use it as a feature.
    """
    if orders not in ORDERS:
        raise ValueError(f"orders must be one of {', '.join(ORDERS)}, not {orders!r}")
    checked = votes.vote_is_judge & ~np.isnan(votes.swap_consistent)
    if orders == "one" or not checked.any():
        return votes
    values = votes.values.astype(np.int8)
    second = values.copy()
    broken = checked & (votes.swap_consistent == 0)
    second[broken & (values == TIE)] = B
    second[broken & (values != TIE)] = TIE
    first = values.copy()
    first[broken & (values == TIE)] = A
    idx = np.flatnonzero(checked)
    order = np.concatenate([np.arange(len(values)), idx])
    new_values = np.concatenate([first, second[idx]])
    return PairwiseVotes(
        items=votes.items[order], annotators=votes.annotators[order], values=new_values,
        item_ids=votes.item_ids, annotator_ids=votes.annotator_ids, annotator_is_judge=votes.annotator_is_judge,
        strength=votes.strength[order], probability=votes.probability[order],
        swap_consistent=votes.swap_consistent[order], gold=votes.gold, annotator_names=votes.annotator_names,
    )
