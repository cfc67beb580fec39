"""A cursor whose statements PostgreSQL parses and plans once per connection (the labeling loop's hot statements).

Django's psycopg cursors bind parameters on the client, and Django turns psycopg's statement preparation off (for
connection poolers): every `execute` sends the statement as new text, which the server parses, analyses and plans
again. For the loop's read of a lease (`selectors.labeling.lease_context`: eight relations, two of them in EXISTS)
that planning was the biggest single cost of the database's CPU per label (bench/RESULTS.md, *The labeling loop,
round 6*). `prepared_cursor` wraps a server-binding psycopg cursor that prepares what it runs in Django's cursor
wrapper instead: the first execution on a connection prepares the statement (in the same round trip), later ones send
only the parameters, and PostgreSQL keeps the plan (a generic one once it costs no more than the custom ones) until
the tables' statistics or schema change. Statements are logged like any other (`CaptureQueriesContext` counts them).

For statements of fixed text whose parameters are plain values: server-side binding cannot take a parameter where
the grammar wants a literal (an identifier, `IN %s` with a tuple). psycopg keeps up to 100 prepared statements per
connection. Behind a transaction-pooling PgBouncer (older than 1.21) prepared statements do not work: there, set
DB_PREPARE_HOT=0 and this is Django's usual cursor.
"""
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.postgresql.psycopg_any import register_tzloader
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from psycopg.pq import Format

_TIMESTAMPTZ_OID = 1184
_NEVER = 1 << 62


class _LoggedAsWritten(CursorDebugWrapper):
    """Django's debug wrapper (DEBUG, CaptureQueriesContext) logging the statement as written, with its parameters
    apart: Django reads the text of a client-side cursor's last query back, and a prepared one has none."""

    def execute(self, sql, params=None):
        with self.debug_sql(sql, params):
            return CursorWrapper.execute(self, sql, params)


class _PreparingCursor(psycopg.Cursor):
    """psycopg's server-binding cursor, preparing every statement it runs."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True if prepare is None else prepare, binary=binary)


@contextmanager
def prepared_cursor() -> Iterator:
    """Django's cursor on PostgreSQL with server-side binding and prepared statements; elsewhere the usual one."""
    db = connections[DEFAULT_DB_ALIAS]  # (each attribute of django.db.connection is a lookup of this)
    if db.vendor != "postgresql" or not settings.DB_PREPARE_HOT:
        with db.cursor() as cursor:
            yield cursor
        return
    # As Django's cursor() does first: the health check (DB_CONN_HEALTH_CHECKS) and the one-thread rule.
    db.close_if_health_check_failed()
    db.validate_thread_sharing()
    db.ensure_connection()
    raw_connection = db.connection
    if raw_connection.prepare_threshold is None:
        # None (Django's default) turns preparation off altogether, even when asked for: a threshold no statement
        # reaches keeps it off for every other cursor (Django's client-side ones never prepare anyway).
        raw_connection.prepare_threshold = _NEVER
    raw = _PreparingCursor(raw_connection)
    # As Django's own cursors (DatabaseWrapper.create_cursor): datetimes read in the connection's time zone.
    if db.timezone != raw_connection.adapters.get_loader(_TIMESTAMPTZ_OID, Format.TEXT).timezone:
        register_tzloader(db.timezone, raw)
    with _LoggedAsWritten(raw, db) if db.queries_logged else db.make_cursor(raw) as cursor:
        yield cursor
