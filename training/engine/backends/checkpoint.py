"""What a local checkpoint's config.json says about loading it: its dtype and its context length.

The `hf` and `vllm` backends both load a model in `load_dtype(settings, location)`, so that one model gives the
same numbers whichever backend serves it. Left to themselves they differ: transformers loads float32 unless
told otherwise, and vLLM's "auto" downcasts a float32 checkpoint to bfloat16 on CPU (float16 on GPU).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["DTYPES", "checkpoint_config", "context_length", "load_dtype"]

DTYPES = ("float32", "bfloat16", "float16")
DEFAULT_DTYPE = "float32"  # a checkpoint that does not say (old configs): full precision
# config.json keys that bound the context, in the order vLLM consults them.
CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "max_sequence_length")


def checkpoint_config(location: str) -> dict[str, Any]:
    """config.json of the model directory `location`; {} when there is none or it is unreadable."""
    path = Path(location) / "config.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def load_dtype(settings: dict[str, Any], location: str) -> str:
    """The dtype to load in: the setting `dtype` when the user picked one ("auto" or absent: not picked),
    else the checkpoint's own (config.json `dtype`, or `torch_dtype` in older files), else float32.

    Raises ValueError for a dtype neither backend takes.
    """
    picked = settings.get("dtype", "auto")
    if picked != "auto":
        if picked not in DTYPES:
            raise ValueError(f"dtype must be auto or one of {', '.join(DTYPES)}, got {picked!r}")
        return picked
    config = checkpoint_config(location)
    stored = config.get("dtype") or config.get("torch_dtype")
    return stored if stored in DTYPES else DEFAULT_DTYPE


def context_length(settings: dict[str, Any], location: str) -> int | None:
    """The longest sequence the engine will take: the setting `max_model_len`, else the checkpoint's; None if
    neither says."""
    if settings.get("max_model_len"):
        return int(settings["max_model_len"])
    config = checkpoint_config(location)
    for key in CONTEXT_KEYS:
        if isinstance(config.get(key), int) and config[key] > 0:
            return config[key]
    return None
