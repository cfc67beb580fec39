"""The `hf` backend: transformers on the CPU (or whatever device torch picks), one prompt at a time.

Settings (ModelArtifact.settings): `dtype` ("auto" default: the checkpoint's own, as the `vllm` backend
loads it, see checkpoint.py; "float32", "bfloat16", "float16"), `device`
("cpu" default), `trust_remote_code` (false). Loads with `from_pretrained(location)` from a local
directory; nothing is downloaded (HF_HUB_OFFLINE is set while loading).
"""
from __future__ import annotations

import os
from contextlib import contextmanager

from .base import (
    BackendError,
    BackendSpec,
    Completion,
    Constraint,
    Messages,
    UnsupportedConstraint,
    check_sampling,
    per_prompt_seeds,
)
from .chat import choice_ids, render
from .checkpoint import load_dtype


@contextmanager
def _offline():
    """Hub look-ups off while loading: a missing local file must fail, not start a download."""
    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class HFBackend:
    name = "hf"
    supports_json_schema = False

    def __init__(self, spec: BackendSpec) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        settings = spec.settings
        self.device = torch.device(settings.get("device", "cpu"))
        try:
            dtype = getattr(torch, load_dtype(settings, spec.location))
        except ValueError as exc:
            raise BackendError(f"transformers settings of {spec.location!r}: {exc}") from exc
        remote = bool(settings.get("trust_remote_code", False))
        try:
            with _offline():
                self.tokenizer = AutoTokenizer.from_pretrained(spec.location, trust_remote_code=remote)
                self.model = AutoModelForCausalLM.from_pretrained(spec.location, dtype=dtype, trust_remote_code=remote)
        except (OSError, ValueError) as exc:
            raise BackendError(f"cannot load a transformers model from {spec.location!r}: {exc}") from exc
        self.model.to(self.device).eval()
        self._torch = torch
        pad = self.tokenizer.pad_token_id
        self._pad_id = pad if pad is not None else self.tokenizer.eos_token_id  # padding is masked: any id will do

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
        if constraint is not None and constraint.json_schema is not None:
            raise UnsupportedConstraint("the hf backend cannot constrain output to a JSON schema; use vllm or openai")
        seeds = per_prompt_seeds(seed=seed, seeds=seeds, n_prompts=len(prompts))
        out = []
        for messages, prompt_seed in zip(prompts, seeds):
            if constraint is not None:
                out.append(self._choose(messages, list(constraint.choice), n, temperature, prompt_seed))
            else:
                out.append(self._sample(messages, n, temperature, top_p, max_tokens, prompt_seed))
        return out

    def _sample(self, messages, n, temperature, top_p, max_tokens, seed) -> list[Completion]:
        torch = self._torch
        ids = torch.tensor([render(self.tokenizer, messages)], device=self.device)  # (1, T)
        if seed is not None:
            torch.manual_seed(seed)  # global RNG: generate() samples from it; one prompt at a time
        greedy = temperature == 0
        with torch.no_grad():
            output = self.model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                do_sample=not greedy,
                temperature=None if greedy else temperature,
                top_p=None if greedy else top_p,
                top_k=None,
                max_new_tokens=max_tokens,
                num_return_sequences=n,
                pad_token_id=self._pad_id,
            )  # (n, T + new)
        completions = []
        eos = self.tokenizer.eos_token_id
        for row in output[:, ids.shape[1]:].tolist():
            stopped = eos in row
            tokens = row[: row.index(eos)] if stopped else row
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            completions.append(Completion(text, len(tokens) + int(stopped), "stop" if stopped else "length"))
        return completions

    def _choose(self, messages, choices, n, temperature, seed) -> list[Completion]:
        """Choice-constrained output: the argmax choice (temperature 0) or samples from P(choice)."""
        torch = self._torch
        logp = torch.tensor(self.score_choices([messages], choices)[0])  # (C,)
        if temperature == 0:
            picks = [int(logp.argmax())] * n
        else:
            generator = torch.Generator().manual_seed(seed if seed is not None else 0)
            probs = torch.softmax(logp / temperature, dim=0)
            picks = torch.multinomial(probs, n, replacement=True, generator=generator).tolist()
        return [Completion(choices[i], len(choice_ids(self.tokenizer, [choices[i]])[0]), "stop") for i in picks]

    def score_choices(self, prompts: list[Messages], choices: list[str], *, prefix: str = "") -> list[list[float]]:
        """log P(choice | prompt) of each choice: the context is run once (one row, its KV cache kept), and only
        the tokens after a choice's first run again on a copy of that cache. Before, every choice was a padded
        row of context + choice, so the context (a judge prompt of up to ~1,400 tokens on the demo) ran once per
        choice: 3 times for A / B / tie."""
        import copy

        torch = self._torch
        options = choice_ids(self.tokenizer, choices)
        scores = []
        for messages in prompts:
            context = render(self.tokenizer, messages, prefix)
            with torch.no_grad():
                out = self.model(input_ids=torch.tensor([context], device=self.device), use_cache=True)
                first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)  # (V,): the choice's first token
                row_scores = []
                for option in options:
                    score = float(first[option[0]])
                    if len(option) > 1:  # the rest of the choice, each token predicted from the one before it
                        cache = copy.deepcopy(out.past_key_values)
                        rest = self.model(input_ids=torch.tensor([option[:-1]], device=self.device),
                                          past_key_values=cache, use_cache=True)
                        logprobs = torch.log_softmax(rest.logits[0].float(), dim=-1)  # (len - 1, V)
                        score += float(sum(logprobs[t, tok] for t, tok in enumerate(option[1:])))
                    row_scores.append(score)
            scores.append(row_scores)
        return scores

    def close(self) -> None:
        self.model = None
        self.tokenizer = None
