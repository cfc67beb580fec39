"""Bulk insertion of plain row dicts: through the ORM anywhere, or by COPY on PostgreSQL.

Both sinks take the same rows (field attnames → values; missing fields get the model's
defaults) and return the new primary keys in order. COPY is the fast path for large imports
(bench/bench_import.py measures the ratio); the ORM sink is the portable one (SQLite in
`make run`) and the reference the COPY sink is tested against.
"""
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from django.db import connection, models
from django.utils import timezone

Row = dict[str, Any]


class Sink(Protocol):
    def insert(self, model: type[models.Model], rows: Sequence[Row]) -> list[int]: ...


class OrmSink:
    batch_size = 5000

    def insert(self, model: type[models.Model], rows: Sequence[Row]) -> list[int]:
        objs = model.objects.bulk_create([model(**row) for row in rows], batch_size=self.batch_size)
        return [obj.pk for obj in objs]


class CopySink:
    """PostgreSQL COPY with ids reserved from the table's identity sequence up front."""

    def insert(self, model: type[models.Model], rows: Sequence[Row]) -> list[int]:
        if not rows:
            return []
        from psycopg import sql

        meta = model._meta
        fields = [f for f in meta.concrete_fields if not f.primary_key]
        convert = [_converter(f) for f in fields]
        defaults = [_default(f) for f in fields]
        names = [f.attname for f in fields]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, meta.pk.column, len(rows)],
            )
            ids = [r[0] for r in cursor.fetchall()]
            statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(meta.db_table),
                sql.SQL(", ").join(sql.Identifier(c) for c in [meta.pk.column] + [f.column for f in fields]),
            )
            with cursor.cursor.copy(statement) as copy:
                for pk, row in zip(ids, rows):
                    values = [pk]
                    for name, conv, default in zip(names, convert, defaults):
                        value = row[name] if name in row else default()
                        values.append(conv(value) if conv is not None and value is not None else value)
                    copy.write_row(values)
        return ids


def _converter(field: models.Field) -> Callable[[Any], Any] | None:
    if isinstance(field, models.JSONField):
        from psycopg.types.json import Jsonb

        return Jsonb
    return None


def _default(field: models.Field) -> Callable[[], Any]:
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        now = timezone.now()
        return lambda: now
    if field.has_default():
        return field.get_default
    if field.null:
        return lambda: None
    value = field.get_default()  # "" for text fields
    return lambda: value


def default_sink() -> Sink:
    return CopySink() if connection.vendor == "postgresql" else OrmSink()
