"""REST next + submit in one process, the token path (annotation/api/hot.py) against the DRF views, interleaved.

    DATABASE_URL=postgres://.../NAME .venv/bin/python bench/bench_loop_inprocess.py [--labels 100] [--rounds 3]

Creates NAME_inproc_<pid> (migrated, dropped at the end), a project of pairwise items and one annotator with a token,
then runs blocks of --labels labels through Django's test client (the whole middleware stack, no HTTP), alternating
the token path and the DRF path (the same URLs with the hot path switched off: the views main has), and prints the
Python CPU per label of this process (time.process_time) and the SQL statements per label of each block. Interleaved
blocks in one process see the same machine load, which bench_loop.py's separate runs do not.
"""
import argparse
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prefstudio")
    parts = urlsplit(base)
    name = f"{parts.path.lstrip('/') or 'prefstudio'}_inproc_{os.getpid()}"
    url = urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, parts.fragment))
    import psycopg

    with psycopg.connect(admin.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {"DATABASE_URL": url, "DEBUG": "0", "ALLOWED_HOSTS": "testserver",
           "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
           "API_THROTTLE_USER": "100000000/minute", "DB_CONN_MAX_AGE": "600"}
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT,
                       env={**os.environ, **env}, check=True)
        os.environ.update(env)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prefstudio.settings")
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(args) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from annotation.api import hot
    from annotation.models import Membership
    from annotation.services.accounts import api_token_get_or_create
    from tests.annotation.dataset_factory import pairwise_project

    n_items = args.labels * (2 * args.rounds + 2) + 10
    project = pairwise_project(slug="inproc", n_items=n_items, overlap=1)
    user = get_user_model().objects.create(username="ada")
    Membership.objects.create(project=project, user=user, role="annotator")
    client = Client(HTTP_AUTHORIZATION=f"Token {api_token_get_or_create(user=user)}")
    token_key = hot._token_key

    def block(lean: bool) -> tuple[float, float]:
        hot._token_key = token_key if lean else (lambda request: None)  # off: every request to the DRF view
        began = time.process_time()
        with CaptureQueriesContext(connection) as queries:
            for i in range(args.labels):
                lease = client.post(f"/api/projects/{project.slug}/next/").json()
                done = client.post(f"/api/assignments/{lease['assignment']}/submit/",
                                   {"winner": "A", "idempotency_key": secrets.token_hex(8)},
                                   content_type="application/json")
                assert done.status_code == 201, done.content
        return 1000 * (time.process_time() - began) / args.labels, len(queries) / args.labels

    block(True), block(False)  # warm both paths (imports, prepared statements)
    print("| round | path | Python CPU ms / label | SQL / label | load |")
    print("|---|---|---|---|---|")
    for round_ in range(1, args.rounds + 1):
        for lean in (True, False):
            cpu, sql = block(lean)
            load = open("/proc/loadavg").read().split()[0]
            path = "token path" if lean else "DRF views"
            print(f"| {round_} | {path} | {cpu:.2f} | {sql:.2f} | {load} |", flush=True)


if __name__ == "__main__":
    main()
