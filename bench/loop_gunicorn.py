"""gunicorn config for bench/bench_loop.py: the server of `make web`, plus a count of the SQL statements each worker
runs (a Django execute wrapper on every connection), written to $BENCH_SQL_COUNT_DIR/<pid>.json when it exits.
With $BENCH_PROFILE_DIR set, each worker also profiles its requests (CPU time, cProfile; not the warm-up GETs of
the login page) and writes <pid>.prof there when it exits (`python -m pstats`: where the server's CPU goes)."""
import json
import os

_counts = {"statements": 0}
_profile = {}


def _count(execute, sql, params, many, context):
    _counts["statements"] += 1
    return execute(sql, params, many, context)


def post_fork(server, worker):
    from django.db.backends.signals import connection_created

    def attach(sender, connection, **kwargs):
        if _count not in connection.execute_wrappers:
            connection.execute_wrappers.append(_count)

    connection_created.connect(attach, weak=False)
    if os.environ.get("BENCH_PROFILE_DIR"):
        import cProfile
        import time

        _profile["p"] = cProfile.Profile(time.process_time)


def pre_request(worker, req):
    if "p" in _profile and not req.path.startswith("/accounts/"):
        _profile["p"].enable()


def post_request(worker, req, environ, resp):
    if "p" in _profile:
        _profile["p"].disable()


def worker_exit(server, worker):
    with open(os.path.join(os.environ["BENCH_SQL_COUNT_DIR"], f"{os.getpid()}.json"), "w") as out:
        json.dump(_counts, out)
    if "p" in _profile:
        _profile["p"].dump_stats(os.path.join(os.environ["BENCH_PROFILE_DIR"], f"{os.getpid()}.prof"))
