"""Plans the labeling loop keeps (issue 13): two things PostgreSQL did on every label that it needs to do once.

- `annotation_item_verdicts_refresh` and `annotation_item_flags_refresh` (0009_counters_pages) were SQL functions,
  called with PERFORM from the label and flag statement triggers. PostgreSQL inlines only a SQL function that is a
  single SELECT; one that runs an UPDATE is executed by the SQL-function executor, which parses, analyses and plans
  its body again in every transaction that calls it: 10 % of the database's CPU in the K = 32 loop (perf, bench/
  RESULTS.md, *The labeling loop, round 6*). As PL/pgSQL functions of the same body their plan is kept for the
  session, and it is the generic one: with the array a parameter the planner otherwise made a custom plan for
  every call (3.6 % more). The generic plan joins the ids to the items by primary key, linear in the ids for a
  one-label submit as for an import's million.
- The queue's entry points (annotation/sql/queue.sql: `ps_queue_next`, `ps_label_submit`, `ps_leases_expire`) run
  with `enable_seqscan = off`. PL/pgSQL caches a generic plan after five calls, made with the statistics of that
  moment; in a new database the label and assignment tables are empty then, and the plan scanned them whole on
  every call for as long as the session lived (57 M rows read from annotation_assignment in a 20 s K = 32 run, the
  loop 22 % slower than in a database with statistics). Every statement in them has an index that serves it.
"""
from django.db import migrations

from ._queue_sql import reload_queue_functions, run_on_postgresql

_REFRESH = {
    "annotation_item_verdicts_refresh": """
    UPDATE annotation_item it SET n_verdicts = v.n
    FROM (SELECT x.id, (SELECT count(DISTINCT annotation_label_verdict(l.kind, l.winner, l.thumbs_up, l.ranking))
                        FROM annotation_label l JOIN annotation_annotator a ON a.id = l.annotator_id
                        WHERE l.item_id = x.id AND l.role = 'annotation' AND l.status = 'ok' AND a.kind = 'human') AS n
          FROM unnest(ids) AS x(id)) v
    WHERE it.id = v.id AND it.n_verdicts IS DISTINCT FROM v.n""",
    "annotation_item_flags_refresh": """
    UPDATE annotation_item it SET n_flags = v.n
    FROM (SELECT x.id, (SELECT count(*) FROM annotation_itemflag f WHERE f.item_id = x.id) AS n
          FROM unnest(ids) AS x(id)) v
    WHERE it.id = v.id AND it.n_flags IS DISTINCT FROM v.n""",
}


def _functions(language: str) -> str:
    if language == "plpgsql":
        return "\n".join(f"CREATE OR REPLACE FUNCTION {name}(ids bigint[]) RETURNS void LANGUAGE plpgsql "
                         f"SET plan_cache_mode = force_generic_plan AS $$\n"
                         f"BEGIN{body};\nEND $$;" for name, body in _REFRESH.items())
    return "\n".join(f"CREATE OR REPLACE FUNCTION {name}(ids bigint[]) RETURNS void LANGUAGE sql AS $${body}\n$$;"
                     for name, body in _REFRESH.items())


def forward(apps, schema_editor) -> None:
    run_on_postgresql(schema_editor, _functions("plpgsql"))
    reload_queue_functions(apps, schema_editor)


def backward(apps, schema_editor) -> None:
    # The queue's functions keep their setting (it changes no result); the refresh functions go back to SQL.
    run_on_postgresql(schema_editor, _functions("sql"))


class Migration(migrations.Migration):

    dependencies = [
        ("annotation", "0016_transition_tables_linear"),
    ]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
