#!/usr/bin/env bash
# One quiet step of `make run` / `make test`: prints "[label] ..." and its duration; the command's own output
# (pip's progress and the machine's warnings) goes to var/log/setup.log and is shown only when the step fails.
# Usage: scripts/step.sh "installing the web stack" .venv/bin/pip install -r requirements/base.txt
set -uo pipefail
label=$1; shift
mkdir -p var/log
log=var/log/setup.log
printf '  %s ...' "$label"
started=$SECONDS
{ echo "=== $(date -u +%FT%TZ) $label: $*"; } >>"$log"
if "$@" >>"$log" 2>&1; then
  printf ' done (%d s)\n' $((SECONDS - started))
else
  rc=$?
  printf ' FAILED (exit %d); the last lines of %s:\n' "$rc" "$log"
  tail -n 25 "$log" | sed 's/^/    /'
  exit "$rc"
fi
