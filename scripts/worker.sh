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
#   OMP_NUM_THREADS     torch's CPU threads per job for hf / training (default 1; see below)
#   further arguments   passed to `celery worker` (e.g. --loglevel INFO --logfile var/log/worker.log)
#
# Pool: a worker that consumes `gpu` runs jobs in its main process (`--pool solo`, one job at a time).
# vLLM's engine runs in processes of its own, and the children of Celery's prefork pool are daemonic
# processes, which Python forbids to have children ("daemonic processes are not allowed to have
# children"). A `default`-only worker keeps prefork: transformers and curation need no child processes.
# `exec`: the worker is this process, so a SIGTERM to it is Celery's warm shutdown, which also shuts the
# loaded vLLM engine and its processes down (training/tasks.py).
#
# Threads: torch (hf generation and judging, every trainer) starts one OpenMP thread per core by default. On a
# machine whose cores are also busy with anything else (the web server, the database, a second job, another
# user), every operation's barrier waits for the thread the kernel has descheduled: measured on the 2-core CI
# machine at load average 3.5-7, the demo model generated 5-9 tokens/s with 2 threads and 84-89 with 1, and
# the demo walk's first job (hf generation) sat at progress 0 for 10 minutes. One thread per job is the
# default; a machine that runs nothing else beside one worker can export OMP_NUM_THREADS=<cores>. vLLM's CPU
# engine binds its own threads (VLLM_CPU_OMP_THREADS_BIND) and is not affected.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

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
