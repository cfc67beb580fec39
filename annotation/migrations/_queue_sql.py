"""The queue's functions (annotation/sql/queue.sql, all CREATE OR REPLACE), for the migrations that (re)load them.

The leading underscore keeps Django's migration loader from taking this module for a migration. SQLite keeps the
ORM path (services.labeling), so nothing runs there.
"""
from pathlib import Path

QUEUE_SQL = (Path(__file__).resolve().parent.parent / "sql" / "queue.sql").read_text()


def run_on_postgresql(schema_editor, sql: str) -> None:
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(sql)


def reload_queue_functions(apps, schema_editor) -> None:
    run_on_postgresql(schema_editor, QUEUE_SQL)
