"""Stable ids from content, so that re-importing a file without ids finds the same rows.

The ids are stored; they must never change for the same content (tests pin known values).
"""
import hashlib
import json
from json.encoder import c_make_encoder, encode_basestring  # C: a value's encoder; one string, ensure_ascii=False
from typing import Any

# One encoder for all calls: json.dumps with non-default options builds a new JSONEncoder each
# time, which cost more than the hashing itself when importing 100k pairs. (check_circular only
# guards against self-containing values, which decoded JSON cannot be; the output is the same.)
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), check_circular=False)
# The C encoder that JSONEncoder.encode builds on every call (iterencode with _one_shot), built once: the same
# text, without a third of the cost of encoding a prompt's messages. (CPython always has it; else encode.)
_C_ENCODE = c_make_encoder and c_make_encoder(
    None, _ENCODER.default, encode_basestring, None, _ENCODER.key_separator, _ENCODER.item_separator,
    _ENCODER.sort_keys, _ENCODER.skipkeys, _ENCODER.allow_nan,
)


def _encode_c(value: Any) -> str:
    return "".join(_C_ENCODE(value, 0))


_ENCODE = _encode_c if _C_ENCODE is not None else _ENCODER.encode


def canonical_json(value: Any) -> str:
    """`value` as compact JSON with sorted keys: equal values (dict order aside) give equal text."""
    return _ENCODE(value)


def _digest(payload: str) -> str:
    return hashlib.blake2b(payload.encode("utf-8"), digest_size=16).hexdigest()


def content_id(*parts: Any, prefix: str = "") -> str:
    """A 32-hex-digit digest of the JSON encoding of `parts` (stable across runs and machines)."""
    return prefix + _digest(_ENCODE(parts))


def response_id(text: str, model_name: str = "") -> str:
    # content_id(model_name, text, prefix="r-"), spelled out: two strings need no general encoder.
    return "r-" + _digest("[" + encode_basestring(model_name) + "," + encode_basestring(text) + "]")


def prompt_id(messages: list[dict[str, str]]) -> str:
    return prompt_id_of_json(_ENCODE(messages))


def prompt_id_of_json(encoded_messages: str) -> str:
    """prompt_id(messages) from canonical_json(messages), for a caller that needs that encoding anyway."""
    # content_id(messages, prefix="p-") encodes the 1-tuple (messages,): the list's encoding in brackets.
    return "p-" + _digest("[" + encoded_messages + "]")


def pair_ids(
    messages: list[dict[str, str]], chosen: str, rejected: str, chosen_model: str = "", rejected_model: str = ""
) -> tuple[str, str, str, str]:
    """(pair key, prompt id, chosen response id, rejected response id) of a preference pair.

    The same ids as content_id(messages, chosen, rejected, prefix="pair-"), prompt_id(messages)
    and response_id(...) give, from one JSON encoding of each part: an import hashes every pair
    four times, and encoding the texts once per id was the larger half of parsing.
    """
    encoded_messages = _ENCODE(messages)
    encoded_chosen, encoded_rejected = encode_basestring(chosen), encode_basestring(rejected)
    return (
        "pair-" + _digest("[" + encoded_messages + "," + encoded_chosen + "," + encoded_rejected + "]"),
        "p-" + _digest("[" + encoded_messages + "]"),
        "r-" + _digest("[" + encode_basestring(chosen_model) + "," + encoded_chosen + "]"),
        "r-" + _digest("[" + encode_basestring(rejected_model) + "," + encoded_rejected + "]"),
    )


def swap_for(key: str) -> bool:
    """Whether a pair keyed `key` stores its chosen response at position B.

    Datasets list the preferred response first; storing it always at A would make "A wins" a
    property of the import. A hash decides instead, so the order is balanced and re-imports agree.
    """
    return hashlib.blake2b(key.encode("utf-8"), digest_size=1).digest()[0] & 1 == 1
