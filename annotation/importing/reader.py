"""Reading JSONL (plain or gzipped) line by line, turning every problem into a numbered error."""
import gzip
import io
import json
from collections.abc import Iterator
from typing import IO, Any

GZIP_MAGIC = b"\x1f\x8b"


class RecordError(ValueError):
    """A record is invalid; the message says which field and why."""


def _binary_lines(stream: IO[bytes]) -> Iterator[bytes]:
    head = stream.read(2)
    data: IO[bytes] = io.BufferedReader(_Prepend(head, stream))
    if head == GZIP_MAGIC:
        data = gzip.GzipFile(fileobj=data)  # type: ignore[assignment]
    yield from data


class _Prepend(io.RawIOBase):
    """A stream that first returns `head`, then the rest of `stream` (to sniff gzip without seeking)."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self._head = head
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        chunk = self._stream.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def iter_json_lines(stream: IO[bytes]) -> Iterator[tuple[int, Any, str | None]]:
    """Yield (line number, parsed object or None, error or None) for every non-blank line."""
    try:
        for number, raw in enumerate(_binary_lines(stream), start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield number, None, f"not valid UTF-8 (byte {exc.start + 1} of the line)"
                continue
            if not text.strip():
                continue
            try:
                yield number, json.loads(text), None
            except json.JSONDecodeError as exc:
                yield number, None, f"invalid JSON: {exc.msg} at column {exc.colno}"
    except (OSError, EOFError) as exc:  # a truncated or corrupt gzip stream
        yield 0, None, f"cannot read the file: {exc}"


# --- field checks: each raises RecordError naming the field -------------------------------------

_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean", list: "a list", dict: "an object"}


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "object"}.get(
        type(value), type(value).__name__
    )


def require_object(value: Any, where: str = "record") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordError(f"{where} must be a JSON object, got {_type_name(value)}")
    return value


def field_of(obj: dict[str, Any], name: str, kind: type | tuple[type, ...], *, required: bool = True, where: str = "") -> Any:
    """obj[name] checked against `kind`; None when optional and absent (or null)."""
    label = f"{where}{name}"
    if name not in obj or obj[name] is None:
        if required:
            raise RecordError(f"field '{label}' is missing")
        return None
    value = obj[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # bool is an int in Python; a JSON true is never a valid integer or number here.
    if isinstance(value, bool) and bool not in kinds:
        ok = False
    elif float in kinds and isinstance(value, int):
        ok = True
    else:
        ok = isinstance(value, kinds)
    if not ok:
        wanted = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
        raise RecordError(f"field '{label}' must be {wanted}, got {_type_name(value)}")
    return value


def nonempty_text(obj: dict[str, Any], name: str, where: str = "") -> str:
    value = field_of(obj, name, str, where=where)
    if not value.strip():
        raise RecordError(f"field '{where}{name}' is empty")
    return value
