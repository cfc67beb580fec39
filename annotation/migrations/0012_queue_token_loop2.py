"""Reload the queue's functions (annotation/sql/queue.sql, all CREATE OR REPLACE) for ps_queue_next_for_token: the
REST `next` with its API token checked in the same statement (issue 13; annotation/api/hot.py)."""
from pathlib import Path

from django.db import migrations

QUEUE_SQL = (Path(__file__).resolve().parent.parent / "sql" / "queue.sql").read_text()


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":  # SQLite keeps the ORM path (services.labeling)
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(QUEUE_SQL)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("DROP FUNCTION IF EXISTS ps_queue_next_for_token")


class Migration(migrations.Migration):

    dependencies = [
        ("annotation", "0011_queue_bulk_io"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
