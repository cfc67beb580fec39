"""Bench 8f: `route --policy learned` on PandaLM, first run vs second run (issue 14, items 5 and 7).

    DATABASE_URL=postgres://…/<your db> SECRET_KEY=… .venv/bin/python bench/bench_route_reuse.py [--budget 0.25]

Imports the PandaLM test set (../shared/datasets/pandalm, scripts/convert/pandalm.py: 945 usable pairs, 3 people and
2 judges each) into a fresh project through the app's importer; the people's labels of every other item are left
out, so those items are routable and the rest teach the gain model (items with both a human and an AI label).
Then runs the `route` command twice with embeddings on, timing each call. The first run embeds every response,
fits the gain model (model choice by 5-fold CV, then 5-fold cross-fitting for the reported gain) and saves it; the
second, with no new items or labels, reads every embedding from the content-hash cache and reuses the saved model.
The cache rows of the project's texts are deleted first, so the first run is a cold one; the project is deleted at
the end when the database lets it (prompts are protected: else it stays, under a bench-route-<pid> slug, in the
database you pointed it at). Prints both times and the command's output.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prefstudio.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402

from annotation.curation.text import ItemTexts, pair_embeddings  # noqa: E402,F401
from annotation.models import EmbeddingCache, Project  # noqa: E402
from annotation.services.embedding_cache import _key  # noqa: E402
from annotation.curation.text import default_embedder  # noqa: E402
from annotation.services.imports import data_import  # noqa: E402
from annotation.services.projects import project_create  # noqa: E402
from scripts.convert import pandalm  # noqa: E402

DATA = ROOT.parent / "shared" / "datasets" / "pandalm"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", default="0.25")
    args = parser.parse_args()
    import hashlib

    records = list(pandalm.convert(DATA))
    for i, r in enumerate(records):
        if i % 2 == 0:  # routable: only the judges have labelled it
            r["labels"] = [label for label in r["labels"] if label.get("annotator_kind") == "judge"]
    user, _ = get_user_model().objects.get_or_create(username="bench-route")
    slug = f"bench-route-{os.getpid()}"
    project_create(slug=slug, name="bench route", owner=user)
    try:
        lines = "".join(json.dumps(r) + "\n" for r in records).encode()
        data_import(project_slug=slug, fmt="native", stream=io.BytesIO(lines), user=user)
        key = _key(default_embedder())
        texts = {x["text"] for r in records for x in r["responses"]}
        EmbeddingCache.objects.filter(digest__in=[hashlib.sha256(f"{key}\0{t}".encode()).hexdigest()
                                                  for t in texts]).delete()
        times = []
        for run in ("first", "second"):
            out = io.StringIO()
            start = time.perf_counter()
            call_command("route", slug, "--policy", "learned", "--budget", args.budget, stdout=out)
            times.append(time.perf_counter() - start)
            print(f"--- {run} run: {times[-1]:.1f} s\n{out.getvalue()}")
        with open("/proc/loadavg") as f:
            load = f.read().split()[:3]
        print(f"route --policy learned on PandaLM ({len(records)} items, {len(texts)} distinct responses): "
              f"first run {times[0]:.1f} s, second run {times[1]:.1f} s; load average {' '.join(load)}")
    finally:
        from django.db.models import ProtectedError

        try:
            Project.objects.filter(slug=slug).delete()
        except ProtectedError:
            print(f"(project {slug} left in the database: its prompts are protected from deletion)", file=sys.stderr)


if __name__ == "__main__":
    main()
