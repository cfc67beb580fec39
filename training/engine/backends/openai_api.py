"""The `openai` backend: any OpenAI-compatible chat-completions server (OpenAI, `vllm serve`, ...).

`location` is the server's base URL ("http://127.0.0.1:8000/v1"). Settings: `model` (the served model's
name; required), `api_key_env` (the environment variable holding the key; none: no key is sent; keys never go
into settings, which are stored in the database), `concurrency` (requests in flight, 4),
`timeout` (seconds, 120), `top_logprobs` (how many alternatives to ask for when scoring, 20: vLLM's
default cap).

Scoring uses what the chat API offers: the top log-probabilities of the first answer token. A choice
is matched by that token's text (surrounding spaces ignored); a multi-token choice ("10" in a tokenizer
without that token) gets the log-prob of its first token when no other choice starts with the same
token, else -inf, and so does any choice outside the top `top_logprobs`. The hf and vllm backends score
whole choices exactly. Constrained output uses `response_format` (JSON schema, standard) and vLLM's
`structured_outputs` extension (choice); scoring after a `prefix` uses vLLM's `continue_final_message`.

Outbound checks (outbound.py): the key variable and the URL are checked against the spec's OutboundPolicy when
the backend is built, and every request (redirects included) again right before it is sent.
"""
from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .base import BackendError, BackendSpec, Completion, Constraint, Messages, check_sampling, per_prompt_seeds
from .outbound import OutboundPolicy, OutboundRefused


def logsumexp(values: list[float]) -> float:
    if not values:
        return -math.inf
    top = max(values)
    if top == -math.inf:
        return top
    return top + math.log(sum(math.exp(v - top) for v in values))


def match_first_tokens(top: dict[str, float], choices: list[str]) -> list[float]:
    """log P(choice) from the first answer token's top log-probs {token text: log-prob}.

    Shape: (C,). Exact matches (spaces stripped) add up; otherwise a token that only `choice` starts
    with stands for it; otherwise -inf.
    """
    norm: dict[str, list[float]] = {}
    for token, logprob in top.items():
        norm.setdefault(token.strip(), []).append(logprob)
    bare = [c.strip().rstrip('",').strip() for c in choices]  # json choices end with '"' or ','
    scores = []
    for wanted in bare:
        if wanted in norm:
            scores.append(logsumexp(norm[wanted]))
            continue
        prefixes = [t for t in norm if t and wanted.startswith(t) and sum(c.startswith(t) for c in bare) == 1]
        scores.append(logsumexp([lp for t in prefixes for lp in norm[t]]))
    return scores


class OpenAIBackend:
    name = "openai"
    supports_json_schema = True

    def __init__(self, spec: BackendSpec) -> None:
        from openai import DefaultHttpxClient, OpenAI

        settings = spec.settings
        self.model = settings.get("model")
        if not self.model:
            raise BackendError("an openai backend needs settings.model (the name the server serves the model as)")
        self.policy = spec.outbound if spec.outbound is not None else OutboundPolicy()
        # Both checks before the variable is read or any connection is made.
        self.policy.check_url(spec.location)
        key_env = settings.get("api_key_env")
        key = (os.environ.get(self.policy.check_api_key_env(key_env)) if key_env is not None else None) or "EMPTY"
        # The SDK's client follows redirects: the hook checks each request of a redirect chain before it leaves.
        http_client = DefaultHttpxClient(event_hooks={"request": [self.policy.check_request], "response": []})
        self.client = OpenAI(base_url=spec.location, api_key=key, timeout=float(settings.get("timeout", 120)),
                             max_retries=int(settings.get("max_retries", 2)), http_client=http_client)
        self.concurrency = max(1, int(settings.get("concurrency", 4)))
        self.top_logprobs = int(settings.get("top_logprobs", 20))

    def _map(self, fn, items: list[Any]) -> list[Any]:
        if self.concurrency == 1 or len(items) <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(fn, items))

    def _create(self, **kwargs: Any):
        from openai import OpenAIError

        try:
            return self.client.chat.completions.create(model=self.model, **kwargs)
        except OpenAIError as exc:
            refused = exc.__cause__ if isinstance(exc.__cause__, OutboundRefused) else exc.__context__
            if isinstance(refused, OutboundRefused):  # the SDK wraps the hook's refusal as a connection error
                raise OutboundRefused(str(refused), setting=refused.setting) from exc
            raise BackendError(f"the OpenAI-compatible server at {self.client.base_url} failed: {exc}") from exc

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
        check_sampling(n=n, temperature=temperature, top_p=top_p, max_tokens=max_tokens)
        seeds = per_prompt_seeds(seed=seed, seeds=seeds, n_prompts=len(prompts))
        extra: dict[str, Any] = {}
        if constraint is not None and constraint.choice is not None:
            extra["extra_body"] = {"structured_outputs": {"choice": list(constraint.choice)}}
        elif constraint is not None:
            extra["response_format"] = {
                "type": "json_schema", "json_schema": {"name": "answer", "schema": constraint.json_schema},
            }

        def one(job: tuple[Messages, int | None]) -> list[Completion]:
            messages, prompt_seed = job
            response = self._create(messages=messages, n=n, temperature=temperature, top_p=top_p,
                                    max_completion_tokens=max_tokens, seed=prompt_seed, **extra)
            # Usage counts all n completions together; per completion it is known only for n = 1.
            tokens = response.usage.completion_tokens if response.usage is not None and n == 1 else None
            return [
                Completion(choice.message.content or "", tokens, choice.finish_reason)
                for choice in sorted(response.choices, key=lambda c: c.index)
            ]

        return self._map(one, list(zip(prompts, seeds)))

    def first_token_logprobs(self, prompts: list[Messages], *, prefix: str = "") -> list[dict[str, float]]:
        """The server's top log-probs of the first answer token, per prompt: {token text: log-prob}."""
        extra: dict[str, Any] = {}
        if prefix:
            extra["extra_body"] = {"continue_final_message": True, "add_generation_prompt": False}

        def one(messages: Messages) -> dict[str, float]:
            sent = messages + [{"role": "assistant", "content": prefix}] if prefix else messages
            response = self._create(messages=sent, n=1, temperature=0.0, max_completion_tokens=1, logprobs=True,
                                    top_logprobs=self.top_logprobs, **extra)
            content = response.choices[0].logprobs.content if response.choices[0].logprobs else None
            if not content:
                raise BackendError("the server returned no log-probabilities (does it support logprobs?)")
            top: dict[str, float] = {}
            for entry in content[0].top_logprobs:  # two tokens may print alike (special tokens print as "")
                top[entry.token] = logsumexp([top[entry.token], entry.logprob]) if entry.token in top else entry.logprob
            return top

        return self._map(one, prompts)

    def score_choices(self, prompts: list[Messages], choices: list[str], *, prefix: str = "") -> list[list[float]]:
        return [match_first_tokens(top, choices) for top in self.first_token_logprobs(prompts, prefix=prefix)]

    def close(self) -> None:
        self.client.close()
