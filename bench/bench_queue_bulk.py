"""What the queue's per-row trigger costs a bulk insert of items, and what the import's one-pass alternative costs
(issue 16 item 3; migration 0011_queue_bulk_io).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ps_bench_freeze .venv/bin/python bench/bench_queue_bulk.py \
        [--project freeze-100k] [--overlap 3] [--rounds 2] [--limit 100000]

Copies the items of an existing project (bench_freeze.py builds `freeze-100k`) into a new project of the given
overlap as unlabeled items, with `INSERT ... SELECT` in a transaction that is rolled back, twice per round:
with the row trigger (ps_item_queue_sync per item), and with prefstudio.queue_bulk = 'on' plus one
ps_queue_items_added over the new ids (what data_import does now). Prints the seconds of each (best of the
rounds), the backend CPU of each (pg_stat_statements is not needed: /proc/<backend pid>/stat, same machine),
and checks that both leave the same slots and counters.
"""
from __future__ import annotations

import argparse
import os
import time

import psycopg

CLK = os.sysconf("SC_CLK_TCK")


def backend_cpu(conn) -> float:
    pid = conn.info.backend_pid
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK  # utime + stime


def one(url: str, source: str, overlap: int, bulk: bool, limit: int) -> tuple[float, float, tuple]:
    with psycopg.connect(url) as conn:
        cur = conn.cursor()
        src = cur.execute("SELECT id FROM annotation_project WHERE slug = %s", [source]).fetchone()[0]
        columns = [c for (c,) in cur.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'annotation_project' "
            "AND column_name NOT IN ('id', 'slug', 'overlap') ORDER BY ordinal_position")]
        cur.execute(f"INSERT INTO annotation_project (slug, overlap, {', '.join(columns)}) SELECT "
                    f"'queue-bulk-bench', %s, {', '.join(columns)} FROM annotation_project WHERE id = %s RETURNING id",
                    [overlap, src])
        pid = cur.fetchone()[0]
        cpu, began = backend_cpu(conn), time.perf_counter()
        if bulk:
            cur.execute("SET LOCAL prefstudio.queue_bulk = 'on'")
        cur.execute(
            "INSERT INTO annotation_item (external_id, kind, state, route, source, n_responses, n_human_labels, "
            "n_judge_labels, n_leases, priority, metadata, created_at, updated_at, project_id, prompt_id, reference) "
            "SELECT external_id, kind, 'new', route, source, n_responses, 0, 0, 0, priority, metadata, created_at, "
            "updated_at, %s, prompt_id, reference FROM annotation_item WHERE project_id = %s ORDER BY id "
            "LIMIT %s RETURNING id", [pid, src, limit])
        ids = [row[0] for row in cur.fetchall()]
        if bulk:
            cur.execute("SET LOCAL prefstudio.queue_bulk = 'off'")
            for low in range(0, len(ids), 100_000):
                cur.execute("SELECT ps_queue_items_added(%s, %s)", [pid, ids[low:low + 100_000]])
        seconds, cpu = time.perf_counter() - began, backend_cpu(conn) - cpu
        state = cur.execute(
            "SELECT (SELECT count(*) FROM annotation_queueslot WHERE project_id = %s), "
            "(SELECT array_agg(ARRAY[shard, wanted, free_items] ORDER BY shard) FROM annotation_queuecounter "
            "WHERE project_id = %s)", [pid, pid]).fetchone()
        conn.rollback()
    return seconds, cpu, state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", default="freeze-100k")
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--limit", type=int, default=100_000, help="items copied (default 100,000)")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ps_bench_freeze")
    results: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    states = {}
    for _ in range(args.rounds):
        for bulk in (False, True):
            seconds, cpu, state = one(url, args.project, args.overlap, bulk, args.limit)
            results[bulk].append((seconds, cpu))
            states[bulk] = state
    assert states[False] == states[True], states
    best = {bulk: min(r) for bulk, r in results.items()}
    print(f"queue on item insert, {args.limit:,} items of {args.project} copied at overlap {args.overlap} "
          f"({states[True][0]:,} slots), best of {args.rounds}, load {open('/proc/loadavg').read().split()[0]}: row trigger {best[False][0]:.2f} s "
          f"(backend CPU {best[False][1]:.2f} s), bulk + ps_queue_items_added {best[True][0]:.2f} s "
          f"(backend CPU {best[True][1]:.2f} s); same slots and counters")


if __name__ == "__main__":
    main()
