"""Rendering conversations into token ids with the model's own chat template (hf and vllm backends).

Both local backends render the same way -- the template with the generation prompt, tokenized without
extra special tokens, as `vllm serve` does for chat requests -- so one conversation is one token
sequence to every backend, and their log-probabilities are comparable.
"""
from __future__ import annotations

from typing import Any

from .base import BackendError, Messages


def render(tokenizer: Any, messages: Messages, prefix: str = "") -> list[int]:
    """Token ids of `messages` followed by the assistant's turn opening (and `prefix`, an answer begun)."""
    if not getattr(tokenizer, "chat_template", None):
        raise BackendError("the tokenizer has no chat template; set one (tokenizer_config / chat_template.jinja)")
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return tokenizer(text + prefix, add_special_tokens=False)["input_ids"]


def choice_ids(tokenizer: Any, choices: list[str]) -> list[list[int]]:
    """Each choice tokenized on its own (as a continuation: no special tokens). Empty choices are refused."""
    ids = [tokenizer(choice, add_special_tokens=False)["input_ids"] for choice in choices]
    if any(not i for i in ids):
        raise ValueError("a choice tokenizes to nothing; choices must be non-empty strings")
    return ids
