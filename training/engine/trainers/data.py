"""Dataset rows (the dicts the job runner reads from DatasetRow) -> what each trainer consumes.

Row shapes (see the brief's "Dataset rows"):
    pairwise: {"prompt": [messages] | str, "chosen": str, "rejected": str, "margin": float|None, "weight": float,
               "source": str, "noise_score": float|None, ...}
    listwise: {"prompt": ..., "responses": [str, ...], "ranking": [[pos, ...], ...] best first, "weight": ...}
    unpaired: {"prompt": ..., "completion": str, "label": bool}
A str prompt is read as one user message. Bad rows raise ValueError naming the row and the key.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "messages", "pairwise_rows", "listwise_rows", "unpaired_rows", "expand_listwise", "normalised_weights",
    "rank_of", "has_chat_template", "render_prompt",
]


def messages(prompt: Any, where: str) -> list[dict[str, str]]:
    """The prompt as chat messages [{"role", "content"}, ...]."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    if isinstance(prompt, list) and prompt and all(isinstance(m, dict) and "role" in m and "content" in m
                                                   for m in prompt):
        return [{"role": str(m["role"]), "content": str(m["content"])} for m in prompt]
    raise ValueError(f"{where}: prompt must be a string or a non-empty list of chat messages")


def _text(row: dict, key: str, where: str) -> str:
    value = row.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{where}: {key!r} must be a string, got {type(value).__name__}")
    return value


def _weight(row: dict, where: str) -> float:
    value = row.get("weight", 1.0)
    value = 1.0 if value is None else float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{where}: weight must be a finite number >= 0, got {row.get('weight')!r}")
    return value


def rank_of(ranking: Sequence[Sequence[int]], n: int, where: str) -> list[int]:
    """Tie-group index of each response (0 = best group), from a best-first ranking of positions 0..n-1."""
    ranks = [-1] * n
    for group_index, group in enumerate(ranking):
        for pos in group:
            if not isinstance(pos, int) or not 0 <= pos < n or ranks[pos] != -1:
                raise ValueError(f"{where}: ranking must name each of the {n} positions exactly once")
            ranks[pos] = group_index
    if -1 in ranks:
        raise ValueError(f"{where}: ranking must name each of the {n} positions exactly once")
    return ranks


def expand_listwise(row: dict, where: str) -> list[dict]:
    """A listwise row as pairwise rows: every (better, worse) pair its ranking implies; ties give no pair."""
    responses = row.get("responses")
    if not isinstance(responses, list) or len(responses) < 2 or not all(isinstance(r, str) for r in responses):
        raise ValueError(f"{where}: 'responses' must be a list of at least 2 strings")
    ranks = rank_of(row.get("ranking") or [], len(responses), where)
    base = {k: v for k, v in row.items() if k not in ("responses", "ranking")}
    return [
        {**base, "chosen": responses[i], "rejected": responses[j], "margin": None}
        for i in range(len(responses)) for j in range(len(responses)) if ranks[i] < ranks[j]
    ]


def pairwise_rows(rows: Iterable[dict]) -> list[dict]:
    """Validated pairwise rows (listwise rows expanded): prompt messages, chosen, rejected, margin, weight, meta."""
    out = []
    for index, row in enumerate(rows):
        where = f"row {index}"
        if "responses" in row:
            expanded = expand_listwise(row, where)
        else:
            expanded = [row]
        for pair in expanded:
            margin = pair.get("margin")
            if margin is not None and not math.isfinite(float(margin)):
                raise ValueError(f"{where}: margin must be a finite number or null")
            out.append({
                "prompt": messages(pair.get("prompt"), where),
                "chosen": _text(pair, "chosen", where),
                "rejected": _text(pair, "rejected", where),
                "margin": None if margin is None else float(margin),
                "weight": _weight(pair, where),
                "source": str(pair.get("source") or ""),
                "noise_score": pair.get("noise_score"),
            })
    if not out:
        raise ValueError("no pairwise rows (a reward model or DPO needs chosen/rejected pairs)")
    return out


def listwise_rows(rows: Iterable[dict]) -> list[dict]:
    """Validated listwise rows: prompt messages, responses, ranks (tie-group index per response), weight."""
    out = []
    for index, row in enumerate(rows):
        where = f"row {index}"
        responses = row.get("responses")
        if not isinstance(responses, list) or len(responses) < 2 or not all(isinstance(r, str) for r in responses):
            raise ValueError(f"{where}: 'responses' must be a list of at least 2 strings")
        ranks = rank_of(row.get("ranking") or [], len(responses), where)
        if len(set(ranks)) < 2:
            continue  # an all-tie list carries no preference
        out.append({"prompt": messages(row.get("prompt"), where), "responses": list(responses), "ranks": ranks,
                    "weight": _weight(row, where), "source": str(row.get("source") or "")})
    if not out:
        raise ValueError("no listwise rows with at least two tie groups")
    return out


def unpaired_rows(rows: Iterable[dict]) -> list[dict]:
    """Validated thumbs rows: prompt messages, completion, label (bool)."""
    out = []
    for index, row in enumerate(rows):
        where = f"row {index}"
        if not isinstance(row.get("label"), bool):
            raise ValueError(f"{where}: 'label' must be true or false")
        out.append({"prompt": messages(row.get("prompt"), where), "completion": _text(row, "completion", where),
                    "label": row["label"], "source": str(row.get("source") or "")})
    if not out:
        raise ValueError("no unpaired (thumbs) rows")
    return out


def normalised_weights(rows: Sequence[dict]) -> list[float] | None:
    """Each row's weight / the mean weight, or None when weights are all equal (nothing to do: no overhead).

    Normalising by the dataset mean (not the batch mean) keeps a batch of down-weighted rows down-weighted
    while the average loss scale, and so the learning rate's meaning, stays that of unweighted training.
    """
    weights = [row["weight"] for row in rows]
    mean = sum(weights) / len(weights)
    if mean <= 0:
        raise ValueError("every training row has weight 0: nothing to train on")
    if max(weights) - min(weights) < 1e-12:
        return None
    return [w / mean for w in weights]


def has_chat_template(tokenizer) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def render_prompt(prompt: list[dict[str, str]]) -> str:
    """A conversation as plain text, for tokenizers without a chat template (encoders such as MiniLM)."""
    return "\n".join(f"{m['role']}: {m['content']}" for m in prompt)
