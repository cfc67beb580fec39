"""ProjectAnnotatorStats and the PostgreSQL triggers that keep it: labels per (project, annotator, role).

Statement-level triggers with transition tables: one grouped upsert per INSERT / COPY / UPDATE / DELETE
statement, not one per row, so a COPY of a million labels adds one aggregate over them. The counts follow
every writer of annotation_label (the labeling services, imports, the admin, raw SQL). Existing labels are
counted once here. Nothing on SQLite (`make run`): its readers group the labels instead.
"""

import django.db.models.deletion
from django.db import migrations, models

FORWARD = r"""
CREATE FUNCTION annotation_label_stats_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO annotation_projectannotatorstats AS s (project_id, annotator_id, role, n, first_label_id, last_at)
    SELECT i.project_id, l.annotator_id, l.role, count(*), min(l.id), max(l.created_at)
    FROM new_rows l JOIN annotation_item i ON i.id = l.item_id
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3  -- one lock order for every writer
    ON CONFLICT (project_id, annotator_id, role) DO UPDATE
        SET n = s.n + EXCLUDED.n, first_label_id = LEAST(s.first_label_id, EXCLUDED.first_label_id),
            last_at = GREATEST(s.last_at, EXCLUDED.last_at);
    RETURN NULL;
END $$;

CREATE FUNCTION annotation_label_stats_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH gone AS (
        SELECT i.project_id, l.annotator_id, l.role, count(*) AS n
        FROM old_rows l JOIN annotation_item i ON i.id = l.item_id GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    )
    UPDATE annotation_projectannotatorstats s SET n = s.n - gone.n FROM gone
    WHERE s.project_id = gone.project_id AND s.annotator_id = gone.annotator_id AND s.role = gone.role;
    -- (a separate statement: a row updated by a CTE cannot be deleted by the same statement; the table is small)
    DELETE FROM annotation_projectannotatorstats WHERE n <= 0;
    RETURN NULL;
END $$;

-- An update moves a label only if it changes its item, annotator or role: count those out of the old
-- key and into the new one (most updates change a verdict and touch nothing here).
CREATE FUNCTION annotation_label_stats_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n ON n.id = o.id
                   WHERE (o.item_id, o.annotator_id, o.role, o.created_at)
                         IS DISTINCT FROM (n.item_id, n.annotator_id, n.role, n.created_at)) THEN
        RETURN NULL;
    END IF;
    WITH moved AS (
        SELECT o.item_id, o.annotator_id, o.role FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE (o.item_id, o.annotator_id, o.role) IS DISTINCT FROM (n.item_id, n.annotator_id, n.role)
    ), gone AS (
        SELECT i.project_id, m.annotator_id, m.role, count(*) AS n
        FROM moved m JOIN annotation_item i ON i.id = m.item_id GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    )
    UPDATE annotation_projectannotatorstats s SET n = s.n - gone.n FROM gone
    WHERE s.project_id = gone.project_id AND s.annotator_id = gone.annotator_id AND s.role = gone.role;
    -- (a separate statement: a row updated by a CTE cannot be deleted by the same statement; the table is small)
    DELETE FROM annotation_projectannotatorstats WHERE n <= 0;
    INSERT INTO annotation_projectannotatorstats AS s (project_id, annotator_id, role, n, first_label_id, last_at)
    SELECT i.project_id, l.annotator_id, l.role, count(*), min(l.id), max(l.created_at)
    FROM new_rows l JOIN old_rows o ON o.id = l.id JOIN annotation_item i ON i.id = l.item_id
    WHERE (o.item_id, o.annotator_id, o.role) IS DISTINCT FROM (l.item_id, l.annotator_id, l.role)
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (project_id, annotator_id, role) DO UPDATE
        SET n = s.n + EXCLUDED.n, first_label_id = LEAST(s.first_label_id, EXCLUDED.first_label_id),
            last_at = GREATEST(s.last_at, EXCLUDED.last_at);
    -- A label's time rewritten (rare: data fixes, tests): its key's newest time is read again.
    UPDATE annotation_projectannotatorstats s SET last_at = (
        SELECT max(l.created_at) FROM annotation_label l JOIN annotation_item i ON i.id = l.item_id
        WHERE l.annotator_id = s.annotator_id AND l.role = s.role AND i.project_id = s.project_id)
    FROM (SELECT DISTINCT i.project_id, n.annotator_id, n.role
          FROM new_rows n JOIN old_rows o ON o.id = n.id JOIN annotation_item i ON i.id = n.item_id
          WHERE o.created_at IS DISTINCT FROM n.created_at) c
    WHERE s.project_id = c.project_id AND s.annotator_id = c.annotator_id AND s.role = c.role;
    RETURN NULL;
END $$;

CREATE TRIGGER annotation_label_stats_ins AFTER INSERT ON annotation_label
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION annotation_label_stats_ins();
CREATE TRIGGER annotation_label_stats_del AFTER DELETE ON annotation_label
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION annotation_label_stats_del();
CREATE TRIGGER annotation_label_stats_upd AFTER UPDATE ON annotation_label
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION annotation_label_stats_upd();

INSERT INTO annotation_projectannotatorstats (project_id, annotator_id, role, n, first_label_id, last_at)
SELECT i.project_id, l.annotator_id, l.role, count(*), min(l.id), max(l.created_at)
FROM annotation_label l JOIN annotation_item i ON i.id = l.item_id GROUP BY 1, 2, 3;
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS annotation_label_stats_ins ON annotation_label;
DROP TRIGGER IF EXISTS annotation_label_stats_del ON annotation_label;
DROP TRIGGER IF EXISTS annotation_label_stats_upd ON annotation_label;
DROP FUNCTION IF EXISTS annotation_label_stats_ins();
DROP FUNCTION IF EXISTS annotation_label_stats_del();
DROP FUNCTION IF EXISTS annotation_label_stats_upd();
"""


def _triggers(schema_editor, sql: str) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0005_loop_slots'),
    ]

    operations = [
        migrations.CreateModel(
            name='ProjectAnnotatorStats',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('role', models.CharField(max_length=16)),
                ('n', models.BigIntegerField(default=0)),
                ('first_label_id', models.BigIntegerField()),
                ('last_at', models.DateTimeField(null=True)),
                ('annotator', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='annotation.annotator')),
                ('project', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='annotation.project')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('project', 'annotator', 'role'), name='project_annotator_stats_unique')],
            },
        ),
        migrations.RunPython(lambda apps, schema_editor: _triggers(schema_editor, FORWARD),
                         lambda apps, schema_editor: _triggers(schema_editor, BACKWARD)),
    ]
