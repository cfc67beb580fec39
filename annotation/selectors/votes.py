"""Reads for curation: a project's labels as the arrays of annotation/curation/votes.py.

No access checks here: callers are services, commands and jobs that have already named the project (views
go through `project_for_user` / `project_for_reviewer` first). Only parsed annotations count as votes;
unparsable judge outputs are left out, and a reviewer's resolution becomes the item's gold class (or gold
ranking), never a vote.
"""
from __future__ import annotations

from array import array

import numpy as np
from django.db.models import QuerySet

from ..curation.votes import NONE, WINNER_TO_CLASS, PairwiseVotes, RankingVotes
from ..models import Annotator, AnnotatorKind, Item, Label, LabelRole, LabelStatus, Project, TaskKind

__all__ = ["pairwise_votes", "ranking_votes"]


def _items(project: Project, kind: str, items: QuerySet[Item] | None) -> QuerySet[Item]:
    qs = items if items is not None else Item.objects.filter(project=project)
    return qs.filter(kind=kind).order_by("pk")


def _index_dtype(n: int) -> type:
    return np.int32 if n < 2**31 - 1 else np.int64


def pairwise_votes(*, project: Project, items: QuerySet[Item] | None = None) -> PairwiseVotes:
    """Every parsed pairwise annotation of the project's items (or of `items`), in item-id order.

    Items without a vote are included (they have no entries), so `item_ids` lists every pairwise item.
    Built in compact arrays as the labels stream in, which become the votes' arrays without a copy (9 bytes a
    vote; 8 more once a vote has a strength, 16 more once a judge's probability or swap check is among them: a
    million items with three votes each take ~36 MB at the peak, where Python tuples took ~800 MB); the labels are
    selected by a subquery on the items, never by a list of their ids.
    """
    levels = max(1, len(project.strength_levels or []))
    item_qs = _items(project, TaskKind.PAIRWISE, items)
    item_ids = np.fromiter(item_qs.values_list("pk", flat=True).iterator(chunk_size=50_000), dtype=np.int64)
    labels = (
        Label.objects.filter(item_id__in=item_qs.order_by().values("pk"), kind=TaskKind.PAIRWISE,
                             status=LabelStatus.OK)
        .order_by("item_id", "annotator_id", "role")
        .values_list("item_id", "annotator_id", "role", "winner", "strength", "probability", "swap_consistent")
    )
    annotator_index: dict[int, int] = {}
    # Per vote, as they stream in: the item's index (int32 while it fits), annotator index, class, strength; a
    # judge's probability and swap check only once some vote has one (NaN before it, filled in then).
    index_code = "i" if _index_dtype(len(item_ids)) == np.int32 else "q"
    vote_items, vote_annotators, values = array(index_code), array("i"), array("b")
    strengths: array | None = None  # likewise: a project that asks for no strength has none (24 MB at 3M votes)
    probabilities: array | None = None
    swaps: array | None = None
    pending = array("q")  # item ids of the votes not yet turned into indices (a batch at a time)
    gold_items, gold_classes = array("q"), array("b")
    nan = float("nan")

    def flush() -> None:
        if pending:
            index = np.searchsorted(item_ids, np.frombuffer(pending, dtype=np.int64))
            vote_items.frombytes(index.astype(vote_items.typecode).tobytes())
            del pending[:]

    for item_id, annotator_id, role, winner, strength, probability, swap in labels.iterator(chunk_size=20_000):
        if role == LabelRole.REVIEW:
            gold_items.append(item_id)
            gold_classes.append(WINNER_TO_CLASS[winner])
            continue
        j = annotator_index.get(annotator_id)
        if j is None:
            j = annotator_index[annotator_id] = len(annotator_index)
        pending.append(item_id)
        if len(pending) >= 20_000:
            flush()
        vote_annotators.append(j)
        values.append(WINNER_TO_CLASS[winner])
        if strengths is None and strength is not None:
            strengths = array("d", [nan]) * (len(values) - 1)
        if strengths is not None:
            strengths.append(nan if strength is None else min(1.0, strength / levels))
        if probabilities is None and (probability is not None or swap is not None):
            probabilities = array("d", [nan]) * (len(values) - 1)
            swaps = array("d", [nan]) * (len(values) - 1)
        if probabilities is not None:
            probabilities.append(nan if probability is None else probability)
            swaps.append(nan if swap is None else float(swap))
    flush()
    gold = np.full(len(item_ids), NONE, dtype=np.int8)
    # item_ids is sorted (pk order): positions by binary search, not a dict of a million ints.
    gold[np.searchsorted(item_ids, np.frombuffer(gold_items, dtype=np.int64))] = np.frombuffer(gold_classes, np.int8)
    annotator_ids = np.array(list(annotator_index), dtype=np.int64)
    known = {pk: (kind, name) for pk, kind, name in
             Annotator.objects.filter(pk__in=annotator_ids.tolist()).values_list("pk", "kind", "name")}
    # The arrays are views of the buffers they were built in (no second copy of every vote at the peak).
    return PairwiseVotes(
        # Indices as int32 while they fit (a project of 2^31 items or annotators is not one to hold in memory):
        # 24 MB less per million votes, the same sums (annotation/curation/votes.py).
        items=np.frombuffer(vote_items, dtype=_index_dtype(len(item_ids))),
        annotators=np.frombuffer(vote_annotators, dtype=np.int32),
        values=np.frombuffer(values, dtype=np.int8),
        strength=None if strengths is None else np.frombuffer(strengths),
        # Without a judge's verdict both are NaN throughout: PairwiseVotes holds them as views (48 MB at 3M votes).
        probability=None if probabilities is None else np.frombuffer(probabilities),
        swap_consistent=None if swaps is None else np.frombuffer(swaps),
        item_ids=item_ids, annotator_ids=annotator_ids,
        annotator_is_judge=np.array([known[pk][0] == AnnotatorKind.JUDGE for pk in annotator_index], dtype=bool),
        gold=gold, annotator_names=tuple(known[pk][1] for pk in annotator_index),
    )


def ranking_votes(*, project: Project, items: QuerySet[Item] | None = None) -> RankingVotes:
    """Every parsed listwise annotation of the project's items (or of `items`), in item-id order."""
    pairs = list(_items(project, TaskKind.LISTWISE, items).values_list("pk", "n_responses"))
    item_ids = np.array([pk for pk, _ in pairs], dtype=np.int64)
    item_index = {pk: i for i, (pk, _) in enumerate(pairs)}
    labels = (
        Label.objects.filter(item_id__in=_items(project, TaskKind.LISTWISE, items).order_by().values("pk"),
                             kind=TaskKind.LISTWISE, status=LabelStatus.OK)
        .order_by("item_id", "annotator_id", "role")
        .values_list("item_id", "annotator_id", "annotator__kind", "annotator__name", "role", "ranking")
    )
    annotator_index: dict[int, int] = {}
    judges: list[bool] = []
    names: list[str] = []
    vote_items: list[int] = []
    vote_annotators: list[int] = []
    rankings: list[list[list[int]]] = []
    gold: list[list[list[int]] | None] = [None] * len(item_ids)
    for item_id, annotator_id, kind, name, role, ranking in labels.iterator(chunk_size=20_000):
        if role == LabelRole.REVIEW:
            gold[item_index[item_id]] = ranking
            continue
        j = annotator_index.get(annotator_id)
        if j is None:
            j = annotator_index[annotator_id] = len(judges)
            judges.append(kind == AnnotatorKind.JUDGE)
            names.append(name)
        vote_items.append(item_index[item_id])
        vote_annotators.append(j)
        rankings.append(ranking)
    return RankingVotes(
        items=np.array(vote_items, dtype=np.int64), annotators=np.array(vote_annotators, dtype=np.int64),
        rankings=rankings, item_ids=item_ids, n_responses=np.array([n for _, n in pairs], dtype=np.int64),
        annotator_ids=np.array(list(annotator_index), dtype=np.int64),
        annotator_is_judge=np.array(judges, dtype=bool), gold=gold, annotator_names=tuple(names),
    )
