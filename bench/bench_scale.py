"""Scale benchmark (issue 16): generated 10k / 100k / 1M-item projects through the real commands.

    .venv/bin/python bench/bench_scale.py                      # 10k, 100k and 1M items (see --estimate)
    .venv/bin/python bench/bench_scale.py --quick              # the quick check: 10k and 100k only
    .venv/bin/python bench/bench_scale.py --estimate           # how long a run would take, without running it
    .venv/bin/python bench/bench_scale.py --sizes 1m --export-only --rounds 3 --database-url URL
                                                               # the export step alone, on a --keep run's database

For each size it writes a seeded native-format JSONL file (pairwise items, each with 3 human votes
from a pool of 30 annotators, so curation has something to aggregate; a quarter of the prompts asked
again), then runs, each as a `manage.py` subprocess or over HTTP:

    import     manage.py import_data --format native             vs COPY of the same rows into the same tables
    curate     manage.py curate                                  vs COPY of the version's rows into DatasetRow
    export     manage.py export_data --split all (jsonl, parquet) vs COPY (SELECT the version's rows) TO STDOUT
    rest       GET .../export/?encoding=jsonl over HTTP (time to first byte, total)
    pages      the project page, the dataset-rows table (first and a deep page, HTML and API), the agreement
               and curation (noise, routing) pages, the review queue (HTML and API): median and max of 5 GETs

against gunicorn (DEBUG=0, one worker) on a dedicated database, which it creates, migrates and drops
at the end (`--keep` keeps it). Each command's peak RSS is that child's own (os.wait4's ru_maxrss);
the server's is the worker's VmHWM after the requests. The COPY baselines run in the same process and
the same run, in a transaction that is rolled back: "prepared rows" are the rows the import (or
curate) wrote, dumped beforehand in COPY format with ids moved past the table's, so the timed part
is PostgreSQL loading them, index upkeep and foreign-key checks included. ratio = COPY seconds /
command seconds (1.0 = as fast as COPY). It prints a table and its total time; what each part
took also goes to stderr as it runs. It drives only `manage.py` and HTTP, so it measures whatever
import / curate / export code is checked out.
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SEED = 20261203
PAGE_REPEAT = 5
USER, PASSWORD = "bench-owner", "a-long-bench-password-16"
# Words for generated texts; a tenth of the sentences carry a non-ASCII or escaped character, as real data does.
_WORDS = (
    "model answer question data training reward policy token context prompt language system user value "
    "function result example method approach problem solution error memory network layer gradient loss "
    "sample batch update step rate score rank order label review quality safety helpful honest harmless "
    "clear short long simple complex fast slow first second final better worse good bad correct wrong "
    "city river mountain history science music garden recipe travel weather market health energy water"
).split()
_RARE = ["café", "naïve", "東京", "😀", "`\\n`", "\"quoted\""]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_size(text: str) -> int:
    """'10k' -> 10000, '1m' -> 1000000, '2500' -> 2500."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 10k, 100k, 1m)")
    scale = {"": 1, "k": 1000, "m": 1_000_000}[match.group(2).lower()]
    return int(float(match.group(1)) * scale)


def size_name(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)


# --- the data --------------------------------------------------------------------------------------------
def generate(path: Path, n: int, seed: int = SEED) -> None:
    """`n` native pairwise items with 3 votes each (the same file for the same n and seed).

    Each item has a true winner; each vote agrees with it with probability 0.8 (0.05 tie), so a fifth of
    the items have a split vote and curation's aggregation and noise scores have work to do.
    """
    rng = random.Random(seed)
    sentences = []
    for _ in range(3000):
        words = rng.choices(_WORDS, k=rng.randint(8, 16))
        if rng.random() < 0.1:
            words[rng.randrange(len(words))] = rng.choice(_RARE)
        sentences.append(" ".join(words).capitalize() + ".")
    annotators = [f"annotator-{k:02d}" for k in range(30)]
    prompts: list[str] = []
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    tmp = path.with_suffix(".part")
    with open(tmp, "w", encoding="utf-8") as out:
        for i in range(n):
            if prompts and rng.random() < 0.25:
                prompt = rng.choice(prompts)
            else:
                topic = " ".join(rng.choices(_WORDS, k=rng.randint(4, 10)))
                prompt = f"How do I {topic}? {rng.choice(sentences)}"
                if len(prompts) < 200_000:
                    prompts.append(prompt)
            a = " ".join(rng.choices(sentences, k=rng.randint(2, 4)))
            b = " ".join(rng.choices(sentences, k=rng.randint(2, 4)))
            truth = rng.choice("AB")
            labels = []
            for name in rng.sample(annotators, 3):
                r = rng.random()
                winner = truth if r < 0.8 else "tie" if r < 0.85 else ("B" if truth == "A" else "A")
                labels.append({"annotator": name, "annotator_kind": "human", "winner": winner})
            record = {
                "id": f"s-{i}", "kind": "pairwise", "prompt": prompt,
                "responses": [{"text": a, "model": "model-a"}, {"text": b, "model": "model-b"}],
                "labels": labels,
            }
            out.write(dumps(record) + "\n")
    tmp.rename(path)


# --- subprocesses and their peak memory -------------------------------------------------------------------
class Measured:
    def __init__(self, seconds: float, rss_mb: float, stdout: str, stderr: str) -> None:
        self.seconds, self.rss_mb, self.stdout, self.stderr = seconds, rss_mb, stdout, stderr


def run(args: list[str], env: dict[str, str], *, check: bool = True) -> Measured:
    """Run a command; its wall time and peak RSS (ru_maxrss of that child alone, from wait4)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        child = subprocess.Popen(args, stdout=out, stderr=err, env=env, cwd=ROOT)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - began
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if check and child.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({child.returncode}):\n{stdout[-3000:]}\n{stderr[-3000:]}")
    return Measured(seconds, usage.ru_maxrss / 1024, stdout, stderr)


def manage(*args: str, env: dict[str, str], check: bool = True) -> Measured:
    return run([PYTHON, "manage.py", *args], env, check=check)


# --- PostgreSQL baselines -----------------------------------------------------------------------------------
def _columns(cur, table: str) -> list[str]:
    cur.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
        "ORDER BY attnum", [table],
    )
    return [r[0] for r in cur.fetchall()]


def _foreign_keys(cur, table: str) -> dict[str, str]:
    """column -> referenced table, for the single-column foreign keys of `table`."""
    cur.execute(
        "SELECT a.attname, c.confrelid::regclass::text FROM pg_constraint c "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
        "WHERE c.contype = 'f' AND c.conrelid = %s::regclass", [table],
    )
    return dict(cur.fetchall())


def copy_baseline(url: str, plan: list[tuple[str, str, dict[str, str]]], workdir: Path, *,
                  queue_of: int | None = None) -> float:
    """Seconds PostgreSQL takes to COPY the rows `plan` selects back into the same tables (rolled back).

    plan: (table, WHERE clause, {column: SQL expression}) in foreign-key order. The rows are dumped
    first (not timed) with every id moved past the table's largest and every reference to a table of
    the plan moved with it, so they insert as new rows; the timed part is the COPYs, with foreign keys
    checked per statement, as the import does. `queue_of`: the id of a project of the plan whose items are
    copied; their queue slots are then made as the import makes them (the row trigger skipped, one
    ps_queue_rebuild of the new project, which for a new project is what ps_queue_items_added does), timed.
    """
    import psycopg

    files, shift = [], {}
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        for table, _, _ in plan:
            cur.execute(f"SELECT coalesce(max(id), 0) + 1000000 FROM {table}")
            shift[table] = cur.fetchone()[0]
        for table, where, overrides in plan:
            columns, fks = _columns(cur, table), _foreign_keys(cur, table)
            exprs = []
            for column in columns:
                if column in overrides:
                    exprs.append(overrides[column])
                elif column == "id":
                    exprs.append(f"id + {shift[table]}")
                elif fks.get(column) in shift:
                    exprs.append(f"{column} + {shift[fks[column]]}")
                else:
                    exprs.append(column)
            path = workdir / f"{table}.copy"
            with open(path, "wb") as out, cur.copy(f"COPY (SELECT {', '.join(exprs)} FROM {table} WHERE {where}) "
                                                   "TO STDOUT") as copy:
                for block in copy:
                    out.write(block)
            files.append((table, columns, path))
        conn.rollback()
        began = time.perf_counter()
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        if queue_of is not None:
            cur.execute("SET LOCAL prefstudio.queue_bulk = 'on'")
        for table, columns, path in files:
            with open(path, "rb") as data, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                while block := data.read(1 << 20):
                    copy.write(block)
        if queue_of is not None:
            cur.execute("SET LOCAL prefstudio.queue_bulk = 'off'")
            cur.execute("SELECT ps_queue_rebuild(%s)", [queue_of + shift["annotation_project"]])
        seconds = time.perf_counter() - began
        conn.rollback()
    for _, _, path in files:
        path.unlink()
    return seconds


def copy_out_seconds(url: str, query: str) -> tuple[float, int]:
    """Seconds to read `COPY (query) TO STDOUT` to the end, and the bytes read."""
    import psycopg

    size = 0
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        began = time.perf_counter()
        with cur.copy(f"COPY ({query}) TO STDOUT") as copy:
            for block in copy:
                size += len(block)
        return time.perf_counter() - began, size


def scalar(url: str, query: str, params: list | None = None, *, row: bool = False):
    """The query's first value (`row`: its first row, None when there is none)."""
    import psycopg

    with psycopg.connect(url) as conn:
        found = conn.execute(query, params or []).fetchone()
        return found if row else found[0]


# --- the server and HTTP ----------------------------------------------------------------------------------
class Server:
    """gunicorn with one sync worker, DEBUG=0, on a free port."""

    def __init__(self, env: dict[str, str]) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [str(Path(PYTHON).parent / "gunicorn"), "prefstudio.wsgi", "--bind", f"127.0.0.1:{self.port}",
             "--workers", "1", "--timeout", "600"],
            env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 300  # the worker imports Django and the app on a busy machine
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.base + "/accounts/login/", timeout=60).read()
                return
            except OSError:  # refused while it starts; URLError and timeouts are OSErrors
                time.sleep(0.2)
        self.stop()
        sys.exit("gunicorn did not start")

    def worker_peak_mb(self) -> float:
        """VmHWM of the worker process (the master's child)."""
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
            status = Path(f"/proc/{children[0]}/status").read_text()
            return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024
        except (OSError, IndexError, AttributeError):
            return float("nan")

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


class Client:
    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def login(self) -> None:
        page = self.opener.open(self.base + "/accounts/login/").read().decode()
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({"username": USER, "password": PASSWORD, "csrfmiddlewaretoken": csrf}).encode()
        request = urllib.request.Request(self.base + "/accounts/login/", data=data,
                                         headers={"Referer": self.base + "/accounts/login/"})
        self.opener.open(request).read()
        if not any(c.name == "sessionid" for c in self.jar):
            sys.exit("could not log in to the benchmark server")

    def get(self, path: str, *, api: bool = False, first_byte: bool = False) -> tuple[int, float, float, int]:
        """(status, seconds to the first byte, seconds in all, bytes) of one GET."""
        headers = {"Authorization": f"Token {self.token}"} if api else {}
        request = urllib.request.Request(self.base + path, headers=headers)
        began = time.perf_counter()
        try:
            response = (urllib.request.urlopen if api else self.opener.open)(request, timeout=600)
        except urllib.error.HTTPError as exc:
            body = exc.read()
            return exc.code, time.perf_counter() - began, time.perf_counter() - began, len(body)
        size = len(response.read(1))
        ttfb = time.perf_counter() - began
        while block := response.read(1 << 20):
            size += len(block)
        return response.status, ttfb, time.perf_counter() - began, size


# --- one size -------------------------------------------------------------------------------------------
Row = dict


def bench_size(n: int, *, url: str, env: dict[str, str], data_dir: Path, token: str, rows: list[Row],
               import_only: bool = False) -> None:
    name = size_name(n)
    slug = f"scale-{name.lower()}"
    path = data_dir / f"scale-{n}-{SEED}.jsonl"
    if not path.exists():
        began = time.perf_counter()
        generate(path, n)
        log(f"{name}: generated {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - began:.0f} s")
    work = Path(tempfile.mkdtemp(prefix="bench-scale-", dir=data_dir))
    try:
        # What every command pays before its work: Python, Django and the app imported (`manage.py check`).
        m = manage("check", env=env)
        rows.append(dict(size=name, phase="startup (check)", seconds=m.seconds, rate=None, rss=m.rss_mb, copy=None,
                         note="manage.py check: included in every command's time"))
        # import
        m = manage("import_data", str(path), "--project", slug, "--format", "native", "--owner", USER, env=env)
        log(f"{name}: import {m.seconds:.1f} s, peak RSS {m.rss_mb:.0f} MB: {m.stdout.strip()}")
        pid = scalar(url, "SELECT id FROM annotation_project WHERE slug = %s", [slug])
        items = f"item_id IN (SELECT id FROM annotation_item WHERE project_id = {pid})"
        plan = [
            ("annotation_project", f"id = {pid}", {"slug": "slug || '-copy'"}),
            ("annotation_prompt", f"project_id = {pid}", {}),
            ("annotation_response", f"prompt_id IN (SELECT id FROM annotation_prompt WHERE project_id = {pid})", {}),
            ("annotation_item", f"project_id = {pid}", {}),
            ("annotation_itemresponse", items, {}),
            ("annotation_label", items, {}),
        ]
        copy = copy_baseline(url, plan, work, queue_of=pid)
        log(f"{name}: COPY of the imported rows {copy:.1f} s: ratio {copy / m.seconds:.2f}")
        rows.append(dict(size=name, phase="import", seconds=m.seconds, rate=n / m.seconds, rss=m.rss_mb,
                         copy=copy, note=f"{n:,} items, {3 * n:,} labels"))
        if import_only:
            return
        # curate
        # Without the embedding signals (near-duplicates, reward-model ensemble), as issue 16 measures it: they
        # load all-MiniLM, whose cost is the model's, not the version's size.
        m = manage("curate", slug, "--set", "embeddings=false", env=env)
        version = int(re.search(rf"{slug} v(\d+):", m.stdout).group(1))
        vid = scalar(url, "SELECT id FROM annotation_datasetversion WHERE project_id = %s AND number = %s",
                     [pid, version])
        n_rows = scalar(url, "SELECT count(*) FROM annotation_datasetrow WHERE version_id = %s", [vid])
        log(f"{name}: curate {m.seconds:.1f} s, peak RSS {m.rss_mb:.0f} MB: {m.stdout.splitlines()[0]}")
        copy = copy_baseline(url, [
            ("annotation_datasetversion", f"id = {vid}", {"number": "number + 1000000"}),
            ("annotation_datasetrow", f"version_id = {vid}", {}),
        ], work)
        log(f"{name}: COPY of the version's rows {copy:.1f} s: ratio {copy / m.seconds:.2f}")
        rows.append(dict(size=name, phase="curate", seconds=m.seconds, rate=n / m.seconds, rss=m.rss_mb,
                         copy=copy, note=f"{n_rows:,} rows (COPY: the rows into DatasetRow)"))
        copy_out = bench_export(name, slug, version, vid, n_rows, url=url, env=env, work=work, rows=rows)
        # REST export and pages
        server = Server(env)
        try:
            client = Client(server.base, token)
            client.login()
            api_export = f"/api/projects/{slug}/datasets/{version}/export/?format=trl&encoding=jsonl&split=all"
            status, ttfb, total, size = client.get(api_export, api=True)
            log(f"{name}: REST export {status} first byte {ttfb:.2f} s, all {total:.1f} s, {size / 1e6:.0f} MB")
            rows.append(dict(size=name, phase="rest export jsonl", seconds=total, rate=n_rows / total,
                             rss=server.worker_peak_mb(), copy=copy_out,
                             note=f"HTTP {status}, first byte {ttfb * 1000:.0f} ms, {size / 1e6:.0f} MB"))
            deep = max(1, n_rows // 25 // 2)
            pages = [
                ("project list", "/", False),
                ("project page", f"/projects/{slug}/dashboard/", False),
                ("dataset rows", f"/projects/{slug}/datasets/{version}/", False),
                ("dataset rows deep", f"/projects/{slug}/datasets/{version}/?page={deep}", False),
                ("dataset rows api", f"/api/projects/{slug}/datasets/{version}/rows/", True),
                ("agreement", f"/projects/{slug}/agreement/", False),
                ("curation/noise", f"/projects/{slug}/curation/", False),
                ("review queue", f"/projects/{slug}/review/", False),
                ("review queue api", f"/api/projects/{slug}/review/", True),
            ]
            for label, page, api in pages:
                timings, status = [], 0
                for _ in range(PAGE_REPEAT + 1):  # the first one warms the caches and is not counted
                    status, _, total, size = client.get(page, api=api)
                    timings.append(total)
                    if total > 30:  # far over the target: one is enough
                        break
                counted = timings[1:] or timings
                median = statistics.median(counted)
                slowest = max(counted)
                log(f"{name}: page {label}: HTTP {status}, median {median * 1000:.0f} ms, max {slowest * 1000:.0f} ms")
                rows.append(dict(size=name, phase=f"page: {label}", seconds=median, rate=None,
                                 rss=server.worker_peak_mb(), copy=None,
                                 note=f"HTTP {status}, max {slowest * 1000:.0f} ms, first {timings[0] * 1000:.0f} ms, "
                                      f"{size / 1e3:.0f} kB"))
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench_export(name: str, slug: str, version: int, vid: int, n_rows: int, *, url: str, env: dict[str, str],
                 work: Path, rows: list[Row]) -> float:
    """`export_data` of the version as jsonl and Parquet, after its COPY TO STDOUT baseline; the baseline's seconds."""
    copy_out, _ = copy_out_seconds(url, f"SELECT * FROM annotation_datasetrow WHERE version_id = {vid}")
    log(f"{name}: COPY of the version's rows TO STDOUT {copy_out:.2f} s")
    for encoding in ("jsonl", "parquet"):
        out = work / f"export.{encoding}"
        m = manage("export_data", slug, str(version), "--format", "trl", "--encoding", encoding,
                   "--split", "all", "--out", str(out), "--force", env=env)
        size = out.stat().st_size if out.exists() else 0
        log(f"{name}: export {encoding} {m.seconds:.1f} s, peak RSS {m.rss_mb:.0f} MB, {size / 1e6:.0f} MB, "
            f"ratio {copy_out / m.seconds:.2f}")
        rows.append(dict(size=name, phase=f"export {encoding}", seconds=m.seconds, rate=n_rows / m.seconds,
                         rss=m.rss_mb, copy=copy_out, note=f"{size / 1e6:.0f} MB (COPY: DatasetRow TO STDOUT)"))
        if out.exists():
            out.unlink()
    return copy_out


def export_only(sizes: list[int], rounds: int, *, url: str, env: dict[str, str], data_dir: Path,
                rows: list[Row]) -> None:
    """The export step alone, `rounds` times, on the projects a `--keep` run left (their latest versions)."""
    for k in range(rounds):
        for n in sizes:
            name = size_name(n)
            slug = f"scale-{name.lower()}"
            found = scalar(url, "SELECT v.id, v.number FROM annotation_datasetversion v JOIN annotation_project p "
                                "ON p.id = v.project_id WHERE p.slug = %s ORDER BY v.number DESC LIMIT 1", [slug],
                           row=True)
            if found is None:
                sys.exit(f"no version of {slug} in the database: run with --keep first")
            vid, version = found
            n_rows = scalar(url, "SELECT count(*) FROM annotation_datasetrow WHERE version_id = %s", [vid])
            work = Path(tempfile.mkdtemp(prefix="bench-scale-", dir=data_dir))
            try:
                log(f"round {k + 1}: load {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
                bench_export(name, slug, version, vid, n_rows, url=url, env=env, work=work, rows=rows)
            finally:
                shutil.rmtree(work, ignore_errors=True)


def print_table(rows: list[Row]) -> None:
    print(f"{'size':>5}  {'phase':<22} {'seconds':>9} {'per s':>10} {'peak RSS':>9} {'COPY s':>8} {'ratio':>6}  note")
    for r in rows:
        per_s = f"{r['rate']:,.0f}" if r["rate"] else ""
        copy = f"{r['copy']:.2f}" if r["copy"] is not None else ""
        ratio = f"{r['copy'] / r['seconds']:.2f}" if r["copy"] is not None else ""
        in_ms = r["seconds"] < 1 and r["copy"] is None
        seconds = f"{r['seconds'] * 1000:.0f} ms" if in_ms else f"{r['seconds']:.2f}"
        print(f"{r['size']:>5}  {r['phase']:<22} {seconds:>9} {per_s:>10} {r['rss']:>6.0f} MB {copy:>8} {ratio:>6}  "
              f"{r['note']}")


def _database(url: str, *, create: bool) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')


# Seconds per 1,000 items of one size's whole run (generate, import, curate, export, REST, pages) and per size, fitted
# to `--quick` on the shared 2-core machine at load 7-13 (bench/RESULTS.md, 2026-12-03 15:12-15:30: 10k 207 s,
# 100k 740 s): the estimate printed before a run. Times grow with the load: at load 20-30 expect 3x more.
SECONDS_PER_1K_ITEMS = 5.9
FIXED_SECONDS = 150  # per size: a command's start-up (~30 s at that load) for each of its 5 commands, the server


def estimate_seconds(sizes: list[int]) -> float:
    return FIXED_SECONDS * len(sizes) + SECONDS_PER_1K_ITEMS * sum(sizes) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10k,100k,1m", help="Comma-separated item counts (default 10k,100k,1m)")
    parser.add_argument("--quick", action="store_true", help="10k and 100k only (the quick check)")
    parser.add_argument("--estimate", action="store_true", help="Print how long the run would take, and stop")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL",
                                                                 "postgres://postgres@127.0.0.1:5432/ps_bench_scale"),
                        help="A database for the benchmark alone: dropped and created (its name must contain 'bench')")
    parser.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(), "bench_scale"),
                        help="Where the generated files are kept (re-used by later runs)")
    parser.add_argument("--keep", action="store_true", help="Keep the database at the end")
    parser.add_argument("--export-only", action="store_true",
                        help="Only the export step (jsonl, Parquet, each after its COPY baseline), --rounds times, on "
                             "the projects a --keep run left in the database (which is kept)")
    parser.add_argument("--rounds", type=int, default=1, help="Rounds of --export-only (default 1)")
    parser.add_argument("--import-only", action="store_true",
                        help="Only the start-up and the import with its COPY baseline (a quick check of item 3)")
    args = parser.parse_args()
    sizes = [parse_size(s) for s in ("10k,100k" if args.quick else args.sizes).split(",")]
    expected = estimate_seconds(sizes)
    if not args.export_only:
        log(f"expected duration at load ~10: about {expected / 60:.0f} min "
            f"({', '.join(f'{size_name(n)} ~{estimate_seconds([n]) / 60:.0f} min' for n in sizes)})")
    if args.estimate:
        print(f"bench_scale {','.join(map(size_name, sizes))}: about {expected / 60:.0f} min at load ~10")
        return
    url = args.database_url
    if "bench" not in urlsplit(url).path:
        sys.exit("--database-url must name a database whose name contains 'bench': it is dropped")
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret"),
           "DEBUG": "0", "ALLOWED_HOSTS": "127.0.0.1,localhost", "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}
    # The 1M file is ~1 GB, over the import's default 512 MiB limit on a file (an operator's setting; the REST
    # upload has its own): raised here, as an operator importing such a file would, unless set already.
    env.setdefault("PREFSTUDIO_IMPORT_MAX_DECOMPRESSED_BYTES", str(4 << 30))
    started = time.perf_counter()
    load = Path("/proc/loadavg").read_text().split()[:3]
    log(f"sizes {', '.join(map(size_name, sizes))}; database {urlsplit(url).path.lstrip('/')}; load {' '.join(load)}")
    rows: list[Row] = []
    if args.export_only:
        export_only(sizes, args.rounds, url=url, env=env, data_dir=data_dir, rows=rows)
        print(f"bench_scale --export-only {time.strftime('%Y-%m-%d %H:%M')} UTC, load at start {' '.join(load)}, "
              f"at end {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
        print_table(rows)
        return
    _database(url, create=True)
    try:
        manage("migrate", "--noinput", env=env)
        manage("createsuperuser", "--noinput", env={**env, "DJANGO_SUPERUSER_USERNAME": USER,
                                                    "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
                                                    "DJANGO_SUPERUSER_EMAIL": "bench@example.invalid"})
        token = manage("api_token", USER, env=env).stdout.strip()
        size_seconds = {}
        for n in sizes:
            began = time.perf_counter()
            bench_size(n, url=url, env=env, data_dir=data_dir, token=token, rows=rows, import_only=args.import_only)
            size_seconds[size_name(n)] = time.perf_counter() - began
            log(f"{size_name(n)} done in {size_seconds[size_name(n)]:.0f} s")
    finally:
        if not args.keep:
            _database(url, create=False)
    print(f"bench_scale {time.strftime('%Y-%m-%d %H:%M')} UTC, load at start {' '.join(load)}, "
          f"at end {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    print_table(rows)
    per_size = ", ".join(f"{k} {v:.0f} s" for k, v in size_seconds.items())
    print(f"total {time.perf_counter() - started:.0f} s ({per_size}; generated files are kept in {data_dir})")


if __name__ == "__main__":
    main()
