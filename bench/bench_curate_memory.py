"""Where `manage.py curate` spends its memory (issue 16 item 1): the freeze of one project in this process under
tracemalloc, each phase's traced peak (its own, nested phases included) and what is still held when it returns,
then the lines that held the most at the moments the traced total peaked.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ps_bench_freeze .venv/bin/python bench/bench_curate_memory.py \
        freeze-100k [--top 15] [--no-trace]

Run it on two sizes (bench_freeze.py --steps build builds them) and divide the difference by the item count: a
phase's bytes per item. numpy registers its buffers with tracemalloc, so arrays count; memory of C libraries that
do not (scipy's sparse kernels' scratch, psycopg's result buffers) does not, and the process peak RSS printed at the
end does include it. --no-trace: only the peak RSS (ru_maxrss) and the wall time, without tracemalloc's overhead.
--rss: no tracemalloc; the resident memory and the running peak as each phase starts and ends (which phase holds
the process's peak as the kernel counts it: at a million items that is where the heap glibc keeps shows).
The config is curate's with `embeddings=false`, as bench_freeze.py runs it.
"""
from __future__ import annotations

import argparse
import functools
import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_import import setup_django  # noqa: E402

# (module, attribute): the phases timed, as the freeze calls them (the names bound in the calling module).
PHASES = [
    ("annotation.services.datasets", "consensus_refresh"),
    ("annotation.services.curation", "pairwise_votes"),
    ("annotation.services.curation", "calibrated_aggregate"),
    ("annotation.services.calibrated", "aggregation_choose"),
    ("annotation.services.curation", "item_text_features"),
    ("annotation.services.curation", "rm_margins_for_items"),
    ("annotation.services.curation", "noise_stats"),
    ("annotation.services.curation", "noise_check"),
    ("annotation.services.curation", "noise_summary"),
    ("annotation.services.curation", "_top_share_rows"),
    ("annotation.services.curation._Written", "write"),
    ("annotation.services.datasets", "run_report"),
]

MB = 1024 * 1024


class Tracer:
    """Nested phase peaks from one tracemalloc peak counter: entering a phase folds the counter into the enclosing
    phase's maximum and resets it; leaving folds it into its own and its parent's."""

    def __init__(self, top: int, at: str) -> None:
        self.stack: list[list] = [["total", 0, 0]]  # [name, peak seen, current at entry]
        self.rows: list[tuple[int, str, float, float, float]] = []
        self.top = top
        self.peak_snapshot = None
        self.peak_at = 0
        self.at = at
        self.at_snapshot = None

    def wrap(self, name: str, fn):
        @functools.wraps(fn)
        def traced(*args, **kwargs):
            parent = self.stack[-1]
            current, peak = tracemalloc.get_traced_memory()
            parent[1] = max(parent[1], peak)
            tracemalloc.reset_peak()
            if name == self.at and self.at_snapshot is None:  # what the earlier phases left held
                self.at_snapshot = tracemalloc.take_snapshot()
                tracemalloc.reset_peak()
            frame = [name, 0, current]
            self.stack.append(frame)
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                after, peak = tracemalloc.get_traced_memory()
                frame[1] = max(frame[1], peak)
                self.stack.pop()
                self.stack[-1][1] = max(self.stack[-1][1], frame[1])
                self.rows.append((len(self.stack), name, (frame[1] - current) / MB, (after - current) / MB,
                                  time.perf_counter() - started))
                if frame[1] > self.peak_at:  # where the memory sat when this phase ended at its largest
                    self.peak_at = frame[1]
                    self.peak_snapshot = (name, tracemalloc.take_snapshot())
        return traced


def _rss() -> int:
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS")) // 1024


def _rss_wrap(name: str, fn, started: float):
    @functools.wraps(fn)
    def watched(*args, **kwargs):
        peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # noqa: E731
        print(f"{time.perf_counter() - started:7.1f} s  > {name:<24} RSS {_rss():5d} MB, peak {peak():5d} MB")
        try:
            return fn(*args, **kwargs)
        finally:
            print(f"{time.perf_counter() - started:7.1f} s  < {name:<24} RSS {_rss():5d} MB, peak {peak():5d} MB")
    return watched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("slug")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--no-trace", action="store_true")
    parser.add_argument("--rss", action="store_true",
                        help="no tracemalloc: print the resident memory (VmRSS) and the running peak as each phase "
                             "starts and ends (where the process's own peak is, as the kernel counts it)")
    parser.add_argument("--at", default="write", help="also list what is held when this phase starts")
    args = parser.parse_args()
    setup_django()
    import importlib

    from common.memory import unmap_large_blocks

    unmap_large_blocks()  # as manage.py does

    from annotation.models import Item, Project
    from annotation.services.datasets import dataset_version_create

    project = Project.objects.get(slug=args.slug)
    n = Item.objects.filter(project=project).count()
    tracer = Tracer(args.top, args.at)
    started = time.perf_counter()
    if not args.no_trace:
        for module, attr in PHASES:
            path, _, cls = module.partition("._")
            target = importlib.import_module(path if cls else module)
            if cls:
                target = getattr(target, "_" + cls)
            setattr(target, attr, (_rss_wrap(attr, getattr(target, attr), started) if args.rss
                                   else tracer.wrap(attr, getattr(target, attr))))
        if not args.rss:
            tracemalloc.start(1)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    version = dataset_version_create(project=project, config={"embeddings": False})
    wall = time.perf_counter() - started
    print(f"{args.slug}: {n} items, version {version.number} ({version.n_rows} rows) in {wall:.1f} s; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (before the freeze "
          f"{base_rss:.0f} MB); load {open('/proc/loadavg').read().split()[0]}")
    if args.no_trace or args.rss:
        return
    print(f"{'phase':<34} {'peak MB':>8} {'held MB':>8} {'s':>7}   (traced, above the phase's start)")
    for depth, name, peak, held, seconds in sorted(tracer.rows, key=lambda r: PHASES.index(
            next(p for p in PHASES if p[1] == r[1]))):
        print(f"{'  ' * (depth - 1)}{name:<{34 - 2 * (depth - 1)}} {peak:8.1f} {held:8.1f} {seconds:7.1f}")
    shots = [(f"when {tracer.peak_snapshot[0]} returned (traced {tracer.peak_at / MB:.0f} MB at its peak)",
              tracer.peak_snapshot[1])]
    if tracer.at_snapshot is not None:
        shots.append((f"when {args.at} started", tracer.at_snapshot))
    for title, snapshot in shots:
        print(f"largest holders {title}:")
        _holders(snapshot, args.top)


def _holders(snapshot, top: int) -> None:
    for stat in snapshot.statistics("lineno")[:top]:
        frame = stat.traceback[0]
        print(f"  {stat.size / MB:8.1f} MB {stat.count:9d} blocks  {frame.filename.split('/work/')[-1]}:{frame.lineno}")


if __name__ == "__main__":
    main()
