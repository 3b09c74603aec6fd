#!/usr/bin/env bash
# Stops the broker that scripts/kafka-up.sh started (found through its pid file) and
# waits for it to exit. A broker it did not start is left alone.
#   --clean   also delete the broker's data (topics, offsets, KRaft metadata)
# Environment: KAFKA_STOP_TIMEOUT seconds before SIGKILL (default 30);
#              KAFKA_DIR the broker's folder, as given to kafka-up.sh (default .cache/kafka).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${KAFKA_DIR:-$ROOT/.cache/kafka}"
PIDFILE="$CACHE/kafka.pid"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"

log() { echo "[kafka-down] $*"; }

clean=false
for arg in "$@"; do
  case "$arg" in
    --clean) clean=true ;;
    *) echo "usage: kafka-down.sh [--clean]" >&2; exit 2 ;;
  esac
done

pid="$(cat "$PIDFILE" 2>/dev/null || true)"
if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && grep -q 'kafka.Kafka' "/proc/$pid/cmdline" 2>/dev/null; then
  log "stopping broker (pid $pid)"
  # SIGTERM runs Kafka's controlled shutdown, which flushes logs and closes cleanly.
  kill -TERM "$pid"
  deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "broker did not stop within ${STOP_TIMEOUT}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.2
  done
  log "broker stopped"
else
  log "no broker started by kafka-up.sh is running"
fi
rm -f "$PIDFILE"

if $clean; then
  rm -rf "$CACHE/data"
  log "removed $CACHE/data"
fi
