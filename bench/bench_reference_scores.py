"""What the reference reports cost: annotator_accuracy, method_accuracy (majority, Dawid-Skene, MACE fitted
without the references) and consensus_agreement on synthetic votes, as the agreement page, the curation page,
GET /api/projects/{slug}/references/ and `manage.py agreement` compute them on every call (no database: the
selector's query is a read of Item.reference, one row per reference item).

    .venv/bin/python bench/bench_reference_scores.py [--items 1200 100000] [--annotators 70 5] [--share 0.1]

Prints seconds per call and the peak RSS; note the load average (printed) beside the figures in RESULTS.md.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "annotation" / "curation"))

from annotation.curation.aggregation import aggregate_pairwise  # noqa: E402
from annotation.curation.calibration import (  # noqa: E402
    annotator_accuracy,
    consensus_agreement,
    method_accuracy,
    reliability_check,
)
from weak_fixtures import references, weak_judges  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[1200, 100_000])
    parser.add_argument("--annotators", type=int, nargs="+", default=[70, 5])
    parser.add_argument("--share", type=float, default=0.1, help="share of items with a reference")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()}")
    for n_items, n_annot in zip(args.items, args.annotators):
        votes, truth, _ = weak_judges(n_items=n_items, n_weak=max(1, n_annot - 3), n_strong=min(3, n_annot - 1))
        refs = references(truth, args.share)
        t0 = time.perf_counter()
        per_annotator = annotator_accuracy(votes, refs)
        t1 = time.perf_counter()
        methods = method_accuracy(votes, refs)
        t2 = time.perf_counter()
        agreement = consensus_agreement(votes, aggregate_pairwise(votes, method="majority").winner)
        t3 = time.perf_counter()
        warnings = reliability_check(votes)
        t4 = time.perf_counter()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{n_items} items x {votes.n_annotators} annotators ({len(votes.values)} votes), {args.share:.0%} refs: "
              f"annotator accuracy {t1 - t0:.3f} s, method accuracy (3 fits) {t2 - t1:.2f} s, "
              f"agreement {t3 - t2:.3f} s, reliability check {t4 - t3:.2f} s; peak RSS {rss:.0f} MB")
        print("  methods: " + ", ".join(f"{m} {p}" for m, p in methods.items()))
        print(f"  best annotator {max(p.value for p in per_annotator if p.n):.3f}; per vote {agreement.per_vote}; "
              f"{len(warnings)} warning(s)")
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
