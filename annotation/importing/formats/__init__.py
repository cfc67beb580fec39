"""The import formats, by name, and the file-level loop that collects every bad line."""
from collections.abc import Callable, Iterator
from dataclasses import fields
from operator import attrgetter
from typing import IO, Any

from ..ids import canonical_json
from ..keyindex import KeyIndex, content_digest, key_digest
from ..reader import LimitExceeded, RecordError, sized_json_lines
from ..records import (
    ImportLimits, ImportOptions, ItemRecord, LabelRecord, LineError, ParseResult, record_text_too_long,
)
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
    earlier_pieces = _EarlierPieces()
    first_line: dict[str, tuple[int, int]] = {}  # item id → (line, digest), in this piece
    records: list[ItemRecord] = []
    errors: list[LineError] = []
    n_lines = 0
    seen_any = False
    limit = max(1, size // 10)
    checked = False  # whether `records` were already checked against the earlier pieces
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
                digest = record_digest(record)
                earlier = first_line.get(record.external_id)
                if earlier is None:
                    first_line[record.external_id] = (number, digest)
                    records.append(record)
                elif earlier[1] != digest:
                    problem = f"item id {record.external_id!r} was already used on line {earlier[0]}"
            if problem is not None:
                errors.append(LineError(number, problem))
                bad_left -= 1
            if len(records) + len(errors) >= limit or bad_left <= 0:
                bad_left -= earlier_pieces.drop_repeats(records, first_line, errors)
                if bad_left <= 0:
                    reason = f"reading stopped after {limits.max_bad_lines} bad lines"
                    errors.append(LineError(number, reason, limit=TOO_MANY_BAD_LINES))
                    checked = True
                    break
                yield ParseResult(records=records, errors=errors, n_lines=n_lines)
                records, errors, limit, first_line = [], [], size, {}
    except LimitExceeded as exc:
        errors.append(LineError(exc.line, exc.reason, limit=exc.setting))
        n_lines = max(n_lines, exc.line)
        seen_any = True
    if not checked:
        earlier_pieces.drop_repeats(records, first_line, errors)
    if not seen_any:
        errors.append(LineError(0, EMPTY_FILE))
    if records or errors or not n_lines:
        yield ParseResult(records=records, errors=errors, n_lines=n_lines)


# Every field of a label, in a fixed order: the digest encodes their values as a JSON list. Most labels are a
# verdict and nothing else: such a label is encoded as its first three fields alone (a list of 3 values never
# equals one of all 15, so the encoding stays one-to-one).
_LABEL_FIELDS = attrgetter(*(f.name for f in fields(LabelRecord)))
_LABEL_HEAD = attrgetter(*(f.name for f in fields(LabelRecord)[:3]))
_LABEL_TAIL = attrgetter(*(f.name for f in fields(LabelRecord)[3:]))
_PLAIN_TAIL = _LABEL_TAIL(LabelRecord(annotator="", annotator_kind=""))


def record_digest(record: ItemRecord) -> int:
    """A digest of everything a record says but its line: two records with one item id and the same
    digest are the same item (the repeat is dropped), else the second is an error.

    Responses and labels are encoded as lists of their fields' values, not as objects (every record has the
    same fields), and the texts of the messages and responses by their 64-bit content digests, not escaped
    into JSON again: the writer checks them by those same digests, which Python's string hash then finds
    cached. Only equality within one import matters; the digest is never stored. (A test changes each field of a
    record, response and label in turn and expects another digest.)
    """
    messages_json = record.messages_json or canonical_json(record.messages)
    return content_digest(canonical_json([
        content_digest(messages_json), record.kind, record.prompt_external_id,
        [(content_digest(r.text), r.external_id, r.model_name, r.gen_params, r.seed) for r in record.responses],
        [_LABEL_HEAD(label) if _LABEL_TAIL(label) == _PLAIN_TAIL else _LABEL_FIELDS(label) for label in record.labels],
        record.prompt_metadata, record.metadata, record.reference,
    ]))


class _EarlierPieces:
    """The item ids of the pieces already handed out, with their line and record digest (KeyIndex:
    32 bytes an id, not the records themselves), to find a repeated id anywhere in the file."""

    def __init__(self) -> None:
        self.index = KeyIndex()

    def drop_repeats(self, records: list[ItemRecord], first_line: dict[str, tuple[int, int]],
                     errors: list[LineError]) -> int:
        """Drop from `records` (a piece) the repeats of items of earlier pieces, add an error for each
        repeat that says otherwise, and remember the piece's ids; returns the number of errors added."""
        if not records:
            return 0
        digests = [key_digest(r.external_id) for r in records]
        found = self.index.find(digests)
        kept, new_digests, lines, checks, n_errors = [], [], [], [], 0
        for record, digest in zip(records, digests):
            line_digest = first_line[record.external_id]
            earlier = found.get(digest)
            if earlier is None:
                kept.append(record)
                new_digests.append(digest)
                lines.append(line_digest[0])
                checks.append(line_digest[1])
            elif earlier[2] != line_digest[1]:
                reason = f"item id {record.external_id!r} was already used on line {earlier[1]}"
                errors.append(LineError(record.line, reason))
                n_errors += 1
        self.index.add(new_digests, [0] * len(new_digests), lines, checks)
        records[:] = kept
        return n_errors
