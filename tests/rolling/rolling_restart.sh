#!/usr/bin/env bash
# A zero-downtime rolling restart, measured: two mayfly processes behind haproxy (health-checking
# /readyz), wrk sending through haproxy the whole time, and each process in turn sent SIGTERM and
# replaced by a new one on the same port, ROUNDS times. Prints the request and failure counts
# and exits non-zero on any failed request or any exit code other than 0.
# Usage: tests/rolling/rolling_restart.sh [ROUNDS] [CONNECTIONS]   (MAYFLY_BIN: the binary)
set -u
ROUNDS=${1:-3}
CONNS=${2:-16}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${MAYFLY_BIN:-$ROOT/build/mayfly}
SCRIPTS=${ROLLING_SCRIPTS:-$ROOT/scripts}
PATH_UNDER_LOAD=${ROLLING_PATH:-/hello}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mayfly-rolling.XXXXXX")
PIDS=()
HAPROXY_PID=

cleanup() {
  for p in "${PIDS[@]}" $HAPROXY_PID; do kill -TERM "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The drain delay outlasts haproxy's detection (inter 200ms x fall 1) with room to spare.
start_replica() { # index port
  MAYFLY_LISTEN=127.0.0.1:$2 MAYFLY_SCRIPTS="$SCRIPTS" MAYFLY_WORKERS=1 MAYFLY_DRAIN_DELAY=1s \
    MAYFLY_ACCESS_LOG=off "$BIN" serve >>"$WORK/replica$1.log" 2>&1 &
  PIDS[$1]=$!
  for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/readyz")" = 200 ] && return 0
    sleep 0.05
  done
  echo "replica $1 did not become ready"; cat "$WORK/replica$1.log"; return 1
}

# Waits until haproxy's health check has marked server NAME up again.
wait_up() {
  for _ in $(seq 1 200); do
    curl -s "http://127.0.0.1:$STATS/stats;csv" | awk -F, -v s="$1" '$1 == "be" && $2 == s {print $18}' |
      grep -q '^UP' && return 0
    sleep 0.05
  done
  echo "haproxy never saw $1 up"; return 1
}

P=($(free_port) $(free_port))
LB=$(free_port)
STATS=$(free_port)
cat >"$WORK/haproxy.cfg" <<CFG
global
  maxconn 2000
defaults
  mode http
  timeout connect 1s
  timeout client 10s
  timeout server 10s
  retries 3
  option redispatch
listen stats
  bind 127.0.0.1:$STATS
  stats enable
  stats uri /stats
frontend fe
  bind 127.0.0.1:$LB
  default_backend be
backend be
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 200ms fall 1 rise 1
  server s0 127.0.0.1:${P[0]} check
  server s1 127.0.0.1:${P[1]} check
CFG

start_replica 0 "${P[0]}" || exit 1
start_replica 1 "${P[1]}" || exit 1
haproxy -f "$WORK/haproxy.cfg" -db >"$WORK/haproxy.log" 2>&1 &
HAPROXY_PID=$!
sleep 0.3
wait_up s0 && wait_up s1 || exit 1

DURATION=$((ROUNDS * 2 * 3 + 2))
wrk -t 2 -c "$CONNS" -d "${DURATION}s" "http://127.0.0.1:$LB$PATH_UNDER_LOAD" >"$WORK/wrk.out" 2>&1 &
WRK_PID=$!
sleep 1

bad_exits=0
for round in $(seq 1 "$ROUNDS"); do
  for i in 0 1; do
    kill -TERM "${PIDS[$i]}"
    wait "${PIDS[$i]}"; rc=$?
    [ "$rc" = 0 ] || { bad_exits=$((bad_exits + 1)); echo "replica $i exited $rc"; }
    start_replica "$i" "${P[$i]}" || exit 1
    wait_up "s$i" || exit 1 # haproxy routes to it again before its peer goes down
  done
done
wait $WRK_PID

requests=$(awk '/requests in/ {print $1}' "$WORK/wrk.out")
non2xx=$(awk -F': ' '/Non-2xx/ {print $2}' "$WORK/wrk.out")
sockerr=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$WORK/wrk.out")
failed=$(( ${non2xx:-0} + ${sockerr:-0} ))
echo "rolling restart: $ROUNDS rounds x 2 replicas, $requests requests, $failed failed, $bad_exits bad exit codes"
[ "$failed" = 0 ] || grep -E "Socket errors|Non-2xx|requests in" "$WORK/wrk.out"
[ "$failed" = 0 ] && [ "$bad_exits" = 0 ] && [ -n "$requests" ] && [ "$requests" -gt 0 ]
