"""Reload the queue's functions (annotation/sql/queue.sql, all CREATE OR REPLACE) for ps_queue_next_for_token: the
REST `next` with its API token checked in the same statement (issue 13; annotation/api/hot.py)."""
from django.db import migrations

from ._queue_sql import reload_queue_functions, run_on_postgresql


def uninstall(apps, schema_editor):
    run_on_postgresql(schema_editor, "DROP FUNCTION IF EXISTS ps_queue_next_for_token")


class Migration(migrations.Migration):

    dependencies = [
        ("annotation", "0011_queue_bulk_io"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    operations = [migrations.RunPython(reload_queue_functions, uninstall, elidable=False)]
