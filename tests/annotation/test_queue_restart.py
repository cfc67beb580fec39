"""Issue 13, item 5: 64 annotators at once, and PostgreSQL restarted in the middle of the run; afterwards nothing is
lost, nothing over-assigned, no label duplicated, and the queue's derived rows agree with the items.

It runs on a PRIVATE cluster (initdb + pg_ctl in a temporary directory, on a free port), never on the shared server:
tests/annotation/queue_restart_worker.py migrates a fresh database there and drives the real services from 64
threads (each its own connection); this test restarts nothing itself and reads the result back with psycopg.
"""
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

WORKER = Path(__file__).with_name("queue_restart_worker.py")
ITEMS, OVERLAP, WORKERS = 160, 3, 64


def _as_postgres(args: list[str]) -> list[str]:
    """initdb and pg_ctl refuse to run as root: run them as the postgres user there."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def private_cluster():
    for tool in ("initdb", "pg_ctl"):
        assert shutil.which(tool), f"{tool} is not on PATH: this test starts its own PostgreSQL cluster"
    home = Path(tempfile.mkdtemp(prefix="ps-loop-pg-"))
    data, port = home / "data", _free_port()
    if os.geteuid() == 0:
        shutil.chown(home, "postgres")
    subprocess.run(_as_postgres([shutil.which("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                                 "--no-sync"]), check=True, capture_output=True)
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c max_connections=120 -c fsync=off"
    pg_ctl = [shutil.which("pg_ctl"), "-D", str(data), "-l", str(home / "log"), "-o", options, "-w"]
    subprocess.run(_as_postgres([*pg_ctl, "start"]), check=True, capture_output=True)
    try:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE loop_restart")
        restart = " ".join(shlex.quote(part) for part in _as_postgres([*pg_ctl, "-m", "fast", "restart"]))
        yield f"postgres://postgres@127.0.0.1:{port}/loop_restart", restart
    finally:
        subprocess.run(_as_postgres([*pg_ctl, "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def test_64_annotators_and_a_postgresql_restart_lose_nothing_and_overfill_nothing(private_cluster):
    url, restart = private_cluster
    env = {**os.environ, "DATABASE_URL": url, "LOOP_RESTART_CMD": restart, "LOOP_WORKERS": str(WORKERS),
           "LOOP_ITEMS": str(ITEMS), "LOOP_OVERLAP": str(OVERLAP), "DB_CONN_MAX_AGE": "600"}
    run = subprocess.run([sys.executable, str(WORKER)], env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["restart_rc"] == 0, report["restart_output"]
    assert not report["errors"], report["errors"]
    # The restart happened mid-run and the threads felt it.
    assert 0 < report["labels_before_restart"] < ITEMS * OVERLAP and report["retries"] > 0, report

    with psycopg.connect(url.replace("postgres://", "postgresql://")) as conn:
        labels = conn.execute(
            "SELECT l.id, l.item_id, l.annotator_id FROM annotation_label l").fetchall()
        per_item = dict(conn.execute(
            "SELECT i.id, count(l.id) FROM annotation_item i LEFT JOIN annotation_label l ON l.item_id = i.id "
            "GROUP BY i.id").fetchall())
        drift = conn.execute(
            "SELECT count(*) FROM annotation_item i WHERE i.n_leases <> 0 OR i.n_human_labels <> "
            "(SELECT count(*) FROM annotation_label l WHERE l.item_id = i.id) OR i.state <> 'labeled'").fetchone()[0]
        active = conn.execute("SELECT count(*) FROM annotation_assignment WHERE status = 'active'").fetchone()[0]
        slots = conn.execute("SELECT count(*) FROM annotation_queueslot").fetchone()[0]
        wanted, free = conn.execute(
            "SELECT sum(wanted), sum(free_items) FROM annotation_queuecounter").fetchone()
        done = conn.execute("SELECT sum(n_done) FROM annotation_queuecursor").fetchone()[0]
    seen = {tuple(row) for row in report["seen"]}
    assert len(per_item) == ITEMS and set(per_item.values()) == {OVERLAP}  # nothing lost, nothing over-assigned
    assert len({(item, who) for _, item, who in labels}) == len(labels)  # nobody twice on an item
    assert {tuple(row) for row in labels} == seen and len(report["seen"]) == len(seen)  # each label seen once
    assert (drift, active, slots, wanted, free, done) == (0, 0, 0, 0, 0, ITEMS * OVERLAP)
