"""The labeling loop under load (issue 13, item 6): next item -> submit, closed loop, K annotators, over HTTP.

    .venv/bin/python bench/bench_loop.py                               # K = 1, 8, 32, 64; REST and htmx; 60 s each
    .venv/bin/python bench/bench_loop.py --seconds 15 --ks 1,8,32,64   # the short run
    .venv/bin/python bench/bench_loop.py --big 1000000 --big-k 8       # + `next` p95 at 10k vs 1M open items

Starts the production server as `make web` does (gunicorn prefstudio.wsgi, DEBUG=0; --workers, default 4 as in the
issue's comparison) against a dedicated PostgreSQL database on DATABASE_URL's server (created, migrated, dropped at the
end unless --keep), creates one project of --items pairwise items (overlap --overlap) per run, written by SQL, and K
users with tokens (REST) and logged-in sessions (htmx). Each annotator is a client thread (client processes share
them out) looping with no think time over a new connection per request:

    rest   POST /api/projects/{slug}/next/ -> POST /api/assignments/{id}/submit/   (Authorization: Token ...)
    htmx   POST .../label/{id}/submit/ as the page's form posts it with htmx (HX-Request): the answer is the next
           task page itself; the loop reads its idempotency key and goes on at HX-Push-Url until HX-Redirect
           (the queue: nothing left). One request per label, as in the browser; the first page of each annotator
           (POST .../label/next/ -> 302 -> GET, a whole page) is loaded before the clock starts. The form's plain
           POST (redirect-after-POST, for browsers without JavaScript) is not what annotators use: not measured.

It prints labels/s, p50 / p95 / p99 of each call, SQL statements per label (counted in the server's workers, see
bench/loop_gunicorn.py), CPU ms per label of the server (gunicorn master + workers) and of the database (the backends
of the bench database), both from /proc, and, read back from the database after the run, over-assigned items (more
labels than the overlap), duplicated labels (an annotator twice on an item) and lost labels (acknowledged to a client
but not stored). With --big N it also builds an N-item project (COPY-speed SQL with the triggers off, then
ps_queue_rebuild; the time is printed) and compares `next` p95 there with the --items project at K = --big-k.
Throttling is raised for the run (API_THROTTLE_USER): the bench measures the loop, not the rate limit.
"""
import argparse
import http.client
import json
import multiprocessing as mp
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# -- database ---------------------------------------------------------------------------------------------------
def _db_url(base: str, name: str) -> str:
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _psycopg(url: str):
    import psycopg

    return psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True)


def load_items(url: str, project_id: int, n: int, *, triggers: bool) -> float:
    """n pairwise items (prompt, two responses) for the project, by SQL. Without triggers the queue's slots and
    counters are built afterwards in one pass (ps_queue_rebuild). Returns the seconds it took."""
    began = time.perf_counter()
    with _psycopg(url) as conn:
        with conn.transaction():
            if not triggers:
                conn.execute("SET LOCAL session_replication_role = replica")
            conn.execute(
                "INSERT INTO annotation_prompt (project_id, external_id, messages, metadata, created_at) "
                "SELECT %s, 'p' || g, jsonb_build_array(jsonb_build_object('role', 'user', 'content', "
                "'Which answer explains question ' || g || ' better?')), '{}', now() FROM generate_series(1, %s) g",
                [project_id, n])
            conn.execute(
                "INSERT INTO annotation_response (prompt_id, external_id, text, model_name, gen_params, origin, "
                "created_at) SELECT pr.id, v.r, 'Answer ' || v.r || ' to ' || pr.external_id || ': <b>not bold</b>', "
                "'bench', '{}', 'imported', now() FROM annotation_prompt pr CROSS JOIN (VALUES ('a'), ('b')) v(r) "
                "WHERE pr.project_id = %s", [project_id])
            conn.execute(
                "INSERT INTO annotation_item (project_id, prompt_id, external_id, kind, state, route, source, "
                "n_responses, n_human_labels, n_judge_labels, n_leases, priority, metadata, created_at, updated_at) "
                "SELECT pr.project_id, pr.id, pr.external_id, 'pairwise', 'new', 'pending', '', 2, 0, 0, 0, 0, '{}', "
                "now(), now() FROM annotation_prompt pr WHERE pr.project_id = %s ORDER BY pr.id", [project_id])
            conn.execute(
                "INSERT INTO annotation_itemresponse (item_id, position, response_id) "
                "SELECT i.id, CASE r.external_id WHEN 'a' THEN 0 ELSE 1 END, r.id FROM annotation_item i "
                "JOIN annotation_response r ON r.prompt_id = i.prompt_id WHERE i.project_id = %s", [project_id])
            if not triggers:
                conn.execute("SET LOCAL session_replication_role = origin")
                conn.execute("SELECT ps_queue_rebuild(%s)", [project_id])
        conn.execute("ANALYZE")
    return time.perf_counter() - began


# -- server -----------------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, env: dict, workers: int):
        self.port = _free_port()
        self.count_dir = tempfile.mkdtemp(prefix="bench-loop-sql-")
        self.proc = subprocess.Popen(
            [str(Path(PYTHON).parent / "gunicorn"), "prefstudio.wsgi", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(workers), "--config", str(ROOT / "bench" / "loop_gunicorn.py"),
             # make web's command; a longer worker timeout only because booting Django on this loaded machine can
             # take more than gunicorn's default 30 s (a worker killed while booting spoils the run).
             "--timeout", "180", "--log-level", "warning"],
            cwd=ROOT, env={**env, "BENCH_SQL_COUNT_DIR": self.count_dir}, start_new_session=True)
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/accounts/login/")
                conn.getresponse().read()
                self._warm_up(workers)
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("gunicorn did not start")

    def _warm_up(self, workers: int) -> None:
        """Until every worker has booted and answered (concurrent GETs, so that each worker gets some)."""
        def hit():
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=180)
            conn.request("GET", "/accounts/login/")
            conn.getresponse().read()

        for _ in range(3):
            threads = [threading.Thread(target=hit) for _ in range(2 * workers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

    def pids(self) -> list[int]:
        out = [self.proc.pid]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                        out.append(int(entry.name))
                except (OSError, IndexError, ValueError):
                    pass
        return out

    def stop(self) -> int:
        """Stop gracefully (workers write their statement counts); returns the statements counted."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        total = sum(json.loads(p.read_text())["statements"] for p in Path(self.count_dir).glob("*.json"))
        shutil.rmtree(self.count_dir, ignore_errors=True)
        return total


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0


def _backends(url: str, dbname: str) -> list[int]:
    with _psycopg(url) as conn:
        return [row[0] for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [dbname])]


# -- clients ----------------------------------------------------------------------------------------------------
def _request(port: int, method: str, path: str, *, headers: dict, body: bytes | None = None):
    """(status, response headers, body) of one request on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)  # a new connection per request
    conn.request(method, path, body=body, headers={"Connection": "close", **headers})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, response.msg, data


def _rest_loop(port: int, slug: str, token: str, deadline: float, out: dict) -> None:
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    while time.time() < deadline:
        t0 = time.perf_counter()
        status, _, data = _request(port, "POST", f"/api/projects/{slug}/next/", headers=headers)
        t1 = time.perf_counter()
        if status == 204:
            break
        if status != 200:
            out["errors"].append(f"next {status} {data[:200]!r}")
            continue
        lease = json.loads(data)["assignment"]
        body = json.dumps({"winner": "A", "idempotency_key": uuid.uuid4().hex}).encode()
        status, _, data = _request(port, "POST", f"/api/assignments/{lease}/submit/", headers=headers, body=body)
        t2 = time.perf_counter()
        if status != 201:
            out["errors"].append(f"submit {status} {data[:200]!r}")
            continue
        out["a"].append(t1 - t0)
        out["b"].append(t2 - t1)
        out["acked"].append(json.loads(data)["id"])


_PAGE_KEY = re.compile(rb'name="idempotency_key" value="([^"]+)"')


def _htmx_loop(port: int, slug: str, session: str, deadline: float, out: dict) -> None:
    csrf = secrets.token_hex(16)  # a 32-character CSRF secret, sent as cookie and header
    page_headers = {"Cookie": f"sessionid={session}; csrftoken={csrf}", "X-CSRFToken": csrf,
                    "Content-Type": "application/x-www-form-urlencoded"}
    hx_headers = {**page_headers, "HX-Request": "true"}
    # The first page, as the browser loads it (the queue's "Start labeling" form, then the whole task page).
    status, head, _ = _request(port, "POST", f"/projects/{slug}/label/next/", headers=page_headers)
    location = head.get("Location") or ""
    if status != 302 or not re.search(r"/label/\d+/$", location):
        out["errors"].append(f"next {status} {location}")
        return
    status, _, page = _request(port, "GET", location, headers=page_headers)
    if status != 200:
        out["errors"].append(f"task page {status}")
        return
    while time.time() < deadline:
        key = _PAGE_KEY.search(page)
        if key is None:
            out["errors"].append(f"no label form at {location}: {page[:200]!r}")
            break
        body = b"winner=A&idempotency_key=" + key.group(1)
        t0 = time.perf_counter()
        status, head, page = _request(port, "POST", location + "submit/", headers=hx_headers, body=body)
        t1 = time.perf_counter()
        if status != 200:
            out["errors"].append(f"submit {status} {page[:200]!r}")
            break
        out["a"].append(t1 - t0)
        out["acked"].append(int(location.rstrip("/").split("/")[-1]))  # the lease it labeled
        if head.get("HX-Redirect"):
            break  # the queue: nothing left
        location = head.get("HX-Push-Url") or ""
        if not re.search(r"/label/\d+/$", location):
            out["errors"].append(f"submit answered without HX-Push-Url: {page[:200]!r}")
            break


def _client_process(port, path, slug, creds, deadline, queue):
    results = [{"a": [], "b": [], "acked": [], "errors": []} for _ in creds]
    loop = _rest_loop if path == "rest" else _htmx_loop
    threads = [threading.Thread(target=loop, args=(port, slug, cred, deadline, res)) for cred, res in
               zip(creds, results)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged = {key: [v for res in results for v in res[key]] for key in ("a", "b", "acked", "errors")}
    usage = os.times()
    merged["cpu_s"] = usage.user + usage.system
    queue.put(merged)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# -- one run ----------------------------------------------------------------------------------------------------
def make_project(ctx: dict, path: str, k: int, n_items: int, triggers: bool = True):
    from annotation.models import Membership, Project

    slug = f"loop-{path}-{k}-{n_items}-{uuid.uuid4().hex[:6]}"
    project = Project.objects.create(slug=slug, name=slug, overlap=ctx["overlap"], created_by=ctx["owner"])
    load_s = load_items(ctx["url"], project.pk, n_items, triggers=triggers)
    Membership.objects.bulk_create([Membership(project=project, user=u, role="annotator") for u in ctx["users"]])
    return project, load_s


def run_once(*, ctx: dict, path: str, k: int, n_items: int, seconds: float, project=None, load_s: float = 0.0
             ) -> dict:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    if project is None:
        project, load_s = make_project(ctx, path, k, n_items)
    slug = project.slug
    users = ctx["users"][:k]
    if path == "rest":
        creds = [ctx["tokens"][u.pk] for u in users]
    else:
        creds = []
        for user in users:
            session = SessionStore()
            session[SESSION_KEY] = str(user.pk)
            session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]  # the one that checks passwords
            session[HASH_SESSION_KEY] = user.get_session_auth_hash()
            session.create()
            creds.append(session.session_key)
    server = Server(ctx["env"], ctx["workers"])
    load_before = open("/proc/loadavg").read().split()[:3]
    procs_n = min(k, ctx["clients"])
    shares = [creds[i::procs_n] for i in range(procs_n)]
    server_pids = server.pids()
    backends = set(_backends(ctx["url"], ctx["dbname"]))
    ticks0 = {pid: _cpu_ticks(pid) for pid in server_pids} | {pid: _cpu_ticks(pid) for pid in backends}
    queue = mp.Queue()
    began = time.time()
    deadline = began + seconds
    clients = [mp.Process(target=_client_process, args=(server.port, path, slug, share, deadline, queue))
               for share in shares]
    for proc in clients:
        proc.start()
    parts = [queue.get() for _ in clients]
    for proc in clients:
        proc.join()
    elapsed = time.time() - began
    backends_after = set(_backends(ctx["url"], ctx["dbname"]))
    # A process that ended during the run (none should) is left out rather than counted negative.
    server_ticks = sum(max(_cpu_ticks(pid) - ticks0.get(pid, 0), 0) for pid in set(server_pids) | set(server.pids()))
    db_ticks = sum(max(_cpu_ticks(pid) - ticks0.get(pid, 0), 0) for pid in backends | backends_after)
    load_after = open("/proc/loadavg").read().split()[:3]
    statements = server.stop()
    a = [v for part in parts for v in part["a"]]
    b = [v for part in parts for v in part["b"]]
    acked = [v for part in parts for v in part["acked"]]
    errors = [v for part in parts for v in part["errors"]]
    labels = len(acked)
    with _psycopg(ctx["url"]) as conn:
        over = conn.execute(
            "SELECT count(*) FROM (SELECT l.item_id FROM annotation_label l JOIN annotation_item i ON i.id = l.item_id "
            "WHERE i.project_id = %s GROUP BY l.item_id HAVING count(*) > %s) x", [project.pk, ctx["overlap"]]
        ).fetchone()[0]
        dup = conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM annotation_label l JOIN annotation_item i ON i.id = l.item_id "
            "WHERE i.project_id = %s GROUP BY l.item_id, l.annotator_id HAVING count(*) > 1) x", [project.pk]
        ).fetchone()[0]
        if path == "rest":
            stored = {row[0] for row in conn.execute(
                "SELECT id FROM annotation_label WHERE id = ANY(%s)", [acked])}
        else:  # the page acknowledges a lease labeled: its label must exist
            stored = {row[0] for row in conn.execute(
                "SELECT a.id FROM annotation_assignment a JOIN annotation_label l ON l.item_id = a.item_id "
                "AND l.annotator_id = a.annotator_id WHERE a.id = ANY(%s) AND a.status = 'submitted'", [acked])}
        in_db = conn.execute(
            "SELECT count(*) FROM annotation_label l JOIN annotation_item i ON i.id = l.item_id "
            "WHERE i.project_id = %s", [project.pk]).fetchone()[0]
    lost = len(set(acked) - stored)
    # REST: two calls per label; htmx: one (the submit, answered with the next task page).
    calls = {"next": a, "submit": b} if path == "rest" else {"submit+next page": a}
    return {
        "path": path, "k": k, "items": n_items, "seconds": round(elapsed, 1), "labels": labels,
        "labels_in_db": in_db, "labels_per_s": round(labels / elapsed, 1),
        **{name: {"p50": _pct(v, 0.5), "p95": _pct(v, 0.95), "p99": _pct(v, 0.99)} for name, v in calls.items()},
        "sql_per_label": round(statements / labels, 2) if labels else None,
        "server_cpu_ms_per_label": round(1000 * server_ticks / CLOCK_TICKS / labels, 2) if labels else None,
        "db_cpu_ms_per_label": round(1000 * db_ticks / CLOCK_TICKS / labels, 2) if labels else None,
        "client_cpu_ms_per_label": round(1000 * sum(p["cpu_s"] for p in parts) / labels, 2) if labels else None,
        "over_assigned": over, "duplicated": dup, "lost": lost, "errors": len(errors), "error_sample": errors[:3],
        "load_before": " ".join(load_before), "load_after": " ".join(load_after), "load_items_s": round(load_s, 1),
    }


def _row(r: dict) -> str:
    calls = [f"{key}: {r[key]['p50']:.0f} / {r[key]['p95']:.0f} / {r[key]['p99']:.0f}"
             for key in r if isinstance(r[key], dict)] + ["–"]
    return (f"| {r['path']} | {r['k']} | {r['items']:,} | {r['labels_per_s']} | {calls[0]} | "
            f"{calls[1]} | {r['sql_per_label']} | {r['server_cpu_ms_per_label']} + "
            f"{r['db_cpu_ms_per_label']} | {r['over_assigned']} / {r['duplicated']} / {r['lost']} | {r['errors']} | "
            f"{r['load_before']} → {r['load_after']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--ks", default="1,8,32,64")
    parser.add_argument("--paths", default="rest,htmx")
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--overlap", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (make web: WEB_WORKERS)")
    parser.add_argument("--clients", type=int, default=4, help="client processes the K annotators are shared by")
    parser.add_argument("--big", type=int, default=0, help="also compare next p95 at this many open items")
    parser.add_argument("--big-k", type=int, default=8)
    parser.add_argument("--json", help="write the results here too")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()

    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prefstudio")
    # Named after DATABASE_URL's database (a per-user prefix on a shared cluster), then this process.
    dbname = f"{urlsplit(base).path.lstrip('/') or 'prefstudio'}_bench_{os.getpid()}"
    url = _db_url(base, dbname)
    with _psycopg(_db_url(base, "postgres")) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "0", "ALLOWED_HOSTS": "127.0.0.1,localhost",
           "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
           "API_THROTTLE_USER": "100000000/minute", "DB_CONN_MAX_AGE": "600"}
    results = []
    try:
        t0 = time.time()
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        print(f"[bench] migrated {dbname} in {time.time() - t0:.0f} s", file=sys.stderr)
        os.environ.update(env)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prefstudio.settings")
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.contrib.auth.hashers import make_password
        from django.db import connection

        from annotation.services.accounts import api_token_get_or_create

        ks = [int(k) for k in args.ks.split(",") if k]
        n_users = max(ks + [args.big_k if args.big else 0])
        password = make_password("bench-loop-password-123")  # hashed once, shared: the loop never logs in
        User = get_user_model()
        owner = User.objects.create(username="bench-owner", password=password, is_staff=True)
        users = User.objects.bulk_create([User(username=f"annotator{i:02d}", password=password)
                                          for i in range(n_users)])
        tokens = {u.pk: api_token_get_or_create(user=u) for u in users}
        connection.close()
        ctx = {"url": url, "dbname": dbname, "env": env, "workers": args.workers, "clients": args.clients,
               "overlap": args.overlap, "owner": owner, "users": users, "tokens": tokens}
        for path in [p for p in args.paths.split(",") if p]:
            for k in ks:
                result = run_once(ctx=ctx, path=path, k=k, n_items=args.items, seconds=args.seconds)
                print("[bench]", json.dumps(result), file=sys.stderr)
                results.append(result)
        if args.big:  # the same two projects, runs interleaved: small, big, small, big
            small = make_project(ctx, "rest", args.big_k, args.items)
            big = make_project(ctx, "rest", args.big_k, args.big, triggers=False)
            print(f"[bench] {args.big:,} items built in {big[1]:.0f} s", file=sys.stderr)
            for n_items, (project, load_s) in ((args.items, small), (args.big, big)) * 2:
                result = run_once(ctx=ctx, path="rest", k=args.big_k, n_items=n_items, seconds=args.seconds,
                                  project=project, load_s=load_s)
                print("[bench]", json.dumps(result), file=sys.stderr)
                results.append({**result, "size_comparison": True})
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            with _psycopg(_db_url(base, "postgres")) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    print("| path | K | items | labels/s | call 1 p50/p95/p99 ms | call 2 p50/p95/p99 ms | SQL/label | "
          "CPU ms/label server + db | over / dup / lost | errors | load 1/5/15 before → after |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for result in results:
        print(_row(result) + (f" (size comparison; items built in {result['load_items_s']} s)"
                              if result.get("size_comparison") else ""))
    # Issue 13 item 4: the browser's loop within 25 % of the API's, compared within this run (same load).
    rates = {(r["path"], r["k"]): r["labels_per_s"] for r in results if not r.get("size_comparison")}
    for k in sorted({k for _, k in rates}):
        if rates.get(("rest", k)) and ("htmx", k) in rates:
            print(f"K = {k}: htmx / REST labels/s = {rates[('htmx', k)] / rates[('rest', k)]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
