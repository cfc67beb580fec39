"""Judge jobs: an LLM judge (an Annotator of kind judge) labels a project's items through label_create.

The engine (training.engine.judging) decides; this module finds the items, names the judge, resolves
the project's template versions and writes each verdict as a Label, the same write path a person's
label takes -- so every metric treats judges and people alike.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from django.db import transaction

from annotation.errors import Conflict, PrefStudioError
from annotation.models import Annotator, Item, ItemState, Project, TaskKind
from annotation.services.generated import judge_annotator_get_or_create
from annotation.services.labels import label_create
from common.progress import Progress

from ..engine.judging import Judge, JudgeConfig, JudgeResult, JudgeTask, run_judge
from ..models import ArtifactKind, JudgeTemplate, ModelArtifact
from .backends import backend_for, model_for_generation
from .judge_templates import judge_template_get

# The templates each mode uses; the first is the one `template_version` picks.
MODE_TEMPLATES = {"pairwise": ("pairwise",), "rating": ("rating",), "checklist": ("checklist_check", "checklist_write")}
JUDGED_KINDS = (TaskKind.PAIRWISE, TaskKind.LISTWISE)
CLOSED_STATES = (ItemState.FINAL, ItemState.EXCLUDED)  # label_create refuses these
NAME_LENGTH = Annotator._meta.get_field("name").max_length
NO_RATIONALE = "(no rationale: the judge's output was constrained to the verdict)"


def judge_templates_for(*, project: Project, config: JudgeConfig) -> dict[str, JudgeTemplate]:
    """mode -> the template version this judge uses (`config.template_version` for the mode's main one)."""
    names = MODE_TEMPLATES[config.mode]
    return {
        mode: judge_template_get(project=project, mode=mode, version=config.template_version if i == 0 else None)
        for i, mode in enumerate(names)
    }


def _text_hash(templates: dict[str, JudgeTemplate]) -> str:
    joined = "\x1e".join(f"{mode}\x1f{t.text}" for mode, t in sorted(templates.items()))
    return hashlib.blake2b(joined.encode(), digest_size=3).hexdigest()


def judge_identity(*, artifact: ModelArtifact, config: JudgeConfig, templates: dict[str, JudgeTemplate]) -> dict:
    """What makes two judge runs the same judge: model, mode, template texts and how answers are read."""
    return {
        "model_id": artifact.pk, "model": artifact.name, "backend": artifact.backend, "mode": config.mode,
        "templates": {m: {"name": t.name, "version": t.version} for m, t in sorted(templates.items())},
        "template_hash": _text_hash(templates), "output": config.output, "use_logprobs": config.use_logprobs,
        "samples": config.samples, "temperature": config.temperature,
    }


def judge_default_name(identity: dict) -> str:
    """A readable name that differs whenever the identity does, e.g. "tiny-llama [pairwise v1 3fa9c1]"."""
    main = next(iter(MODE_TEMPLATES[identity["mode"]]))
    parts = [identity["mode"], f"v{identity['templates'][main]['version']}", identity["template_hash"]]
    if identity["output"] != "text":
        parts.append(identity["output"])
    if identity["samples"] > 1:
        parts.append(f"k={identity['samples']}")
    if identity["temperature"]:
        parts.append(f"T={identity['temperature']:g}")
    if not identity["use_logprobs"]:
        parts.append("votes")
    suffix = f" [{' '.join(parts)}]"
    return identity["model"][: NAME_LENGTH - len(suffix)] + suffix


def judge_items(*, project: Project, annotator: Annotator, item_ids: list[int]) -> list[int]:
    """Ids of the items to judge: pairwise and listwise, still open, not yet labeled by this judge."""
    items = (
        Item.objects.filter(project=project, kind__in=JUDGED_KINDS)
        .exclude(state__in=CLOSED_STATES)
        .exclude(labels__annotator=annotator)
    )
    if item_ids:
        items = items.filter(pk__in=item_ids)
    return list(items.order_by("pk").values_list("pk", flat=True))


def _tasks(item_ids: list[int], chunk: int) -> Iterator[JudgeTask]:
    for start in range(0, len(item_ids), chunk):
        items = (
            Item.objects.filter(pk__in=item_ids[start:start + chunk])
            .select_related("prompt")
            .prefetch_related("slots__response")
            .order_by("pk")
        )
        for item in items:
            slots = sorted(item.slots.all(), key=lambda s: s.position)
            yield JudgeTask(item.pk, item.kind, item.prompt.messages, [s.response.text for s in slots])


def label_payload(result: JudgeResult, *, kind: str, n_responses: int, rationale_required: bool) -> dict[str, Any]:
    """The label_create payload of one judge result (native import field names)."""
    if result.unparsable:
        return {"unparsable": True, "raw_output": result.raw_output}
    rationale = result.rationale or (NO_RATIONALE if rationale_required else "")
    payload: dict[str, Any] = {
        "rationale": rationale, "raw_output": result.raw_output, "swap_consistent": result.swap_consistent,
        "shown_order": list(range(n_responses)),
    }
    if kind == TaskKind.PAIRWISE:
        payload.update(winner=result.winner, probability=result.probability)
    else:
        payload["ranking"] = result.ranking
    return payload


def judge_run(*, project_id: int, config: JudgeConfig, progress: Progress) -> dict[str, Any]:
    """Judge the project's items with `config`; one Label per item by the judge annotator. Re-runnable:
    items the judge has labeled are skipped, so a cancelled or re-run job continues where it stopped."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        raise PrefStudioError("a judge job needs a project", field="project")
    reward_model = ModelArtifact.objects.filter(pk=config.model_id, kind=ArtifactKind.REWARD).first()
    if reward_model is not None:
        return reward_judge_run(project=project, artifact=reward_model, config=config, progress=progress)
    artifact = model_for_generation(model_id=config.model_id, field="model_id")
    templates = judge_templates_for(project=project, config=config)
    identity = judge_identity(artifact=artifact, config=config, templates=templates)
    annotator = judge_annotator_get_or_create(name=config.judge_name or judge_default_name(identity), identity=identity)
    item_ids = judge_items(project=project, annotator=annotator, item_ids=config.item_ids)
    progress.log(f"judge {annotator.name!r}: {len(item_ids)} items to judge in project {project.slug!r}")
    stats: dict[str, Any] = {"judge": annotator.name, "annotator_id": annotator.pk, "written": 0, "skipped": 0}
    if not item_ids:
        return {**stats, "items": 0, "unparsable": 0, "swap_inconsistent": 0}
    progress.update(0.0, f"loading {artifact.name}")
    judge = Judge(backend_for(artifact), config, {m: t.text for m, t in templates.items()}, project.guidelines)
    write = _writer(project, annotator, item_ids, stats, progress)
    stats.update(run_judge(judge, _tasks(item_ids, chunk=config.batch_size * 4), total=len(item_ids),
                           progress=progress, write=write))
    return stats


def reward_judge_run(*, project: Project, artifact: ModelArtifact, config: JudgeConfig,
                     progress: Progress) -> dict[str, Any]:
    """Label the project's pairwise and listwise items with reward model `artifact` (training.engine.judging.reward:
    the higher reward wins, P(A) = sigmoid(r_A - r_B)). The mode, template and sampling settings of `config` do
    not apply; the judge is named "<model>/reward" unless `config.judge_name` says otherwise. Re-runnable."""
    from ..engine.judging.reward import RewardJudge

    identity = {"model_id": artifact.pk, "model": artifact.name, "backend": artifact.backend, "mode": "reward",
                "location": artifact.location}
    name = config.judge_name or artifact.name[: NAME_LENGTH - len("/reward")] + "/reward"
    annotator = judge_annotator_get_or_create(name=name, identity=identity)
    item_ids = judge_items(project=project, annotator=annotator, item_ids=config.item_ids)
    progress.log(f"reward-model judge {annotator.name!r}: {len(item_ids)} items to judge in project {project.slug!r}")
    stats: dict[str, Any] = {"judge": annotator.name, "annotator_id": annotator.pk, "written": 0, "skipped": 0}
    if not item_ids:
        return {**stats, "items": 0, "unparsable": 0, "swap_inconsistent": 0}
    judge = RewardJudge(artifact.location, config)
    tasks = _tasks(item_ids, chunk=config.batch_size * 4)
    write = _writer(project, annotator, item_ids, stats, progress)
    stats.update(run_judge(judge, tasks, total=len(item_ids), progress=progress, write=write))  # type: ignore[arg-type]
    return stats


def _writer(project: Project, annotator: Annotator, item_ids: list[int], stats: dict[str, Any], progress: Progress):
    """A `write(results)` that stores each judge result as the annotator's label, counting written and skipped."""
    shapes = dict(Item.objects.filter(pk__in=item_ids).values_list("pk", "kind"))
    sizes = dict(Item.objects.filter(pk__in=item_ids).values_list("pk", "n_responses"))

    def write(results: list[JudgeResult]) -> None:
        for result in results:
            payload = label_payload(result, kind=shapes[result.key], n_responses=sizes[result.key],
                                    rationale_required=project.rationale_required)
            try:
                label_create(item=Item(pk=result.key), annotator=annotator, data=payload)
                stats["written"] += 1
            except Conflict as exc:  # labeled by a concurrent run, or closed by a reviewer meanwhile
                progress.log(f"item {result.key} skipped: {exc.message}")
                stats["skipped"] += 1

    return write
