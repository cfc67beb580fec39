"""A curation refresh rewrites a project's noise flags in bulk (issue 16 item 1): with `prefstudio.flags_bulk` set
(SET LOCAL, the refresh's transaction only), the flag triggers leave the items' flag counts alone and the refresh
recounts them once at the end (`annotation_item_flags_refresh` over the project's items), instead of once for the
DELETE of the old flags and once per COPY of the new ones. At a million items the DELETE alone took 41 s: it set
n_flags to 0 on half a million items, whose triggers moved the queue and the counters, and the COPYs set it back.
Any other writer (the review page, an ORM delete) has the setting unset and is counted as before."""
from django.db import migrations

BULK = r"""
CREATE OR REPLACE FUNCTION annotation_itemflag_pages_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('prefstudio.flags_bulk', true) = 'on' THEN
        RETURN NULL;  -- a bulk rewrite: the writer recounts its items once (services/curation.py)
    END IF;
    PERFORM annotation_item_flags_refresh(ARRAY(SELECT DISTINCT item_id FROM new_rows ORDER BY 1));
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION annotation_itemflag_pages_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('prefstudio.flags_bulk', true) = 'on' THEN
        RETURN NULL;
    END IF;
    PERFORM annotation_item_flags_refresh(ARRAY(SELECT DISTINCT item_id FROM old_rows ORDER BY 1));
    RETURN NULL;
END $$;
"""

PER_STATEMENT = r"""
CREATE OR REPLACE FUNCTION annotation_itemflag_pages_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM annotation_item_flags_refresh(ARRAY(SELECT DISTINCT item_id FROM new_rows ORDER BY 1));
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION annotation_itemflag_pages_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM annotation_item_flags_refresh(ARRAY(SELECT DISTINCT item_id FROM old_rows ORDER BY 1));
    RETURN NULL;
END $$;
"""


def _on_postgresql(sql: str):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)
    return run


class Migration(migrations.Migration):

    dependencies = [
        ("annotation", "0014_queue_cursor_passes_own"),
    ]

    operations = [migrations.RunPython(_on_postgresql(BULK), _on_postgresql(PER_STATEMENT), elidable=False)]
