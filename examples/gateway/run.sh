#!/usr/bin/env bash
# Builds, then runs the catalog service on a free loopback port and the gateway on :8080 (or
# MAYFLY_LISTEN) calling it. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
MAYFLY_LISTEN=127.0.0.1:$port MAYFLY_SCRIPTS=examples/gateway/catalog MAYFLY_DRAIN_DELAY=0 \
  build/mayfly serve &
catalog_pid=$!
trap 'kill -TERM $catalog_pid 2>/dev/null; true' EXIT
echo "catalog on 127.0.0.1:$port; gateway on ${MAYFLY_LISTEN:-0.0.0.0:8080}" >&2
MAYFLY_SCRIPTS=examples/gateway/scripts MAYFLY_CFG_CATALOG_URL=http://127.0.0.1:$port \
  MAYFLY_DRAIN_DELAY=${MAYFLY_DRAIN_DELAY:-0} build/mayfly serve
