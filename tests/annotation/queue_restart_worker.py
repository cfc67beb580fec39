"""The 64-annotator run of tests/annotation/test_queue_restart.py, in its own process (Django configured for the
private PostgreSQL cluster the test started): migrate, load a project, 64 threads (each its own annotator and its
own connection) drain it through queue_next / label_submit while the cluster is restarted once in the middle.

Each thread retries a call that failed because the connection broke, as a client would: a lease taken before the
failure comes back from queue_next (the live lease first), a label stored before it comes back from label_submit
(the same idempotency key). Prints one JSON line: what the threads saw.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[0] = str(ROOT)  # not tests/annotation: its selectors/ package would shadow the standard library's

import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prefstudio.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import InterfaceError, OperationalError, connection  # noqa: E402

from annotation.models import Annotator, AnnotatorKind, Project  # noqa: E402
from annotation.services.imports import data_import  # noqa: E402
from annotation.services.labeling import label_submit, queue_next  # noqa: E402

WORKERS = int(os.environ.get("LOOP_WORKERS", "64"))
ITEMS = int(os.environ.get("LOOP_ITEMS", "160"))
OVERLAP = int(os.environ.get("LOOP_OVERLAP", "3"))
RESTART = os.environ["LOOP_RESTART_CMD"]  # a shell command that restarts the cluster (pg_ctl restart -w)


def main() -> None:
    call_command("migrate", verbosity=0)
    lines = [json.dumps({"id": f"i{i}", "kind": "pairwise", "prompt": f"question {i}",
                         "responses": [{"text": f"answer {i} a"}, {"text": f"answer {i} b"}]}) for i in range(ITEMS)]
    data_import(project_slug="restart", fmt="native", stream=io.BytesIO("\n".join(lines).encode()))
    project = Project.objects.get(slug="restart")
    project.overlap = OVERLAP
    project.save(update_fields=["overlap"])
    annotators = [Annotator.objects.create(name=f"w{i}", kind=AnnotatorKind.HUMAN) for i in range(WORKERS)]
    connection.close()

    seen: list[tuple[int, int, int]] = []  # (label id, item id, annotator id)
    errors: list[str] = []
    retries = [0]
    lock = threading.Lock()
    start = threading.Barrier(WORKERS + 1)
    target = ITEMS * OVERLAP

    def retrying(call):
        for _ in range(600):
            try:
                return call()
            except (OperationalError, InterfaceError):
                with lock:
                    retries[0] += 1
                connection.close()
                time.sleep(0.1)
        raise RuntimeError("the database did not come back")

    def work(annotator: Annotator) -> None:
        try:
            start.wait()
            while True:
                lease = retrying(lambda: queue_next(project=project, annotator=annotator))
                if lease is None:
                    return
                label = retrying(lambda: label_submit(assignment_id=lease.pk, annotator=annotator,
                                                      data={"winner": "A"}, idempotency_key=f"lease-{lease.pk}"))
                with lock:
                    seen.append((label.pk, label.item_id, annotator.pk))
        except BaseException as exc:  # reported below
            errors.append(f"{annotator.name}: {exc!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(a,)) for a in annotators]
    for thread in threads:
        thread.start()
    began = time.monotonic()
    start.wait()
    while len(seen) < target // 3 and time.monotonic() - began < 300:
        time.sleep(0.02)
    labels_before_restart = len(seen)
    restart = subprocess.run(RESTART, shell=True, capture_output=True, text=True)
    for thread in threads:
        thread.join()
    print(json.dumps({
        "seen": seen, "errors": errors, "retries": retries[0], "labels_before_restart": labels_before_restart,
        "restart_rc": restart.returncode, "restart_output": restart.stdout[-500:] + restart.stderr[-500:],
        "seconds": round(time.monotonic() - began, 1),
    }))


if __name__ == "__main__":
    main()
