#!/usr/bin/env bash
# The last step of `make run`: a real Celery worker (queues default + gpu) and the Django dev server,
# with the environment `make run` sets (SQLite in var/, the filesystem broker in var/broker/).
# Prints the URL and the demo login; Ctrl-C (or a TERM to this script) stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
VENV=${VENV:-.venv}
mkdir -p var/log

WORKER_PID=""
SERVER_PID=""
stop() {
  trap - INT TERM EXIT
  echo "stopping the web server and the worker"
  if [[ -n $SERVER_PID ]]; then
    kill -TERM -- "-$SERVER_PID" 2>/dev/null || kill -TERM "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ -n $WORKER_PID ]]; then
    kill -TERM "$WORKER_PID" 2>/dev/null || true  # warm shutdown: finishes the running task
    wait "$WORKER_PID" 2>/dev/null || true
  fi
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# One worker for both queues, the shipped command (scripts/worker.sh): with `gpu` among its queues it runs
# jobs in its main process (pool solo), where vLLM can start its engine. One process, one job at a time,
# one model in memory: what a laptop can hold.
WORKER_QUEUES=default,gpu WORKER_NAME="dev@%h" VENV="$VENV" bash scripts/worker.sh \
  --loglevel INFO --logfile var/log/worker.log &
WORKER_PID=$!

# setsid: its own process group, so that stopping it also stops the autoreloader's child process.
SETSID=$(command -v setsid || true)
$SETSID "$VENV/bin/python" manage.py runserver "$HOST:$PORT" &
SERVER_PID=$!

for _ in $(seq 60); do
  (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || exit 1
  sleep 0.5
done

# The demo logins are created by `manage.py load_demo` (annotation/services/demo.py).
cat <<EOF

  PrefStudio is running at http://$HOST:$PORT/
  log in as demo / demo-password-123 (owner) or annotator / annotator-password-123
  Celery worker (queues default, gpu; filesystem broker in var/broker): log in var/log/worker.log
  Ctrl-C stops both.

EOF

# `wait` returns on a signal (the traps above run), or when the server stops on its own.
wait "$SERVER_PID"
