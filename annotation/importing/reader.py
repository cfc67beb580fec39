"""Reading JSONL (plain or gzipped) line by line, turning every problem into a numbered error."""
import gzip
import io
import json
import math
import re
import zlib
from collections.abc import Iterator
from typing import IO, Any

from .records import LINE_SETTING, ImportLimits, size_text

GZIP_MAGIC = b"\x1f\x8b"
# Read the file in 1 MiB blocks: the per-call overhead of the Python-level sniffing stream below
# is then negligible next to JSON decoding.
READ_BLOCK = 1 << 20


class RecordError(ValueError):
    """A record is invalid; the message says which field and why."""


class LimitExceeded(Exception):
    """The file broke a size limit at `line`; reading stops there. `setting` names the limit."""

    def __init__(self, line: int, reason: str, setting: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason
        self.setting = setting


def _binary_lines(stream: IO[bytes], limits: ImportLimits) -> Iterator[bytes]:
    """The file's lines (gunzipped if it is gzip), each read with a bounded `readline`.

    Raises LimitExceeded as soon as a line or the decompressed total goes over its limit, having
    held at most one line's limit in memory: a one-line gzip bomb is refused after inflating its first
    `max_line_bytes`, not the whole line.
    """
    head = stream.read(2)
    data: IO[bytes] = io.BufferedReader(_Prepend(head, stream), buffer_size=READ_BLOCK)
    if head == GZIP_MAGIC:
        # Read directly: its own small buffer hands out every complete line before the read
        # that finds a truncated end raises (a bigger buffer on top would swallow them).
        data = gzip.GzipFile(fileobj=data)  # type: ignore[assignment]
    readline = data.readline
    cap = limits.max_line_bytes + 1  # one byte more than a line may hold, so that a longer one shows
    budget = limits.max_bytes
    number = 0
    while line := readline(cap):
        number += 1
        budget -= len(line)
        if len(line) == cap and line[-1:] != b"\n":
            raise LimitExceeded(
                number, f"longer than the {size_text(limits.max_line_bytes)} line limit ({LINE_SETTING})", LINE_SETTING
            )
        if budget < 0:
            raise LimitExceeded(
                number,
                f"the file is larger than the {size_text(limits.max_bytes)} limit on its (decompressed) size "
                f"({limits.bytes_setting})",
                limits.bytes_setting,
            )
        yield line


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


# --- JSON that the database can store -------------------------------------------------------------
# Python's json accepts NaN, Infinity and numbers like 1e400 (read as inf); JSON does not, and
# PostgreSQL's jsonb and float columns would refuse them at insert time, long after parsing.


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text} is too large")
    return value


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
# \u0000 and unpaired surrogates decode into str values that PostgreSQL cannot store (text and
# jsonb hold no NUL; UTF-8 has no surrogates). Only lines with such an escape are walked.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _unstorable(value: Any, path: str = "") -> str | None:
    """Why a decoded JSON value cannot be stored, naming the field (`path`), or None."""
    if isinstance(value, str):
        return _unstorable_text(value, f"field '{path}'" if path else "the record")
    if isinstance(value, dict):
        for key, inner in value.items():
            where = f"{path}.{key}" if path else key
            problem = _unstorable_text(key, f"a key of field '{path}'" if path else "a key of the record")
            problem = problem or _unstorable(inner, where)
            if problem:
                return problem
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            problem = _unstorable(inner, f"{path}[{i}]")
            if problem:
                return problem
    return None


def _unstorable_text(text: str, where: str) -> str | None:
    if "\x00" in text:
        return f"{where} contains a NUL character (\\u0000), which cannot be stored"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"{where} contains an unpaired surrogate (\\u{ord(text[exc.start]):04x}), which is not text"
    return None


_UNSURE = object()
_SCAN_ONCE = _DECODER.scan_once
_LINE_ENDS = ("", "\n", "\r\n")


def _decoded_plain_line(text: str) -> Any:
    """`_DECODER.decode(text)` for the usual line (a value from its first character, then at most a line
    end), or _UNSURE for any other line and any error: then `decode` itself decides and words the error.

    `decode` matches whitespace with a regex before and after the value; skipping that for the usual line
    saves a tenth of the reading. The value is the one `decode` returns (it calls the same scanner)."""
    try:
        obj, end = _SCAN_ONCE(text, 0)
    except Exception:  # StopIteration (leading whitespace, no value), JSONDecodeError, a number hook's error
        return _UNSURE
    return obj if text[end:] in _LINE_ENDS else _UNSURE


def iter_json_lines(
    stream: IO[bytes], limits: ImportLimits | None = None
) -> Iterator[tuple[int, Any, str | None]]:
    """Yield (line number, parsed object or None, error or None) for every non-blank line.

    A gzip stream that ends early or is corrupt yields one last error, numbered as the line
    after the last one read. A line or a file over `limits` raises LimitExceeded (after the
    lines before it were yielded).
    """
    for number, obj, problem, _ in sized_json_lines(stream, limits or ImportLimits()):
        yield number, obj, problem


def sized_json_lines(stream: IO[bytes], limits: ImportLimits) -> Iterator[tuple[int, Any, str | None, int]]:
    """`iter_json_lines` with each line's size in bytes: no text in a line is longer than that."""
    number = 0
    try:
        for number, raw in enumerate(_binary_lines(stream, limits), start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield number, None, f"not valid UTF-8 (byte {exc.start + 1} of the line)", 0
                continue
            if number == 1 and text.startswith("\ufeff"):  # a byte order mark, as some editors write
                text = text[1:]
            if not text or text.isspace():
                continue
            obj = _decoded_plain_line(text)
            try:
                if obj is _UNSURE:
                    obj = _DECODER.decode(text)
            except json.JSONDecodeError as exc:
                where = "at the end of the line" if exc.pos >= len(text.rstrip()) else f"at column {exc.pos + 1}"
                yield number, None, f"invalid JSON: {exc.msg} {where}", 0
                continue
            except ValueError as exc:  # from the number hooks above
                yield number, None, f"invalid JSON: {exc}", 0
                continue
            except RecursionError:
                yield number, None, "invalid JSON: nested too deeply", 0
                continue
            if "\\u" in text and _SUSPECT_ESCAPE.search(text):
                problem = _unstorable(obj)
                if problem:
                    yield number, None, problem, 0
                    continue
            yield number, obj, None, len(raw)
    except EOFError:
        yield number + 1, None, "the gzip file is truncated: it ends before its end-of-stream marker", 0
    except (OSError, zlib.error) as exc:
        yield number + 1, None, f"the gzip data is corrupt after line {number}: {exc}", 0


# --- field checks: each raises RecordError naming the field -------------------------------------

_TYPE_NAMES = {
    str: "a string", int: "an integer", float: "a number", bool: "a boolean", list: "a list", dict: "an object"
}


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


def field_of(
    obj: dict[str, Any], name: str, kind: type | tuple[type, ...], *, required: bool = True, where: str = ""
) -> Any:
    """obj[name] checked against `kind`; None when optional and absent (or null)."""
    value = obj.get(name)
    if value is None:
        if required:
            raise RecordError(f"field '{where}{name}' is missing")
        return None
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
        raise RecordError(f"field '{where}{name}' must be {wanted}, got {_type_name(value)}")
    return value


def is_blank(text: str) -> bool:
    """Empty or only whitespace (like `not text.strip()`, without copying a long text)."""
    return not text or text.isspace()


def nonempty_text(obj: dict[str, Any], name: str, where: str = "") -> str:
    value = field_of(obj, name, str, where=where)
    if is_blank(value):
        raise RecordError(f"field '{where}{name}' is empty")
    return value


def short_text(obj: dict[str, Any], name: str, limit: int, *, required: bool = False, where: str = "") -> str | None:
    """An optional (or required) string of at most `limit` characters: ids and names with a column size."""
    value = field_of(obj, name, str, required=required, where=where)
    if value is not None and len(value) > limit:
        raise RecordError(f"field '{where}{name}' is longer than {limit} characters ({len(value)})")
    return value


def int_in_range(obj: dict[str, Any], name: str, low: int, high: int, *, where: str = "") -> int | None:
    """An optional integer within [low, high] (the column's range)."""
    value = field_of(obj, name, int, required=False, where=where)
    if value is not None and not low <= value <= high:
        raise RecordError(f"field '{where}{name}' must be between {low} and {high}, got {value}")
    return value
