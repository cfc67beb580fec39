"""Routing: which of a project's pairwise items go to people and which keep the AI judges' label.

`routing_run` computes per-item features from the judges' votes and the texts (annotation.curation.routing),
ranks the items by the policy's gain and sends the top `budget` to people: it stores one RoutingDecision per
item (one run id for the run) and sets Item.route, which is what the labeling queue reads (route=human items
are handed out; route=ai items never reach a person).

`routing_disagreement_check` is the other half: when a person labels an item that was routed to people and
the judges' majority verdict differs, the item gets the ItemFlag "routing:disagreement", which puts it in the
review queue; the reviewer's resolution then becomes the item's gold label (annotation.services.review).
"""
from __future__ import annotations

import math
import uuid
from collections import Counter
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from ..errors import PrefStudioError
from ..models import (
    AnnotatorKind,
    Item,
    ItemFlag,
    ItemState,
    Label,
    LabelRole,
    LabelStatus,
    Project,
    Route,
    RoutingDecision,
    RoutingPolicy,
    TaskKind,
)
from ..selectors.votes import pairwise_votes

__all__ = ["DISAGREEMENT_FLAG", "MIN_LEARNED_ITEMS", "ROUTABLE_STATES", "routing_disagreement_check", "routing_run"]

DISAGREEMENT_FLAG = "routing:disagreement"
# The gain model is a classifier of "the AI label is wrong"; fewer items with both labels than this give a
# model that is mostly noise (and no cross-validation to tell).
MIN_LEARNED_ITEMS = 10
# Items not yet in a person's hands: routing them again changes nothing already labeled.
ROUTABLE_STATES = (ItemState.NEW, ItemState.JUDGED, ItemState.ROUTED)
VERDICT = {"A": "A", "B": "B", "tie": "Tie", "both_bad": "Tie"}
BATCH = 2000


def _budget(*, project: Project, fraction: float | None, count: int | None, n: int) -> tuple[int, str]:
    """(items to send to people, how the budget was given)."""
    if fraction is not None and count is not None:
        raise PrefStudioError("give the budget as a fraction or as a count, not both", field="budget_fraction")
    if fraction is None and count is None:
        fraction, count = project.human_budget_fraction, project.human_budget_count
    if fraction is not None:
        if isinstance(fraction, bool) or not 0 <= fraction <= 1:
            raise PrefStudioError(f"budget_fraction must be between 0 and 1, got {fraction}", field="budget_fraction")
        return int(math.floor(fraction * n + 0.5)), f"{fraction:g} of {n} items"
    if count is not None:
        if isinstance(count, bool) or int(count) != count or count < 0:
            raise PrefStudioError(f"budget_count must be a whole number >= 0, got {count}", field="budget_count")
        return min(int(count), n), f"{int(count)} items"
    raise PrefStudioError(
        "this policy needs a human budget: give budget_fraction or budget_count, or set one on the project",
        field="budget_fraction",
    )


def _gain_model(votes, features: np.ndarray, seed: int):
    """A GainModel fitted on the project's items with both a human (or gold) and an AI label; and its size."""
    from ..curation.routing import GainModel, gain_target, vote_majority

    human = vote_majority(votes, ~votes.vote_is_judge)
    reference = np.where(votes.gold >= 0, votes.gold, human)
    target = gain_target(ai=vote_majority(votes, votes.vote_is_judge), reference=reference)
    n_train = int(np.isfinite(target).sum())
    if n_train < MIN_LEARNED_ITEMS:
        raise PrefStudioError(
            f"the learned policy trains on items that have both a human and an AI label: this project has "
            f"{n_train}, it needs at least {MIN_LEARNED_ITEMS}. Use the rules or random policy until then.",
            field="policy",
        )
    return GainModel(seed=seed).fit(features, target), n_train


def _number(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 6)


def routing_run(
    *,
    project: Project,
    policy: str | None = None,
    budget_fraction: float | None = None,
    budget_count: int | None = None,
    seed: int = 0,
    embeddings: bool = True,
) -> dict[str, Any]:
    """Route the project's pairwise items that no person has started (states new / judged / routed, no
    human label, no live lease); other kinds of item keep their route.

    policy: a RoutingPolicy value (default: the project's). "all_human" / "ai_only" send every item one way;
    "rules" / "learned" / "random" send the top `budget` by gain to people (budget: `budget_fraction` of the
    items or `budget_count` items, default the project's). "learned" fits the gain model on the project's
    items that have both human (or gold) and AI labels; fewer than MIN_LEARNED_ITEMS raise PrefStudioError.
    `embeddings`: add the all-MiniLM cosine of the responses to the features when the ML stack is installed.

    Writes one RoutingDecision per routed item (shared run id) and sets their route and state (routed), in
    one transaction. Returns {"run_id", "policy", "items", "budget", "human", "ai", "gain_total", "random_gain",
    "model": {"kind", "cv_auroc", "training_items"} or None}.
    """
    from .curation import embeddings_available, item_texts

    policy = policy or project.routing_policy
    if policy not in RoutingPolicy.values:
        raise PrefStudioError(f"policy must be one of {', '.join(RoutingPolicy.values)}, got {policy!r}",
                              field="policy")
    votes = pairwise_votes(project=project)
    # Not items someone holds a lease on: taking one away from under a person would waste their work.
    routable = set(Item.objects.filter(project=project, kind=TaskKind.PAIRWISE, state__in=ROUTABLE_STATES,
                                       n_human_labels=0, n_leases=0).values_list("pk", flat=True))
    rows = np.array([pk in routable for pk in votes.item_ids.tolist()], dtype=bool)  # (I,) routed now
    n = int(rows.sum())
    model_info = None
    if policy in (RoutingPolicy.ALL_HUMAN, RoutingPolicy.AI_ONLY):
        k = n if policy == RoutingPolicy.ALL_HUMAN else 0
        human = np.full(n, policy == RoutingPolicy.ALL_HUMAN)
        gain, names, features = np.full(n, np.nan), [], np.zeros((n, 0))
        reasons = [f"policy {policy}: every item goes {'to people' if k else 'to the AI judges'}"] * n
    else:
        from ..curation.routing import route, routing_features

        k, _ = _budget(project=project, fraction=budget_fraction, count=budget_count, n=n)
        texts = item_texts(project=project, item_ids=votes.item_ids)
        vectors = None
        if embeddings and embeddings_available():
            from ..curation.text import pair_embeddings

            vectors = pair_embeddings(texts)
        all_features, names = routing_features(votes, texts=texts, embeddings=vectors)
        model = None
        if policy == RoutingPolicy.LEARNED:
            model, n_train = _gain_model(votes, all_features, seed)
            model_info = {"kind": model.kind_, "cv_auroc": model.cv_scores_, "training_items": n_train}
        if n:
            result = route(all_features[rows], names, policy=policy, budget=k, model=model, seed=seed)
            human, gain, features, reasons = result.human, result.gain, result.features, result.reasons
        else:  # nothing left to route (every item is labeled or decided): an empty run
            human, gain, features, reasons = np.zeros(0, bool), np.zeros(0), np.zeros((0, len(names))), []
    run_id = uuid.uuid4()
    item_ids = votes.item_ids[rows].tolist()
    decisions = [
        RoutingDecision(
            project=project, item_id=item_id, run_id=run_id, policy=policy,
            routed_to=Route.HUMAN if human[i] else Route.AI, predicted_gain=_number(gain[i]),
            features={name: v for name, value in zip(names, features[i]) if (v := _number(value)) is not None},
            budget=k, reason=reasons[i],
        )
        for i, item_id in enumerate(item_ids)
    ]
    now = timezone.now()
    with transaction.atomic():
        RoutingDecision.objects.bulk_create(decisions, batch_size=BATCH)
        for route_to, chosen in ((Route.HUMAN, human), (Route.AI, ~human)):
            ids = [pk for pk, pick in zip(item_ids, chosen) if pick]
            # Re-checked under the update: an item a person took meanwhile keeps its state.
            Item.objects.filter(pk__in=ids, state__in=ROUTABLE_STATES, n_human_labels=0, n_leases=0).update(
                route=route_to, state=ItemState.ROUTED, updated_at=now)
    known = np.isfinite(gain)
    return {
        "run_id": str(run_id), "policy": policy, "items": n, "budget": k,
        "human": int(human.sum()), "ai": int(n - human.sum()),
        "gain_total": _number(gain[human & known].sum()) if known.any() else None,
        # A random choice of as many items has expected total gain k × mean gain: the baseline of every report.
        "random_gain": _number(human.sum() * gain[known].mean()) if known.any() else None,
        "model": model_info,
    }


def _class(winner: str) -> str:
    return "tie" if winner in ("tie", "both_bad") else winner


def routing_disagreement_check(*, item: Item) -> ItemFlag | None:
    """Flag `item` "routing:disagreement" when it was routed to people and their labels differ from the judges'.

    Call after a person's label on the item was stored (annotation.services.labels does), inside its
    transaction. The judges' verdict is their strict majority (no flag without one); the flag's reason names
    both sides, e.g. "people said B ×1; the AI judges said A ×2". Returns the flag, or None.
    """
    if item.kind != TaskKind.PAIRWISE or item.route != Route.HUMAN:
        return None
    labels = Label.objects.filter(item=item, role=LabelRole.ANNOTATION, status=LabelStatus.OK).values_list(
        "annotator__kind", "winner")
    people, judges = Counter(), Counter()
    for kind, winner in labels:
        (judges if kind == AnnotatorKind.JUDGE else people)[_class(winner)] += 1
    if not people or not judges:
        return None
    (ai, top), *rest = judges.most_common()
    if rest and rest[0][1] == top:
        return None  # the judges are split: no AI verdict to disagree with
    if all(verdict == ai for verdict in people):
        return None
    said = " · ".join(f"{VERDICT[v]} ×{c}" for v, c in people.most_common())
    reason = f"routed to people, who said {said}; the AI judges said {VERDICT[ai]} ×{top}"
    share = sum(c for v, c in people.items() if v != ai) / sum(people.values())  # of people against the judges
    flag, _ = ItemFlag.objects.update_or_create(item=item, name=DISAGREEMENT_FLAG,
                                                defaults={"reason": reason, "value": round(share, 4)})
    return flag
