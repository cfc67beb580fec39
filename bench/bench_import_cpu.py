"""Python CPU per imported record (issue 16 item 3): this checkout against a baseline commit, in one process.

    .venv/bin/python bench/bench_import_cpu.py                         # parsing, 10k records, baseline = main
    .venv/bin/python bench/bench_import_cpu.py --records 10000 --rounds 5 --baseline 6e99069
    DATABASE_URL=postgres://... .venv/bin/python bench/bench_import_cpu.py --import   # + the whole import

The file is bench_scale.py's native file (pairwise items, 3 human votes each, a quarter of the prompts
asked again), written once to --data-dir.

Parsing: the baseline's `annotation/importing` (Django-free) is taken from git (`git archive`) into a temp
dir and imported as a package of its own next to this checkout's, and both parse the same bytes in
alternation, `--rounds` times each (cyclic GC paused, as the import does); it prints CPU seconds per 10k
records of each round (time.process_time, one thread), the medians and their ratio, and checks that both
give equal records and errors.

--import: `data_import` of the same file into a fresh project of DATABASE_URL (created and migrated if
missing; the project is deleted and the tables compacted afterwards), this checkout's code only (the baseline's writer is a Django
app and cannot be loaded beside it: run this script from an exported baseline tree, `--code-root`, for
the before figure). It prints the wall time and the client's CPU per 10k records (process_time: the
parser, writer and COPY-sink threads together; PostgreSQL's CPU is not in it).
Timings move with the machine's load, which is printed with every figure.
"""
import argparse
import gc
import importlib
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def baseline_package(commit: str, into: Path) -> object:
    """`annotation/importing` of `commit`, imported as the top-level package `baseline_importing`."""
    data = subprocess.run(["git", "archive", commit, "annotation/importing"], cwd=ROOT, check=True,
                          capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    (into / "annotation" / "importing").rename(into / "baseline_importing")
    sys.path.insert(0, str(into))
    return importlib.import_module("baseline_importing")


def parse_cpu(package: object, data: bytes) -> tuple[float, object]:
    gc.disable()
    try:
        began = time.process_time()
        result = package.parse_file(io.BytesIO(data), "native")
        return time.process_time() - began, result
    finally:
        gc.enable()


def comparable(result: object) -> tuple:
    from dataclasses import asdict

    records = [{k: v for k, v in asdict(r).items() if k != "messages_json"} for r in result.records]
    return records, [(e.line, e.reason) for e in result.errors]


def bench_parse(path: Path, n: int, args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT))
    import annotation.importing as current

    data = path.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        baseline = baseline_package(args.baseline, Path(tmp))
        per_10k = 10_000 / n
        times: dict[str, list[float]] = {"baseline": [], "this": []}
        results = {}
        print(f"parse {n:,} native records ({len(data) / 1e6:.1f} MB), baseline {args.baseline}, load {load()}")
        for i in range(args.rounds):
            for name, package in (("baseline", baseline), ("this", current)):
                seconds, result = parse_cpu(package, data)
                times[name].append(seconds * per_10k)
                results[name] = result
            print(f"  round {i + 1}: baseline {times['baseline'][-1]:.3f} s, this {times['this'][-1]:.3f} s "
                  f"CPU per 10k records (load {load()})")
        assert len(results["this"].records) == n and not results["this"].errors, results["this"].errors[:3]
        assert comparable(results["this"]) == comparable(results["baseline"]), "the two parsers disagree"
        old, new = statistics.median(times["baseline"]), statistics.median(times["this"])
        print(f"parse CPU per 10k records, median of {args.rounds}: baseline {old:.3f} s ({old * 100:.0f} us a "
              f"record), this {new:.3f} s ({new * 100:.0f} us a record): {old / new:.2f}x less (load {load()})")


def bench_import(path: Path, n: int, args: argparse.Namespace) -> None:
    code_root = Path(args.code_root).resolve()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prefstudio.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret")
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("--import needs DATABASE_URL=postgres://... (the COPY sink is what an import uses)")
    sys.path.insert(0, str(ROOT / "bench"))
    import bench_import  # noqa: E402  (its database helpers)

    bench_import._ensure_database(os.environ["DATABASE_URL"])
    # That tree's code only: Celery's loader puts the working directory on the path, so move there too.
    sys.path[:] = [str(code_root)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT]
    os.chdir(code_root)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    import annotation
    from annotation.services.imports import data_import

    assert Path(annotation.__file__).resolve().is_relative_to(code_root), annotation.__file__
    print(f"import {n:,} native records with the code of {code_root}, load {load()}")
    for i in range(args.import_rounds):
        slug = f"bench-cpu-{os.getpid()}-{i}"
        try:
            wall, cpu = time.perf_counter(), time.process_time()
            with open(path, "rb") as stream:
                report = data_import(project_slug=slug, fmt="native", stream=stream)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            assert report.items_created == n, report
            parts = ", ".join(f"{k} {v:.2f} s" for k, v in report.timings.items())
            print(f"  import {i + 1}: wall {wall:.2f} s, client CPU {cpu:.2f} s = {cpu * 10_000 / n:.3f} s per 10k "
                  f"records ({parts}; load {load()})")
        finally:
            bench_import.drop_project(slug)
            bench_import.vacuum()  # the next import starts on compacted tables, as this one did


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5, help="parse rounds of each code (alternated)")
    parser.add_argument("--baseline", default="main", help="the commit whose parser is the baseline")
    parser.add_argument("--import", dest="do_import", action="store_true", help="also time data_import (DATABASE_URL)")
    parser.add_argument("--import-only", action="store_true", help="only data_import, no parse comparison")
    parser.add_argument("--import-rounds", type=int, default=2)
    parser.add_argument("--code-root", default=str(ROOT), help="the tree whose code --import runs")
    parser.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(), "bench_scale"))
    args = parser.parse_args()
    if Path(args.code_root).resolve() != ROOT and not args.import_only:
        parser.error("--code-root runs that tree's import: use it with --import-only")
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_scale import SEED, generate

    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"scale-{args.records}-{SEED}.jsonl"
    if not path.exists():
        generate(path, args.records)
    if not args.import_only:
        bench_parse(path, args.records, args)
    if args.do_import or args.import_only:
        bench_import(path, args.records, args)


if __name__ == "__main__":
    main()
