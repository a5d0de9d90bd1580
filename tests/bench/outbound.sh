#!/usr/bin/env bash
# tests/bench/outbound.sh — a request that makes one outbound call: a report, never a test.
#
#   bash tests/bench/outbound.sh [--quick]
#
# An nginx upstream answers "hello world" (GET /hello). In front of it, each in turn:
#   mayfly-1w     mayfly, one worker: GET /proxy calls the upstream with mayfly.http and returns
#                 its body (tests/bench/outbound/proxy.lua)
#   mayfly-4w     the same with four workers on the same core: a call blocks its worker, so
#                 more workers keep the core busy while calls wait
#   nginx-proxy   nginx proxy_pass to the same upstream over pooled keep-alive connections, one
#                 worker — the reference
# Pinned as tests/bench/run.sh pins: the server under test alone on CPU 0; wrk (-t1 -c50) and
# the upstream share CPU 1. Rounds alternate (3 of 10 s; --quick: 2 of 3 s). Printed per
# server: median req/s (on one core: req/s per core), the server's CPU per request, and the
# ratios to nginx-proxy. The machine is shared: compare ratios within one run only.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${MAYFLY_BUILD_DIR:-$ROOT/build}
ROUNDS=3 DURATION=10
[[ ${1:-} == --quick ]] && ROUNDS=2 DURATION=3

for tool in wrk nginx taskset curl; do
    command -v "$tool" >/dev/null || { echo "outbound.sh: needs $tool (apt-get install wrk nginx-extras)" >&2; exit 1; }
done
if [[ ! -x $BUILD_DIR/mayfly ]]; then
    cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD_DIR" -j2 --target mayfly >/dev/null
fi

source "$ROOT/tests/bench/lib.sh"
TMP=$(mktemp -d /tmp/mayfly-outbound.XXXXXX)
chmod 755 "$TMP"
cp "$BUILD_DIR/mayfly" "$TMP/mayfly"
PIDS=() # the server under test (stop_pids)
trap 'stop_pids; rm -rf "$TMP"' EXIT

wait_ok() {
    for _ in $(seq 1 100); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' "$1") == 200 ]] && return 0
        sleep 0.1
    done
    echo "outbound.sh: no 200 from $1" >&2
    return 1
}

# The upstream, on CPU 1 with wrk.
UP_PORT=$(free_port)
nginx_conf "$TMP/up" "$UP_PORT" "" 'location = /hello { default_type text/plain; return 200 "hello world"; }'
taskset -c 1 nginx -p "$TMP/up" -e "$TMP/up/error.log" -c "$TMP/up/nginx.conf" &
UPSTREAM_PID=$!
wait_ok "http://127.0.0.1:$UP_PORT/hello"

start() { # NAME PORT: starts the server under test on CPU 0, sets SERVER_PID
    case $1 in
    mayfly-1w | mayfly-4w)
        local workers=${1#mayfly-}
        MAYFLY_LISTEN=127.0.0.1:$2 MAYFLY_WORKERS=${workers%w} \
            MAYFLY_ACCESS_LOG=off MAYFLY_DRAIN_DELAY=0 MAYFLY_SCRIPTS="$ROOT/tests/bench/outbound" \
            MAYFLY_CFG_UPSTREAM="http://127.0.0.1:$UP_PORT" \
            taskset -c 0 "$TMP/mayfly" serve >"$TMP/$1.log" 2>&1 &
        ;;
    nginx-proxy)
        nginx_conf "$TMP/px" "$2" \
            "upstream up { server 127.0.0.1:$UP_PORT; keepalive 64; }" \
            'location = /proxy { proxy_pass http://up/hello; proxy_http_version 1.1; proxy_set_header Connection ""; }'
        taskset -c 0 nginx -p "$TMP/px" -e "$TMP/px/error.log" -c "$TMP/px/nginx.conf" &
        ;;
    esac
    SERVER_PID=$!
    PIDS=("$SERVER_PID")
}

NAMES=(mayfly-1w mayfly-4w nginx-proxy)
declare -A RPS CPU
echo "outbound bench: $ROUNDS rounds x ${DURATION}s; $(nproc) CPUs; $(nginx -v 2>&1)" >&2
for ((round = 1; round <= ROUNDS; round++)); do
    for ((i = 0; i < ${#NAMES[@]}; i++)); do
        name=${NAMES[(i + round - 1) % ${#NAMES[@]}]}
        port=$(free_port)
        start "$name" "$port"
        url=http://127.0.0.1:$port/proxy
        wait_ok "$url"
        [[ $(curl -s "$url") == "hello world" ]] || { echo "$name: wrong body" >&2; exit 1; }
        taskset -c 1 wrk -t1 -c50 -d1s "$url" >/dev/null
        t0=$(proc_ticks "$SERVER_PID")
        out=$(taskset -c 1 wrk -t1 -c50 -d"${DURATION}s" "$url")
        t1=$(proc_ticks "$SERVER_PID")
        stop_pids
        grep -q "Non-2xx" <<<"$out" && echo "WARNING: $name: $(grep Non-2xx <<<"$out")" >&2
        rps=$(awk '$1 == "Requests/sec:" { print $2 }' <<<"$out")
        n=$(awk '/requests in/ { print $1 }' <<<"$out")
        cpu=$(awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v n="$n" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
        echo "  round $round $name: $rps req/s, $cpu us CPU/request" >&2
        RPS[$name]+="$rps " CPU[$name]+="$cpu "
    done
done
kill -TERM "$UPSTREAM_PID"; wait "$UPSTREAM_PID" 2>/dev/null || true

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
echo
printf '%-12s %10s %12s %18s %10s\n' server 'req/s' 'cpu us/req' 'req/s vs nginx' 'per CPU-s'
ref_rps=$(median ${RPS[nginx-proxy]}) ref_cpu=$(median ${CPU[nginx-proxy]})
for name in "${NAMES[@]}"; do
    r=$(median ${RPS[$name]}) c=$(median ${CPU[$name]})
    awk -v n="$name" -v r="$r" -v c="$c" -v rr="$ref_rps" -v rc="$ref_cpu" \
        'BEGIN { printf "%-12s %10.0f %12.2f %17.2fx %9.2fx\n", n, r, c, r / rr, rc / c }'
done
echo "(req/s of the server alone on CPU 0 = req/s per core; per CPU-s = requests per CPU-second of the server, relative to nginx-proxy)"
