"""Trigger-kept counters for the pages at a million items (issue 16 item 4): per item the number of different
human verdicts (`n_verdicts`), of flags (`n_flags`) and whether it is in the review queue (`queued`); per project
the items by (kind, state, route, queued), the annotation labels per (annotator, UTC hour) and per (annotator,
time spent to 3 significant digits). Statement-level triggers with transition tables, as in 0006_scale_label_stats:
one grouped write per INSERT / COPY / UPDATE / DELETE statement, whatever code writes the rows. Existing rows are
counted once here. Nothing on SQLite (`make run`): its readers count as before.
"""

import django.db.models.deletion
from django.db import migrations, models

FORWARD = r"""
-- The review queue's test (selectors.review_queue), on one item's columns.
CREATE FUNCTION annotation_item_is_queued(state text, kind text, n_human bigint, n_verdicts bigint, n_flags bigint)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT state NOT IN ('final', 'excluded')
       AND (state = 'in_review' OR n_flags > 0 OR (kind <> 'edit' AND n_human >= 2 AND n_verdicts >= 2))
$$;

-- A label's verdict as text (selectors.review.disagreement_verdict), NULL for an edit.
CREATE FUNCTION annotation_label_verdict(kind text, winner text, thumbs_up boolean, ranking jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE kind WHEN 'pairwise' THEN winner WHEN 'thumbs' THEN thumbs_up::text
                     WHEN 'listwise' THEN ranking::text END
$$;

-- Time spent, to 3 significant digits (exact below 1 s): the histogram's bucket (models.ProjectLabelTimes).
CREATE FUNCTION annotation_ms_bucket(ms bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN ms < 1000 THEN ms ELSE round(ms::numeric, 2 - floor(log(ms::numeric))::int)::bigint END
$$;

CREATE FUNCTION annotation_item_verdicts_refresh(ids bigint[]) RETURNS void LANGUAGE sql AS $$
    UPDATE annotation_item it SET n_verdicts = v.n
    FROM (SELECT x.id, (SELECT count(DISTINCT annotation_label_verdict(l.kind, l.winner, l.thumbs_up, l.ranking))
                        FROM annotation_label l JOIN annotation_annotator a ON a.id = l.annotator_id
                        WHERE l.item_id = x.id AND l.role = 'annotation' AND l.status = 'ok' AND a.kind = 'human') AS n
          FROM unnest(ids) AS x(id)) v
    WHERE it.id = v.id AND it.n_verdicts IS DISTINCT FROM v.n
$$;

CREATE FUNCTION annotation_item_flags_refresh(ids bigint[]) RETURNS void LANGUAGE sql AS $$
    UPDATE annotation_item it SET n_flags = v.n
    FROM (SELECT x.id, (SELECT count(*) FROM annotation_itemflag f WHERE f.item_id = x.id) AS n
          FROM unnest(ids) AS x(id)) v
    WHERE it.id = v.id AND it.n_flags IS DISTINCT FROM v.n
$$;

-- Backfill before any trigger exists.
UPDATE annotation_item it SET n_verdicts = v.n
FROM (SELECT l.item_id, count(DISTINCT annotation_label_verdict(l.kind, l.winner, l.thumbs_up, l.ranking)) AS n
      FROM annotation_label l JOIN annotation_annotator a ON a.id = l.annotator_id
      WHERE l.role = 'annotation' AND l.status = 'ok' AND a.kind = 'human' GROUP BY 1) v
WHERE it.id = v.item_id AND v.n > 0;
UPDATE annotation_item it SET n_flags = f.n
FROM (SELECT item_id, count(*) AS n FROM annotation_itemflag GROUP BY 1) f WHERE it.id = f.item_id;
UPDATE annotation_item SET queued = true
WHERE annotation_item_is_queued(state, kind, n_human_labels, n_verdicts, n_flags);
INSERT INTO annotation_projectitemcounts (project_id, kind, state, route, queued, n)
SELECT project_id, kind, state, route, queued, count(*) FROM annotation_item GROUP BY 1, 2, 3, 4, 5;
INSERT INTO annotation_projectlabelhours (project_id, annotator_id, hour, n)
SELECT i.project_id, l.annotator_id, date_trunc('hour', l.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', count(*)
FROM annotation_label l JOIN annotation_item i ON i.id = l.item_id WHERE l.role = 'annotation' GROUP BY 1, 2, 3;
INSERT INTO annotation_projectlabeltimes (project_id, annotator_id, ms, n)
SELECT i.project_id, l.annotator_id, annotation_ms_bucket(l.time_spent_ms), count(*)
FROM annotation_label l JOIN annotation_item i ON i.id = l.item_id
WHERE l.role = 'annotation' AND l.time_spent_ms IS NOT NULL GROUP BY 1, 2, 3;

-- Items: `queued` follows its inputs on every row written (a BEFORE row trigger: COPY writes the default).
CREATE FUNCTION annotation_item_queued_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.queued := annotation_item_is_queued(NEW.state, NEW.kind, NEW.n_human_labels, NEW.n_verdicts, NEW.n_flags);
    RETURN NEW;
END $$;
CREATE TRIGGER annotation_item_queued_ins BEFORE INSERT ON annotation_item
    FOR EACH ROW EXECUTE FUNCTION annotation_item_queued_row();
CREATE TRIGGER annotation_item_queued_upd BEFORE UPDATE OF state, kind, n_human_labels, n_verdicts, n_flags, queued
    ON annotation_item FOR EACH ROW EXECUTE FUNCTION annotation_item_queued_row();

CREATE FUNCTION annotation_item_counts_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO annotation_projectitemcounts AS c (project_id, kind, state, route, queued, n)
    SELECT project_id, kind, state, route, queued, count(*) FROM new_rows
    GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5  -- one lock order for every writer
    ON CONFLICT (project_id, kind, state, route, queued) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION annotation_item_counts_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE annotation_projectitemcounts c SET n = c.n - g.n
    FROM (SELECT project_id, kind, state, route, queued, count(*) AS n FROM old_rows GROUP BY 1, 2, 3, 4, 5) g
    WHERE (c.project_id, c.kind, c.state, c.route, c.queued) = (g.project_id, g.kind, g.state, g.route, g.queued);
    RETURN NULL;
END $$;

-- Most item updates (leases, counters, priority) change none of the keys: nothing to do then.
CREATE FUNCTION annotation_item_counts_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n ON n.id = o.id
                   WHERE (o.project_id, o.kind, o.state, o.route, o.queued)
                         IS DISTINCT FROM (n.project_id, n.kind, n.state, n.route, n.queued)) THEN
        RETURN NULL;
    END IF;
    UPDATE annotation_projectitemcounts c SET n = c.n - g.n
    FROM (SELECT o.project_id, o.kind, o.state, o.route, o.queued, count(*) AS n
          FROM old_rows o JOIN new_rows n ON n.id = o.id
          WHERE (o.project_id, o.kind, o.state, o.route, o.queued)
                IS DISTINCT FROM (n.project_id, n.kind, n.state, n.route, n.queued)
          GROUP BY 1, 2, 3, 4, 5) g
    WHERE (c.project_id, c.kind, c.state, c.route, c.queued) = (g.project_id, g.kind, g.state, g.route, g.queued);
    INSERT INTO annotation_projectitemcounts AS c (project_id, kind, state, route, queued, n)
    SELECT n.project_id, n.kind, n.state, n.route, n.queued, count(*)
    FROM old_rows o JOIN new_rows n ON n.id = o.id
    WHERE (o.project_id, o.kind, o.state, o.route, o.queued)
          IS DISTINCT FROM (n.project_id, n.kind, n.state, n.route, n.queued)
    GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (project_id, kind, state, route, queued) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE TRIGGER annotation_item_counts_ins AFTER INSERT ON annotation_item
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION annotation_item_counts_ins();
CREATE TRIGGER annotation_item_counts_del AFTER DELETE ON annotation_item
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION annotation_item_counts_del();
CREATE TRIGGER annotation_item_counts_upd AFTER UPDATE ON annotation_item
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION annotation_item_counts_upd();

-- Labels: the hours and times histograms (annotation labels), and the verdicts of the items they touch.
CREATE FUNCTION annotation_label_pages_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO annotation_projectlabelhours AS h (project_id, annotator_id, hour, n)
    SELECT i.project_id, l.annotator_id, date_trunc('hour', l.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
           count(*)
    FROM new_rows l JOIN annotation_item i ON i.id = l.item_id WHERE l.role = 'annotation'
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (project_id, hour, annotator_id) DO UPDATE SET n = h.n + EXCLUDED.n;
    INSERT INTO annotation_projectlabeltimes AS t (project_id, annotator_id, ms, n)
    SELECT i.project_id, l.annotator_id, annotation_ms_bucket(l.time_spent_ms), count(*)
    FROM new_rows l JOIN annotation_item i ON i.id = l.item_id
    WHERE l.role = 'annotation' AND l.time_spent_ms IS NOT NULL
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (project_id, annotator_id, ms) DO UPDATE SET n = t.n + EXCLUDED.n;
    PERFORM annotation_item_verdicts_refresh(ARRAY(SELECT DISTINCT item_id FROM new_rows ORDER BY 1));
    RETURN NULL;
END $$;

CREATE FUNCTION annotation_label_pages_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE annotation_projectlabelhours h SET n = h.n - g.n
    FROM (SELECT i.project_id, l.annotator_id,
                 date_trunc('hour', l.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour, count(*) AS n
          FROM old_rows l JOIN annotation_item i ON i.id = l.item_id WHERE l.role = 'annotation' GROUP BY 1, 2, 3) g
    WHERE (h.project_id, h.annotator_id, h.hour) = (g.project_id, g.annotator_id, g.hour);
    UPDATE annotation_projectlabeltimes t SET n = t.n - g.n
    FROM (SELECT i.project_id, l.annotator_id, annotation_ms_bucket(l.time_spent_ms) AS ms, count(*) AS n
          FROM old_rows l JOIN annotation_item i ON i.id = l.item_id
          WHERE l.role = 'annotation' AND l.time_spent_ms IS NOT NULL GROUP BY 1, 2, 3) g
    WHERE (t.project_id, t.annotator_id, t.ms) = (g.project_id, g.annotator_id, g.ms);
    PERFORM annotation_item_verdicts_refresh(ARRAY(SELECT DISTINCT item_id FROM old_rows ORDER BY 1));
    RETURN NULL;
END $$;

-- An update: the rows whose histogram keys changed move out of the old keys and into the new ones; the items
-- of rows whose verdict (or whose it is) changed are counted again.
CREATE FUNCTION annotation_label_pages_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n ON n.id = o.id
               WHERE (o.item_id, o.annotator_id, o.role, o.created_at, o.time_spent_ms)
                     IS DISTINCT FROM (n.item_id, n.annotator_id, n.role, n.created_at, n.time_spent_ms)) THEN
        UPDATE annotation_projectlabelhours h SET n = h.n - g.n
        FROM (SELECT i.project_id, o.annotator_id,
                     date_trunc('hour', o.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour, count(*) AS n
              FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN annotation_item i ON i.id = o.item_id
              WHERE o.role = 'annotation'
                AND (o.item_id, o.annotator_id, o.role, o.created_at) IS DISTINCT FROM
                    (n.item_id, n.annotator_id, n.role, n.created_at)
              GROUP BY 1, 2, 3) g
        WHERE (h.project_id, h.annotator_id, h.hour) = (g.project_id, g.annotator_id, g.hour);
        INSERT INTO annotation_projectlabelhours AS h (project_id, annotator_id, hour, n)
        SELECT i.project_id, n.annotator_id,
               date_trunc('hour', n.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', count(*)
        FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN annotation_item i ON i.id = n.item_id
        WHERE n.role = 'annotation'
          AND (o.item_id, o.annotator_id, o.role, o.created_at) IS DISTINCT FROM
              (n.item_id, n.annotator_id, n.role, n.created_at)
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (project_id, hour, annotator_id) DO UPDATE SET n = h.n + EXCLUDED.n;
        UPDATE annotation_projectlabeltimes t SET n = t.n - g.n
        FROM (SELECT i.project_id, o.annotator_id, annotation_ms_bucket(o.time_spent_ms) AS ms, count(*) AS n
              FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN annotation_item i ON i.id = o.item_id
              WHERE o.role = 'annotation' AND o.time_spent_ms IS NOT NULL
                AND (o.item_id, o.annotator_id, o.role, o.time_spent_ms) IS DISTINCT FROM
                    (n.item_id, n.annotator_id, n.role, n.time_spent_ms)
              GROUP BY 1, 2, 3) g
        WHERE (t.project_id, t.annotator_id, t.ms) = (g.project_id, g.annotator_id, g.ms);
        INSERT INTO annotation_projectlabeltimes AS t (project_id, annotator_id, ms, n)
        SELECT i.project_id, n.annotator_id, annotation_ms_bucket(n.time_spent_ms), count(*)
        FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN annotation_item i ON i.id = n.item_id
        WHERE n.role = 'annotation' AND n.time_spent_ms IS NOT NULL
          AND (o.item_id, o.annotator_id, o.role, o.time_spent_ms) IS DISTINCT FROM
              (n.item_id, n.annotator_id, n.role, n.time_spent_ms)
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (project_id, annotator_id, ms) DO UPDATE SET n = t.n + EXCLUDED.n;
    END IF;
    PERFORM annotation_item_verdicts_refresh(ARRAY(
        SELECT DISTINCT x FROM old_rows o JOIN new_rows n ON n.id = o.id, LATERAL (VALUES (o.item_id), (n.item_id)) v(x)
        WHERE (o.item_id, o.annotator_id, o.role, o.status, o.kind, o.winner, o.thumbs_up, o.ranking)
              IS DISTINCT FROM (n.item_id, n.annotator_id, n.role, n.status, n.kind, n.winner, n.thumbs_up, n.ranking)
        ORDER BY 1));
    RETURN NULL;
END $$;

CREATE TRIGGER annotation_label_pages_ins AFTER INSERT ON annotation_label
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION annotation_label_pages_ins();
CREATE TRIGGER annotation_label_pages_del AFTER DELETE ON annotation_label
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION annotation_label_pages_del();
CREATE TRIGGER annotation_label_pages_upd AFTER UPDATE ON annotation_label
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION annotation_label_pages_upd();

-- Flags: the items' flag counts.
CREATE FUNCTION annotation_itemflag_pages_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM annotation_item_flags_refresh(ARRAY(SELECT DISTINCT item_id FROM new_rows ORDER BY 1));
    RETURN NULL;
END $$;
CREATE FUNCTION annotation_itemflag_pages_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM annotation_item_flags_refresh(ARRAY(SELECT DISTINCT item_id FROM old_rows ORDER BY 1));
    RETURN NULL;
END $$;
CREATE TRIGGER annotation_itemflag_pages_ins AFTER INSERT ON annotation_itemflag
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION annotation_itemflag_pages_new();
CREATE TRIGGER annotation_itemflag_pages_del AFTER DELETE ON annotation_itemflag
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION annotation_itemflag_pages_old();
CREATE TRIGGER annotation_itemflag_pages_upd_old AFTER UPDATE ON annotation_itemflag
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION annotation_itemflag_pages_old();
CREATE TRIGGER annotation_itemflag_pages_upd_new AFTER UPDATE ON annotation_itemflag
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION annotation_itemflag_pages_new();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS annotation_itemflag_pages_ins ON annotation_itemflag;
DROP TRIGGER IF EXISTS annotation_itemflag_pages_del ON annotation_itemflag;
DROP TRIGGER IF EXISTS annotation_itemflag_pages_upd_old ON annotation_itemflag;
DROP TRIGGER IF EXISTS annotation_itemflag_pages_upd_new ON annotation_itemflag;
DROP TRIGGER IF EXISTS annotation_label_pages_ins ON annotation_label;
DROP TRIGGER IF EXISTS annotation_label_pages_del ON annotation_label;
DROP TRIGGER IF EXISTS annotation_label_pages_upd ON annotation_label;
DROP TRIGGER IF EXISTS annotation_item_counts_ins ON annotation_item;
DROP TRIGGER IF EXISTS annotation_item_counts_del ON annotation_item;
DROP TRIGGER IF EXISTS annotation_item_counts_upd ON annotation_item;
DROP TRIGGER IF EXISTS annotation_item_queued_ins ON annotation_item;
DROP TRIGGER IF EXISTS annotation_item_queued_upd ON annotation_item;
DROP FUNCTION IF EXISTS annotation_itemflag_pages_new();
DROP FUNCTION IF EXISTS annotation_itemflag_pages_old();
DROP FUNCTION IF EXISTS annotation_label_pages_ins();
DROP FUNCTION IF EXISTS annotation_label_pages_del();
DROP FUNCTION IF EXISTS annotation_label_pages_upd();
DROP FUNCTION IF EXISTS annotation_item_counts_ins();
DROP FUNCTION IF EXISTS annotation_item_counts_del();
DROP FUNCTION IF EXISTS annotation_item_counts_upd();
DROP FUNCTION IF EXISTS annotation_item_queued_row();
DROP FUNCTION IF EXISTS annotation_item_flags_refresh(bigint[]);
DROP FUNCTION IF EXISTS annotation_item_verdicts_refresh(bigint[]);
DROP FUNCTION IF EXISTS annotation_ms_bucket(bigint);
DROP FUNCTION IF EXISTS annotation_label_verdict(text, text, boolean, jsonb);
DROP FUNCTION IF EXISTS annotation_item_is_queued(text, text, bigint, bigint, bigint);
"""


def _triggers(schema_editor, sql: str) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0008_rm_routing'),
    ]

    operations = [
        migrations.CreateModel(
            name='ProjectItemCounts',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(max_length=16)),
                ('state', models.CharField(max_length=16)),
                ('route', models.CharField(max_length=8)),
                ('queued', models.BooleanField()),
                ('n', models.BigIntegerField(default=0)),
            ],
            options={
                'verbose_name_plural': 'project item counts',
            },
        ),
        migrations.CreateModel(
            name='ProjectLabelHours',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('hour', models.DateTimeField()),
                ('n', models.BigIntegerField(default=0)),
            ],
            options={
                'verbose_name_plural': 'project label hours',
            },
        ),
        migrations.CreateModel(
            name='ProjectLabelTimes',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('ms', models.BigIntegerField()),
                ('n', models.BigIntegerField(default=0)),
            ],
            options={
                'verbose_name_plural': 'project label times',
            },
        ),
        migrations.AddField(
            model_name='item',
            name='n_flags',
            field=models.PositiveIntegerField(default=0, help_text='ItemFlag rows of the item (trigger-kept).'),
        ),
        migrations.AddField(
            model_name='item',
            name='n_verdicts',
            field=models.PositiveSmallIntegerField(default=0, help_text="Different verdicts among the people's parsed annotations (trigger-kept)."),
        ),
        migrations.AddField(
            model_name='item',
            name='queued',
            field=models.BooleanField(default=False, help_text='In the review queue: undecided and disputed, flagged or in review (trigger-kept).'),
        ),
        migrations.AddIndex(
            model_name='item',
            index=models.Index(condition=models.Q(('queued', True)), fields=['project', 'id'], name='item_queued_idx'),
        ),
        migrations.AddField(
            model_name='projectitemcounts',
            name='project',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='annotation.project'),
        ),
        migrations.AddField(
            model_name='projectlabelhours',
            name='annotator',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='annotation.annotator'),
        ),
        migrations.AddField(
            model_name='projectlabelhours',
            name='project',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='annotation.project'),
        ),
        migrations.AddField(
            model_name='projectlabeltimes',
            name='annotator',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='annotation.annotator'),
        ),
        migrations.AddField(
            model_name='projectlabeltimes',
            name='project',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='annotation.project'),
        ),
        migrations.AddConstraint(
            model_name='projectitemcounts',
            constraint=models.UniqueConstraint(fields=('project', 'kind', 'state', 'route', 'queued'), name='project_item_counts_unique'),
        ),
        migrations.AddConstraint(
            model_name='projectitemcounts',
            constraint=models.CheckConstraint(condition=models.Q(('n__gte', 0)), name='project_item_counts_n_nonnegative'),
        ),
        migrations.AddConstraint(
            model_name='projectlabelhours',
            constraint=models.UniqueConstraint(fields=('project', 'hour', 'annotator'), name='project_label_hours_unique'),
        ),
        migrations.AddConstraint(
            model_name='projectlabelhours',
            constraint=models.CheckConstraint(condition=models.Q(('n__gte', 0)), name='project_label_hours_n_nonnegative'),
        ),
        migrations.AddConstraint(
            model_name='projectlabeltimes',
            constraint=models.UniqueConstraint(fields=('project', 'annotator', 'ms'), name='project_label_times_unique'),
        ),
        migrations.AddConstraint(
            model_name='projectlabeltimes',
            constraint=models.CheckConstraint(condition=models.Q(('n__gte', 0)), name='project_label_times_n_nonnegative'),
        ),
        migrations.RunPython(lambda apps, schema_editor: _triggers(schema_editor, FORWARD),
                             lambda apps, schema_editor: _triggers(schema_editor, BACKWARD)),
    ]
