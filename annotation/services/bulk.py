"""Bulk insertion of plain rows: through the ORM anywhere, or by COPY on PostgreSQL.

Both sinks take the same rows (tuples of values for the named `columns`, field attnames; the
other fields get the model's defaults) and return the new primary keys in order. COPY is the
fast path for large imports (bench/bench_import.py measures the ratio); the ORM sink is the
portable one (SQLite in `make run`) and the reference the COPY sink is tested against.

Insert many tables' rows inside one `with sink.session():` (itself inside a transaction): a sink
may then still be writing when `insert` returns, and the session's end is where it has finished.
"""
import json
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from json.encoder import c_make_encoder, encode_basestring  # what JSONEncoder(ensure_ascii=False) encodes with
from typing import Any, Protocol

from django.db import connection, models
from django.utils import timezone

Row = Sequence[Any]


class Sink(Protocol):
    def session(self) -> Any:
        """A context manager around a series of inserts; when it exits, every row is written."""

    def insert(self, model: type[models.Model], columns: Sequence[str], rows: Sequence[Row]) -> list[int]:
        """Insert `rows` (values of `columns`, in that order) and return their new primary keys."""


class OrmSink:
    batch_size = 5000

    @contextmanager
    def session(self) -> Iterator["OrmSink"]:
        yield self

    def insert(self, model: type[models.Model], columns: Sequence[str], rows: Sequence[Row]) -> list[int]:
        objs = model.objects.bulk_create([model(**dict(zip(columns, row))) for row in rows], batch_size=self.batch_size)
        return [obj.pk for obj in objs]


class CopySink:
    """PostgreSQL COPY, with ids reserved from the table's identity sequence up front.

    PostgreSQL's side of a big import (index upkeep, one foreign-key check per reference) takes
    longer than Python's, so the two are made to overlap. Within `session()`, `insert` reserves
    the ids through a second, autocommit connection (sequences are not transactional), formats
    the COPY text and queues it; a helper thread runs the queued COPYs in order on this
    connection while the caller builds its next rows, so PostgreSQL never waits for Python. Any
    other query on this connection first waits for the queue to empty, and an error of a COPY
    is raised there (as Django's IntegrityError, DataError, ...), at the next `insert` or when
    the session ends. Outside a session, `insert` copies before it returns. The caller must not
    change the rows it passed to `insert` afterwards.

    The COPY text is built a column at a time (`_column`): per-value Python work is what limits a
    bulk load from Python, and most columns need none (ids and integers go through `str`, text
    columns are escaped by a few passes over the whole column).
    """

    # COPYs formatted ahead of PostgreSQL: two pieces of an import, about 60 MB for 20k pairs.
    queue_depth = 10

    def __init__(self) -> None:
        self._jobs: queue.Queue | None = None  # (statement, data); None stops the worker
        self._error: BaseException | None = None  # of a COPY, until raised in the caller's thread
        self._failed = False  # a COPY failed: the transaction is lost, later COPYs are dropped
        self._id_connection: Any = None  # psycopg connection, open during a session

    @contextmanager
    def session(self) -> Iterator["CopySink"]:
        connection.ensure_connection()
        self._jobs = jobs = queue.Queue(maxsize=self.queue_depth)
        worker = threading.Thread(target=self._work, args=(connection.connection, jobs), name="copy-sink", daemon=True)
        worker.start()
        try:
            with connection.execute_wrapper(self._after_copies):
                try:
                    yield self
                except BaseException:
                    self._drain(raise_error=False)  # the caller's error wins; a COPY's is moot
                    raise
                self._drain()
        finally:
            jobs.put(None)
            worker.join()
            if self._id_connection is not None:
                self._id_connection.close()
            self._jobs = self._id_connection = self._error = None
            self._failed = False

    def insert(self, model: type[models.Model], columns: Sequence[str], rows: Sequence[Row]) -> list[int]:
        if not rows:
            return []
        from psycopg import sql

        meta = model._meta
        fields = {f.attname: f for f in meta.concrete_fields if not f.primary_key}
        given = [fields[name] for name in columns]
        rest = [f for name, f in fields.items() if name not in columns]
        ids = self._reserve_ids(meta.db_table, meta.pk.column, len(rows))
        # A column with one value down the whole piece (a label's kind and status, most optional fields) is
        # written once, in the tail every line ends in, with the defaults of the columns not given: the lines
        # are then joined from the columns that vary only (for an import's labels, 4 of 17).
        varying, varying_text, fixed, fixed_text = [], [], [], []
        for f, values in zip(given, zip(*rows)):
            text = _column(f, values)
            first = text[0]
            if text[-1] == first and text.count(first) == len(text):  # bytes: equal only if written alike
                fixed.append(f)
                fixed_text.append(first)
            else:
                varying.append(f)
                varying_text.append(text)
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(meta.db_table),
            sql.SQL(", ").join(sql.Identifier(f.column) for f in [meta.pk, *varying, *fixed, *rest]),
        )
        tail = b"".join(b"\t" + text for text in [*fixed_text, *(_column(f, [_default(f)])[0] for f in rest)]) + b"\n"
        lines = map(b"\t".join, zip(_utf8(map(str, ids)), *varying_text))
        data = tail.join(chain(lines, [b""]))  # every line ends in the tail
        if self._jobs is None:  # outside a session: copy now
            self._failed = False
            self._copy(connection.connection, statement, data)
        else:
            self._jobs.put((statement, data))
        self._raise_error()  # this COPY's, or an earlier one's: the transaction is lost then
        return ids

    def _reserve_ids(self, table: str, column: str, n: int) -> list[int]:
        """`n` new ids from the table's identity sequence (they stay taken even if the COPY fails)."""
        if self._jobs is None:  # outside a session
            with connection.cursor() as cursor:
                return _next_values(cursor, table, column, n)
        if self._id_connection is None:
            import psycopg

            self._id_connection = psycopg.connect(**connection.get_connection_params(), autocommit=True)
        with self._id_connection.cursor() as cursor:
            return _next_values(cursor, table, column, n)

    def _work(self, raw_connection: Any, jobs: queue.Queue) -> None:
        while True:
            job = jobs.get()
            try:
                if job is None:
                    return
                if not self._failed:
                    self._copy(raw_connection, *job)
            finally:
                jobs.task_done()

    def _copy(self, raw_connection: Any, statement: Any, data: bytes) -> None:
        try:
            with raw_connection.cursor() as cursor, cursor.copy(statement) as copy:
                copy.write(data)
        except BaseException as exc:  # raised in the caller's thread by _raise_error
            self._error, self._failed = exc, True

    def _drain(self, *, raise_error: bool = True) -> None:
        """Wait until every queued COPY has run."""
        if self._jobs is not None:
            self._jobs.join()
        if raise_error:
            self._raise_error()

    def _raise_error(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            with connection.wrap_database_errors:  # psycopg's errors as Django's
                raise error

    def _after_copies(self, execute: Callable, sql: Any, params: Any, many: bool, context: Any) -> Any:
        self._drain()
        return execute(sql, params, many, context)


def _next_values(cursor: Any, table: str, column: str, n: int) -> list[int]:
    cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, column])
    sequence = cursor.fetchone()[0]
    # The sequence is named once: pg_get_serial_sequence per row cost 8x more than nextval.
    cursor.execute("SELECT array_agg(nextval(%s::regclass)) FROM generate_series(1, %s)", [sequence, n])
    return cursor.fetchone()[0]


# --- COPY text format: tab-separated, \N for NULL, backslash escapes, UTF-8 ---------------------------
# Values are encoded one by one and the rows built as bytes: a piece's text joined into one str
# takes 4 bytes a character as soon as one answer holds an emoji, and encoding the whole payload
# at the end cost as much as building it.
NULL = "\\N"
_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_JSON = _JSON_ENCODER.encode
# A text column is escaped by joining its values with NUL and replacing in one pass. PostgreSQL
# text cannot hold NUL; a value that does anyway is found by counting, and the column is then
# escaped value by value (and the database refuses that value).
_SPECIAL = (b"\\", b"\n", b"\r", b"\t")
_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _column(field: models.Field, values: Sequence[Any]) -> list[bytes]:
    """The COPY text of one column's values (one bytes object a value; a column of one value repeats one)."""
    if isinstance(field, models.CharField | models.TextField) and None not in values:
        return _text_column(values)
    n = len(values)
    if isinstance(field, models.JSONField):
        for empty, text in ((None, NULL), ({}, "{}"), ([], "[]")):  # most JSON columns of an import
            if values.count(empty) == n:
                return [text.encode()] * n
        encode = _json_encoder()
        return _utf8([NULL if v is None else _json(v, encode) for v in values])
    nulls = values.count(None)
    if nulls == n:  # nullable columns: often all NULL, else value by value
        return [NULL.encode()] * n
    encode = _encoder(field)
    if not nulls:
        return _utf8(map(encode, values))
    return _utf8([NULL if v is None else encode(v) for v in values])


def _utf8(strings: Iterable[str]) -> list[bytes]:
    return list(map(str.encode, strings))  # UTF-8


def _text_column(values: Sequence[str]) -> list[bytes]:
    first = values[0]
    if len(values) > 1 and values[-1] == first and values.count(first) == len(values):  # one text: escape it once
        return _text_column([first]) * len(values)
    encoded = _utf8(values)
    blob = b"\x00".join(encoded)
    if not any(char in blob for char in _SPECIAL):
        return encoded
    if blob.count(b"\x00") != len(values) - 1:
        return [_text(v).encode("utf-8") for v in values]
    # Escaped as UTF-8, where these four ASCII bytes never occur inside another character.
    if b"\\" in blob:  # first, so that the escapes added below keep their single backslash
        blob = blob.replace(b"\\", b"\\\\")
    for char, escape in ((b"\n", b"\\n"), (b"\r", b"\\r"), (b"\t", b"\\t")):
        if char in blob:
            blob = blob.replace(char, escape)
    return blob.split(b"\x00")


def _text(value: str) -> str:
    return value.translate(_ESCAPES)


def _json_encoder() -> Callable[[Any], str]:
    """`_JSON` for the values of one column: the C encoder that JSONEncoder.encode builds on every call (about
    half of the cost of a small value), built once, with a cycle check of its own."""
    if c_make_encoder is None:
        return _JSON
    e = _JSON_ENCODER
    encode = c_make_encoder(
        {}, e.default, encode_basestring, e.indent, e.key_separator, e.item_separator, e.sort_keys, e.skipkeys,
        e.allow_nan,
    )
    return lambda value: "".join(encode(value, 0))


def _json(value: Any, encode: Callable[[Any], str] = _JSON) -> str:
    if not value and isinstance(value, dict | list):
        return "{}" if isinstance(value, dict) else "[]"
    # JSON text escapes every control character itself, so only its backslashes need doubling.
    text = encode(value)
    return text.replace("\\", "\\\\") if "\\" in text else text


def _boolean(value: bool) -> str:
    return "t" if value else "f"


def _encoder(field: models.Field) -> Callable[[Any], str]:
    if isinstance(field, models.JSONField):
        return _json
    if isinstance(field, models.BooleanField):
        return _boolean
    if isinstance(field, models.CharField | models.TextField):
        return _text
    if isinstance(field, models.DateTimeField):
        return lambda value: value.isoformat()
    return str  # integers, floats (str is repr: exact) and foreign keys


def _default(field: models.Field) -> Any:
    """The value the ORM would store for a field that a row leaves out."""
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return timezone.now()
    return field.get_default()  # None for nullable fields without a default, "" for text


def default_sink(*, queue_depth: int | None = None) -> Sink:
    """A CopySink on PostgreSQL (`queue_depth`: COPYs formatted ahead, CopySink.queue_depth when None), else an
    OrmSink."""
    if connection.vendor != "postgresql":
        return OrmSink()
    sink = CopySink()
    if queue_depth is not None:
        sink.queue_depth = queue_depth
    return sink
