"""Writes of what other apps produce for a project: generated responses, items built from them, judge annotators.

Training's generate and judge jobs (training/services/generation.py, judging.py) write into annotation through
these services, never into its tables directly. Keyed by content like the importer: a response's id is
`response_id(text, model)` and an item's id a digest of its prompt and responses, so writing the same thing
twice adds nothing.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from ..errors import PrefStudioError
from ..importing.ids import content_id, response_id
from ..models import Annotator, AnnotatorKind, Item, ItemResponse, Project, Prompt, Response, ResponseOrigin, TaskKind
from .projects import project_add_task_kinds

__all__ = ["SampledResponse", "generated_responses_write", "generated_items_write",
           "judge_annotator_get_or_create"]


@dataclass(frozen=True)
class SampledResponse:
    """One sampled response to write: its prompt, cleaned text, model name, seed and sampling parameters."""

    prompt_id: int
    text: str
    model_name: str
    seed: int | None
    gen_params: dict[str, Any]

    @property
    def key(self) -> tuple[int, str]:
        """(prompt id, external id): the same text of the same model for a prompt is the same response."""
        return self.prompt_id, response_id(self.text, self.model_name)


def generated_responses_write(
    *, responses: Iterable[SampledResponse]
) -> tuple[dict[tuple[int, str], int], int]:
    """Write the new ones among `responses` (origin generated; the first of an identical key wins).

    Returns ({key: response id} for every key asked, how many were created).
    """
    rows: dict[tuple[int, str], Response] = {}
    for r in responses:
        rows.setdefault(r.key, Response(prompt_id=r.prompt_id, external_id=r.key[1], text=r.text,
                                        model_name=r.model_name, origin=ResponseOrigin.GENERATED, seed=r.seed,
                                        gen_params=r.gen_params))
    if not rows:
        return {}, 0
    prompts, externals = {p for p, _ in rows}, {e for _, e in rows}
    with transaction.atomic():
        before = Response.objects.filter(prompt_id__in=prompts, external_id__in=externals).count()
        Response.objects.bulk_create(rows.values(), ignore_conflicts=True, batch_size=500)
        stored = {
            (p, e): pk for p, e, pk in Response.objects.filter(prompt_id__in=prompts, external_id__in=externals)
            .values_list("prompt_id", "external_id", "pk")
        }
    return {key: stored[key] for key in rows}, len(stored) - before


@transaction.atomic
def generated_items_write(*, project: Project, groups: dict[int, list[tuple[int, ...]]], pairing: str,
                          job_id: int | None, scores: dict[int, float] | None = None) -> dict[str, int]:
    """Items for the response groups of each prompt (prompt id -> tuples of response ids, item order).

    Keyed by content: the same prompt and responses in the same order is the same item, so writing
    twice adds nothing. Returns counts created / existing.
    """
    external = dict(Response.objects.filter(pk__in={r for gs in groups.values() for g in gs for r in g})
                    .values_list("pk", "external_id"))
    prompt_ids = dict(Prompt.objects.filter(pk__in=groups).values_list("pk", "external_id"))
    wanted = {}
    for prompt, tuples in groups.items():
        for group in tuples:
            key = content_id("generated", prompt_ids[prompt], [external[r] for r in group], prefix="g-")
            wanted[key] = (prompt, group)
    existing = set(Item.objects.filter(project=project, external_id__in=list(wanted))
                   .values_list("external_id", flat=True))
    kinds = set()
    new_items = []
    for key, (prompt, group) in wanted.items():
        if key in existing:
            continue
        kind = TaskKind.LISTWISE if pairing == "listwise_k" else TaskKind.PAIRWISE
        kinds.add(kind)
        metadata: dict[str, Any] = {"source": "generate", "pairing": pairing, "job": job_id}
        if scores is not None:
            metadata["scores"] = [scores.get(r) for r in group]
        new_items.append(Item(project=project, prompt_id=prompt, external_id=key, kind=kind,
                              n_responses=len(group), metadata=metadata))
    Item.objects.bulk_create(new_items, batch_size=500)  # PostgreSQL returns the new primary keys
    ItemResponse.objects.bulk_create(
        [ItemResponse(item=item, position=i, response_id=r) for item in new_items
         for i, r in enumerate(wanted[item.external_id][1])],
        batch_size=2000,
    )
    project_add_task_kinds(project=project, kinds=kinds)
    return {"items_created": len(new_items), "items_existing": len(existing)}


def judge_annotator_get_or_create(*, name: str, identity: dict) -> Annotator:
    """The judge annotator `name`, created with `identity` as its config; an existing one must match it."""
    with transaction.atomic():
        annotator, created = Annotator.objects.get_or_create(
            name=name, defaults={"kind": AnnotatorKind.JUDGE, "config": identity}
        )
    if created:
        return annotator
    if annotator.kind != AnnotatorKind.JUDGE:
        raise PrefStudioError(f"{name!r} is a human annotator, not a judge", field="judge_name")
    if annotator.config != identity:
        raise PrefStudioError(
            f"judge {name!r} already exists with another setup (model, mode, template or sampling); "
            "choose another judge_name", field="judge_name",
        )
    return annotator
