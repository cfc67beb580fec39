"""Reload the queue's functions (annotation/sql/queue.sql): `ps_queue_next` moves the annotator's cursor past the
started slots it could not take (issue 13: an annotator alone on a project walked every item they had labeled on
every call). The previous body was as correct, only slower: nothing to undo."""
from django.db import migrations

from ._queue_sql import reload_queue_functions


class Migration(migrations.Migration):

    dependencies = [
        ("annotation", "0013_item_counter_db_defaults"),
    ]

    operations = [migrations.RunPython(reload_queue_functions, migrations.RunPython.noop, elidable=False)]
