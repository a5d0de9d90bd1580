#!/usr/bin/env bash
# Installs what is missing, builds, and serves the bundled scripts/ on :8080 (MAYFLY_* settings
# from the environment apply). Without MAYFLY_REDIS_URL a local redis-server is started on a
# free port for the session and stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

redis_pid=
cleanup() { [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null; true; }
trap cleanup EXIT
if [ -z "${MAYFLY_REDIS_URL:-}" ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
    --loglevel warning >/dev/null &
  redis_pid=$!
  export MAYFLY_REDIS_URL="redis://127.0.0.1:$port/0"
  echo "started redis-server on 127.0.0.1:$port for this session" >&2
fi
export MAYFLY_SCRIPTS=${MAYFLY_SCRIPTS:-$PWD/scripts}
# A session of its own, so that one Ctrl-C or SIGTERM reaches mayfly once (forwarded below)
# and starts the drain; a second one ends it at once.
setsid build/mayfly serve "$@" &
mayfly_pid=$!
trap 'kill -TERM $mayfly_pid 2>/dev/null' INT TERM
wait "$mayfly_pid" || true
wait "$mayfly_pid" 2>/dev/null || true
