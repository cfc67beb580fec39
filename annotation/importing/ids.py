"""Stable ids from content, so that re-importing a file without ids finds the same rows."""
import hashlib
import json
from typing import Any


def content_id(*parts: Any, prefix: str = "") -> str:
    """A 32-hex-digit digest of the JSON encoding of `parts` (stable across runs and machines)."""
    payload = json.dumps(parts, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return prefix + hashlib.blake2b(payload.encode("utf-8"), digest_size=16).hexdigest()


def response_id(text: str, model_name: str = "") -> str:
    return content_id(model_name, text, prefix="r-")


def prompt_id(messages: list[dict[str, str]]) -> str:
    return content_id(messages, prefix="p-")


def swap_for(key: str) -> bool:
    """Whether a pair keyed `key` stores its chosen response at position B.

    Datasets list the preferred response first; storing it always at A would make "A wins" a
    property of the import. A hash decides instead, so the order is balanced and re-imports agree.
    """
    return hashlib.blake2b(key.encode("utf-8"), digest_size=1).digest()[0] & 1 == 1
