"""Reads for curation: a project's labels as the arrays of annotation/curation/votes.py.

No access checks here: callers are services, commands and jobs that have already named the project (views
go through `project_for_user` / `project_for_reviewer` first). Only parsed annotations count as votes;
unparsable judge outputs are left out, and a reviewer's resolution becomes the item's gold class (or gold
ranking), never a vote.
"""
from __future__ import annotations

import numpy as np
from django.db.models import QuerySet

from ..curation.votes import NONE, WINNER_TO_CLASS, PairwiseVotes, RankingVotes
from ..models import AnnotatorKind, Item, Label, LabelRole, LabelStatus, Project, TaskKind

__all__ = ["pairwise_votes", "ranking_votes"]


def _items(project: Project, kind: str, items: QuerySet[Item] | None) -> QuerySet[Item]:
    qs = items if items is not None else Item.objects.filter(project=project)
    return qs.filter(kind=kind).order_by("pk")


def pairwise_votes(*, project: Project, items: QuerySet[Item] | None = None) -> PairwiseVotes:
    """Every parsed pairwise annotation of the project's items (or of `items`), in item-id order.

    Items without a vote are included (they have no entries), so `item_ids` lists every pairwise item.
    """
    levels = max(1, len(project.strength_levels or []))
    item_ids = np.fromiter(_items(project, TaskKind.PAIRWISE, items).values_list("pk", flat=True), dtype=np.int64)
    item_index = {int(pk): i for i, pk in enumerate(item_ids)}
    labels = (
        Label.objects.filter(item_id__in=item_ids.tolist(), kind=TaskKind.PAIRWISE, status=LabelStatus.OK)
        .order_by("item_id", "annotator_id", "role")
        .values_list("item_id", "annotator_id", "annotator__kind", "annotator__name", "role", "winner",
                     "strength", "probability", "swap_consistent")
    )
    annotator_index: dict[int, int] = {}
    judges: list[bool] = []
    names: list[str] = []
    rows: list[tuple[int, int, int, float, float, float]] = []
    gold = np.full(len(item_ids), NONE, dtype=np.int8)
    for item_id, annotator_id, kind, name, role, winner, strength, probability, swap in labels.iterator(
        chunk_size=20_000
    ):
        if role == LabelRole.REVIEW:
            gold[item_index[item_id]] = WINNER_TO_CLASS[winner]
            continue
        j = annotator_index.get(annotator_id)
        if j is None:
            j = annotator_index[annotator_id] = len(judges)
            judges.append(kind == AnnotatorKind.JUDGE)
            names.append(name)
        rows.append((
            item_index[item_id], j, WINNER_TO_CLASS[winner],
            np.nan if strength is None else min(1.0, strength / levels),
            np.nan if probability is None else probability,
            np.nan if swap is None else float(swap),
        ))
    table = np.array(rows, dtype=np.float64).reshape(-1, 6)
    return PairwiseVotes(
        items=table[:, 0].astype(np.int64), annotators=table[:, 1].astype(np.int64),
        values=table[:, 2].astype(np.int8), strength=table[:, 3], probability=table[:, 4],
        swap_consistent=table[:, 5], item_ids=item_ids,
        annotator_ids=np.array(list(annotator_index), dtype=np.int64),
        annotator_is_judge=np.array(judges, dtype=bool), gold=gold, annotator_names=tuple(names),
    )


def ranking_votes(*, project: Project, items: QuerySet[Item] | None = None) -> RankingVotes:
    """Every parsed listwise annotation of the project's items (or of `items`), in item-id order."""
    pairs = list(_items(project, TaskKind.LISTWISE, items).values_list("pk", "n_responses"))
    item_ids = np.array([pk for pk, _ in pairs], dtype=np.int64)
    item_index = {pk: i for i, (pk, _) in enumerate(pairs)}
    labels = (
        Label.objects.filter(item_id__in=item_ids.tolist(), kind=TaskKind.LISTWISE, status=LabelStatus.OK)
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
