"""gunicorn config for bench/bench_loop.py: the server of `make web`, plus a count of the SQL statements each worker
runs (a Django execute wrapper on every connection), written to $BENCH_SQL_COUNT_DIR/<pid>.json when it exits."""
import json
import os

_counts = {"statements": 0}


def _count(execute, sql, params, many, context):
    _counts["statements"] += 1
    return execute(sql, params, many, context)


def post_fork(server, worker):
    from django.db.backends.signals import connection_created

    def attach(sender, connection, **kwargs):
        if _count not in connection.execute_wrappers:
            connection.execute_wrappers.append(_count)

    connection_created.connect(attach, weak=False)


def worker_exit(server, worker):
    with open(os.path.join(os.environ["BENCH_SQL_COUNT_DIR"], f"{os.getpid()}.json"), "w") as out:
        json.dump(_counts, out)
