"""Cost of the outbound check (issue 10, item 1) that runs before every request of the openai backend.

    .venv/bin/python bench/bench_outbound_check.py

Times OutboundPolicy.check_url (what the HTTP client's request hook calls) with the default allow-list for
three URLs: an IP literal (no DNS), "localhost" (listed by name: no DNS), and a name that is not listed, which
is resolved through the system resolver on every check (here this machine's hostname, from /etc/hosts). Prints the
median microseconds per check of each; for scale, one chat completion of a judge is tens of milliseconds or
more. No database needed.
"""
from __future__ import annotations

import socket
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from training.engine.backends.outbound import OutboundPolicy  # noqa: E402

ROUNDS, CALLS = 7, 2000


def per_call_us(policy: OutboundPolicy, url: str) -> float:
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(CALLS):
            policy.check_url(url)
        times.append((time.perf_counter() - started) / CALLS * 1e6)
    return statistics.median(times)


def main() -> None:
    policy = OutboundPolicy()
    cases = {"ip": "http://127.0.0.1:8000/v1/chat/completions",
             "listed name": "http://localhost:8000/v1/chat/completions",
             "resolved name": f"http://{socket.gethostname()}:8000/v1/chat/completions"}
    results = {name: per_call_us(policy, url) for name, url in cases.items()}
    print("outbound check_url, median us per call: " + ", ".join(f"{k} {v:.1f}" for k, v in results.items()))


if __name__ == "__main__":
    main()
