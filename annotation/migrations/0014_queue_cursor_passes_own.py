"""Reload the queue's functions (annotation/sql/queue.sql, all CREATE OR REPLACE): `ps_queue_next` moves the
annotator's cursor past the started slots it could not take (issue 13: an annotator alone on a project walked every
item they had labeled on every call)."""
from pathlib import Path

from django.db import migrations

QUEUE_SQL = (Path(__file__).resolve().parent.parent / "sql" / "queue.sql").read_text()


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":  # SQLite keeps the ORM path (services.labeling)
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(QUEUE_SQL)


def uninstall(apps, schema_editor):
    pass  # the previous body of ps_queue_next is as correct, only slower: nothing to undo


class Migration(migrations.Migration):

    dependencies = [
        ("annotation", "0013_item_counter_db_defaults"),
    ]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
