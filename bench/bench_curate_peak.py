"""Peak memory and time of `manage.py curate` at several project sizes, and their ratio (issue 16 item 1).

    .venv/bin/python bench/bench_curate_peak.py --database-url postgres://postgres@127.0.0.1:5432/ps_bench_mem \
        [scale-10k scale-100k scale-1m] [--repeat 2]

Runs the shipped command, `manage.py curate <slug> --set embeddings=false` (a new version of the project each run),
as a child process and reads its peak resident memory from the kernel (wait4's ru_maxrss, what `/usr/bin/time -f %M`
prints), with its wall and user CPU time. The projects are bench_scale.py's (`bench_scale.py --sizes 10k,100k,1m
--import-only --keep --database-url ...` builds them: 3 human votes per item, ~1 KB of text). Prints one row per
run, then each size's lowest peak against the smallest size's: the target is every ratio <= 1.25 ("the same
within 25 %"), and under 5 minutes at a million items.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.25


def curate(slug: str, env: dict[str, str]) -> tuple[float, float, float, str]:
    """(peak RSS MB, wall s, user CPU s, the command's first line) of one `manage.py curate` run."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "manage.py", "curate", slug, "--set", "embeddings=false"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"curate {slug} failed:\n{out[-3000:]}")
    first = next((line for line in out.splitlines() if line.startswith(slug)), "")
    return usage.ru_maxrss / 1024, wall, usage.ru_utime, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("slugs", nargs="*", default=["scale-10k", "scale-100k", "scale-1m"])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", os.environ.get(
        "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ps_bench_mem")))
    parser.add_argument("--repeat", type=int, default=1, help="runs per size (the lowest peak counts)")
    args = parser.parse_args()
    env = {**os.environ, "DATABASE_URL": args.database_url, "SECRET_KEY": os.environ.get("SECRET_KEY", "bench"),
           "DEBUG": "0", "PYTHONWARNINGS": "ignore"}
    peaks: dict[str, list[float]] = {}
    print("| project | peak RSS MB | wall s | user CPU s | load before | version |")
    print("|---|---:|---:|---:|---|---|")
    for _ in range(args.repeat):
        for slug in args.slugs:
            load = open("/proc/loadavg").read().split()[0]
            peak, wall, user, first = curate(slug, env)
            peaks.setdefault(slug, []).append(peak)
            print(f"| {slug} | {peak:.0f} | {wall:.1f} | {user:.1f} | {load} | {first.split(':')[0]} |", flush=True)
    base = min(peaks[args.slugs[0]])
    print(f"\nlowest peak per size against {args.slugs[0]} ({base:.0f} MB); target <= {TARGET_RATIO}:")
    for slug in args.slugs:
        ratio = min(peaks[slug]) / base
        print(f"  {slug}: {min(peaks[slug]):.0f} MB, {ratio:.3f} ({'within' if ratio <= TARGET_RATIO else 'over'})")


if __name__ == "__main__":
    main()
