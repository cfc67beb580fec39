"""A dataset export's JSON lines as PostgreSQL builds them, a piece of rows joined into one value at a time.

The same bytes as `format_row` + `jsonl_chunks` (annotation/curation/export.py) write, record for record
(tests/annotation/selectors/test_dataset_lines.py compares them), at close to PostgreSQL's own COPY rate: Python only
moves bytes. Each line is put together in SQL from the row's columns, with the number formatting of Python's
`json.dumps` (floats as `repr`: "1.0", "1e-05"). A row the SQL cannot render exactly comes out as the marker
line "#<index>" and is formatted by `format_row` here instead: a provenance whose reasons name annotators
(`{annotator:<id>}` tokens, rendered per viewer), or a payload or provenance of unexpected shape (the rows
`RowBuilder` writes never are; a malformed one then gets format_row's error). A version whose rows of the kind
were all checked when they were written (`row_plain`, its stats' "sql_lines") skips the shape check.

Only on PostgreSQL and for the row formats (not raw_votes): `lines_supported` says when; callers fall back to
the Python records otherwise.
"""
from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator

import psycopg
from django.conf import settings
from django.db import connection

from ..curation.export import ExportOptions, format_row
from ..models import DatasetRow, DatasetVersion
from .datasets import ROW_COLUMNS, dataset_rows
from .identities import AnnotatorNames

__all__ = ["LINE_CHUNK", "lines_supported", "dataset_export_lines", "dataset_export_start"]

# Rows per piece: ~2 MB of JSON held at once, and a broken-off download leaves at most this much unread. A piece is
# one PostgreSQL value, which may not pass 1 GB: 2,000 rows averaging over 500 KB of JSON each (nearly every text at
# the import's 400,000-character cap) would fail; pass a smaller chunk_size (export_data --chunk-size) for such data.
LINE_CHUNK = 2_000
# Pieces a reader thread may hold ahead of the consumer (each ~2 MB): enough to keep its backend busy while the
# consumer writes, small enough that memory stays a few pieces.
AHEAD = 2
MARKER = b"#"


def lines_supported(options: ExportOptions) -> bool:
    return connection.vendor == "postgresql" and options.kind is not None


# -- SQL pieces: each a text expression of the JSON of one value -----------------------------------------
def _json_text(expr: str) -> str:
    """A JSON string of a text expression ("" for NULL, as `m.get("content", "")`)."""
    return f"to_json(COALESCE({expr}, ''))::text"


def _py_float(expr: str) -> str:
    """A float8 expression as Python's json.dumps writes a float: repr ("1.0", "0.25", "1e-05"); null for NULL.
    PostgreSQL's float8 output has the same shortest digits (extra_float_digits = 1, the default) but writes
    whole numbers without ".0"."""
    return (f"CASE WHEN {expr} IS NULL THEN 'null' WHEN {expr} = trunc({expr}) AND abs({expr}) < 1e16 "
            f"THEN trunc({expr})::numeric::text || '.0' ELSE {expr}::text END")


def _json_float(text: str, value: str) -> str:
    """A number of a jsonb as json.dumps(float(n)) writes it. `text`: the number's jsonb text, which is its digits
    as stored, so Python's repr where Python wrote it; `value`: the same as float8, for the others (_py_float).
    The digits are kept when they are repr's for sure: a point, no trailing zero after the first decimal, no
    exponent form in repr (|x| < 1e-4 or >= 1e16). `text` should be a column of the line's LATERAL (evaluated
    once per row, not once per use)."""
    return (f"CASE WHEN {text} LIKE '%%.%%' AND {text} NOT LIKE '%%.%%_0' AND {text} NOT LIKE '0.0000%%' "
            f"AND {text} NOT LIKE '-0.0000%%' AND position('.' in {text}) < 17 THEN {text} ELSE {_py_float(value)} END")


def _messages(expr: str) -> str:
    """`_messages(prompt)`: [{"role": str, "content": str}, ...]."""
    role, content = _json_text("m->>'role'"), _json_text("m->>'content'")
    message = f"""'{{"role": ' || {role} || ', "content": ' || {content} || '}}'"""
    return (f"'[' || COALESCE((SELECT string_agg({message}, ', ' ORDER BY o) "
            f"FROM jsonb_array_elements({expr}) WITH ORDINALITY AS e(m, o)), '') || ']'")


def _turn(expr: str) -> str:
    """[{"role": "assistant", "content": <text>}]."""
    return f"'[{{\"role\": \"assistant\", \"content\": ' || to_json({expr})::text || '}}]'"


_SPEAKER = ("CASE m->>'role' WHEN 'system' THEN 'System' WHEN 'user' THEN 'Human' WHEN 'assistant' THEN 'Assistant' "
            "WHEN 'tool' THEN 'Tool' END")
# prompt_text(): one user turn as it is, else the HH transcript ending in "\n\nAssistant:".
_PROMPT_TEXT = (
    "to_json(CASE WHEN jsonb_array_length(r.data->'prompt') = 1 AND r.data->'prompt'->0->>'role' = 'user' "
    "THEN COALESCE(r.data->'prompt'->0->>'content', '') ELSE COALESCE((SELECT string_agg(E'\\n\\n' || "
    f"{_SPEAKER} || ': ' || COALESCE(m->>'content', ''), '' ORDER BY o) FROM jsonb_array_elements(r.data->'prompt') "
    "WITH ORDINALITY AS e(m, o)), '') || E'\\n\\nAssistant:' END)::text"
)

_PAYLOADS = {
    "trl": [("prompt", _PROMPT_TEXT), ("chosen", "to_json(r.data->>'chosen')::text"),
            ("rejected", "to_json(r.data->>'rejected')::text")],
    "trl_conversational": [("prompt", _messages("r.data->'prompt'")), ("chosen", _turn("r.data->>'chosen'")),
                           ("rejected", _turn("r.data->>'rejected'"))],
    "kto": [("prompt", _messages("r.data->'prompt'")), ("completion", _turn("r.data->>'completion'")),
            ("label", "(r.data->'label')::text")],
    "listwise": [("prompt", _messages("r.data->'prompt'")), ("responses", "(r.data->'responses')::text"),
                 ("ranking", "(r.data->'ranking')::text")],
}
# What the SQL renders exactly; any other row is handed to format_row (module docstring).
_STRING = "jsonb_typeof(r.data->'{}') = 'string'"
_MESSAGES_PLAIN = ("jsonb_typeof(r.data->'prompt') = 'array' AND NOT jsonb_path_exists(r.data->'prompt', "
                   "'$[*] ? (@.type() != \"object\" || exists(@.role ? (@.type() != \"string\")) "
                   "|| exists(@.content ? (@.type() != \"string\")))')")
_PAYLOAD_PLAIN = {
    "trl": f"{_MESSAGES_PLAIN} AND {_STRING.format('chosen')} AND {_STRING.format('rejected')} AND NOT "
           "jsonb_path_exists(r.data->'prompt', '$[*] ? (!(@.role == \"system\" || @.role == \"user\" || "
           "@.role == \"assistant\" || @.role == \"tool\"))')",
    "trl_conversational": f"{_MESSAGES_PLAIN} AND {_STRING.format('chosen')} AND {_STRING.format('rejected')}",
    "kto": f"{_MESSAGES_PLAIN} AND {_STRING.format('completion')} AND jsonb_typeof(r.data->'label') = 'boolean'",
    "listwise": f"{_MESSAGES_PLAIN} AND jsonb_typeof(r.data->'responses') = 'array' AND NOT jsonb_path_exists("
                "r.data->'responses', '$[*] ? (@.type() != \"string\")') AND "
                "(r.data->'ranking')::text ~ '^\\[(\\[([0-9]+(, [0-9]+)*)?\\](, (?=\\[))?)*\\]$'",
}
_NUMBER = "COALESCE(jsonb_typeof(r.provenance->'{0}'), 'null') IN ('number', 'null')"
_NAMES_NONE = "COALESCE(r.provenance->>'reasons', '') NOT LIKE '%%{annotator:%%'"  # %% : a psycopg parameter string
_PROVENANCE_PLAIN = (
    f"jsonb_typeof(r.provenance) = 'object' AND {_NAMES_NONE} AND "
    "COALESCE(jsonb_typeof(r.provenance->'reasons'), 'null') IN ('array', 'null') AND NOT "
    "jsonb_path_exists(COALESCE(r.provenance->'reasons', '[]'), '$[*] ? (@.type() != \"string\")') AND "
    + " AND ".join(_NUMBER.format(k) for k in ("agreement", "probability", "noise_score")) + " AND "
    + " AND ".join(f"COALESCE(jsonb_typeof(r.provenance->'{k}'), 'null') IN ('string', 'null')"
                   for k in ("item", "origin", "source")) + " AND "
    # json.dumps(votes, sort_keys=True): for keys among A, B, n, tie, jsonb's key order (length, then bytes) is
    # Python's sorted order; integers (no point) read back and dump as they are. LIKE, not a regex: 3x cheaper.
    "CASE jsonb_typeof(f.votes) WHEN 'object' THEN f.votes - '{A,B,n,tie}'::text[] = '{}'::jsonb AND NOT "
    "jsonb_path_exists(f.votes, '$.* ? (@.type() != \"number\")') AND f.votes::text NOT LIKE '%%.%%' "
    "WHEN 'null' THEN true ELSE f.votes IS NULL END"
)
# What the line reads more than once, read once per row: without OFFSET 0 the planner would fold the subquery
# back into the expressions, which then look the value up at each use (a float is used five times).
_LATERAL = (
    "CROSS JOIN LATERAL (SELECT r.provenance->'votes' AS votes, (r.data->'margin')::text AS margin, "
    + ", ".join(f"(r.provenance->'{k}')::text AS {k}" for k in ("agreement", "probability", "noise_score"))
    + " OFFSET 0) f"
)

def _provenance_fields(options: ExportOptions) -> list[tuple[str, str]]:
    fields = [("index", "r.index::text"), ("split", "to_json(r.split)::text"), ("weight", _py_float("r.weight"))]
    if options.kind == "pairwise":
        fields.append(("margin", _json_float("f.margin", "(r.data->>'margin')::float8")))
    fields += [(k, f"COALESCE((r.provenance->'{k}')::text, 'null')") for k in ("item", "origin", "source")]
    fields.append(("votes", "CASE WHEN COALESCE(jsonb_typeof(f.votes), 'null') = 'null' "
                            "THEN 'null' ELSE to_json(f.votes::text)::text END"))
    fields += [(k, _json_float(f"f.{k}", f"(r.provenance->>'{k}')::float8"))
               for k in ("agreement", "probability", "noise_score")]
    fields.append(("reasons", "COALESCE(NULLIF((r.provenance->'reasons')::text, 'null'), '[]')"))
    return fields


def _plain_sql(options: ExportOptions, *, checked: bool = False) -> str:
    """The condition on a row (r, with _LATERAL's f) under which the SQL renders its line exactly.

    `checked`: every row of the kind passed `row_plain` when it was written (the version's stats, "sql_lines"),
    so only the reasons are looked at for annotators (the full check is a third of the line's cost)."""
    plain = "true" if checked else f"({_PAYLOAD_PLAIN[options.format]})"
    if options.provenance:
        plain += f" AND ({_NAMES_NONE if checked else _PROVENANCE_PLAIN})"
        if options.kind == "pairwise" and not checked:
            plain += " AND COALESCE(jsonb_typeof(r.data->'margin'), 'null') IN ('number', 'null')"
    return plain


def _line_sql(options: ExportOptions, *, checked: bool = False) -> str:
    """SELECT of each row's JSON line (`line`), or "#<index>" where format_row must do it, and its index (`idx`)."""
    fields = list(_PAYLOADS[options.format])
    plain = _plain_sql(options, checked=checked)
    if options.provenance:
        fields += _provenance_fields(options)
    line = " || ', ' || ".join(f"'\"{name}\": ' || {expr}" for name, expr in fields)
    where = "r.version_id = %s AND r.kind = %s AND r.index >= %s AND r.index < %s"
    if options.split != "all":
        where += " AND r.split = %s"
    return (f"SELECT CASE WHEN {plain} THEN '{{' || {line} || '}}' ELSE '#' || r.index END AS line, r.index AS idx "
            f"FROM {DatasetRow._meta.db_table} r {_LATERAL if options.provenance else ''} WHERE {where}")


def dataset_export_start(*, version: DatasetVersion, options: ExportOptions, offset: int) -> int | None:
    """The index of the export's record number `offset` (0-based), or None past the end: where a resumed
    export starts (one index scan)."""
    rows = dataset_rows(version=version, split=options.split, kind=options.kind)
    return rows.values_list("index", flat=True)[offset:offset + 1].first() if offset else (
        rows.values_list("index", flat=True).first())


def dataset_export_lines(
    *, version: DatasetVersion, options: ExportOptions, names: AnnotatorNames | Callable[[], AnnotatorNames],
    offset: int = 0, chunk_size: int = LINE_CHUNK, start: int | None = None, connections: int | None = None,
) -> Iterator[bytes]:
    """The export's JSON lines (UTF-8, each ending in "\\n") from record number `offset` on, in pieces of
    `chunk_size` rows: one query per range of indexes. Precondition: `lines_supported(options)`.

    `names` may be a function that makes them: it is called at the first row whose reasons name an annotator
    (reading every annotator of a large project takes a while, and most exports never need them).
    `start`: the index of record `offset` when the caller has looked it up already (dataset_export_start).
    `connections`: how many connections read pieces at once (default PREFSTUDIO_EXPORT_CONNECTIONS; see
    `_copied_in_parallel`)."""
    if start is None:
        start = dataset_export_start(version=version, options=options, offset=offset)
    if start is None:
        return
    if callable(names):
        names = _Lazy(names)
    high = DatasetRow.objects.filter(version=version).order_by("-index").values_list("index", flat=True).first()
    sql = _line_sql(options, checked=options.kind in ((version.stats or {}).get("sql_lines") or ()))
    # A piece is one value: its lines joined by PostgreSQL (bytea, read in binary: no per-row round of Python,
    # no decoding), and how many of them are markers (so the lines need not be searched for them here).
    piece_sql = (f"SELECT convert_to(string_agg(s.line, E'\\n' ORDER BY s.idx) || E'\\n', 'UTF8'), "
                 f"count(*) FILTER (WHERE starts_with(s.line, '#')) FROM ({sql} OFFSET 0) s")
    split = [options.split] if options.split != "all" else []
    pieces = [[version.pk, options.kind, low, low + chunk_size, *split] for low in range(start, high + 1, chunk_size)]
    rows = dataset_rows(version=version, split=options.split, kind=options.kind).values(*ROW_COLUMNS)
    if connections is None:
        connections = settings.PREFSTUDIO_EXPORT_CONNECTIONS
    # Other connections do not see rows of a transaction that has not committed (a test's, or a caller's atomic
    # block): there, the pieces are read on this connection.
    if connections > 1 and len(pieces) > 1 and not connection.in_atomic_block:
        read = _read_in_parallel(piece_sql, pieces, connections)
    else:
        read = _read(piece_sql, pieces)
    try:
        for data, marked in read:
            if marked:
                data = _render_marked(data, rows, options, names)
            if data:
                yield data
    finally:
        read.close()  # a download broken off stops the readers


def _piece(raw, piece_sql: str, params: list) -> tuple[bytes, int]:
    """(the piece's bytes, how many marker lines) on the psycopg connection `raw`."""
    with psycopg.Cursor(raw) as cursor:  # not Django's client-side cursor: it cannot read binary results
        cursor.execute(piece_sql, params, binary=True)
        data, marked = cursor.fetchone()
    return (bytes(data) if data is not None else b""), marked


def _read(piece_sql: str, pieces: list[list]) -> Iterator[tuple[bytes, int]]:
    """Each piece, read on this thread's connection one after the other."""
    for params in pieces:
        connection.ensure_connection()
        yield _piece(connection.connection, piece_sql, params)


def _read_in_parallel(piece_sql: str, pieces: list[list], n: int) -> Iterator[tuple[bytes, int]]:
    """`_read`, with `n` connections of their own reading pieces k, k + n, k + 2n, ... in `n` threads, so that
    `n` PostgreSQL backends build lines at once while this thread hands on what is read.

    Each reader is at most `AHEAD` pieces ahead of this thread (memory: n × AHEAD pieces). A reader's error is
    raised here, at its piece. Closing this generator stops the readers and closes their connections.
    Precondition: the rows are committed (the readers' connections see only committed rows)."""
    n = min(n, len(pieces))
    stop = threading.Event()
    queues = [queue.Queue(maxsize=AHEAD) for _ in range(n)]
    params = connection.get_connection_params()

    def offer(k: int, item: tuple[tuple[bytes, int] | None, BaseException | None]) -> bool:
        """Hand `item` to the consumer unless it has stopped; False once it has."""
        while not stop.is_set():
            try:
                queues[k].put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read(k: int) -> None:
        raw = None
        try:
            raw = connection.get_new_connection(params)
            raw.autocommit = True
            for piece in pieces[k::n]:
                if not offer(k, (_piece(raw, piece_sql, piece), None)):
                    return
        except BaseException as exc:  # noqa: BLE001 - raised in the consumer, at this reader's next piece
            offer(k, (None, exc))
        finally:
            if raw is not None:
                raw.close()

    threads = [threading.Thread(target=read, args=(k,), name=f"export-copy-{k}", daemon=True) for k in range(n)]
    for thread in threads:
        thread.start()
    try:
        for i in range(len(pieces)):
            piece, error = queues[i % n].get()
            if error is not None:
                raise error
            yield piece
    finally:
        stop.set()  # a reader waiting to hand on a piece gives up within 0.1 s
        for thread in threads:
            thread.join()


class _Lazy:
    """AnnotatorNames made on first use."""

    def __init__(self, make: Callable[[], AnnotatorNames]) -> None:
        self._make, self._names = make, None

    def render_provenance(self, provenance):
        if self._names is None:
            self._names = self._make()
        return self._names.render_provenance(provenance)


def _render_marked(data: bytes, rows, options: ExportOptions, names: AnnotatorNames) -> bytes:
    """Replace the "#<index>" lines of `data` with format_row's records of those rows."""
    lines = data.split(b"\n")
    marked = {int(line[1:]): k for k, line in enumerate(lines) if line.startswith(MARKER)}
    for row in rows.filter(index__in=list(marked)):
        row["provenance"] = names.render_provenance(row["provenance"])
        lines[marked[row["index"]]] = json.dumps(format_row(row, options), ensure_ascii=False).encode()
    return b"\n".join(lines)
