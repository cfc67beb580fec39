"""Generating candidate responses and grouping them into items to label. No Django here.

`run_generation` samples `n` responses per prompt from each model (one model at a time, so a worker
holds one engine at a time) and hands every batch to a writer; `build_groups` turns one prompt's
responses into the response tuples of new items: all pairs, random pairs, best-vs-worst by a score,
or one listwise item of k. Everything is deterministic given the seed, so a re-run of the same job
produces the same responses and items (and the writer, keyed by content, adds nothing twice).
"""
from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Literal

from common.progress import Progress

from .backends import LLMBackend, Messages
from .judging.verdicts import clean_output

__all__ = ["GeneratedResponse", "GenerationConfig", "PromptTask", "build_groups", "run_generation", "seed_for"]

PAIRINGS = ("all_pairs", "random_pairs", "best_vs_worst", "listwise_k")
MAX_LISTWISE = 16  # the most responses an item may show (annotation RESPONSES_PER_KIND)


@dataclass
class GenerationConfig:
    """A GENERATE job: sample responses for a project's prompts, then build items from them."""

    model_ids: list[int]
    """ModelArtifacts to sample from (one or more); every prompt gets `n` responses from each."""
    n: int = 2
    """Responses per prompt and model."""
    temperature: float = 1.0
    """Sampling temperature; 0 = greedy (then n must be 1: greedy samples are all the same)."""
    top_p: float = 1.0
    """Nucleus sampling: keep the smallest set of tokens whose probability reaches top_p."""
    max_tokens: int = 256
    """Longest response, in tokens."""
    seed: int = 0
    """Base seed: each (prompt, model) request gets a seed derived from it, recorded on its Responses."""
    prompts: Literal["all", "ids", "metadata"] = "all"
    """Which prompts: all of the project's, those in `prompt_ids`, or those whose metadata contains `metadata`."""
    prompt_ids: list[int] = field(default_factory=list)
    """prompts="ids": the Prompt ids."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """prompts="metadata": a JSON object the prompt's metadata must contain, e.g. {"split": "test"}
    or {"tags": ["math"]}."""
    limit: int | None = None
    """At most this many prompts (in id order); None = no limit."""
    pairing: Literal["all_pairs", "random_pairs", "best_vs_worst", "listwise_k"] = "all_pairs"
    """How responses become items: every pair; `pairs_per_prompt` random pairs; the best and the worst
    by `scorer_model_id`'s expected rating; or one listwise item of `k` responses."""
    pairs_per_prompt: int = 1
    """random_pairs: pairs per prompt."""
    k: int = 4
    """listwise_k: responses per listwise item (2-16)."""
    scorer_model_id: int | None = None
    """best_vs_worst: the ModelArtifact that rates responses 1-10 (a judge in rating mode)."""
    batch_size: int = 16
    """Prompts per engine call (one progress step, one cancel check)."""

    def __post_init__(self) -> None:
        if not self.model_ids:
            raise ValueError("model_ids must name at least one model")
        if len(set(self.model_ids)) != len(self.model_ids) or any(i < 1 for i in self.model_ids):
            raise ValueError("model_ids must be distinct ModelArtifact ids")
        if not 1 <= self.n <= 64:
            raise ValueError(f"n must be from 1 to 64, got {self.n}")
        if not 0 <= self.temperature <= 5:
            raise ValueError(f"temperature must be from 0 to 5, got {self.temperature}")
        if self.temperature == 0 and self.n > 1:
            raise ValueError("temperature 0 is greedy: with n > 1 every sample would be the same")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if not 1 <= self.max_tokens <= 32768:
            raise ValueError(f"max_tokens must be from 1 to 32768, got {self.max_tokens}")
        if self.prompts == "ids" and not self.prompt_ids:
            raise ValueError("prompt_ids is empty but prompts='ids'")
        if self.prompts == "metadata" and not self.metadata:
            raise ValueError("metadata is empty but prompts='metadata'")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be >= 1, got {self.limit}")
        if self.pairs_per_prompt < 1:
            raise ValueError(f"pairs_per_prompt must be >= 1, got {self.pairs_per_prompt}")
        if not 2 <= self.k <= MAX_LISTWISE:
            raise ValueError(f"k must be from 2 to {MAX_LISTWISE}, got {self.k}")
        if self.pairing == "best_vs_worst" and self.scorer_model_id is None:
            raise ValueError("scorer_model_id is required for pairing 'best_vs_worst'")
        if len(self.model_ids) * self.n < 2:
            raise ValueError("n x number of models must be at least 2 to build items")
        if not 1 <= self.batch_size <= 1024:
            raise ValueError(f"batch_size must be from 1 to 1024, got {self.batch_size}")


@dataclass(frozen=True)
class PromptTask:
    key: int  # the Prompt id
    messages: Messages


@dataclass(frozen=True)
class GeneratedResponse:
    """One sampled response, with everything needed to record how it was made."""

    prompt_key: int
    model_id: int
    text: str
    seed: int  # the request's seed (all n samples of one request share it)
    sample_index: int
    n_tokens: int | None
    finish_reason: str | None


def seed_for(base: int, *parts: Any) -> int:
    """A 31-bit seed derived from the base seed and the request, independent of batching."""
    digest = hashlib.blake2b(json.dumps([base, *parts]).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


def _balanced(key: str, pair: tuple[Hashable, Hashable]) -> tuple[Hashable, Hashable]:
    """The pair in an order decided by a hash of `key`, so "first = better" is not a property of the data."""
    flip = hashlib.blake2b(key.encode(), digest_size=1).digest()[0] & 1
    return (pair[1], pair[0]) if flip else pair


def build_groups(
    responses: Sequence[Hashable],
    *,
    pairing: str,
    seed: int,
    prompt_key: Any,
    scores: dict[Hashable, float] | None = None,
    pairs_per_prompt: int = 1,
    k: int = 4,
) -> list[tuple[Hashable, ...]]:
    """The response tuples (by response key, item order) of the items to make from one prompt's responses.

    `responses` are distinct keys in generation order. Fewer than two responses make no item.
    best_vs_worst needs `scores` (key -> score; higher is better) and makes no item when every
    response scored the same (there is no best). Deterministic in (`seed`, `prompt_key`).
    """
    keys = list(dict.fromkeys(responses))
    if len(keys) < 2:
        return []
    rng = random.Random(seed_for(seed, prompt_key, pairing))
    if pairing == "all_pairs":
        return list(combinations(keys, 2))
    if pairing == "random_pairs":
        pairs = list(combinations(keys, 2))
        return sorted(rng.sample(pairs, min(pairs_per_prompt, len(pairs))), key=pairs.index)
    if pairing == "best_vs_worst":
        if scores is None or any(key not in scores for key in keys):
            raise ValueError("best_vs_worst needs a score for every response")
        best = max(keys, key=lambda key: scores[key])  # first of the best, in generation order
        worst = min(keys, key=lambda key: scores[key])
        if scores[best] == scores[worst]:
            return []
        return [_balanced(f"{prompt_key}:{best}:{worst}", (best, worst))]
    if pairing == "listwise_k":
        chosen = keys if len(keys) <= k else rng.sample(keys, k)
        return [tuple(chosen)]
    raise ValueError(f"pairing must be one of {', '.join(PAIRINGS)}, got {pairing!r}")


def run_generation(
    models: dict[int, Callable[[], LLMBackend]],
    prompts: Sequence[PromptTask],
    config: GenerationConfig,
    *,
    progress: Progress,
    write: Callable[[list[GeneratedResponse]], None],
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Sample `config.n` responses per prompt from each model, batch by batch, writing each batch.

    `models` maps a model id to a function that loads its backend (called when that model's turn
    comes, so only one is loaded at a time). Empty and whitespace-only completions are dropped
    (counted as `empty`). Checks for cancellation before each batch. Returns counts and times in
    seconds (`clock`'s): `load_seconds` in the loaders, `generate_seconds` in the engine, `seconds` in all.
    `tokens_per_s` (metric and result) is tokens / generate_seconds: the engine's speed, not the model load's.
    """
    steps = max(1, len(models) * ((len(prompts) + config.batch_size - 1) // config.batch_size))
    done, stats = 0, {"responses": 0, "empty": 0, "tokens": 0}
    started = clock()
    loading = generating = 0.0
    for model_id in config.model_ids:
        before = clock()
        backend = models[model_id]()
        loading += clock() - before
        for start in range(0, len(prompts), config.batch_size):
            progress.check_cancelled()
            batch = prompts[start:start + config.batch_size]
            seeds = [seed_for(config.seed, p.key, model_id) for p in batch]
            before = clock()
            outputs = backend.generate([p.messages for p in batch], n=config.n, temperature=config.temperature,
                                       top_p=config.top_p, max_tokens=config.max_tokens, seeds=seeds)
            generating += clock() - before
            made = []
            for prompt, seed, completions in zip(batch, seeds, outputs):
                for index, completion in enumerate(completions):
                    if not completion.text.strip():
                        stats["empty"] += 1
                        continue
                    made.append(GeneratedResponse(prompt.key, model_id, clean_output(completion.text), seed, index,
                                                  completion.n_tokens, completion.finish_reason))
                    stats["tokens"] += completion.n_tokens or 0
            write(made)
            stats["responses"] += len(made)
            done += 1
            progress.metric(done, tokens_per_s=stats["tokens"] / max(generating, 1e-9), responses=stats["responses"])
            progress.update(0.9 * done / steps, f"model {model_id}: {start + len(batch)} of {len(prompts)} prompts")
    stats["load_seconds"] = round(loading, 3)
    stats["generate_seconds"] = round(generating, 3)
    stats["tokens_per_s"] = round(stats["tokens"] / max(generating, 1e-9), 3)
    stats["seconds"] = round(clock() - started, 3)
    return stats
