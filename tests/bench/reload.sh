#!/usr/bin/env bash
# Hot reload, measured: the time from the kubelet's ConfigMap swap to the first response of the
# new version (10 swaps, median and max), and requests/s during a reload storm (a new version
# every 100 ms) against steady state, in one run on loopback. A report, not a test.
# Usage: bash tests/bench/reload.sh   (MAYFLY_BUILD_DIR to reuse a build; default build/)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=${MAYFLY_BUILD_DIR:-$ROOT/build}
[ -x "$BUILD_DIR/mayfly" ] || { cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null &&
  cmake --build "$BUILD_DIR" -j"$(nproc)" >/dev/null; }
command -v wrk >/dev/null || "$ROOT/tools/deps.sh" wrk
TMP=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$TMP"' EXIT

cm=$TMP/cm
write_version() { # DIR TAG
  mkdir -p "$1"
  printf 'return { ["GET /v"] = function() return "%s" end }\n' "$2" >"$1/v.lua"
  for i in $(seq 1 19); do
    printf 'return { ["GET /r%d/:id"] = function(req) return req.params.id end }\n' "$i" >"$1/r$i.lua"
  done
}
swap() { # TAG N: the kubelet's update
  write_version "$cm/..$2" "$1"
  ln -s "..$2" "$cm/..data_tmp"
  mv -T "$cm/..data_tmp" "$cm/..data"
  rm -rf "$cm/..$(($2 - 1))"
}
write_version "$cm/..0" v0
ln -s ..0 "$cm/..data"
for f in "$cm/..0"/*.lua; do ln -s "..data/$(basename "$f")" "$cm/$(basename "$f")"; done

MAYFLY_LISTEN=127.0.0.1:0 MAYFLY_SCRIPTS=$cm MAYFLY_WORKERS=2 MAYFLY_ACCESS_LOG=off \
  MAYFLY_DRAIN_DELAY=0 "$BUILD_DIR/mayfly" serve >"$TMP/log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do
  PORT=$(grep -o '"port":[0-9]*,' "$TMP/log" | tr -d , | cut -d: -f2 || true)
  [ -n "$PORT" ] && break
  sleep 0.05
done
URL=http://127.0.0.1:$PORT

echo "== swap to first response of the new version (20 files; the watcher waits for 100 ms of quiet)"
times=()
for n in $(seq 1 10); do
  t0=$(date +%s%N)
  swap "v$n" "$n"
  until [ "$(curl -s "$URL/v")" = "v$n" ]; do :; done
  times+=($((($(date +%s%N) - t0) / 1000000)))
  sleep 0.3
done
printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "  median %d ms, max %d ms over %d swaps\n", a[int((NR+1)/2)], a[NR], NR}'

echo "== requests/s: steady state against a reload every 100 ms (wrk -t1 -c20 -d5s)"
steady=$(wrk -t1 -c20 -d5s "$URL/r3/42" | awk '/Requests\/sec/ {print $2}')
( for n in $(seq 11 60); do swap "v$n" "$n"; kill -HUP "$PID"; sleep 0.1; done ) &
storm_pid=$!
storm=$(wrk -t1 -c20 -d5s "$URL/r3/42" | awk '/Requests\/sec/ {print $2}')
wait "$storm_pid"
reloads=$(grep -c '"msg":"reloaded"' "$TMP/log")
awk -v s="$steady" -v r="$storm" -v n="$reloads" 'BEGIN {
  printf "  steady %.0f req/s, during the storm %.0f req/s: %.2fx (%d reloads in the run)\n", s, r, r / s, n }'
