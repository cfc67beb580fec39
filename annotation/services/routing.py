"""Routing: which of a project's pairwise items go to people and which keep the AI judges' label.

`routing_run` computes per-item features from the judges' votes and the texts (annotation.curation.routing),
ranks the items by the policy's gain and sends the top `budget` to people; it reports the policy's gain out of
sample only (cross-fitted), reuses a stored gain model while its training rows are unchanged, and reads response
embeddings from a content-hash cache. It runs as a job (the curation page and the API start one; the command
runs it in its own process). It stores one RoutingDecision per item (one run id for the run) and sets
Item.route, which is what the labeling queue reads (route=human items are handed out; route=ai items never
reach a person).

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

from common.progress import NullProgress, Progress

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
    RoutingModel,
    RoutingPolicy,
    RoutingRun,
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


def _target(votes):
    """(I,) 1 where the judges' majority differs from the human majority (or gold), 0 where equal, NaN unknown."""
    from ..curation.routing import gain_target, vote_majority

    human = vote_majority(votes, ~votes.vote_is_judge)
    reference = np.where(votes.gold >= 0, votes.gold, human)
    return gain_target(ai=vote_majority(votes, votes.vote_is_judge), reference=reference)


def _gain_model(*, project: Project, target: np.ndarray, features: np.ndarray, names: list[str], seed: int,
                progress: Progress):
    """The GainModel fitted on the project's items with both a human (or gold) and an AI label, and its info
    ({"kind", "cv_auroc", "training_items", "fingerprint", "oof": its out-of-fold gains, "reused"}). A model
    stored for the same training rows (RoutingModel, by fingerprint) is reused, not refitted."""
    from ..curation.routing import GainModel, crossfit_scores, gain_model_dumps, gain_model_loads, training_fingerprint

    n_train = int(np.isfinite(target).sum())
    if n_train < MIN_LEARNED_ITEMS:
        raise PrefStudioError(
            f"the learned policy trains on items that have both a human and an AI label: this project has "
            f"{n_train}, it needs at least {MIN_LEARNED_ITEMS}. Use the rules or random policy until then.",
            field="policy",
        )
    fingerprint = training_fingerprint(features, target, names, seed=seed)
    stored = RoutingModel.objects.filter(project=project, fingerprint=fingerprint).first()
    if stored is not None:
        try:
            model = gain_model_loads(stored.model)
        except Exception:  # noqa: BLE001 -- a row from an older version of the class: refit below
            stored.delete()
        else:
            progress.log(f"reusing the router fitted on the same {n_train} items ({stored.kind})")
            RoutingModel.objects.filter(pk=stored.pk).update(used_at=timezone.now())
            return model, {**stored.info, "reused": True}
    progress.update(0.4, f"fitting the gain model on {n_train} items")
    model = GainModel(seed=seed).fit(features, target)
    progress.check_cancelled()
    progress.update(0.55, "cross-fitting the gain model (each item scored by a model that never saw it)")
    scored = crossfit_scores(features, names, target, policy="learned", seed=seed)
    # The out-of-fold gains are kept with the model: a later run at another budget reports from them, no refit.
    info = {"kind": model.kind_, "cv_auroc": model.cv_scores_, "training_items": n_train, "fingerprint": fingerprint,
            "oof": None if scored is None else {"gain": [round(float(g), 6) for g in scored[0]],
                                                "target": scored[1].tolist(), "folds": scored[2]}}
    RoutingModel.objects.update_or_create(project=project, fingerprint=fingerprint, defaults={
        "kind": model.kind_, "model": gain_model_dumps(model), "info": info})
    return model, {**info, "reused": False}


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
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Route the project's pairwise items that no person has started (states new / judged / routed, no
    human label, no live lease); other kinds of item keep their route. Runs as a job (the `route` job,
    training/jobs/runners/route.py) or from the `route` command; never inside a web request.

    policy: a RoutingPolicy value (default: the project's). "all_human" / "ai_only" send every item one way;
    "rules" / "learned" / "random" send the top `budget` by gain to people (budget: `budget_fraction` of the
    items or `budget_count` items, default the project's). "learned" fits the gain model on the project's
    items that have both human (or gold) and AI labels (fewer than MIN_LEARNED_ITEMS raise PrefStudioError), or
    reuses the one stored for the same training rows (RoutingModel).
    `embeddings`: add the all-MiniLM cosine of the responses to the features when the ML stack is installed; the
    vectors come from the content-hash cache (annotation.services.embedding_cache), so only new texts are embedded.

    The only gain reported is out of sample (annotation.curation.routing.crossfit_gain): on the items whose AI
    label is known right or wrong, each scored by a model that never saw it, the AI errors the policy's top
    share (the run's budget share) catches, against random. No in-sample or predicted-gain figure.

    Writes one RoutingDecision per routed item (shared run id), a RoutingRun with the report, and sets the items'
    route and state (routed), in one transaction. Returns {"run_id", "policy", "items", "budget", "human", "ai",
    "crossfit": crossfit_gain's dict or None, "model": {"kind", "cv_auroc", "training_items", "reused",
    "fingerprint"} or None, "embedded": texts newly embedded, "embedding_cache_hits"}.
    """
    from .curation import embeddings_available, item_texts

    progress = progress or NullProgress()
    policy = policy or project.routing_policy
    if policy not in RoutingPolicy.values:
        raise PrefStudioError(f"policy must be one of {', '.join(RoutingPolicy.values)}, got {policy!r}",
                              field="policy")
    progress.update(0.0, "loading votes")
    votes = pairwise_votes(project=project)
    # Not items someone holds a lease on: taking one away from under a person would waste their work.
    routable = set(Item.objects.filter(project=project, kind=TaskKind.PAIRWISE, state__in=ROUTABLE_STATES,
                                       n_human_labels=0, n_leases=0).values_list("pk", flat=True))
    rows = np.array([pk in routable for pk in votes.item_ids.tolist()], dtype=bool)  # (I,) routed now
    n = int(rows.sum())
    model_info = crossfit = None
    embedded = cache_hits = 0
    if policy in (RoutingPolicy.ALL_HUMAN, RoutingPolicy.AI_ONLY):
        k = n if policy == RoutingPolicy.ALL_HUMAN else 0
        human = np.full(n, policy == RoutingPolicy.ALL_HUMAN)
        gain, names, features = np.full(n, np.nan), [], np.zeros((n, 0))
        reasons = [f"policy {policy}: every item goes {'to people' if k else 'to the AI judges'}"] * n
    else:
        from ..curation.routing import budget_report, crossfit_gain, route, routing_features

        k, _ = _budget(project=project, fraction=budget_fraction, count=budget_count, n=n)
        budget_share = k / n if n else (budget_fraction if budget_fraction is not None else 0.0)
        texts = item_texts(project=project, item_ids=votes.item_ids)
        vectors = None
        if embeddings and embeddings_available():
            from .embedding_cache import cached_pair_embeddings

            progress.update(0.1, f"embedding {2 * len(texts)} responses (cached by content hash)")
            vectors, cached = cached_pair_embeddings(texts)
            embedded, cache_hits = cached.misses, cached.hits
            progress.log(f"{embedded} texts embedded, {cache_hits} read from the cache")
        progress.check_cancelled()
        progress.update(0.3, "computing routing features")
        all_features, names = routing_features(votes, texts=texts, embeddings=vectors)
        target = _target(votes)
        model = None
        if policy == RoutingPolicy.LEARNED:
            model, model_info = _gain_model(project=project, target=target, features=all_features, names=names,
                                            seed=seed, progress=progress)
            oof = model_info.pop("oof", None)
            if oof is not None:
                crossfit = budget_report(np.asarray(oof["gain"]), np.asarray(oof["target"]),
                                         budget_share=budget_share, seed=seed, folds=oof["folds"])
        else:
            crossfit = crossfit_gain(all_features, names, target, policy=policy, budget_share=budget_share, seed=seed)
        progress.check_cancelled()
        progress.update(0.7, f"routing {n} items")
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
    report = {
        "run_id": str(run_id), "policy": policy, "items": n, "budget": k,
        "human": int(human.sum()), "ai": int(n - human.sum()),
        "crossfit": crossfit, "model": model_info, "embedded": embedded, "embedding_cache_hits": cache_hits,
    }
    progress.update(0.85, "writing the decisions")
    now = timezone.now()
    with transaction.atomic():
        RoutingDecision.objects.bulk_create(decisions, batch_size=BATCH)
        RoutingRun.objects.create(project=project, run_id=run_id, policy=policy, report=report)
        for route_to, chosen in ((Route.HUMAN, human), (Route.AI, ~human)):
            ids = [pk for pk, pick in zip(item_ids, chosen) if pick]
            # Re-checked under the update: an item a person took meanwhile keeps its state.
            Item.objects.filter(pk__in=ids, state__in=ROUTABLE_STATES, n_human_labels=0, n_leases=0).update(
                route=route_to, state=ItemState.ROUTED, updated_at=now)
    progress.update(1.0, f"routed {n} items: {report['human']} to people")
    return report


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
