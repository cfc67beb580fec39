"""Generate jobs: sample responses for a project's prompts and build items from them.

The engine (training.engine.generation) samples and pairs; this module picks the prompts and has annotation's
services (annotation/services/generated.py) write the Responses (origin generated, with model, sampling
parameters and seed) and the Items, in bulk and keyed by content like the importer: a response's id is
`response_id(text, model)` and an item's id is a digest of its prompt and responses, so a re-run of the same
job writes nothing new.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from annotation.errors import PrefStudioError
from annotation.models import Project, Prompt, Response
from annotation.services.generated import SampledResponse, generated_items_write, generated_responses_write
from common.progress import Progress

from ..engine.generation import GeneratedResponse, GenerationConfig, PromptTask, build_groups, run_generation
from ..engine.judging import Judge, JudgeConfig, JudgeTask
from ..engine.judging.verdicts import clean_output
from .backends import backend_for, model_for_generation
from .judge_templates import judge_template_get


def generation_prompts(*, project: Project, config: GenerationConfig) -> list[PromptTask]:
    """The prompts the config selects, in id order."""
    prompts = Prompt.objects.filter(project=project)
    if config.prompts == "ids":
        prompts = prompts.filter(pk__in=config.prompt_ids)
    elif config.prompts == "metadata":
        prompts = prompts.filter(metadata__contains=config.metadata)
    prompts = prompts.order_by("pk")
    if config.limit is not None:
        prompts = prompts[: config.limit]
    return [PromptTask(pk, messages) for pk, messages in prompts.values_list("pk", "messages")]


class ResponseWriter:
    """Writes generated responses (new ones only, through annotation's service) and remembers each prompt's
    responses in order."""

    def __init__(self, *, names: dict[int, str], backends: dict[int, str], config: GenerationConfig) -> None:
        self.names, self.backends, self.config = names, backends, config
        self.by_prompt: dict[int, list[int]] = defaultdict(list)  # prompt id -> response ids, generation order
        self.created = 0

    def __call__(self, generated: list[GeneratedResponse]) -> None:
        cfg = self.config
        responses = [
            SampledResponse(
                prompt_id=g.prompt_key, text=clean_output(g.text), model_name=self.names[g.model_id], seed=g.seed,
                gen_params={"temperature": cfg.temperature, "top_p": cfg.top_p, "max_tokens": cfg.max_tokens,
                            "n": cfg.n, "sample_index": g.sample_index, "job_seed": cfg.seed,
                            "backend": self.backends[g.model_id], "finish_reason": g.finish_reason,
                            "n_tokens": g.n_tokens},
            )
            for g in generated
        ]
        stored, created = generated_responses_write(responses=responses)
        self.created += created
        for (prompt, _), pk in stored.items():  # generation order, first sample of an identical text wins
            if pk not in self.by_prompt[prompt]:
                self.by_prompt[prompt].append(pk)


def _scores(*, project: Project, config: GenerationConfig, by_prompt: dict[int, list[int]],
            prompts: dict[int, list]) -> dict[int, float]:
    """best_vs_worst: each response's expected rating (1-10) by the scorer model; unreadable ones score nothing."""
    scorer = model_for_generation(model_id=config.scorer_model_id, field="scorer_model_id")
    template = judge_template_get(project=project, mode="rating")
    # Ratings constrained to "1".."10" (and scored from log-probs): every response gets a score.
    judge = Judge(backend_for(scorer), JudgeConfig(model_id=scorer.pk, mode="rating", output="choice", seed=config.seed),
                  {"rating": template.text}, project.guidelines)
    texts = dict(Response.objects.filter(pk__in=[r for rs in by_prompt.values() for r in rs]).values_list("pk", "text"))
    tasks = [JudgeTask(p, "listwise", prompts[p], [texts[r] for r in rs]) for p, rs in by_prompt.items() if len(rs) > 1]
    scores: dict[int, float] = {}
    for start in range(0, len(tasks), config.batch_size):
        batch = tasks[start:start + config.batch_size]
        for task, ratings in zip(batch, judge.expected_ratings(batch)):
            scores.update((r, v) for r, v in zip(by_prompt[task.key], ratings) if v is not None)
    return scores


def generation_run(*, project_id: int, config: GenerationConfig, progress: Progress,
                   job_id: int | None = None) -> dict[str, Any]:
    """Run a GENERATE job: sample, write responses, score (best_vs_worst), build items. See the module doc."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        raise PrefStudioError("a generate job needs a project", field="project")
    artifacts = {i: model_for_generation(model_id=i) for i in config.model_ids}
    prompts = generation_prompts(project=project, config=config)
    progress.log(f"{len(prompts)} prompts x {len(artifacts)} model(s) x n={config.n}")
    if not prompts:
        return {"prompts": 0, "responses": 0, "responses_created": 0, "items_created": 0, "items_existing": 0}
    writer = ResponseWriter(names={i: a.name for i, a in artifacts.items()},
                            backends={i: a.backend for i, a in artifacts.items()}, config=config)
    loaders = {i: (lambda a=a: backend_for(a)) for i, a in artifacts.items()}
    stats = run_generation(loaders, prompts, config, progress=progress, write=writer)
    scores = None
    if config.pairing == "best_vs_worst":
        progress.update(0.9, "scoring responses for best-vs-worst pairs")
        scores = _scores(project=project, config=config, by_prompt=writer.by_prompt,
                         prompts={p.key: p.messages for p in prompts})
    groups = {}
    for prompt, responses in writer.by_prompt.items():
        mine = [r for r in responses if scores is None or r in scores]
        groups[prompt] = build_groups(mine, pairing=config.pairing, seed=config.seed, prompt_key=prompt,
                                      scores=scores, pairs_per_prompt=config.pairs_per_prompt, k=config.k)
    counts = generated_items_write(project=project, groups=groups, pairing=config.pairing, job_id=job_id, scores=scores)
    progress.update(1.0, f"{writer.created} responses and {counts['items_created']} items created")
    return {"prompts": len(prompts), **stats, "responses_created": writer.created, **counts}
