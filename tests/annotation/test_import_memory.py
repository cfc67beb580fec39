"""Decompression and line bombs through `manage.py import_data`, in a subprocess whose peak RSS is measured.

Each import runs as its own process on the test database; its peak resident memory (VmHWM of
/proc/self/status, printed as it exits: unlike ru_maxrss, it does not count the memory of the
forking parent) is compared with that of importing a small valid file. A bomb must be
refused, with the line and the limit named, for less than LIMIT_MB more. The control case raises the
line limit so that the bomb's line is read: the same measurement then sees the memory, which shows
that the measurement would catch a limit that stopped working.
"""
import gzip
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from annotation.models import Project
from tests.training.worker_process import worker_database_url

pytestmark = pytest.mark.django_db(transaction=True)  # the subprocess must see the tables and its own rows

ROOT = Path(__file__).resolve().parents[2]
LIMIT_MB = 150
PAIR = b'{"prompt": "What is 2 + 2?", "chosen": "4.", "rejected": "5."}\n'


# Runs manage.py in this interpreter and, at exit (also after a CommandError), prints its peak RSS.
PEAK_REPORTER = """
import atexit, runpy, sys
def report():
    hwm = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")]
    sys.stderr.write(f"\\nVmHWM_KB={hwm[0]}\\n")
atexit.register(report)
sys.argv = sys.argv[1:]
runpy.run_path("manage.py", run_name="__main__")
"""


def import_in_subprocess(path: Path, slug: str, **env: str) -> tuple[int, str, float]:
    """(exit status, stderr, peak RSS in MB) of `manage.py import_data path --format trl`."""
    command = [
        sys.executable, "-c", PEAK_REPORTER, "manage.py", "import_data", str(path), "--project", slug, "--format", "trl",
    ]
    environment = {**os.environ, "DATABASE_URL": worker_database_url(), "SECRET_KEY": "test-only-secret", **env}
    done = subprocess.run(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = done.stderr.decode()
    peak = int(re.search(r"VmHWM_KB=(\d+)", stderr).group(1)) / 1024
    print(f"{path.name}: peak RSS {peak:.0f} MB")  # shown with -rP: the measurement, for bench/RESULTS.md
    return done.returncode, stderr, peak


@pytest.fixture
def baseline_mb(tmp_path) -> float:
    small = tmp_path / "small.jsonl"
    small.write_bytes(b"".join(PAIR.replace(b"2 + 2", f"{i} + {i}".encode()) for i in range(20)))
    status, stderr, peak = import_in_subprocess(small, "small")
    assert status == 0, stderr
    assert Project.objects.get(slug="small").items.count() == 20
    return peak


def one_line_bomb(path: Path) -> Path:
    """~1 MB of gzip holding one 1 GiB line (1024 gzip members of 1 MiB of 'a' each)."""
    member = gzip.compress(b"a" * (1 << 20))
    path.write_bytes(gzip.compress(b'{"prompt": "') + member * 1024)
    return path


def test_a_one_gib_line_is_refused_with_bounded_memory(tmp_path, baseline_mb):
    bomb = one_line_bomb(tmp_path / "line.jsonl.gz")
    assert bomb.stat().st_size < 1_200_000
    status, stderr, peak = import_in_subprocess(bomb, "bomb")
    assert status == 1
    assert "line 1: longer than the 8 MiB line limit (PREFSTUDIO_IMPORT_MAX_LINE_BYTES)" in stderr
    assert peak - baseline_mb < LIMIT_MB, (peak, baseline_mb)
    assert not Project.objects.filter(slug="bomb").exists()


def test_the_measurement_sees_a_line_that_is_read(tmp_path, baseline_mb):
    """Control: with a 300 MiB line limit the same bomb's first 300 MiB are read, and RSS shows it."""
    bomb = one_line_bomb(tmp_path / "line.jsonl.gz")
    status, stderr, peak = import_in_subprocess(bomb, "bomb", PREFSTUDIO_IMPORT_MAX_LINE_BYTES=str(300 << 20))
    assert status == 1 and "longer than the 300 MiB line limit" in stderr
    assert peak - baseline_mb > 250, (peak, baseline_mb)


def test_four_million_bad_lines_are_refused_with_bounded_memory(tmp_path, baseline_mb):
    bomb = tmp_path / "lines.jsonl.gz"
    with gzip.open(bomb, "wb") as out:
        for _ in range(4000):
            out.write(b"{}\n" * 1000)
    status, stderr, peak = import_in_subprocess(bomb, "bomb")
    assert status == 1
    assert "import rejected: line 10000: reading stopped after 10000 bad lines" in stderr
    assert peak - baseline_mb < LIMIT_MB, (peak, baseline_mb)
    assert not Project.objects.filter(slug="bomb").exists()


def test_four_million_copies_stop_at_the_decompressed_limit_with_bounded_memory(tmp_path, baseline_mb):
    bomb = tmp_path / "copies.jsonl.gz"
    with gzip.open(bomb, "wb") as out:  # ~250 MB inflated from ~1 MB, written without holding it here
        for _ in range(4000):
            out.write(PAIR * 1000)
    status, stderr, peak = import_in_subprocess(
        bomb, "bomb", PREFSTUDIO_IMPORT_MAX_DECOMPRESSED_BYTES=str(16 << 20)
    )
    assert status == 1
    stop = (16 << 20) // len(PAIR) + 1
    assert (
        f"line {stop}: the file is larger than the 16 MiB limit on its (decompressed) size "
        "(PREFSTUDIO_IMPORT_MAX_DECOMPRESSED_BYTES)"
    ) in stderr
    assert peak - baseline_mb < LIMIT_MB, (peak, baseline_mb)
    assert not Project.objects.filter(slug="bomb").exists()
