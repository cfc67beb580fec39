"""The import formats, by name, and the file-level loop that collects every bad line."""
from collections.abc import Callable, Iterator
from typing import IO, Any

from ..reader import LimitExceeded, RecordError, sized_json_lines
from ..records import ImportLimits, ImportOptions, ItemRecord, LineError, ParseResult, record_text_too_long
from . import hh, native, ranked, trl

Parser = Callable[[Any, int, ImportOptions], ItemRecord]

FORMATS: dict[str, Parser] = {
    "trl": trl.parse,
    "hh": hh.parse,
    "ranked": ranked.parse,
    "native": native.parse,
}

EMPTY_FILE = "the file holds no records (it is empty or blank)"
# LineError.limit of the error that stops reading after ImportLimits.max_bad_lines bad lines.
TOO_MANY_BAD_LINES = "max_bad_lines"


def parse_file(
    stream: IO[bytes], fmt: str, options: ImportOptions | None = None, *, limits: ImportLimits | None = None
) -> ParseResult:
    """Parse a whole JSONL file. Never raises on bad records: each becomes a LineError.

    Two records with the same item id are one item if they are identical (the duplicate is
    dropped) and an error otherwise.
    """
    records: list[ItemRecord] = []
    errors: list[LineError] = []
    n_lines = 0
    for chunk in parse_chunks(stream, fmt, options, limits=limits):
        records += chunk.records
        errors += chunk.errors
        n_lines = chunk.n_lines
    return ParseResult(records=records, errors=errors, n_lines=n_lines)


def parse_chunks(
    stream: IO[bytes],
    fmt: str,
    options: ImportOptions | None = None,
    *,
    size: int = 10_000,
    limits: ImportLimits | None = None,
) -> Iterator[ParseResult]:
    """`parse_file` in pieces of `size` records and bad lines, so that a caller can write while the
    rest is parsed.

    Each piece holds the records and errors of its lines (duplicates are found across pieces) and
    `n_lines` so far; the first piece is a tenth of the size, so that the caller can start at
    once. An empty file ends in one piece with the error EMPTY_FILE (line 0). Raises ValueError
    for an unknown format before reading anything.

    `limits` bound what is read: a line or a file over its size limit, or more than
    `max_bad_lines` bad lines, end reading with a last error whose `limit` is set (the caller
    refuses the file); a text over `max_text_chars` is a bad line like any other.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(sorted(FORMATS))}")
    parser = FORMATS[fmt]
    options = options or ImportOptions()
    limits = limits or ImportLimits()
    max_text, bad_left = limits.max_text_chars, limits.max_bad_lines
    first_line: dict[str, ItemRecord] = {}
    records: list[ItemRecord] = []
    errors: list[LineError] = []
    n_lines = 0
    seen_any = False
    limit = max(1, size // 10)
    try:
        for number, obj, problem, line_bytes in sized_json_lines(stream, limits):
            n_lines = number
            seen_any = True
            if problem is None:
                try:
                    record = parser(obj, number, options)
                except RecordError as exc:
                    problem = str(exc)
                else:
                    # A text has at most as many characters as its line has bytes: most lines need no look.
                    if line_bytes > max_text:
                        problem = record_text_too_long(record, max_text)
            if problem is None:
                earlier = first_line.get(record.external_id)
                if earlier is None:
                    first_line[record.external_id] = record
                    records.append(record)
                elif not _same(earlier, record):
                    problem = f"item id {record.external_id!r} was already used on line {earlier.line}"
            if problem is not None:
                errors.append(LineError(number, problem))
                bad_left -= 1
                if bad_left == 0:
                    reason = f"reading stopped after {limits.max_bad_lines} bad lines"
                    errors.append(LineError(number, reason, limit=TOO_MANY_BAD_LINES))
                    break
            if len(records) + len(errors) >= limit:
                yield ParseResult(records=records, errors=errors, n_lines=n_lines)
                records, errors, limit = [], [], size
    except LimitExceeded as exc:
        errors.append(LineError(exc.line, exc.reason, limit=exc.setting))
        n_lines = max(n_lines, exc.line)
        seen_any = True
    if not seen_any:
        errors.append(LineError(0, EMPTY_FILE))
    if records or errors or not n_lines:
        yield ParseResult(records=records, errors=errors, n_lines=n_lines)


def _same(a: ItemRecord, b: ItemRecord) -> bool:
    """Whether two records with one item id say exactly the same (their line numbers aside)."""
    return {**vars(a), "line": 0} == {**vars(b), "line": 0}
