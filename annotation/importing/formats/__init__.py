"""The import formats, by name, and the file-level loop that collects every bad line."""
from collections.abc import Callable
from typing import IO, Any

from ..reader import RecordError, iter_json_lines
from ..records import ImportOptions, ItemRecord, LineError, ParseResult
from . import hh, native, ranked, trl

Parser = Callable[[Any, int, ImportOptions], ItemRecord]

FORMATS: dict[str, Parser] = {
    "trl": trl.parse,
    "hh": hh.parse,
    "ranked": ranked.parse,
    "native": native.parse,
}


def parse_file(stream: IO[bytes], fmt: str, options: ImportOptions | None = None) -> ParseResult:
    """Parse a whole JSONL file. Never raises on bad records: each becomes a LineError.

    Two records with the same item id are one item if they are identical (the duplicate is
    dropped) and an error otherwise.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(sorted(FORMATS))}")
    parser = FORMATS[fmt]
    options = options or ImportOptions()
    records: list[ItemRecord] = []
    errors: list[LineError] = []
    first_line: dict[str, ItemRecord] = {}
    n_lines = 0
    for number, obj, problem in iter_json_lines(stream):
        n_lines = max(n_lines, number)
        if problem is not None:
            errors.append(LineError(number, problem))
            continue
        try:
            record = parser(obj, number, options)
        except RecordError as exc:
            errors.append(LineError(number, str(exc)))
            continue
        earlier = first_line.get(record.external_id)
        if earlier is not None:
            if _same(earlier, record):
                continue
            errors.append(LineError(number, f"item id {record.external_id!r} was already used on line {earlier.line}"))
            continue
        first_line[record.external_id] = record
        records.append(record)
    if n_lines == 0 and not errors:
        errors.append(LineError(0, "the file holds no records"))
    return ParseResult(records=records, errors=errors, n_lines=n_lines)


def _same(a: ItemRecord, b: ItemRecord) -> bool:
    return (a.messages, [r.text for r in a.responses], a.labels) == (b.messages, [r.text for r in b.responses], b.labels)
