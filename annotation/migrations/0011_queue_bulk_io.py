"""A bulk import skips the per-row queue trigger of the items it inserts and adds their slots and counters in one
pass (ps_queue_items_added, annotation/sql/queue.sql): issue 16 item 3. The trigger is skipped only where the
transaction has set prefstudio.queue_bulk = 'on' (SET LOCAL; a custom setting any role may set)."""
from django.db import migrations

from ._queue_sql import QUEUE_SQL, run_on_postgresql

BULK = """
DROP TRIGGER IF EXISTS ps_item_queue_ins ON annotation_item;
CREATE TRIGGER ps_item_queue_ins AFTER INSERT ON annotation_item
  FOR EACH ROW WHEN (current_setting('prefstudio.queue_bulk', true) IS DISTINCT FROM 'on')
  EXECUTE FUNCTION ps_item_queue_sync();
"""

PER_ROW = """
DROP TRIGGER IF EXISTS ps_item_queue_ins ON annotation_item;
CREATE TRIGGER ps_item_queue_ins AFTER INSERT ON annotation_item
  FOR EACH ROW EXECUTE FUNCTION ps_item_queue_sync();
DROP FUNCTION IF EXISTS ps_queue_items_added;
"""


def install(apps, schema_editor):
    run_on_postgresql(schema_editor, QUEUE_SQL + BULK)


def uninstall(apps, schema_editor):
    run_on_postgresql(schema_editor, PER_ROW)


class Migration(migrations.Migration):

    dependencies = [
        ("annotation", "0010_figures_pages"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
