"""Is an unsupervised consensus of these votes to be trusted? Checks on the agreement structure alone (no
references), each returning a structured warning instead of letting a confident-looking consensus through,
and the agreement of a consensus counted three ways.

Checks (annotators with >= min_votes votes; pairs with >= min_common shared items):
  near_chance     the median pairwise Cohen's kappa is < kappa_chance (0.2, "slight" on Landis & Koch's scale):
                  most annotators agree little beyond chance, so any consensus is close to a coin flip.
  opposed_camps   >= opposed_share of the pairs disagree MORE than chance (kappa + 1.96 SE < 0, SE from the
                  pair's n): two annotators who are both better than chance cannot do that, so at least one
                  of each such pair is wrong more often than not and an unsupervised model follows whichever
                  camp is larger - not necessarily the right one (the weak-correlated-judges failure).
  below_chance    >= below_share of the annotators have Dawid-Skene competence < 1 / (classes used): the
                  model itself says they vote against the consensus it built, which happens when its
                  competences are inverted.
With any warning the caller should collect calibration references (then choice.aggregation_choose picks a
method by cross-validation) instead of publishing the consensus as settled.

J. R. Landis and G. G. Koch. The Measurement of Observer Agreement for Categorical Data. Biometrics 33(1),
159-174 (1977).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..agreement import KappaPair, cohen_kappa
from ..aggregation import DawidSkene
from ..aggregation._common import index_counts, vote_matrix
from ..votes import CLASSES, NONE, TIE, PairwiseVotes
from ._stats import Proportion, proportion

__all__ = ["ReliabilityWarning", "ConsensusAgreement", "reliability_check", "consensus_agreement", "kappa_pairs"]


@dataclass
class ReliabilityWarning:
    """code: near_chance | opposed_camps | below_chance; message: a sentence with the numbers; evidence:
    the numbers themselves (JSON-ready)."""

    code: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class ConsensusAgreement:
    """How often the votes side with a consensus: per_item = mean over items of the share of the item's votes
    equal to its winner (what the pages showed); per_vote = share of all votes equal to their item's winner
    (busy items weigh more); per_vote_no_ties = the same over votes and winners that are not ties (a tie vote
    on an A item is not a contradiction of A's direction in the way a B vote is)."""

    per_item: float
    n_items: int
    per_vote: Proportion
    per_vote_no_ties: Proportion


def _kappa_se(kappa: float, agreement: float, n: int) -> float:
    """Large-sample standard error of Cohen's kappa from the observed agreement p_o and chance p_e:
    sqrt(p_o (1 - p_o) / n) / (1 - p_e), with p_e recovered from kappa = (p_o - p_e) / (1 - p_e)."""
    if kappa == 1 or n == 0:
        return 0.0
    p_e = (agreement - kappa) / (1 - kappa)
    return math.sqrt(max(agreement * (1 - agreement), 0.0) / n) / max(1 - p_e, 1e-9)


KAPPA_BLOCK = 65_536  # items per block of kappa_pairs' vote matrix and of consensus_agreement


def kappa_pairs(votes: PairwiseVotes, *, min_common: int) -> list[KappaPair]:
    """Cohen's kappa of every annotator pair sharing >= min_common items, all contingency tables at once:
    with M the (I, J*3) vote-count matrix, (M.T M)[j*3 + a, k*3 + b] counts the items where j voted a and k
    voted b. Same figures as agreement.cohen_kappa_pairs (tested), without listing the I * J^2 / 2 vote pairs
    (6 s -> 0.05 s at 1,200 items x 70 judges). Expects at most one vote per annotator and item.

    M.T M is summed over blocks of KAPPA_BLOCK items, so only a block's vote matrix exists at a time (a whole
    one and its transposed copy for the product were ~75 bytes an item at the aggregation's peak); its entries
    are counts, exact in float64 whatever the order they are added in."""
    n_annot = votes.n_annotators
    gram = None
    for _, part in votes.item_blocks(KAPPA_BLOCK):
        m, m_t = vote_matrix(part)
        block = m_t @ m
        gram = block if gram is None else gram + block
    if gram is None:
        return []
    tables = gram.toarray().reshape(n_annot, CLASSES, n_annot, CLASSES).transpose(0, 2, 1, 3)  # (J, J, 3, 3)
    a, b = np.triu_indices(n_annot, k=1)
    common = tables[a, b].sum(axis=(1, 2))
    keep = common >= min_common
    a, b, t = a[keep], b[keep], tables[a[keep], b[keep]]
    kappas = cohen_kappa(t)
    raw = np.trace(t, axis1=1, axis2=2) / np.maximum(common[keep], 1)
    return [KappaPair(a=int(x), b=int(y), n_common=int(n), kappa=float(k), agreement=float(r))
            for x, y, n, k, r in zip(a, b, common[keep], kappas, raw)]


def reliability_check(votes: PairwiseVotes, *, min_votes: int = 20, min_common: int = 20,
                      kappa_chance: float = 0.2, opposed_share: float = 0.05,
                      below_share: float = 0.25, competence: np.ndarray | None = None) -> list[ReliabilityWarning]:
    """The warnings of the module docstring that apply to `votes` (one vote per annotator and item: pass the
    votes before options.split_orders). An empty list means no structural reason to distrust an unsupervised
    consensus, which is not proof that it is right. `competence` (J,): a default Dawid-Skene's competences of
    exactly these votes where the caller has fitted one already (else it is fitted here)."""
    out: list[ReliabilityWarning] = []
    pairs = [p for p in kappa_pairs(votes, min_common=min_common) if not math.isnan(p.kappa)]
    if pairs:
        kappas = np.array([p.kappa for p in pairs])
        median = float(np.median(kappas))
        if median < kappa_chance:
            out.append(ReliabilityWarning(
                "near_chance",
                f"annotators agree little beyond chance (median Cohen's kappa {median:.2f} over {len(pairs)} pairs "
                f"< {kappa_chance:.2f}): an unsupervised consensus is close to a coin flip",
                {"median_kappa": median, "n_pairs": len(pairs), "threshold": kappa_chance}))
        opposed = [p for p in pairs if p.kappa + 1.96 * _kappa_se(p.kappa, p.agreement, p.n_common) < 0]
        if len(opposed) >= max(1, opposed_share * len(pairs)):
            names = votes.annotator_names
            worst = sorted(opposed, key=lambda p: p.kappa)[:5]
            label = lambda j: names[j] if j < len(names) else str(j)  # noqa: E731
            out.append(ReliabilityWarning(
                "opposed_camps",
                f"{len(opposed)} of {len(pairs)} annotator pairs disagree more than chance (e.g. "
                + ", ".join(f"{label(p.a)} / {label(p.b)} kappa {p.kappa:.2f}" for p in worst)
                + "): at least one of each is mostly wrong, and an unsupervised consensus follows the larger camp",
                {"n_opposed": len(opposed), "n_pairs": len(pairs),
                 "pairs": [[int(p.a), int(p.b), float(p.kappa)] for p in worst]}))
    n_votes = index_counts(votes.annotators, votes.n_annotators)
    busy = n_votes >= min_votes
    if busy.sum() >= 2:
        competence = DawidSkene().fit(votes).competence_ if competence is None else np.asarray(competence)
        chance = 1.0 / max(len(np.unique(votes.values)), 2)
        below = busy & (competence < chance)
        if below.sum() >= max(1, below_share * busy.sum()):
            out.append(ReliabilityWarning(
                "below_chance",
                f"Dawid-Skene rates {int(below.sum())} of {int(busy.sum())} annotators below chance "
                f"(competence < {chance:.2f}): its competences are likely inverted",
                {"n_below": int(below.sum()), "n_annotators": int(busy.sum()),
                 "competence": [float(c) for c in competence]}))
    return out


def consensus_agreement(votes: PairwiseVotes, winner: np.ndarray) -> ConsensusAgreement:
    """The three agreement figures of ConsensusAgreement for `winner` (I,) (-1 = none: its votes are left out).

    Computed over blocks of KAPPA_BLOCK items (the per-vote temporaries of all votes at once were ~50 bytes an item
    at the aggregation's peak). The rated items' shares are gathered in item order into one array whose mean is
    taken once, so per_item is the same to the bit as over the whole set; the counts are integers."""
    winner = np.asarray(winner, dtype=np.int8)  # classes -1..2: int8 per vote, not int64
    shares = np.empty(votes.n_items)  # the rated items' shares, in item order (the first n_rated entries)
    n_rated = n_has = n_same = n_no_ties = n_no_ties_same = 0
    for start, part in votes.item_blocks(KAPPA_BLOCK):
        w = winner[start:start + part.n_items][part.items]
        has = w != NONE
        same = has & (part.values == w)
        per_item_n = np.bincount(part.items[has], minlength=part.n_items)
        per_item_k = np.bincount(part.items[same], minlength=part.n_items)
        rated = per_item_n > 0
        k = int(rated.sum())
        shares[n_rated:n_rated + k] = per_item_k[rated] / per_item_n[rated]
        no_ties = has & (w != TIE) & (part.values != TIE)
        n_rated, n_has, n_same = n_rated + k, n_has + int(has.sum()), n_same + int(same.sum())
        n_no_ties, n_no_ties_same = n_no_ties + int(no_ties.sum()), n_no_ties_same + int((no_ties & same).sum())
    per_item = float(shares[:n_rated].mean()) if n_rated else float("nan")
    return ConsensusAgreement(
        per_item=per_item, n_items=n_rated,
        per_vote=proportion(n_same, n_has),
        per_vote_no_ties=proportion(n_no_ties_same, n_no_ties),
    )
