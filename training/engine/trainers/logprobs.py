"""Tokenizing (prompt, response) the way TRL's DPO does, and sequence log-probabilities of responses.

Used by the listwise trainer (with gradients) and by evaluation (without). A response's log-probability is the sum
over its tokens of log pi(token | prompt, earlier tokens); the prompt is rendered with the chat template and the
generation prompt, the response as the assistant turn (plain text + EOS for tokenizers without a template).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from .data import has_chat_template, render_prompt

__all__ = ["tokenize_completion", "collate_completions", "sequence_logps", "score_completions", "reward_input_ids"]


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def tokenize_completion(tokenizer, prompt: list[dict], response: str) -> tuple[list[int], list[int]]:
    """(prompt_ids, completion_ids): the completion starts where prompt and prompt+response tokenizations diverge."""
    if has_chat_template(tokenizer):
        prompt_text = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
        full_text = tokenizer.apply_chat_template(prompt + [{"role": "assistant", "content": response}], tokenize=False)
    else:
        prompt_text = render_prompt(prompt) + "\n"
        full_text = prompt_text + response + (tokenizer.eos_token or "")
    prompt_ids, full_ids = _ids(tokenizer, prompt_text), _ids(tokenizer, full_text)
    cut = 0
    while cut < min(len(prompt_ids), len(full_ids)) and prompt_ids[cut] == full_ids[cut]:
        cut += 1
    return full_ids[:cut], full_ids[cut:]


def collate_completions(pairs: Sequence[tuple[list[int], list[int]]], pad_id: int, max_length: int):
    """Right-padded batch: input_ids, attention_mask, completion_mask, each (N, T), T <= max_length (keep start)."""
    seqs = [(p + c)[:max_length] for p, c in pairs]
    masks = [([0] * len(p) + [1] * len(c))[:max_length] for p, c in pairs]
    width = max(len(s) for s in seqs)
    input_ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(seqs), width), dtype=torch.long)
    completion = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, (seq, mask) in enumerate(zip(seqs, masks)):
        input_ids[i, : len(seq)] = torch.tensor(seq)
        attention[i, : len(seq)] = 1
        completion[i, : len(mask)] = torch.tensor(mask)
    return {"input_ids": input_ids, "attention_mask": attention, "completion_mask": completion}


def sequence_logps(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of completion-token log-probs (N,), completion length in tokens (N,)) under `model`.

    logits[:, t] predicts token t+1, so the log-prob of token t+1 is read from position t (the shift below).
    """
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False).logits
    logps = torch.log_softmax(logits[:, :-1].float(), dim=-1)  # (N, T-1, V)
    targets = batch["input_ids"][:, 1:]  # (N, T-1)
    token_logps = logps.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (N, T-1)
    mask = batch["completion_mask"][:, 1:].to(token_logps.dtype)  # (N, T-1)
    return (token_logps * mask).sum(-1), mask.sum(-1)


@torch.no_grad()
def score_completions(model, tokenizer, prompts: Sequence[list[dict]], responses: Sequence[str], *,
                      max_length: int, batch_size: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """sequence_logps for each (prompt, response), batched, in eval mode: ((N,), (N,)) on the CPU."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    sums, lengths = [], []
    try:
        for start in range(0, len(prompts), batch_size):
            pairs = [tokenize_completion(tokenizer, p, r)
                     for p, r in zip(prompts[start:start + batch_size], responses[start:start + batch_size])]
            batch = {k: v.to(device) for k, v in collate_completions(pairs, pad_id, max_length).items()}
            total, count = sequence_logps(model, batch)
            sums.append(total.cpu())
            lengths.append(count.cpu())
    finally:
        model.train(was_training)
    return torch.cat(sums), torch.cat(lengths)


def reward_input_ids(tokenizer, prompt: list[dict], response: str, max_length: int) -> list[int]:
    """Token ids a reward model scores for (prompt, response).

    Chat tokenizers: the whole conversation with the response as the assistant turn, truncated from the left
    (decoder reward models read the last token). Encoders without a template (MiniLM): a sentence pair
    (prompt text, response), truncated longest-first, with the tokenizer's own [CLS]/[SEP].
    """
    if has_chat_template(tokenizer):
        text = tokenizer.apply_chat_template(prompt + [{"role": "assistant", "content": response}], tokenize=False)
        return _ids(tokenizer, text)[-max_length:]
    return tokenizer(render_prompt(prompt), response, truncation=True, max_length=max_length)["input_ids"]
