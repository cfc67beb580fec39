"""The statement triggers that compare a statement's old and new rows do so in time linear in the rows written.

Three UPDATE triggers (annotation_item_counts_upd and annotation_label_pages_upd from 0009_counters_pages,
annotation_label_stats_upd from 0006_scale_label_stats) found the rows whose keys changed by joining the two
transition tables, `old_rows o JOIN new_rows n ON n.id = o.id`. A transition table has no statistics, and that join
went quadratic in two ways:

- An `EXISTS (... the join ... WHERE keys IS DISTINCT FROM keys)` came first, to return early when nothing moved.
  Taking 1/200 for `o.id = n.id` (200 distinct values by default), the planner expected N²/200 rows, and for an
  EXISTS, which stops at the first, a nested loop looked cheapest; when no row had changed its keys it compared
  every old row with every new one. A one-statement INSERT of N labels sets n_verdicts on N items, an UPDATE that
  moves no item-counter key: at 10k labels 32 s of a 33 s INSERT went there (10^8 pairs, auto_explain), at 30k
  393 s of 413 s (9 x 10^8), and bench_freeze's build at 100k sat in it for over 12 minutes.
- PL/pgSQL keeps a trigger function's plans for the session, planned for the transition tables' sizes at the first
  call: after a one-row update on the same connection (a review, a fix in the admin), an UPDATE of 8,000 labels
  joined them in a nested loop planned for 1 row (64M pairs, 8.8 s; tests/annotation/test_counters_one_statement.py).

Now no statement joins the two transition tables. Each reads both once, counting the old rows -1 and the new rows +1
(UNION ALL), and sums per key: a row that kept its key cancels out. A grouped aggregate has no plan that reads a side
more than once (hashed, spilling past work_mem, or sorted), whatever the estimate, and a cached plan stays cheap for
a one-row write, which is still counted by its own statement. For rows that keep their id (updates of labels and
items never change it) the checks, the keys moved and the items whose verdicts are counted again are those of the
join. The counters' decrements and increments are one statement per counter table (an UPDATE of the keys that lose
rows in a CTE, an upsert in key order of those that gain), over the net change per key.
"""
import importlib
import re

from django.db import migrations

FORWARD = r"""
CREATE OR REPLACE FUNCTION annotation_item_counts_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Each row counts -1 under its old key and +1 under its new one; a row that kept its key cancels out, so most
    -- item updates (leases, counters, priority, n_verdicts) move nothing: a read-only check returns early then (a
    -- submit's item update, the hot path, skips opening the counts table). The keys that lose rows are UPDATEd: a
    -- negative row offered to INSERT ... ON CONFLICT fails the n >= 0 check before the conflict is seen.
    IF NOT EXISTS (SELECT 1 FROM (SELECT project_id, kind, state, route, queued, 1 AS d FROM new_rows
                                  UNION ALL SELECT project_id, kind, state, route, queued, -1 FROM old_rows) r
                   GROUP BY project_id, kind, state, route, queued HAVING sum(d) <> 0) THEN
        RETURN NULL;
    END IF;
    WITH delta AS (
        SELECT project_id, kind, state, route, queued, sum(d) AS n
        FROM (SELECT project_id, kind, state, route, queued, 1 AS d FROM new_rows
              UNION ALL SELECT project_id, kind, state, route, queued, -1 FROM old_rows) r
        GROUP BY 1, 2, 3, 4, 5 HAVING sum(d) <> 0
    ), fewer AS (
        UPDATE annotation_projectitemcounts c SET n = c.n + delta.n FROM delta
        WHERE delta.n < 0 AND (c.project_id, c.kind, c.state, c.route, c.queued)
                              = (delta.project_id, delta.kind, delta.state, delta.route, delta.queued)
    )
    INSERT INTO annotation_projectitemcounts AS c (project_id, kind, state, route, queued, n)
    SELECT project_id, kind, state, route, queued, n FROM delta WHERE n > 0
    ORDER BY 1, 2, 3, 4, 5  -- one lock order for every writer
    ON CONFLICT (project_id, kind, state, route, queued) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;

-- An update: the labels that changed their histogram keys move out of the old keys and into the new ones (-1 / +1
-- per (item, annotator, key), summed before the items are read: a label that kept its key cancels out); the items
-- of labels whose verdict (or whose it is) changed are counted again.
CREATE OR REPLACE FUNCTION annotation_label_pages_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM (SELECT id, item_id, annotator_id, role, created_at, time_spent_ms, 1 AS d FROM new_rows
                              UNION ALL
                              SELECT id, item_id, annotator_id, role, created_at, time_spent_ms, -1 FROM old_rows) r
               GROUP BY id, item_id, annotator_id, role, created_at, time_spent_ms HAVING sum(d) <> 0) THEN
        WITH delta AS (
            SELECT i.project_id, g.annotator_id, g.hour, sum(g.d) AS n
            FROM (SELECT item_id, annotator_id, hour, sum(d) AS d
                  FROM (SELECT item_id, annotator_id,
                               date_trunc('hour', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour, 1 AS d
                        FROM new_rows WHERE role = 'annotation'
                        UNION ALL
                        SELECT item_id, annotator_id,
                               date_trunc('hour', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', -1
                        FROM old_rows WHERE role = 'annotation') r
                  GROUP BY 1, 2, 3 HAVING sum(d) <> 0) g
            JOIN annotation_item i ON i.id = g.item_id
            GROUP BY 1, 2, 3 HAVING sum(g.d) <> 0
        ), fewer AS (
            UPDATE annotation_projectlabelhours h SET n = h.n + delta.n FROM delta
            WHERE delta.n < 0
              AND (h.project_id, h.annotator_id, h.hour) = (delta.project_id, delta.annotator_id, delta.hour)
        )
        INSERT INTO annotation_projectlabelhours AS h (project_id, annotator_id, hour, n)
        SELECT project_id, annotator_id, hour, n FROM delta WHERE n > 0 ORDER BY 1, 2, 3
        ON CONFLICT (project_id, hour, annotator_id) DO UPDATE SET n = h.n + EXCLUDED.n;
        WITH delta AS (
            SELECT i.project_id, g.annotator_id, g.ms, sum(g.d) AS n
            FROM (SELECT item_id, annotator_id, ms, sum(d) AS d
                  FROM (SELECT item_id, annotator_id, annotation_ms_bucket(time_spent_ms) AS ms, 1 AS d
                        FROM new_rows WHERE role = 'annotation' AND time_spent_ms IS NOT NULL
                        UNION ALL
                        SELECT item_id, annotator_id, annotation_ms_bucket(time_spent_ms), -1
                        FROM old_rows WHERE role = 'annotation' AND time_spent_ms IS NOT NULL) r
                  GROUP BY 1, 2, 3 HAVING sum(d) <> 0) g
            JOIN annotation_item i ON i.id = g.item_id
            GROUP BY 1, 2, 3 HAVING sum(g.d) <> 0
        ), fewer AS (
            UPDATE annotation_projectlabeltimes t SET n = t.n + delta.n FROM delta
            WHERE delta.n < 0
              AND (t.project_id, t.annotator_id, t.ms) = (delta.project_id, delta.annotator_id, delta.ms)
        )
        INSERT INTO annotation_projectlabeltimes AS t (project_id, annotator_id, ms, n)
        SELECT project_id, annotator_id, ms, n FROM delta WHERE n > 0 ORDER BY 1, 2, 3
        ON CONFLICT (project_id, annotator_id, ms) DO UPDATE SET n = t.n + EXCLUDED.n;
    END IF;
    PERFORM annotation_item_verdicts_refresh(ARRAY(
        SELECT DISTINCT item_id
        FROM (SELECT id, item_id, annotator_id, role, status, kind, winner, thumbs_up, ranking, 1 AS d FROM new_rows
              UNION ALL
              SELECT id, item_id, annotator_id, role, status, kind, winner, thumbs_up, ranking, -1 FROM old_rows) r
        GROUP BY id, item_id, annotator_id, role, status, kind, winner, thumbs_up, ranking HAVING sum(d) <> 0
        ORDER BY 1));
    RETURN NULL;
END $$;

-- An update moves a label only if it changes its item, annotator or role: count those out of the old
-- key and into the new one (most updates change a verdict and touch nothing here). A label is one row on each side
-- per (id, item, annotator, role): the groups that do not cancel are the moved labels, -1 old and +1 new.
CREATE OR REPLACE FUNCTION annotation_label_stats_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM (SELECT id, item_id, annotator_id, role, created_at, 1 AS d FROM new_rows
                                  UNION ALL SELECT id, item_id, annotator_id, role, created_at, -1 FROM old_rows) r
                   GROUP BY id, item_id, annotator_id, role, created_at HAVING sum(d) <> 0) THEN
        RETURN NULL;
    END IF;
    WITH moved AS (
        SELECT item_id, annotator_id, role FROM (
            SELECT id, item_id, annotator_id, role, 1 AS d FROM new_rows
            UNION ALL SELECT id, item_id, annotator_id, role, -1 FROM old_rows) r
        GROUP BY id, item_id, annotator_id, role HAVING sum(d) = -1
    ), gone AS (
        SELECT i.project_id, m.annotator_id, m.role, count(*) AS n
        FROM moved m JOIN annotation_item i ON i.id = m.item_id GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    )
    UPDATE annotation_projectannotatorstats s SET n = s.n - gone.n FROM gone
    WHERE s.project_id = gone.project_id AND s.annotator_id = gone.annotator_id AND s.role = gone.role;
    -- (a separate statement: a row updated by a CTE cannot be deleted by the same statement; the table is small)
    DELETE FROM annotation_projectannotatorstats WHERE n <= 0;
    INSERT INTO annotation_projectannotatorstats AS s (project_id, annotator_id, role, n, first_label_id, last_at)
    SELECT i.project_id, m.annotator_id, m.role, count(*), min(m.id), max(m.created_at)
    FROM (SELECT id, item_id, annotator_id, role, max(created_at) AS created_at FROM (
              SELECT id, item_id, annotator_id, role, created_at, 1 AS d FROM new_rows
              UNION ALL SELECT id, item_id, annotator_id, role, NULL, -1 FROM old_rows) r
          GROUP BY id, item_id, annotator_id, role HAVING sum(d) = 1) m
    JOIN annotation_item i ON i.id = m.item_id
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (project_id, annotator_id, role) DO UPDATE
        SET n = s.n + EXCLUDED.n, first_label_id = LEAST(s.first_label_id, EXCLUDED.first_label_id),
            last_at = GREATEST(s.last_at, EXCLUDED.last_at);
    -- A label's time rewritten (rare: data fixes, tests): its key's newest time is read again. (The new rows whose
    -- (id, created_at) is not among the old ones; max() picks the new row's key, the old side giving NULLs.)
    UPDATE annotation_projectannotatorstats s SET last_at = (
        SELECT max(l.created_at) FROM annotation_label l JOIN annotation_item i ON i.id = l.item_id
        WHERE l.annotator_id = s.annotator_id AND l.role = s.role AND i.project_id = s.project_id)
    FROM (SELECT DISTINCT i.project_id, t.annotator_id, t.role
          FROM (SELECT max(item_id) AS item_id, max(annotator_id) AS annotator_id, max(role) AS role FROM (
                    SELECT id, created_at, item_id, annotator_id, role, 1 AS d FROM new_rows
                    UNION ALL SELECT id, created_at, NULL, NULL, NULL, -1 FROM old_rows) r
                GROUP BY id, created_at HAVING sum(d) = 1) t
          JOIN annotation_item i ON i.id = t.item_id) c
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
