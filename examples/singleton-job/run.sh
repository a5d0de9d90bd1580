#!/usr/bin/env bash
# Builds, then runs two replicas of this example on one Redis (a local redis-server unless
# MAYFLY_REDIS_URL is set), on :8080 and :8081, and shows which one runs the job. Stop the one
# running it (Ctrl-C stops both) or kill it by the PID printed, and watch the other take over.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
pids=()
trap 'kill -TERM "${pids[@]}" 2>/dev/null; true' EXIT
if [ -z "${MAYFLY_REDIS_URL:-}" ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning >/dev/null &
  pids+=($!)
  export MAYFLY_REDIS_URL="redis://127.0.0.1:$port/0"
fi
for i in 0 1; do
  POD_NAME=replica-$i MAYFLY_LISTEN=127.0.0.1:808$i MAYFLY_SCRIPTS=examples/singleton-job/scripts \
    MAYFLY_ACCESS_LOG=off build/mayfly serve >/dev/null &
  pids+=($!)
  echo "replica-$i: pid $!, http://127.0.0.1:808$i/runs" >&2
done
while sleep 2; do curl -s 'http://127.0.0.1:8080/runs?n=1' || curl -s 'http://127.0.0.1:8081/runs?n=1'; done
