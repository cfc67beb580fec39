"""Import benchmark: 100,000 TRL preference pairs through `data_import`, COPY sink against ORM sink.

    make bench                              # DATABASE_URL = the `prefstudio` database
    .venv/bin/python bench/bench_import.py  # same, or set DATABASE_URL / BENCH_PAIRS / BENCH_REPEAT

Generates a deterministic TRL JSONL file (plain and conversational records, prompts of a
sentence or two, responses of a few hundred characters, a quarter of the prompts asked twice),
imports it BENCH_REPEAT times (default 3; the median counts) into fresh projects with the COPY
sink and once, as the baseline, with the ORM sink, prints one result line to stdout and the
breakdown to stderr, then deletes the projects so that it can be re-run. The database is
created and migrated if it is missing.
"""

import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
N_PAIRS = int(os.environ.get("BENCH_PAIRS", "100000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
SEED = 20261122

_WORDS = (
    "model answer question data training reward policy token context prompt language system user value "
    "function result example method approach problem solution error memory network layer gradient loss "
    "sample batch update step rate score rank order label review quality safety helpful honest harmless "
    "clear short long simple complex fast slow first second final better worse good bad correct wrong "
    "explain describe compare improve reduce increase measure check test build write read store load "
    "because although however therefore while when where which that this these those some many few "
    "city river mountain history science music garden recipe travel weather market health energy water"
).split()
# Real answers are not all ASCII prose: some words with accents or emoji, some code with backslashes.
_RARE = ["café", "naïve", "Größe", "東京", "😀", "`\\n`", "C:\\temp", "\"quoted\""]
_OPENERS = ("How do I", "Can you explain how to", "What is the best way to", "Why does", "Write a short note on how to")
_SYSTEM = "You are a helpful assistant. Answer concisely and correctly."


def _sentence(rng: random.Random) -> str:
    words = rng.choices(_WORDS, k=rng.randint(8, 18))
    if rng.random() < 0.1:
        words[rng.randrange(len(words))] = rng.choice(_RARE)
    return " ".join(words).capitalize() + rng.choice((".", ".", ".", "!", "?"))


def _answer(rng: random.Random, sentences: list[str], low: int, high: int) -> str:
    """A few hundred characters; half of the answers in paragraphs, as chat models write them."""
    parts = rng.choices(sentences, k=rng.randint(low, high))
    if rng.random() < 0.5:
        return " ".join(parts[:2]) + "\n\n" + " ".join(parts[2:])
    return " ".join(parts)


def generate(path: Path, n: int, seed: int = SEED) -> None:
    """Write `n` TRL preference records to `path` (the same file for the same `n` and `seed`)."""
    rng = random.Random(seed)
    sentences = [_sentence(rng) for _ in range(4000)]
    prompts: list[str] = []
    with open(path, "w", encoding="utf-8") as out:
        for i in range(n):
            if prompts and rng.random() < 0.25:
                prompt = rng.choice(prompts)  # a prompt asked again, with another pair of answers
            else:
                topic = " ".join(rng.choices(_WORDS, k=rng.randint(4, 12)))
                context = " ".join(rng.choices(sentences, k=rng.randint(0, 2)))
                prompt = f"{rng.choice(_OPENERS)} {topic}? {context}".strip()
                prompts.append(prompt)
            chosen, rejected = _answer(rng, sentences, 3, 7), _answer(rng, sentences, 2, 6)
            if i % 5 == 0:  # conversational, with a system turn
                record = {
                    "prompt": [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": prompt}],
                    "chosen": [{"role": "assistant", "content": chosen}],
                    "rejected": [{"role": "assistant", "content": rejected}],
                }
            else:
                record = {"prompt": prompt, "chosen": chosen, "rejected": rejected}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def _ensure_database(url: str) -> None:
    """Create the PostgreSQL database named in `url` if it does not exist."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}", file=sys.stderr)


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prefstudio.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret")
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prefstudio")
    if not os.environ["DATABASE_URL"].startswith("postgres"):
        sys.exit("bench_import needs PostgreSQL (DATABASE_URL=postgres://...): the COPY sink is what it measures")
    _ensure_database(os.environ["DATABASE_URL"])
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    _check_schema()


def _check_schema() -> None:
    """Stop with a clear message if the tables lack columns of the models.

    The initial migrations are regenerated while unreleased, so a database migrated with an
    older 0001_initial looks up to date to `migrate` but is not.
    """
    from django.apps import apps
    from django.db import connection

    stale = []
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        for model in [*apps.get_app_config("annotation").get_models(), *apps.get_app_config("training").get_models()]:
            table = model._meta.db_table
            if table not in tables:
                stale.append(table)
                continue
            columns = {c.name for c in connection.introspection.get_table_description(cursor, table)}
            stale += [f"{table}.{f.column}" for f in model._meta.concrete_fields if f.column not in columns]
    if stale:
        name = connection.settings_dict["NAME"]
        sys.exit(
            f"database {name} was migrated with an older initial migration (missing {', '.join(stale)}); "
            f"drop it (dropdb -h 127.0.0.1 -U postgres {name}) and run the benchmark again"
        )


def drop_project(slug: str) -> None:
    """Delete a project and everything imported into it, in SQL: the ORM's cascade would load every row."""
    from django.db import connection, transaction

    from annotation.models import Project

    project = Project.objects.filter(slug=slug).first()
    if project is None:
        return
    pid = project.pk
    statements = [
        "DELETE FROM annotation_label WHERE item_id IN (SELECT id FROM annotation_item WHERE project_id = %s)",
        "DELETE FROM annotation_itemresponse WHERE item_id IN (SELECT id FROM annotation_item WHERE project_id = %s)",
        "DELETE FROM annotation_item WHERE project_id = %s",
        # Edits first: an original response is PROTECTed by its edits.
        (
            "DELETE FROM annotation_response WHERE parent_id IS NOT NULL"
            " AND prompt_id IN (SELECT id FROM annotation_prompt WHERE project_id = %s)"
        ),
        "DELETE FROM annotation_response WHERE prompt_id IN (SELECT id FROM annotation_prompt WHERE project_id = %s)",
        "DELETE FROM annotation_prompt WHERE project_id = %s",
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement, [pid])
        project.delete()


def vacuum() -> None:
    """Compact the tables the benchmark filled and emptied, so that the next run starts as this one did.

    A plain VACUUM leaves the freed space scattered through the files; the next import then
    writes its rows all over them, and on a 128 MB buffer cache a run took twice as long.
    """
    from django.db import connection

    tables = ["annotation_label", "annotation_itemresponse", "annotation_item", "annotation_response", "annotation_prompt"]
    with connection.cursor() as cursor:  # outside a transaction: Django runs in autocommit here
        for table in tables:
            cursor.execute(f"VACUUM (FULL, ANALYZE) {table}")


def timed_import(slug: str, path: Path, sink) -> tuple[float, object]:
    from annotation.services.imports import data_import

    start = time.perf_counter()
    with open(path, "rb") as stream:
        report = data_import(project_slug=slug, fmt="trl", stream=stream, sink=sink)
    return time.perf_counter() - start, report


def parse_only(path: Path) -> float:
    """Parsing alone, in one thread, as the import does it (garbage collector paused)."""
    from annotation.importing import parse_file
    from annotation.services.imports.parsing import gc_paused

    start = time.perf_counter()
    with gc_paused(), open(path, "rb") as stream:
        parsed = parse_file(stream, "trl")
    assert len(parsed.records) == N_PAIRS and not parsed.errors
    return time.perf_counter() - start


def main() -> None:
    setup_django()
    from annotation.services.bulk import CopySink, OrmSink

    stamp = f"{os.getpid()}-{int(time.time())}"
    runs = [("copy", CopySink) for _ in range(REPEAT)] + [("orm", OrmSink)]
    slugs: list[str] = []
    seconds: dict[str, list[float]] = {"copy": [], "orm": []}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pairs.jsonl"
        generate(path, N_PAIRS)
        print(f"generated {N_PAIRS:,} pairs ({path.stat().st_size / 1e6:.1f} MB of JSONL)", file=sys.stderr)
        print(f"parse alone (no database, one thread): {parse_only(path):.2f} s", file=sys.stderr)
        try:
            for i, (name, sink) in enumerate(runs):
                slugs.append(f"bench-{name}-{stamp}-{i}")
                total, report = timed_import(slugs[-1], path, sink())
                assert report.items_created == N_PAIRS, report
                seconds[name].append(total)
                parts = ", ".join(f"{k} {v:.2f} s" for k, v in report.timings.items())
                print(
                    f"{name}: {total:.2f} s ({parts}); {report.prompts_created:,} prompts, "
                    f"{report.responses_created:,} responses, {report.items_created:,} items, "
                    f"{report.labels_created:,} labels",
                    file=sys.stderr,
                )
        finally:
            for slug in slugs:
                drop_project(slug)
            vacuum()
    copy, orm = statistics.median(seconds["copy"]), statistics.median(seconds["orm"])
    print(
        f"import {N_PAIRS} pairs: copy {copy:.1f} s ({N_PAIRS / copy:,.0f} pairs/s), "
        f"orm {orm:.1f} s, ratio orm/copy {orm / copy:.1f}x"
    )


if __name__ == "__main__":
    main()
