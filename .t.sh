#!/bin/bash
cd /work/h-gold
SECRET_KEY=test-only-secret DATABASE_URL=postgres://postgres@127.0.0.1:5432/ps_gold CELERY_BROKER_URL=redis://127.0.0.1:6379/2 timeout 1200 .venv/bin/pytest "$@" -q -p no:cacheprovider 2>&1 | tail -40
