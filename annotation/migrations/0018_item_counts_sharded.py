"""Item counts in 16 shards per key (the item's id modulo 16), so that concurrent submits do not queue on one row.

ProjectItemCounts (0009_counters_pages) had one row per (project, kind, state, route, queued). Every submit moves
its item from one state to the next (routed -> labeling -> labeled), so the statement trigger on annotation_item
updated the same two rows of the project for every annotator's submit, and each held them until its commit, WAL
flush included: in the K = 32 loop the trigger's upsert waited ~0.9 ms a call for those row locks
(pg_stat_statements, bench/RESULTS.md *The labeling loop, round 6*), and one row serialised every label of the
project behind the previous one's flush. With the shard in the key an item always counts in the same shard (its id
does not change), so the per-row arithmetic of the triggers is unchanged, and readers sum over the shards (they all
aggregate already). Existing counts are rebuilt from the items.
"""
from django.db import migrations, models

from ._queue_sql import run_on_postgresql

SHARDS = 16


def _functions(sharded: bool) -> str:
    """The three item-count triggers' functions and a rebuild of the counts, with the shard in the key or (backwards:
    0016_transition_tables_linear's bodies) without it."""
    key = "project_id, kind, state, route, queued" + (", shard" if sharded else "")
    n_key = 6 if sharded else 5
    by = ", ".join(str(i) for i in range(1, n_key + 1))
    shard = f", (id % {SHARDS})::smallint" if sharded else ""  # the select list's shard
    shard_as = f", (id % {SHARDS})::smallint AS shard" if sharded else ""
    c_key = ", ".join(f"c.{k.strip()}" for k in key.split(","))
    g_key = ", ".join(f"g.{k.strip()}" for k in key.split(","))
    d_key = ", ".join(f"delta.{k.strip()}" for k in key.split(","))
    return f"""
CREATE OR REPLACE FUNCTION annotation_item_counts_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO annotation_projectitemcounts AS c ({key}, n)
    SELECT project_id, kind, state, route, queued{shard}, count(*) FROM new_rows
    GROUP BY {by} ORDER BY {by}  -- one lock order for every writer
    ON CONFLICT ({key}) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION annotation_item_counts_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE annotation_projectitemcounts c SET n = c.n - g.n
    FROM (SELECT project_id, kind, state, route, queued{shard_as}, count(*) AS n FROM old_rows GROUP BY {by}) g
    WHERE ({c_key}) = ({g_key});
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION annotation_item_counts_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- As in 0016_transition_tables_linear: each row counts -1 under its old key and +1 under its new one (an item's
    -- shard never changes), so a row that kept its key cancels out and most updates return here.
    IF NOT EXISTS (SELECT 1 FROM (SELECT project_id, kind, state, route, queued{shard_as}, 1 AS d FROM new_rows
                                  UNION ALL SELECT project_id, kind, state, route, queued{shard}, -1 FROM old_rows) r
                   GROUP BY {key} HAVING sum(d) <> 0) THEN
        RETURN NULL;
    END IF;
    WITH delta AS (
        SELECT {key}, sum(d) AS n
        FROM (SELECT project_id, kind, state, route, queued{shard_as}, 1 AS d FROM new_rows
              UNION ALL SELECT project_id, kind, state, route, queued{shard}, -1 FROM old_rows) r
        GROUP BY {by} HAVING sum(d) <> 0
    ), fewer AS (
        UPDATE annotation_projectitemcounts c SET n = c.n + delta.n FROM delta
        WHERE delta.n < 0 AND ({c_key}) = ({d_key})
    )
    INSERT INTO annotation_projectitemcounts AS c ({key}, n)
    SELECT {key}, n FROM delta WHERE n > 0
    ORDER BY {by}  -- one lock order for every writer
    ON CONFLICT ({key}) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;

DELETE FROM annotation_projectitemcounts;
INSERT INTO annotation_projectitemcounts ({key}, n)
SELECT project_id, kind, state, route, queued{shard}, count(*) FROM annotation_item GROUP BY {by};
-- The project foreign key's checks are deferred: run them now, before the constraint changes alter the table.
SET CONSTRAINTS ALL IMMEDIATE;
"""


def _run(sharded: bool):
    def run(apps, schema_editor) -> None:
        run_on_postgresql(schema_editor, _functions(sharded))
    return run


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0017_hot_path_plans'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='projectitemcounts',
            name='project_item_counts_unique',
        ),
        migrations.AddField(
            model_name='projectitemcounts',
            name='shard',
            field=models.SmallIntegerField(db_default=0, default=0),
        ),
        migrations.AddConstraint(
            model_name='projectitemcounts',
            constraint=models.UniqueConstraint(fields=('project', 'kind', 'state', 'route', 'queued', 'shard'),
                                               name='project_item_counts_unique'),
        ),
        # Backwards, first: the functions without the shard, every count in one row again (shard 0, the default).
        migrations.RunPython(_run(True), _run(False), elidable=False),
    ]
