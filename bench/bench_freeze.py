"""Freezing and export at scale (issue 16 items 1-2): `manage.py curate` and `manage.py export_data` on
generated projects of N pairwise items × 3 human votes, timed as whole commands, with the child's peak RSS,
and the export's rate against PostgreSQL's own `COPY (SELECT ...) TO STDOUT` of the same rows in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ps_bench_freeze .venv/bin/python bench/bench_freeze.py \
        --sizes 10k,100k [--steps build,curate,export,firstbyte,pages,arrays] [--drop]

The projects (`freeze-10k`, ...) are built in SQL (INSERT ... SELECT generate_series: the setup stays
small and takes ~15 s per 100k items); they are kept between runs unless --drop. Each command runs
as a subprocess (`/usr/bin/time -f %M` gives its peak RSS in kB). Curate runs without embeddings (no
LLM stack). Export: `export_data --format trl --encoding jsonl|parquet --split all` of the newest
version; COPY: `COPY (SELECT index, split, kind, item_id, data, weight, provenance FROM dataset_row
WHERE version = V ORDER BY index) TO STDOUT`, read to the end by psycopg in this process, and the export's
own work in this process (no start-up). `firstbyte`: seconds to the REST export's first piece (from the
start and at 90 %); `arrays`: peak memory of the whole-set curation phase alone on compact arrays.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ps_bench_freeze")
os.environ.setdefault("ALLOWED_HOSTS", "localhost")  # the pages step's test client

from bench_import import setup_django  # noqa: E402

VOTES = 3


def _size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * scale)


def _label(n: int) -> str:
    return f"{n // 1_000_000}m" if n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)


def _insert_select(cursor, model, given: dict[str, str], tail: str, params: list) -> None:
    """INSERT INTO model's table (given columns + every other non-null column at its default) SELECT ...

    `given` holds SQL expressions without parameters; `params` are those of `tail`."""
    from annotation.services.bulk import _default

    columns, exprs, values = [], [], []
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        if f.attname in given:
            columns.append(f.column)
            exprs.append(given[f.attname])
            continue
        default = _default(f)
        if default is None and f.null:
            continue
        columns.append(f.column)
        exprs.append("%s::jsonb" if f.get_internal_type() == "JSONField" else "%s")
        values.append(json.dumps(default) if f.get_internal_type() == "JSONField" else default)
    sql = f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(exprs)} {tail}"
    cursor.execute(sql, values + params)


def build(n: int, votes: int = VOTES) -> str:
    """Project freeze-<n>: n pairwise items (2 responses of ~260 characters), `votes` human votes each (from as
    many annotators; freeze-<n>-v<votes> when not 3)."""
    from django.db import connection, transaction

    from annotation.models import Annotator, Item, ItemResponse, Label, Project, Prompt, Response

    slug = f"freeze-{_label(n)}" + ("" if votes == VOTES else f"-v{votes}")
    if Project.objects.filter(slug=slug).exists():
        return slug
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        project = Project.objects.create(slug=slug, name=slug, blind_review=False)
        annotators = [Annotator.objects.get_or_create(name=f"bench-human-{k}", kind="human")[0] for k in range(votes)]
        p = project.pk
        _insert_select(cursor, Prompt, {
            "project_id": str(p), "external_id": "'p' || g",
            "messages": "jsonb_build_array(jsonb_build_object('role', 'user', 'content', "
                        "'How do I ' || md5(g::text) || ' ' || md5((g * 7)::text) || '?'))",
        }, "FROM generate_series(1, %s) g", [n])
        # A and B: 8 md5 words each; every 40th pair identical (near_duplicate), every 7th B a prefix of A.
        words = "(SELECT string_agg(md5(g::text || '{s}' || k::text), ' ') FROM generate_series(1, {m}) k)"
        _insert_select(cursor, Response, {
            "prompt_id": "pr.id", "external_id": "'a'", "text": words.format(s="a", m=8),
        }, "FROM annotation_prompt pr, LATERAL (SELECT substr(pr.external_id, 2)::int AS g) x "
           "WHERE pr.project_id = %s", [p])
        _insert_select(cursor, Response, {
            "prompt_id": "pr.id", "external_id": "'b'",
            "text": f"CASE WHEN g %% 40 = 0 THEN {words.format(s='a', m=8)} "
                    f"WHEN g %% 7 = 0 THEN {words.format(s='a', m=4)} ELSE {words.format(s='b', m=8)} END",
        }, "FROM annotation_prompt pr, LATERAL (SELECT substr(pr.external_id, 2)::int AS g) x "
           "WHERE pr.project_id = %s", [p])
        _insert_select(cursor, Item, {
            "project_id": "pr.project_id", "prompt_id": "pr.id",
            "external_id": "'i' || lpad(substr(pr.external_id, 2), 8, '0')",
            "kind": "'pairwise'", "n_responses": "2", "n_human_labels": str(votes),
        }, "FROM annotation_prompt pr WHERE pr.project_id = %s", [p])
        for position, ext in ((0, "a"), (1, "b")):
            _insert_select(cursor, ItemResponse, {
                "item_id": "it.id", "position": str(position), "response_id": "r.id",
            }, "FROM annotation_item it JOIN annotation_response r ON r.prompt_id = it.prompt_id "
               "AND r.external_id = %s WHERE it.project_id = %s", [ext, p])
        labels_started, label_seconds = time.perf_counter(), []
        for k, annotator in enumerate(annotators):
            # Mostly A; every 10th item one dissenter, every 23rd a tie vote, strengths 1..3. One INSERT of n labels
            # each, through every label trigger (the first one sets n_verdicts on all n items).
            _insert_select(cursor, Label, {
                "item_id": "it.id", "annotator_id": str(annotator.pk), "kind": "'pairwise'",
                "winner": f"CASE WHEN it.id %% 10 = 0 AND {k} = 2 THEN 'B' WHEN it.id %% 23 = {k} THEN 'tie' "
                          f"WHEN it.id %% 31 = 0 THEN 'B' ELSE 'A' END",
                "strength": f"1 + (it.id + {k}) %% 3",
            }, "FROM annotation_item it WHERE it.project_id = %s", [p])
            label_seconds.append(time.perf_counter() - labels_started)
            labels_started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    per_label = sum(label_seconds) / (n * votes) * 1e6
    print(f"built {slug}: {n} items in {time.perf_counter() - started:.1f} s (the label INSERTs: "
          f"{' + '.join(f'{t:.1f}' for t in label_seconds)} s, {per_label:.0f} µs a label)", file=sys.stderr)
    return slug


def run(command: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB, stdout) of a manage.py command in a subprocess."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as stats:
        started = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", stats.name, sys.executable, "manage.py", *command],
                              cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode:
            sys.exit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
        peak = int(stats.read().strip().splitlines()[-1]) / 1024
    return wall, peak, done.stdout


def copy_rate(version_id: int) -> tuple[int, float]:
    """(rows, seconds) of COPY (SELECT the version's rows) TO STDOUT, read to the end."""
    from django.db import connection

    connection.ensure_connection()
    started = time.perf_counter()
    n = 0
    with connection.connection.cursor() as cursor, cursor.copy(
        "COPY (SELECT index, split, kind, item_id, data, weight, provenance FROM annotation_datasetrow "
        "WHERE version_id = %s ORDER BY index) TO STDOUT", [version_id]
    ) as copy:
        for _ in copy:
            n += 1
    return n, time.perf_counter() - started


def inprocess(version, encoding: str) -> tuple[int, float]:
    """(bytes, seconds) of the export's own work in this process: PostgreSQL's lines (and, for parquet,
    Arrow's row groups) written to /dev/null, without the command's start-up."""
    from annotation.curation.export import arrow_schema, export_options, parquet_chunks_from_jsonl
    from annotation.selectors.dataset_lines import dataset_export_lines
    from annotation.selectors.identities import annotator_names_for

    options = export_options(format="trl", encoding=encoding, split="all")
    names = annotator_names_for(project=version.project, user=None, visible=True)
    started = time.perf_counter()
    body = dataset_export_lines(version=version, options=options, names=names)
    if encoding == "parquet":
        body = parquet_chunks_from_jsonl(body, arrow_schema(options))
    size = 0
    with open(os.devnull, "wb") as sink:
        for piece in body:
            size += sink.write(piece)
    return size, time.perf_counter() - started


def first_byte(version) -> list[str]:
    """Seconds until the REST export view's first piece (the start index, then one COPY piece; names lazily),
    from the start and resumed at 90 % of the rows."""
    from annotation.curation.export import arrow_schema, export_options, parquet_chunks_from_jsonl
    from annotation.selectors.dataset_lines import dataset_export_lines, dataset_export_start
    from annotation.selectors.identities import annotator_names_for

    out = []
    for encoding in ("jsonl", "parquet"):
        for offset in (0, int(version.n_rows * 0.9)):
            started = time.perf_counter()
            options = export_options(format="trl", encoding=encoding, split="all")
            start = dataset_export_start(version=version, options=options, offset=offset)
            body = dataset_export_lines(version=version, options=options, offset=offset, start=start,
                                        names=lambda: annotator_names_for(project=version.project, user=None))
            if encoding == "parquet":
                body = parquet_chunks_from_jsonl(body, arrow_schema(options))
            next(iter(body))
            out.append(f"{encoding} offset {offset}: {time.perf_counter() - started:.2f} s")
    return out


PAGES = [  # the pages bench_scale.py times over HTTP, here in-process (Django's test client: no server start)
    ("project page", "/projects/{slug}/dashboard/"),
    ("dataset rows", "/projects/{slug}/datasets/{v}/"),
    ("dataset rows deep", "/projects/{slug}/datasets/{v}/?page={deep}"),
    ("dataset rows api", "/api/projects/{slug}/datasets/{v}/rows/"),
    ("dataset rows api deep", "/api/projects/{slug}/datasets/{v}/rows/?page={deep}"),
    ("agreement", "/projects/{slug}/agreement/"),
    ("curation/noise", "/projects/{slug}/curation/"),
    ("review queue", "/projects/{slug}/review/"),
    ("review queue api", "/api/projects/{slug}/review/"),
]


def pages(slug: str, repeat: int = int(os.environ.get("BENCH_PAGE_REPEAT", "3"))) -> list[str]:
    """Per page of PAGES: status, median and first of `repeat` GETs (ms), SQL queries, and the slowest query."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from annotation.models import DatasetVersion, Membership, Project

    project = Project.objects.get(slug=slug)
    user, _ = get_user_model().objects.get_or_create(username="bench-freeze-owner")
    Membership.objects.get_or_create(project=project, user=user, defaults={"role": "owner"})
    version = DatasetVersion.objects.filter(project=project).order_by("-number").first()
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    out = []
    only = [p.strip() for p in os.environ.get("BENCH_PAGES", "").split(",") if p.strip()]
    for label, url in PAGES:
        if only and label not in only:
            continue
        url = url.format(slug=slug, v=version.number if version else 0,
                         deep=max(1, (version.n_rows if version else 0) // 50 * 9 // 10))
        times, queries = [], 0
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(url, secure=True, HTTP_ACCEPT="application/json" if "/api/" in url else "text/html")
                if hasattr(response, "streaming_content"):
                    b"".join(response.streaming_content)
                times.append(time.perf_counter() - started)
            queries = len(captured.captured_queries)
        slowest = max(captured.captured_queries, key=lambda q: float(q["time"]), default={"time": "0", "sql": ""})
        out.append(f"{label}: HTTP {response.status_code}, median {sorted(times)[len(times) // 2] * 1000:.0f} ms, "
                   f"first {times[0] * 1000:.0f} ms, {queries} queries, slowest {float(slowest['time']) * 1000:.0f} ms: "
                   f"{slowest['sql'][:160]}")
    return out


def arrays_peak(n: int) -> str:
    """Peak RSS growth of the whole-set phase alone (votes → Dawid–Skene → noise report on TextFeatures) for
    n items × 3 votes, in a fresh process (no database)."""
    code = f"""
import sys; sys.path.insert(0, {str(ROOT)!r})
import numpy as np
def mb(key): return int([l for l in open('/proc/self/status') if l.startswith(key)][0].split()[1]) // 1024
from annotation.curation.aggregation import aggregate_pairwise
from annotation.curation.noise import noise_report
from annotation.curation.text import TextFeatures
from annotation.curation.votes import PairwiseVotes
n, rng = {n}, np.random.default_rng(0)
before = mb('VmRSS')
annotators = np.tile(np.arange(3), n)
votes = PairwiseVotes(items=np.repeat(np.arange(n), 3), annotators=annotators,
    values=np.where(rng.random(3 * n) < 0.85, 0, rng.integers(1, 3, 3 * n)).astype(np.int8),
    item_ids=np.arange(1, n + 1), annotator_ids=np.arange(3), annotator_is_judge=np.zeros(3, bool),
    strength=(1 + annotators % 3) / 3.0)
consensus = aggregate_pairwise(votes, method='dawid_skene')
features = TextFeatures(has_pair=np.ones(n, bool), identical=rng.random(n) < 0.02,
    tokens=rng.integers(40, 80, (n, 2)).astype(float), containment=rng.random(n))
noise_report(votes, consensus, texts=features)
print(f'+{{mb("VmHWM") - before}} MB over {{before}} MB')
"""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return f"{done.stdout.strip()} in {time.perf_counter() - started:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10k,100k")
    parser.add_argument("--steps", default="build,curate,export")
    parser.add_argument("--votes", type=int, default=VOTES, help="human votes per item (annotators), default 3")
    parser.add_argument("--drop", action="store_true", help="drop the bench projects' database at the end")
    args = parser.parse_args()
    steps = set(args.steps.split(","))
    setup_django()
    from annotation.models import DatasetVersion

    print(f"load {open('/proc/loadavg').read().strip()}", file=sys.stderr)
    for n in map(_size, args.sizes.split(",")):
        slug = build(n, args.votes) if steps - {"arrays"} else ""
        if "curate" in steps:
            wall, peak, out = run(["curate", slug, "--set", "embeddings=false"])
            print(f"curate {_label(n)}: {wall:.1f} s, peak RSS {peak:.0f} MB | {out.splitlines()[0]}")
        if "export" in steps:
            version = DatasetVersion.objects.filter(project__slug=slug).order_by("-number").first()
            for encoding in ("jsonl", "parquet"):
                with tempfile.TemporaryDirectory() as tmp:
                    rows, copy_s = copy_rate(version.pk)
                    out = Path(tmp) / f"out.{encoding}"
                    wall, peak, _ = run(["export_data", slug, str(version.number), "--format", "trl",
                                         "--encoding", encoding, "--split", "all", "--out", str(out)])
                    rows2, copy_s2 = copy_rate(version.pk)
                    copy_s = min(copy_s, copy_s2)
                    size, own = inprocess(version, encoding)
                    rows3, copy_s3 = copy_rate(version.pk)
                    print(f"export {_label(n)} {encoding}: {rows} rows, {wall:.2f} s ({rows / wall:,.0f} rows/s), "
                          f"peak RSS {peak:.0f} MB, {out.stat().st_size / 1e6:.0f} MB; COPY {copy_s:.2f} s "
                          f"({rows / copy_s:,.0f} rows/s); ratio {copy_s / wall:.2f} | in-process {own:.2f} s "
                          f"({size / 1e6:.0f} MB) vs COPY {copy_s3:.2f} s: ratio {copy_s3 / own:.2f}")
        if "pages" in steps:
            print(f"pages {_label(n)} (in-process, load {open('/proc/loadavg').read().split()[0]}):\n  "
                  + "\n  ".join(pages(slug)))
        if "firstbyte" in steps:
            version = DatasetVersion.objects.filter(project__slug=slug).order_by("-number").first()
            print(f"REST first piece {_label(n)}: " + "; ".join(first_byte(version)))
        if "arrays" in steps:
            print(f"whole-set arrays {_label(n)}: {arrays_peak(n)}")
        print(f"load {open('/proc/loadavg').read().strip()}", file=sys.stderr)
    if args.drop:
        from django.db import connection

        name = connection.settings_dict["NAME"]
        connection.close()
        import psycopg

        with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}"')


if __name__ == "__main__":
    main()
