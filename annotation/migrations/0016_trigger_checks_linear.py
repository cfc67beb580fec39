"""The statement triggers' "did any row change its keys?" checks in time linear in the rows written.

Three UPDATE triggers (annotation_item_counts_upd from 0009_counters_pages, annotation_label_pages_upd from 0009,
annotation_label_stats_upd from 0006_scale_label_stats) first asked
`EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE <keys> IS DISTINCT FROM <keys>)`. A transition
table has no statistics, so the planner takes 1/200 for `o.id = n.id` (200 distinct values by default) and expects
N²/200 rows out of the join: an EXISTS stops at the first row, so a nested loop that needs no hash table looks
cheapest. When no row changed its keys (the common case: the label triggers set `n_verdicts` on the items, which
moves none of the item counters' keys) that loop compares every old row with every new one. A one-statement
INSERT of 10k labels into a new project spent 32 s of its 33 s in this check on the 10k items it updated (100M
pairs compared, EXPLAIN ANALYZE by auto_explain), and bench_freeze's build at 100k items sat in it for over 12 min.

The check is now a set difference: the new rows' (id, keys) that are not among the old rows' (id, keys). EXCEPT has
no nested-loop plan (a hashed or a sorted SetOp, both read each side once) and, like IS DISTINCT FROM, takes NULLs
as equal, so for rows that keep their id it asks the same question. (An UPDATE that changed an id would now be
taken for a change; the statements after the check then find nothing to move, as before.) Everything else in the
three functions is unchanged: they stay per-statement, so a one-row write still costs one small check.
"""
import importlib
import re

from django.db import migrations

FORWARD = r"""
CREATE OR REPLACE FUNCTION annotation_item_counts_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Most item updates (leases, counters, priority, n_verdicts) change none of the keys: nothing to do then.
    -- (EXCEPT, not EXISTS over a join of the transition tables: see migration 0016_trigger_checks_linear.)
    IF NOT EXISTS (SELECT id, project_id, kind, state, route, queued FROM new_rows
                   EXCEPT SELECT id, project_id, kind, state, route, queued FROM old_rows) THEN
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

CREATE OR REPLACE FUNCTION annotation_label_pages_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- (EXCEPT, not EXISTS over a join of the transition tables: see migration 0016_trigger_checks_linear.)
    IF EXISTS (SELECT id, item_id, annotator_id, role, created_at, time_spent_ms FROM new_rows
               EXCEPT SELECT id, item_id, annotator_id, role, created_at, time_spent_ms FROM old_rows) THEN
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

CREATE OR REPLACE FUNCTION annotation_label_stats_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- (EXCEPT, not EXISTS over a join of the transition tables: see migration 0016_trigger_checks_linear.)
    IF NOT EXISTS (SELECT id, item_id, annotator_id, role, created_at FROM new_rows
                   EXCEPT SELECT id, item_id, annotator_id, role, created_at FROM old_rows) THEN
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
"""


def _previous_bodies() -> str:
    """The three functions as migrations 0006 and 0009 created them (CREATE OR REPLACE), for going back."""
    bodies = []
    for module, name in (("0009_counters_pages", "annotation_item_counts_upd"),
                         ("0009_counters_pages", "annotation_label_pages_upd"),
                         ("0006_scale_label_stats", "annotation_label_stats_upd")):
        source = importlib.import_module(f"annotation.migrations.{module}").FORWARD
        body = re.search(rf"CREATE FUNCTION {name}\(\).*?END \$\$;", source, re.S).group(0)
        bodies.append(body.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    return "\n\n".join(bodies)


def _on_postgresql(sql):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql() if callable(sql) else sql)
    return run


class Migration(migrations.Migration):

    dependencies = [
        ("annotation", "0015_flags_bulk"),
    ]

    operations = [migrations.RunPython(_on_postgresql(FORWARD), _on_postgresql(_previous_bodies), elidable=False)]
