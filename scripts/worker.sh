#!/usr/bin/env bash
# The Celery worker command of every worker PrefStudio ships: `make worker`, `make cpu-worker`,
# `make gpu-worker`, the worker of `make run` (scripts/run_dev.sh) and docker-compose.yml, and the tests
# that start a worker "as shipped" (tests/training/worker_process.py). One command, so they cannot drift.
#
#   WORKER_QUEUES       queues to consume, comma-separated (default "default"; "default,gpu" on a CPU-only
#                       deployment, so that vllm jobs, which go to `gpu`, are run at all)
#   WORKER_NAME         Celery node name (default "<first queue>@%h")
#   WORKER_CONCURRENCY  prefork processes of a worker without `gpu` (default: Celery's, one per core)
#   VENV                virtual environment whose celery to run (default: `celery` on PATH)
#   further arguments   passed to `celery worker` (e.g. --loglevel INFO --logfile var/log/worker.log)
#
# Pool: a worker that consumes `gpu` runs jobs in its main process (`--pool solo`, one job at a time).
# vLLM's engine runs in processes of its own, and the children of Celery's prefork pool are daemonic
# processes, which Python forbids to have children ("daemonic processes are not allowed to have
# children"). A `default`-only worker keeps prefork: transformers and curation need no child processes.
# `exec`: the worker is this process, so a SIGTERM to it is Celery's warm shutdown, which also shuts the
# loaded vLLM engine and its processes down (training/tasks.py).
set -euo pipefail
cd "$(dirname "$0")/.."

QUEUES=${WORKER_QUEUES:-default}
CELERY=celery
if [[ -n ${VENV:-} ]]; then
  CELERY="$VENV/bin/celery"
fi
NAME=${WORKER_NAME:-"${QUEUES%%,*}@%h"}

if [[ ",$QUEUES," == *",gpu,"* ]]; then
  POOL=(--pool solo)
else
  POOL=(--pool prefork)
  if [[ -n ${WORKER_CONCURRENCY:-} ]]; then
    POOL+=(--concurrency "$WORKER_CONCURRENCY")
  fi
fi

exec "$CELERY" -A prefstudio worker -Q "$QUEUES" -n "$NAME" "${POOL[@]}" --prefetch-multiplier 1 "$@"
