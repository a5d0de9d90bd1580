#!/usr/bin/env bash
# tests/bench/outbound.sh — a request that makes one outbound call: a report, never a test.
#
#   bash tests/bench/outbound.sh [--quick] [--keep]
#   LUA_RESTY_HTTP=/path/to/lua-resty-http/lib bash tests/bench/outbound.sh
#
# An nginx upstream answers "hello world" (GET /hello). In front of it, each in turn, one worker:
#   mayfly        GET /proxy calls the upstream with mayfly.http and returns its body
#                 (tests/bench/outbound/proxy.lua), the default engine
#   mayfly-curl   the same with MAYFLY_HTTP_ENGINE=curl (libcurl's multi handle); left out, with
#                 a note, when this mayfly does not list the setting or will not start with it
#   resty-http    nginx + lua-nginx-module + lua-resty-http (request_uri over the worker's
#                 cosocket keep-alive pool, tests/bench/nginx_outbound.conf.in): the peer a user
#                 would pick. lua-resty-http is not packaged in Debian and not part of this
#                 repository: LUA_RESTY_HTTP names a checkout's lib/ (the directory holding
#                 resty/http.lua); without it the peer is left out, with how to get it
#   nginx-proxy   nginx proxy_pass over pooled keep-alive connections (`keepalive 64`, not
#                 closed after 1000 requests as the upstream's keepalive_requests default has
#                 it): the C reference
# Pinned as tests/bench/run.sh pins: the server under test alone on CPU 0; wrk (-t1 -c50
# --latency) and the upstream share CPU 1. Rounds alternate the servers (3 of 10 s; --quick: 2 of
# 3 s), each after a 1 s warm-up. Printed per server: median req/s (on one core: req/s per core),
# the server's CPU per request (from /proc, all its threads and processes), median p50 and p99,
# and the upstream connections it opened (from the upstream's stub_status: a pool that reuses
# its connections opens about one per concurrent call, all before the measured run; nginx-proxy
# may also close those whose client left mid-call, as at the end of wrk's warm-up). Ratios:
# mayfly / resty-http and mayfly / mayfly-curl in req/s and in requests per CPU-second of the
# server, and each / nginx-proxy. The machine is shared: compare ratios within one run only;
# tests/bench/outbound_instructions.sh gives the counts that repeat.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR=$ROOT/tests/bench
BUILD_DIR=${MAYFLY_BUILD_DIR:-$ROOT/build}
NGINX_MODULE_DIR=/usr/lib/nginx/modules
ROUNDS=3 DURATION=10 WARMUP=1
SERVERS=(mayfly mayfly-curl resty-http nginx-proxy)

source "$BENCH_DIR/lib.sh"
bench_options "$@"
if ((QUICK)); then ROUNDS=2 DURATION=3; fi
TMP=$(mktemp -d /tmp/mayfly-outbound.XXXXXX)
chmod 755 "$TMP" # nginx workers run unprivileged when started as root
PIDS=()          # the server under test (stop_pids)

cleanup() {
    stop_pids
    [[ -n ${UPSTREAM_PID:-} ]] && { kill -TERM "$UPSTREAM_PID" 2>/dev/null; wait "$UPSTREAM_PID" 2>/dev/null; }
    if ((KEEP)); then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

missing=()
command -v wrk >/dev/null || missing+=(wrk)
[[ -e $NGINX_MODULE_DIR/ngx_http_lua_module.so ]] || missing+=(nginx-extras)
command -v curl >/dev/null || missing+=(curl)
command -v taskset >/dev/null || missing+=(util-linux)
install_missing "${missing[@]}"
ensure_mayfly

declare -A SKIP # NAME -> why it is left out
if ! "$MAYFLY_BIN" --help 2>&1 | grep -q MAYFLY_HTTP_ENGINE; then
    SKIP[mayfly-curl]="this mayfly lists no MAYFLY_HTTP_ENGINE setting (libcurl is its only engine: mayfly is mayfly-curl)"
fi
if [[ ! -f ${LUA_RESTY_HTTP:-}/resty/http.lua ]]; then
    SKIP[resty-http]="LUA_RESTY_HTTP (${LUA_RESTY_HTTP:-unset}) holds no resty/http.lua; to add this peer:
      git clone https://github.com/ledgetech/lua-resty-http && export LUA_RESTY_HTTP=\$PWD/lua-resty-http/lib"
fi

# The upstream, on CPU 1 with wrk; stub_status counts the connections each server opens to it.
UP_PORT=$(free_port)
nginx_conf "$TMP/up" "$UP_PORT" "" 'location = /hello { default_type text/plain; return 200 "hello world"; }
    location = /status { stub_status; }'
taskset -c 1 nginx -p "$TMP/up" -e "$TMP/up/error.log" -c "$TMP/up/nginx.conf" >"$TMP/up.log" 2>&1 &
UPSTREAM_PID=$!
SERVER_LOG=$TMP/up.log
wait_200 "http://127.0.0.1:$UP_PORT/hello"

# upstream_accepts: the connections the upstream has accepted so far, this query's own included.
upstream_accepts() { curl -s "http://127.0.0.1:$UP_PORT/status" | awk 'NR == 3 { print $1 }'; }

start_mayfly() {
    env MAYFLY_LISTEN=127.0.0.1:$1 MAYFLY_WORKERS=1 MAYFLY_ACCESS_LOG=off MAYFLY_DRAIN_DELAY=0 \
        MAYFLY_SCRIPTS="$BENCH_DIR/outbound" MAYFLY_CFG_UPSTREAM="http://127.0.0.1:$UP_PORT" "${@:2}" \
        taskset -c 0 "$MAYFLY_BIN" serve >>"$SERVER_LOG" 2>&1 &
    PIDS=($!)
}

start_mayfly_curl() { start_mayfly "$1" MAYFLY_HTTP_ENGINE=curl; }

start_resty_http() {
    local dir=$TMP/resty-http-$1 load="" mod
    mkdir -p "$dir"
    for mod in ndk_http_module ngx_http_lua_module; do
        load+="load_module $NGINX_MODULE_DIR/$mod.so; "
    done
    # lua-resty-http first; ";;" is the default path, where Debian's lua-resty-core is.
    sed -e "s|@PREFIX@|$dir|g" -e "s|@PORT@|$1|g" -e "s|@MASTER@|on|g" -e "s|@UP_PORT@|$UP_PORT|g" \
        -e "s|@LUA_PATH@|$LUA_RESTY_HTTP/?.lua;;|g" -e "s|@LOAD_MODULES@|$load|g" \
        "$BENCH_DIR/nginx_outbound.conf.in" >"$dir/nginx.conf"
    taskset -c 0 nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" >>"$SERVER_LOG" 2>&1 &
    PIDS=($!)
}

start_nginx_proxy() {
    local dir=$TMP/nginx-proxy-$1
    nginx_conf "$dir" "$1" \
        "upstream up { server 127.0.0.1:$UP_PORT; keepalive 64; keepalive_requests 1000000; }" \
        'location = /proxy { proxy_pass http://up/hello; proxy_http_version 1.1; proxy_set_header Connection ""; }'
    taskset -c 0 nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" >>"$SERVER_LOG" 2>&1 &
    PIDS=($!)
}

# wait_up URL: waits (10 s at most) for a 200 from URL while the server under test runs.
wait_up() {
    local i
    for ((i = 0; i < 100; i++)); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true) == 200 ]] && return 0
        kill -0 "${PIDS[0]}" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

declare -A RPS CPU P50 P99 CONNS RUN_CONNS
measure() {
    local name=$1 port url out a0 a1 a2 t0 t1 n
    [[ -n ${SKIP[$name]:-} ]] && return 0
    port=$(free_port)
    url=http://127.0.0.1:$port/proxy
    SERVER_LOG=$TMP/$name.log
    a0=$(upstream_accepts)
    "start_${name//-/_}" "$port"
    if ! wait_up "$url"; then
        stop_pids
        if [[ $name == mayfly-curl ]]; then # a mayfly from before the setting refuses it
            SKIP[$name]="mayfly would not start with MAYFLY_HTTP_ENGINE=curl: $(tail -n1 "$SERVER_LOG")"
            log "  $name: left out (${SKIP[$name]})"
            return 0
        fi
        log "$name: no 200 from $url; its log:"
        cat "$SERVER_LOG" >&2
        exit 1
    fi
    [[ $(curl -s "$url") == "hello world" ]] || { log "$name: wrong body: $(curl -s "$url")"; exit 1; }
    taskset -c 1 wrk -t1 -c50 -d"${WARMUP}s" "$url" >/dev/null
    a1=$(upstream_accepts)
    t0=$(proc_ticks "${PIDS[0]}")
    out=$TMP/wrk-$name-$round.txt
    taskset -c 1 wrk -t1 -c50 -d"${DURATION}s" --latency "$url" >"$out" 2>&1
    t1=$(proc_ticks "${PIDS[0]}")
    a2=$(upstream_accepts)
    stop_pids
    if grep -q 'Non-2xx\|Socket errors' "$out"; then log "  WARNING $name: $(grep 'Non-2xx\|Socket errors' "$out")"; fi
    local rps cpu p50 p99
    rps=$(awk '$1 == "Requests/sec:" { print $2 }' "$out")
    n=$(awk '/requests in/ { print $1 }' "$out")
    cpu=$(awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v n="$n" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
    p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
    RPS[$name]+="$rps " CPU[$name]+="$cpu " P50[$name]+="$p50 " P99[$name]+="$p99 "
    CONNS[$name]+="$((a2 - a0 - 2)) " RUN_CONNS[$name]+="$((a2 - a1 - 1)) "
    log "  round $round $name: $rps req/s, $cpu us CPU/request, p50 $p50 ms, p99 $p99 ms," \
        "upstream connections opened $((a2 - a0 - 2)) ($((a2 - a1 - 1)) in the measured run)"
}

log "outbound bench: $ROUNDS rounds x ${DURATION}s; $(nproc) CPUs; $(nginx -v 2>&1)"
log "  load before the run: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine makes every number noisier)"
for name in "${SERVERS[@]}"; do
    [[ -n ${SKIP[$name]:-} ]] && log "  $name: left out: ${SKIP[$name]}"
done
measure_rounds

if grep -qs 'bench: lua-resty-string absent' "$TMP"/resty-http-*/error.log; then
    log "  note: resty-http ran without lua-resty-string (not in Debian): a to_hex of the bench's (for mTLS pool names only) stood in"
fi

echo
echo "== one outbound call per request: medians over $ROUNDS rounds of ${DURATION}s, each server alone on CPU 0 =="
printf '%-12s %10s %11s %8s %8s %14s\n' server 'req/s' 'cpu us/req' 'p50 ms' 'p99 ms' 'upstream conns'
declare -A M_RPS M_CPU M_P99
for name in "${SERVERS[@]}"; do
    if [[ -n ${SKIP[$name]:-} ]]; then
        printf '%-12s %10s\n' "$name" '(left out)'
        continue
    fi
    M_RPS[$name]=$(median ${RPS[$name]}) M_CPU[$name]=$(median ${CPU[$name]})
    M_P99[$name]=$(median ${P99[$name]})
    printf '%-12s %10.0f %11.2f %8.2f %8.2f %14s\n' "$name" "${M_RPS[$name]}" "${M_CPU[$name]}" \
        "$(median ${P50[$name]})" "${M_P99[$name]}" "$(median ${CONNS[$name]} | cut -d. -f1) ($(median ${RUN_CONNS[$name]} | cut -d. -f1) in run)"
done
echo "(req/s of the server alone on CPU 0 = req/s per core; upstream conns: opened by the server, in the measured run in brackets)"
echo
echo "== ratios (req/s; requests per CPU-second of the server; p99, lower is better) =="
ratio() { # A B
    [[ -n ${SKIP[$1]:-} || -n ${SKIP[$2]:-} ]] && { printf '%-26s (left out)\n' "$1 / $2"; return; }
    awk -v n="$1 / $2" -v ra="${M_RPS[$1]}" -v rb="${M_RPS[$2]}" -v ca="${M_CPU[$1]}" -v cb="${M_CPU[$2]}" \
        -v pa="${M_P99[$1]}" -v pb="${M_P99[$2]}" \
        'BEGIN { printf "%-26s req/s %.2fx   per CPU-s %.2fx   p99 %.2fx\n", n, ra / rb, cb / ca, (pb > 0 ? pa / pb : 0) }'
}
ratio mayfly resty-http
ratio mayfly mayfly-curl
ratio mayfly nginx-proxy
ratio mayfly-curl resty-http
ratio resty-http nginx-proxy
