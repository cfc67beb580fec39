"""Export memory benchmark: a dataset version of 20,000 and of 200,000 rows, exported through the same
streaming code as `manage.py export_data` and the REST export; peak memory must not grow with the version.

    .venv/bin/python bench/bench_export_memory.py     # DATABASE_URL defaults to a scratch database
    BENCH_SIZES=20000,200000 BENCH_CASES=trl:jsonl,trl:parquet ...   # to choose

The scratch database (`prefstudio_bench_export`, created and migrated if missing) gets one project with
one item and one human label per row, and one version per size, written by INSERT ... SELECT
generate_series (no Python objects, so the setup itself stays small); they are kept for the next run.
Each (size, format, encoding) is measured in a fresh child process: after a warm-up export of 100 rows,
the child records its RSS, exports the whole version (JSONL and Parquet into a byte-counting sink, HF
with from_generator + save_to_disk into a temporary directory), and reports
  - RSS growth: the peak RSS (getrusage ru_maxrss) minus the RSS just before the export: all memory,
    Arrow buffers and libpq results included, and also the clean pages of files the process has mapped
    (HF datasets memory-maps the Arrow file it saves, so its RSS grows with the output: page cache
    that the kernel can drop, not memory the export holds);
  - anonymous-memory growth: the peak of RssAnon (sampled every 10 ms) minus RssAnon before: RSS
    without mapped files, i.e. what the export really holds;
  - the peak of Python allocations during a second export of the same (tracemalloc; not timed).
Prints a table to stderr and one result line to stdout: the largest 200k/20k ratio of anonymous growth.
"""
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prefstudio_bench_export")

from bench_import import setup_django  # noqa: E402  (sets up Django on DATABASE_URL, migrating it)

SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "20000,200000").split(",")]
CASES = os.environ.get(
    "BENCH_CASES", "trl:jsonl,trl:parquet,trl_conversational:parquet,trl:hf,raw_votes:jsonl"
).split(",")
SLUG = "bench-export"
WORDS = " lorem ipsum dolor sit amet"  # ~1.3 KB per row in all: prompts and answers of a few sentences


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _anon_mb() -> float:
    """Anonymous resident memory (heap, Arrow buffers, libpq results), without mapped files' pages."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no RssAnon in /proc/self/status")


class _AnonPeak(threading.Thread):
    """Samples RssAnon every 10 ms: ru_maxrss also counts the clean, evictable pages of memory-mapped
    files, which is how HF datasets reads the Arrow file it is saving."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = _anon_mb()
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.01):
            self.peak = max(self.peak, _anon_mb())

    def stop(self) -> float:
        self._done.set()
        self.join()
        return max(self.peak, _anon_mb())


def ensure_version(n: int):
    """The version with `n` rows (number = n), built in SQL if missing."""
    from django.db import connection, transaction

    from annotation.models import Annotator, DatasetVersion, Item, Project, Prompt

    project, _ = Project.objects.get_or_create(slug=SLUG, defaults={"name": "export memory benchmark"})
    version = DatasetVersion.objects.filter(project=project, number=n).first()
    if version is not None and version.n_rows == n:
        return version
    prompt, _ = Prompt.objects.get_or_create(project=project, external_id="p", defaults={"messages": [
        {"role": "user", "content": "Explain."}]})
    annotator, _ = Annotator.objects.get_or_create(name="bench-export-annotator", defaults={"kind": "human"})
    started = time.perf_counter()
    have = Item.objects.filter(project=project).count()
    with transaction.atomic(), connection.cursor() as cursor:
        if have < n:
            cursor.execute(
                "INSERT INTO annotation_item (project_id, prompt_id, external_id, kind, state, route, source,"
                " n_responses, n_human_labels, n_judge_labels, n_leases, priority, metadata, created_at, updated_at)"
                " SELECT %s, %s, 'item-' || g, 'pairwise', 'labeled', 'human', 'human', 2, 1, 0, 0, 0, '{}',"
                " now(), now() FROM generate_series(%s, %s) g",
                [project.pk, prompt.pk, have + 1, n],
            )
            cursor.execute(
                "INSERT INTO annotation_label (item_id, annotator_id, kind, role, status, winner, strength, aspects,"
                " rationale, shown_order, raw_output, created_at)"
                " SELECT i.id, %s, 'pairwise', 'annotation', 'ok', CASE WHEN i.id %% 3 = 0 THEN 'B' ELSE 'A' END, 2,"
                " '{}', 'A explains it better.' || repeat(%s, 4), '[0, 1]', '', now()"
                " FROM annotation_item i WHERE i.project_id = %s"
                " AND NOT EXISTS (SELECT 1 FROM annotation_label l WHERE l.item_id = i.id)",
                [annotator.pk, WORDS, project.pk],
            )
        DatasetVersion.objects.filter(project=project, number=n).delete()
        version = DatasetVersion.objects.create(project=project, number=n, config_hash="bench", n_rows=n)
        cursor.execute(
            "INSERT INTO annotation_datasetrow (version_id, index, split, kind, item_id, data, weight, provenance)"
            " SELECT %(v)s, i.rn - 1, CASE WHEN i.rn %% 10 = 0 THEN 'test' ELSE 'train' END, 'pairwise', i.id,"
            "  jsonb_build_object("
            "   'prompt', jsonb_build_array(jsonb_build_object('role', 'user', 'content',"
            "     'Question ' || i.rn || repeat(%(w)s, 8))),"
            "   'chosen', 'Chosen ' || i.rn || repeat(%(w)s, 20), 'rejected', 'Rejected ' || i.rn || repeat(%(w)s, 16),"
            "   'margin', (i.rn %% 7) / 7.0),"
            "  0.5 + (i.rn %% 2) / 2.0,"
            "  jsonb_build_object('item', i.external_id, 'origin', 'pairwise', 'source', 'human',"
            "   'votes', jsonb_build_object('A', 2, 'B', 1, 'tie', 0), 'agreement', 0.667, 'probability', 0.8,"
            "   'noise_score', 0.1, 'reasons', jsonb_build_array('small margin'))"
            " FROM (SELECT id, external_id, row_number() OVER (ORDER BY id) AS rn FROM annotation_item"
            "       WHERE project_id = %(p)s ORDER BY id LIMIT %(n)s) i",
            {"v": version.pk, "w": WORDS, "p": project.pk, "n": n},
        )
    with connection.cursor() as cursor:
        # What autovacuum would do soon after a big insert: with the statistics of an empty table the
        # planner sorts the whole rest of the version for every chunk instead of walking the index.
        cursor.execute("ANALYZE annotation_datasetrow, annotation_label, annotation_item")
    print(f"built version of {n:,} rows in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return version


class _Counter:
    """A binary sink that only counts: the benchmark measures the exporter, not a disk."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data) -> int:
        self.bytes += len(data)
        return len(data)


def _export(version, fmt: str, encoding: str, limit: int | None = None) -> int:
    from itertools import islice

    from annotation.curation.export import arrow_schema, export_options, write_hf, write_jsonl, write_parquet
    from annotation.selectors.datasets import dataset_export_records
    from annotation.selectors.identities import annotator_names_for

    options = export_options(format=fmt, encoding=encoding, split="all")
    names = annotator_names_for(project=version.project, user=None, visible=True)

    def records():
        return islice(dataset_export_records(version=version, options=options, names=names), limit)

    if encoding == "hf":
        with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
            write_hf(records, arrow_schema(options), Path(tmp) / "out", cache_dir=Path(tmp) / "cache")
            return sum(f.stat().st_size for f in (Path(tmp) / "out").rglob("*") if f.is_file())
    sink = _Counter()
    writer = write_parquet if encoding == "parquet" else write_jsonl
    if encoding == "parquet":
        writer(records(), arrow_schema(options), sink)
    else:
        writer(records(), sink)
    return sink.bytes


def child(n: int, fmt: str, encoding: str) -> None:
    """Measure one export in this (fresh) process; print a JSON line."""
    from annotation.models import DatasetVersion

    import datasets  # noqa: F401  (imported before the baseline, as a long-lived worker has it)

    version = DatasetVersion.objects.get(project__slug=SLUG, number=n)
    _export(version, fmt, encoding, limit=100)  # warm-up: imports, query compilation, Arrow's pools
    before, anon_before = _rss_mb(), _anon_mb()
    sampler = _AnonPeak()
    sampler.start()
    started = time.perf_counter()
    size = _export(version, fmt, encoding)
    seconds = time.perf_counter() - started
    anon_growth = max(0.0, sampler.stop() - anon_before)
    growth = max(0.0, _peak_rss_mb() - before)
    # A second pass under tracemalloc (which slows allocation-heavy code several times, so not timed).
    tracemalloc.start()
    _export(version, fmt, encoding)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(json.dumps({"rss_growth_mb": growth, "anon_growth_mb": anon_growth,
                      "traced_peak_mb": traced_peak / 2**20, "seconds": seconds,
                      "rows_per_s": n / seconds, "output_mb": size / 1e6}))


def main() -> None:
    setup_django()
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        return
    for n in SIZES:
        ensure_version(n)
    results: dict[tuple[str, int], dict] = {}
    for case in CASES:
        fmt, encoding = case.split(":")
        for n in SIZES:
            out = subprocess.run([sys.executable, __file__, "--child", str(n), fmt, encoding],
                                 capture_output=True, text=True, check=True)
            results[case, n] = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{case} {n:>7,}: {results[case, n]}", file=sys.stderr)
    small, large = SIZES[0], SIZES[-1]
    print(f"\n{'format:encoding':28} {'rows':>8} {'RSS growth MB':>14} {'anon growth MB':>15} {'py heap peak MB':>16} "
          f"{'s':>7} {'rows/s':>8} {'out MB':>8}", file=sys.stderr)
    worst = 0.0
    for case in CASES:
        for n in SIZES:
            r = results[case, n]
            print(f"{case:28} {n:>8,} {r['rss_growth_mb']:>14.1f} {r['anon_growth_mb']:>15.1f} "
                  f"{r['traced_peak_mb']:>16.1f} "
                  f"{r['seconds']:>7.1f} {r['rows_per_s']:>8,.0f} {r['output_mb']:>8.1f}", file=sys.stderr)
        # +1 MB on both sides: a growth of 0.3 vs 0.6 MB is noise, not a doubling.
        ratio = (results[case, large]["rss_growth_mb"] + 1) / (results[case, small]["rss_growth_mb"] + 1)
        anon = (results[case, large]["anon_growth_mb"] + 1) / (results[case, small]["anon_growth_mb"] + 1)
        heap = results[case, large]["traced_peak_mb"] / max(results[case, small]["traced_peak_mb"], 1e-9)
        print(f"{'':28} ratio {large // small}x rows: RSS growth {ratio:.2f}, anonymous {anon:.2f}, "
              f"Python heap peak {heap:.2f}", file=sys.stderr)
        worst = max(worst, anon)
    print(f"export memory {small}→{large} rows: worst ratio of peak anonymous-memory growth {worst:.2f} over "
          f"{len(CASES)} format/encoding cases (1.0 = flat; RSS with mapped files in the table)")


if __name__ == "__main__":
    main()
