"""Turning judge outputs into probabilities: pure functions on small lists, no model, no Django.

Conventions. A verdict distribution is a list `[p_A, p_B, p_tie]` over the verdict choices (shape (3,)),
in the positions the judge *saw*; `to_item_order` maps one seen with the responses swapped back to the
item's positions. P(A better) is the expectation of the verdict under that distribution with a tie
worth half a win:

    P(A better) = p_A + 0.5 * p_tie

(distribution-aware scoring: not only the argmax, but how sure the judge was). Both orders are
averaged; a verdict whose argmax flips with the order is swap-inconsistent (position bias).
"""
from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "CombinedVerdict",
    "argmax_verdict",
    "choice_samples",
    "combine_orders",
    "expected_value",
    "normalize_logprobs",
    "p_first_better",
    "poisson_binomial",
    "preference_from_scores",
    "ranking_from_pairwise",
    "ranking_from_scores",
    "to_item_order",
    "vote_distribution",
]

VERDICTS = ("A", "B", "tie")
EPS = 1e-9  # two probabilities closer than this are equal (floating-point noise, not a preference)


def normalize_logprobs(logprobs: Sequence[float]) -> list[float] | None:
    """Probabilities over the given choices only: softmax of their log-probs. Shape (C,) -> (C,).

    Done in log space (subtracting the max) because choice log-probs of a long prompt can be -80 or
    less, where exp() underflows to 0. Returns None when no choice has any probability (all -inf):
    the judge put no mass on any allowed answer, and nothing is guessed.
    """
    if not logprobs:
        return None
    top = max(logprobs)
    if top == -math.inf or math.isnan(top):
        return None
    weights = [math.exp(lp - top) for lp in logprobs]
    total = sum(weights)
    return [w / total for w in weights]


def choice_samples(logprobs: Sequence[float], *, n: int, temperature: float, seed: int) -> list[int]:
    """`n` choice indices drawn from softmax(logprobs / temperature); temperature 0: the argmax, n times.

    Shape (C,) -> n indices. The draw is seeded (a private generator), so the same request gives the same
    answers whatever else ran before it. Ties in the argmax go to the first choice (as a greedy decoder would).
    """
    if temperature == 0:
        return [max(range(len(logprobs)), key=lambda i: logprobs[i])] * n
    weights = normalize_logprobs([lp / temperature for lp in logprobs])
    if weights is None:
        raise ValueError("no choice has any probability")
    return random.Random(seed).choices(range(len(logprobs)), weights=weights, k=n)


def vote_distribution(verdicts: Sequence[str | None], choices: Sequence[str] = VERDICTS) -> list[float] | None:
    """The share of each choice among the parsed verdicts (None = unparsable sample, not counted)."""
    counted = [v for v in verdicts if v is not None]
    if not counted:
        return None
    return [sum(v == c for v in counted) / len(counted) for c in choices]


def to_item_order(dist: Sequence[float]) -> list[float]:
    """A verdict distribution seen with the responses swapped, in the item's positions: A and B trade places."""
    p_a, p_b, p_tie = dist
    return [p_b, p_a, p_tie]


def p_first_better(dist: Sequence[float]) -> float:
    """P(A better) = p_A + 0.5 p_tie for a distribution [p_A, p_B, p_tie]."""
    return dist[0] + 0.5 * dist[2]


def argmax_verdict(dist: Sequence[float]) -> str:
    """"A", "B" or "tie": the most likely verdict; A and B equally likely (within EPS) is a tie."""
    p_a, p_b, p_tie = dist
    if abs(p_a - p_b) <= EPS or p_tie >= max(p_a, p_b):
        return "tie"
    return "A" if p_a > p_b else "B"


@dataclass(frozen=True)
class CombinedVerdict:
    """Both orders together: the averaged distribution (item positions), P(A better), the winner, and
    whether the two orders agreed (None when only one order gave a verdict)."""

    distribution: list[float]
    probability: float
    winner: str
    swap_consistent: bool | None


def combine_orders(shown: Sequence[float] | None, swapped: Sequence[float] | None) -> CombinedVerdict | None:
    """Combine the verdict distribution seen in the item's order with the one seen swapped.

    `shown` is in item positions already; `swapped` is as the judge saw it (A = the item's B) and is
    mapped back here. Either may be None (that order gave no readable verdict); both None -> None.
    """
    orders = [list(shown)] if shown is not None else []
    if swapped is not None:
        orders.append(to_item_order(swapped))
    if not orders:
        return None
    mean = [sum(d[i] for d in orders) / len(orders) for i in range(3)]
    consistent = None
    if len(orders) == 2:
        consistent = argmax_verdict(orders[0]) == argmax_verdict(orders[1])
    return CombinedVerdict(mean, p_first_better(mean), argmax_verdict(mean), consistent)


def expected_value(dist: Sequence[float], values: Sequence[float]) -> float:
    """E[value] under `dist`: e.g. the expected rating over choices "1".."10". Shapes (C,), (C,)."""
    return float(sum(p * v for p, v in zip(dist, values)))


def preference_from_scores(dist_a: Sequence[float], dist_b: Sequence[float]) -> list[float]:
    """[P(X > Y), P(Y > X), P(X = Y)] for independent scores X ~ dist_a, Y ~ dist_b on the same scale.

    Shapes (S,), (S,) -> (3,): the verdict distribution a pair of ratings (or checklist pass counts)
    implies, so P(A better) = P(X > Y) + 0.5 P(X = Y) as for direct verdicts.
    """
    if len(dist_a) != len(dist_b):
        raise ValueError("both score distributions must be over the same scale")
    greater = sum(pa * sum(dist_b[:i]) for i, pa in enumerate(dist_a))
    equal = sum(pa * pb for pa, pb in zip(dist_a, dist_b))
    return [greater, max(0.0, 1.0 - greater - equal), equal]


def poisson_binomial(ps: Sequence[float]) -> list[float]:
    """Distribution of the number of passed checks when check i passes with probability ps[i] (independently).

    Shape (Q,) -> (Q + 1,): entry k is P(exactly k pass). Dynamic programming over the checks.
    """
    dist = [1.0]
    for p in ps:
        nxt = [0.0] * (len(dist) + 1)
        for k, mass in enumerate(dist):
            nxt[k] += mass * (1 - p)
            nxt[k + 1] += mass * p
        dist = nxt
    return dist


def ranking_from_pairwise(n: int, prefs: dict[tuple[int, int], float]) -> list[list[int]] | None:
    """A ranking with ties (tie groups of positions, best first) from P(i better than j) for pairs i < j.

    Each response scores its mean P(win) over the pairs it took part in (expected wins, which
    is Borda's count on probabilities); equal scores (within EPS) share a group. Returns None when
    some response is in no judged pair: it cannot be placed without guessing.
    """
    wins: list[list[float]] = [[] for _ in range(n)]
    for (i, j), p in prefs.items():
        wins[i].append(p)
        wins[j].append(1 - p)
    if any(not w for w in wins):
        return None
    return ranking_from_scores([sum(w) / len(w) for w in wins])


def ranking_from_scores(scores: Sequence[float]) -> list[list[int]]:
    """Tie groups of positions, highest score first; scores within EPS of the group's first share it."""
    groups: list[list[int]] = []
    for position in sorted(range(len(scores)), key=lambda k: -scores[k]):
        if groups and abs(scores[groups[-1][0]] - scores[position]) <= EPS:
            groups[-1].append(position)
        else:
            groups.append([position])
    return groups
