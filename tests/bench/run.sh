#!/usr/bin/env bash
# tests/bench/run.sh — mayfly's HTTP benchmark: a report, never a pass/fail test.
#
#   bash tests/bench/run.sh [--quick] [--only NAME[,NAME...]] [--keep]
#
# What it measures: requests/s and p99 latency (wrk over loopback, keep-alive connections) of
#   mayfly-hello     mayfly serving scripts/hello.lua's GET /hello ("hello world")
#   mhd_hello        tests/bench/mhd_hello.c: bare libmicrohttpd, the same thread/socket model as
#                    mayfly, no Lua — the ceiling of our HTTP layer
#   nginx-lua-hello  nginx + lua-nginx-module, content_by_lua_block printing "hello world" — the
#                    peer (tests/bench/nginx_hello.conf.in)
#   mayfly-json      mayfly's POST /echo (tests/bench/json_scripts/echo.lua): req:json() of the
#                    body answered as { json = ... }
#   nginx-lua-json   nginx + lua-nginx-module + lua-cjson doing the same (nginx_json.conf.in)
# (the JSON echo pair posts tests/bench/json_echo_body.json, 541 bytes, with json_echo_wrk.lua;
# before measuring, both must answer 200 application/json decoding to the body's value; their
# instructions per request: tests/bench/json_instructions.sh)
# in two modes:
#   pinned    server on CPU 0 with one worker, wrk -t1 -c50 on CPU 1: one core each, the cleanest
#             comparison (the server is CPU-bound and alone on its core)
#   unpinned  no taskset, two workers/processes, wrk -t2 -c100: everything shares both cores, so
#             it includes wrk's own CPU use and scheduling noise
# Each measurement starts a fresh server on a free loopback port, waits until it answers,
# warms up for 1 s, runs wrk, and stops the server. Rounds alternate between servers (5 rounds of
# 10 s; --quick: 2 rounds of 3 s) so drift on the machine hits every server alike.
#
# How to read it: per mode and server, the table gives the median req/s and median p99 (ms)
# over the rounds; "spread", (max - min) / median of the rounds' req/s; "other", the most CPU
# that anything but the server and wrk used during one of its runs (other processes, hypervisor
# steal; percent of all CPUs); and each round's req/s. The ratios (mayfly / mhd_hello: how much
# of the HTTP layer's ceiling mayfly keeps; mayfly / nginx-lua: how it compares with the peer)
# are what carry over between machines; absolute numbers do not. A ratio means little unless it
# is well outside the spread: a few percent on a quiet machine, 10-60% on a busy shared VM.
# Before each measurement the script waits up to 30 s for other local load to stop, and it warns
# about other load during a run; noisy neighbours on the host stay invisible unless the
# hypervisor reports steal time. Prefer the full run (5 rounds of 10 s) over --quick for any
# decision. Machine-readable results go to $MAYFLY_BUILD_DIR/bench-results.txt (default build/),
# one "name mode rps p99_ms cpu_us_per_request" line per measured pair. Exit status is non-zero only if a server
# failed to start (or died), answered wrongly or wrk failed.
#
# Needs wrk and nginx-extras (installed with apt-get when missing) and a build of mayfly and
# mhd_hello in $MAYFLY_BUILD_DIR (built with CMake, Release, when a binary is missing).
#
# Adding a server: write a start_<name> function (contract below) and one bench_add line.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR=$ROOT/tests/bench
BUILD_DIR=${MAYFLY_BUILD_DIR:-$ROOT/build}
NGINX_MODULE_DIR=/usr/lib/nginx/modules

ROUNDS=5
DURATION=10
WARMUP=1
ONLY=""
KEEP=0

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
    exit 2
}

while (($#)); do
    case $1 in
    --quick) ROUNDS=2 DURATION=3 ;;
    --only) ONLY=${2:?--only needs a list of names}; shift ;;
    --keep) KEEP=1 ;;
    -h | --help) usage ;;
    *) echo "run.sh: unknown argument: $1" >&2; usage ;;
    esac
    shift
done

source "$BENCH_DIR/lib.sh"
WARNINGS=()
warn() {
    log "WARNING: $*"
    WARNINGS+=("$*")
}

TMP=$(mktemp -d /tmp/mayfly-bench.XXXXXX)
# nginx workers drop to an unprivileged user when started as root; let them reach their dirs.
chmod 755 "$TMP"

# ---- server table ----
# bench_add NAME START_FUNCTION PATH [METHOD [BODY [CONTENT_TYPE]]]
# BODY, when given, is sent with every request (wrk and the readiness check).
BENCH_NAMES=()
declare -A B_START B_PATH B_METHOD B_BODY B_CTYPE B_WRK_SCRIPT B_CHECK
bench_add() {
    BENCH_NAMES+=("$1")
    B_START[$1]=$2
    B_PATH[$1]=$3
    B_METHOD[$1]=${4:-GET}
    B_BODY[$1]=${5:-}
    B_CTYPE[$1]=${6:-application/octet-stream}
}

# bench_wrk_script NAME FILE: wrk runs NAME with -s FILE (a committed script) instead of one
# made from BODY; BODY still serves the readiness and keep-alive checks.
bench_wrk_script() { B_WRK_SCRIPT[$1]=$2; }

# bench_check NAME FUNCTION: FUNCTION NAME URL runs once per mode after NAME first answers 2xx;
# non-zero (with the reason on stdout) fails the server in that mode: what it answers is wrong.
bench_check() { B_CHECK[$1]=$2; }

# Ratios printed per mode: NUMERATOR/DENOMINATOR of req/s (and of p99).
RATIOS=()
ratio_add() { RATIOS+=("$1/$2"); }

# ---- servers ----
# start_<name> PORT: start one server listening on 127.0.0.1:PORT in the background and return.
# The harness sets, for the current mode:
#   WORKERS        worker threads/processes the server should use
#   PIN_SERVER     command prefix (array) to pin the server, e.g. (taskset -c 0); may be empty
#   SERVER_LOG     file for the server's stdout/stderr
#   SERVER_DIR     a fresh private temp dir for this server instance
# The function appends the pid of every process it starts to SERVER_PIDS (the server itself
# first; helpers such as a redis-server after it); the harness stops them all after the
# measurement (SIGTERM, then SIGKILL after 10 s). Return non-zero if the server cannot be
# launched at all; otherwise the harness waits until PATH answers 2xx.

# start_mayfly PORT SCRIPTS [SETTING=value...]: mayfly on the folder SCRIPTS, its access log off
# unless a setting says otherwise. MAYFLY_DRAIN_DELAY=0: stop at once on SIGTERM instead of
# serving on for a load balancer.
start_mayfly() {
    local port=$1 scripts=$2
    shift 2
    if [[ ! -x $MAYFLY_BIN ]]; then
        echo "no mayfly binary at $MAYFLY_BIN" >>"$SERVER_LOG"
        return 1
    fi
    env MAYFLY_LISTEN=127.0.0.1:$port MAYFLY_WORKERS=$WORKERS MAYFLY_ACCESS_LOG=off \
        MAYFLY_DRAIN_DELAY=0 MAYFLY_SCRIPTS="$scripts" "$@" \
        "${PIN_SERVER[@]}" "$MAYFLY_BIN" serve >>"$SERVER_LOG" 2>&1 &
    SERVER_PIDS+=($!)
}

start_mayfly_hello() {
    start_mayfly "$1" "$ROOT/scripts"
}

# The 20-route file with two user modules (tests/bench/scripts/api.lua).
start_mayfly_api() {
    start_mayfly "$1" "$BENCH_DIR/scripts"
}

# The hello route with what observing it costs (tests/bench/observe.sh): an access log line per
# request and the request counters, against neither. The log goes to /dev/null (a file would
# fill the disk at this rate): it measures formatting and writing a line, not a log pipeline.
start_mayfly_observed() {
    local port=$1
    MAYFLY_LISTEN=127.0.0.1:$port MAYFLY_WORKERS=$WORKERS MAYFLY_ACCESS_LOG=on MAYFLY_METRICS=on \
        MAYFLY_DRAIN_DELAY=0 MAYFLY_SCRIPTS=$ROOT/scripts \
        "${PIN_SERVER[@]}" "$MAYFLY_BIN" serve >/dev/null 2>>"$SERVER_LOG" &
    SERVER_PIDS+=($!)
}

start_mayfly_unobserved() {
    start_mayfly_metrics "$1" off
}

# Metrics alone (the access log off): what the counters cost without a log line per request.
start_mayfly_metrics() {
    start_mayfly "$1" "$ROOT/scripts" MAYFLY_METRICS="${2:-on}"
}

start_mhd_hello() {
    local port=$1
    "${PIN_SERVER[@]}" "$MHD_HELLO_BIN" "$port" "$WORKERS" >>"$SERVER_LOG" 2>&1 &
    SERVER_PIDS+=($!)
}

# start_nginx_lua PORT TEMPLATE: nginx + lua-nginx-module on tests/bench/TEMPLATE.conf.in.
start_nginx_lua() {
    local port=$1 template=$2 mod load=""
    for mod in ndk_http_module ngx_http_lua_module; do
        if [[ ! -e $NGINX_MODULE_DIR/$mod.so ]]; then
            echo "nginx module $NGINX_MODULE_DIR/$mod.so missing (apt-get install nginx-extras)" \
                >>"$SERVER_LOG"
            return 1
        fi
        load+="load_module $NGINX_MODULE_DIR/$mod.so; "
    done
    sed -e "s|@PREFIX@|$SERVER_DIR|g" -e "s|@PORT@|$port|g" -e "s|@WORKERS@|$WORKERS|g" \
        -e "s|@MASTER@|on|g" -e "s|@LOAD_MODULES@|$load|g" "$BENCH_DIR/$template.conf.in" \
        >"$SERVER_DIR/nginx.conf"
    "${PIN_SERVER[@]}" nginx -p "$SERVER_DIR" -e "$SERVER_DIR/error.log" \
        -c "$SERVER_DIR/nginx.conf" >>"$SERVER_LOG" 2>&1 &
    SERVER_PIDS+=($!)
}

start_nginx_lua_hello() {
    start_nginx_lua "$1" nginx_hello
}

start_mayfly_json() {
    start_mayfly "$1" "$BENCH_DIR/json_scripts"
}

start_nginx_lua_json() {
    start_nginx_lua "$1" nginx_json
}

# check_json_echo NAME URL: NAME answers the JSON echo request 200, application/json, with JSON
# equal by value to the body sent (key order and escapes may differ).
check_json_echo() {
    local name=$1 url=$2 code
    curl_request_args "$name"
    code=$(curl -s -D "$SERVER_DIR/echo-head" -o "$SERVER_DIR/echo-body" -w '%{http_code}' \
        --max-time 5 "${CURL_ARGS[@]}" "$url") || true
    [[ $code == 200 ]] || { echo "status $code, not 200"; return 1; }
    grep -qi '^content-type: *application/json' "$SERVER_DIR/echo-head" ||
        { echo "no Content-Type application/json"; return 1; }
    python3 - "$BENCH_DIR/json_echo_body.json" "$SERVER_DIR/echo-body" <<'PY'
import json, sys
sent, got = (json.load(open(p, encoding="utf-8")) for p in sys.argv[1:])
if got != sent:
    sys.exit("answered JSON differs from the body sent: %s" % json.dumps(got)[:200])
PY
}

bench_add mayfly-hello start_mayfly_hello /hello
bench_add mhd_hello start_mhd_hello /hello
bench_add nginx-lua-hello start_nginx_lua_hello /hello
bench_add mayfly-api start_mayfly_api /api/items/42
bench_add mayfly-observed start_mayfly_observed /hello
bench_add mayfly-unobserved start_mayfly_unobserved /hello
bench_add mayfly-metrics start_mayfly_metrics /hello
JSON_ECHO_BODY=$(<"$BENCH_DIR/json_echo_body.json")
for name in mayfly-json nginx-lua-json; do
    bench_add "$name" "start_${name//-/_}" /echo POST "$JSON_ECHO_BODY" application/json
    bench_wrk_script "$name" "$BENCH_DIR/json_echo_wrk.lua"
    bench_check "$name" check_json_echo
done

ratio_add mayfly-hello mhd_hello
ratio_add mayfly-hello nginx-lua-hello
ratio_add mayfly-json nginx-lua-json
ratio_add mayfly-api mayfly-hello
ratio_add mayfly-observed mayfly-unobserved
ratio_add mayfly-metrics mayfly-unobserved

# ---- process and port helpers ----
SERVER_PIDS=()

stop_servers() {
    local pid i
    for pid in "${SERVER_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${SERVER_PIDS[@]}"; do
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            warn "pid $pid still running 10 s after SIGTERM; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    SERVER_PIDS=()
}

cleanup() {
    stop_servers
    if ((KEEP)); then
        log "kept logs in $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Sets PORT to a loopback port no socket uses, below Linux's ephemeral range (32768+) so wrk's
# client sockets never collide with it, and never handed out twice in one run.
declare -A USED_PORTS
claim_port() {
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + RANDOM % 12000))
        [[ -z ${USED_PORTS[$p]:-} ]] || continue
        if [[ -z $(ss -Htan "sport = :$p" 2>/dev/null) ]]; then
            USED_PORTS[$p]=1
            PORT=$p
            return 0
        fi
    done
    return 1
}

# Warns if a process other than ours (or their children) listens on PORT: with SO_REUSEPORT
# any process of the same user can bind the port too and take a share of wrk's connections.
check_port_owner() {
    local what=$1 port=$2 pid ppid ours
    for pid in $(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 |
        sort -u); do
        ppid=$(awk '{ print $4 }' "/proc/$pid/stat" 2>/dev/null || true)
        for ours in "${SERVER_PIDS[@]}"; do
            [[ $pid != "$ours" && $ppid != "$ours" ]] || continue 2
        done
        warn "$what: pid $pid ($(cat "/proc/$pid/comm" 2>/dev/null)) also listens on port $port"
    done
}

# Sets CURL_ARGS to the curl options sending NAME's request (method, body); URLs go after them.
curl_request_args() {
    local name=$1
    CURL_ARGS=()
    [[ ${B_METHOD[$name]} == GET ]] || CURL_ARGS+=(-X "${B_METHOD[$name]}")
    if [[ -n ${B_BODY[$name]} ]]; then
        CURL_ARGS+=(--data-binary "${B_BODY[$name]}" -H "Content-Type: ${B_CTYPE[$name]}")
    fi
}

# Waits until NAME answers 2xx at URL (10 s at most, failing early if the server exits).
wait_ready() {
    local name=$1 url=$2 i code
    curl_request_args "$name"
    for ((i = 0; i < 100; i++)); do
        code=$(curl -s -o "$SERVER_DIR/first-response" -w '%{http_code}' --max-time 2 \
            "${CURL_ARGS[@]}" "$url" 2>/dev/null) || true
        [[ $code == 2* ]] && return 0
        if ! kill -0 "${SERVER_PIDS[0]}" 2>/dev/null; then
            echo "server exited before answering" >>"$SERVER_LOG"
            return 1
        fi
        sleep 0.1
    done
    echo "no 2xx answer at $url within 10 s (last status: ${code:-none})" >>"$SERVER_LOG"
    return 1
}

# Warns once per server and mode when two requests do not share one connection: a server that
# closes keep-alive connections is measuring connection setup, not request handling.
check_keepalive() {
    local name=$1 url=$2 key=$3
    [[ -z ${KEEPALIVE_CHECKED[$key]:-} ]] || return 0
    KEEPALIVE_CHECKED[$key]=1
    curl_request_args "$name"
    if ! curl -sv -o /dev/null -o /dev/null --max-time 5 "${CURL_ARGS[@]}" "$url" "$url" 2>&1 |
        grep -q 'Re-using existing connection'; then
        warn "$name ($MODE): curl did not reuse the connection for a second request" \
            "(keep-alive broken?)"
    fi
}
declare -A KEEPALIVE_CHECKED CHECKED

# Prints the wrk -s script for NAME's request, or nothing for a plain GET.
wrk_script() {
    local name=$1 script
    [[ -z ${B_WRK_SCRIPT[$name]:-} ]] || { echo "${B_WRK_SCRIPT[$name]}"; return 0; }
    [[ ${B_METHOD[$name]} != GET || -n ${B_BODY[$name]} ]] || return 0
    script=$TMP/wrk-$name.lua
    if [[ ! -e $script ]]; then
        printf '%s' "${B_BODY[$name]}" >"$TMP/wrk-$name.body"
        cat >"$script" <<EOF
wrk.method = "${B_METHOD[$name]}"
local f = assert(io.open("$TMP/wrk-$name.body", "rb"))
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "${B_CTYPE[$name]}"
EOF
    fi
    echo "$script"
}

# Percent of all CPUs used by anything over 0.5 s, sampled between measurements (when none of
# our processes runs): other load on the machine makes every number noisier.
background_cpu() {
    local a b
    read -ra a < <(head -n1 /proc/stat)
    sleep 0.5
    read -ra b < <(head -n1 /proc/stat)
    awk -v a="${a[*]:1:8}" -v b="${b[*]:1:8}" 'BEGIN {
        split(a, x); split(b, y)
        for (i = 1; i <= 8; i++) total += y[i] - x[i]
        idle = (y[4] - x[4]) + (y[5] - x[5])
        printf "%.0f\n", (total > 0 ? 100 * (total - idle) / total : 0) }'
}

# wait_quiet WHAT: waits (30 s at most) until the machine is quiet before measuring WHAT;
# warns if it never is.
wait_quiet() {
    local busy i
    for ((i = 0; i < 60; i++)); do
        busy=$(background_cpu)
        ((busy >= 10)) || return 0
    done
    warn "$1: $busy% of the CPUs busy with other work before the measurement (noisy)"
}

# ---- prerequisites ----
ensure_tools() {
    local missing=() sudo=()
    command -v wrk >/dev/null || missing+=(wrk)
    if ! command -v nginx >/dev/null || [[ ! -e $NGINX_MODULE_DIR/ngx_http_lua_module.so ]]; then
        # Pulls libnginx-mod-http-lua, which is satisfied by libluajit2-5.1-2 (the fork the
        # project uses); never install luajit / libluajit-5.1-* here, they replace the fork.
        missing+=(nginx-extras)
    fi
    command -v curl >/dev/null || missing+=(curl)
    command -v ss >/dev/null || missing+=(iproute2)
    command -v taskset >/dev/null || missing+=(util-linux)
    ((${#missing[@]})) || return 0
    log "installing: ${missing[*]}"
    if ((EUID != 0)); then
        if ! command -v sudo >/dev/null; then
            log "run.sh: need root or sudo to install ${missing[*]}"
            exit 1
        fi
        sudo=(sudo)
    fi
    if ! { "${sudo[@]}" apt-get update -qq >"$TMP/apt.log" 2>&1 &&
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends "${missing[@]}" >>"$TMP/apt.log" 2>&1; }; then
        tail -n 20 "$TMP/apt.log" >&2
        log "run.sh: apt-get install ${missing[*]} failed"
        exit 1
    fi
}

ensure_built() {
    MAYFLY_BIN=$BUILD_DIR/mayfly
    MHD_HELLO_BIN=$BUILD_DIR/mhd_hello
    [[ -x $MAYFLY_BIN && -x $MHD_HELLO_BIN ]] && return 0
    log "building in $BUILD_DIR"
    # Configure unless a build system was generated (a failed configure leaves a cache behind).
    if [[ ! -f $BUILD_DIR/Makefile && ! -f $BUILD_DIR/build.ninja ]] &&
        ! cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >"$TMP/build.log" 2>&1; then
        tail -n 20 "$TMP/build.log" >&2
        warn "cmake configure failed; building mhd_hello alone, mayfly cannot be measured"
        MHD_HELLO_BIN=$TMP/mhd_hello
        # shellcheck disable=SC2046
        cc -O2 -Wall -Wextra -Wshadow -Werror "$BENCH_DIR/mhd_hello.c" -o "$MHD_HELLO_BIN" \
            $(pkg-config --cflags --libs libmicrohttpd) || {
            log "run.sh: cannot build mhd_hello"
            exit 1
        }
        return 0
    fi
    if [[ ! -x $MHD_HELLO_BIN ]] && ! cmake --build "$BUILD_DIR" -j2 --target mhd_hello \
        >>"$TMP/build.log" 2>&1; then
        tail -n 20 "$TMP/build.log" >&2
        log "run.sh: cannot build mhd_hello"
        exit 1
    fi
    if [[ ! -x $MAYFLY_BIN ]] && ! cmake --build "$BUILD_DIR" -j2 --target mayfly \
        >>"$TMP/build.log" 2>&1; then
        tail -n 20 "$TMP/build.log" >&2
        warn "building mayfly failed; it will be reported as failing to start"
    fi
}

# ---- one measurement ----
declare -A RPS P99 CPU FAILED MAX_OTHER
FAILURES=0

# measure NAME ROUND: start NAME, wait for it, warm up, run wrk, stop it, record the result.
measure() {
    local name=$1 round=$2 key="$1|$MODE" url out script rps p99 non2xx sockerr status
    local busy0 total0 busy1 total1 ours0 ours1 other srv0 srv1 requests why
    local wrk_args=(-t"$WRK_THREADS" -c"$WRK_CONNS" --latency)
    SERVER_LOG=$TMP/$name-$MODE-$round.log
    SERVER_DIR=$(mktemp -d "$TMP/$name-$MODE-$round.XXXXXX")
    chmod 755 "$SERVER_DIR"
    wait_quiet "$name ($MODE, round $round)"
    if ! claim_port; then
        FAILED[$key]="no free port"
        return 1
    fi
    url=http://127.0.0.1:$PORT${B_PATH[$name]}
    if ! "${B_START[$name]}" "$PORT" || ! wait_ready "$name" "$url"; then
        FAILED[$key]="failed to start"
        log "  $name: FAILED to start; its log:"
        sed 's/^/    | /' "$SERVER_LOG" >&2 || true
        [[ ! -e $SERVER_DIR/error.log ]] || sed 's/^/    | /' "$SERVER_DIR/error.log" >&2
        stop_servers
        return 1
    fi
    log "  $name: pid ${SERVER_PIDS[0]}, port $PORT, answers:" \
        "$(head -c 60 "$SERVER_DIR/first-response" | tr '\n' ' ')"
    check_keepalive "$name" "$url" "$key"
    if [[ -n ${B_CHECK[$name]:-} && -z ${CHECKED[$key]:-} ]]; then
        CHECKED[$key]=1
        if ! why=$("${B_CHECK[$name]}" "$name" "$url" 2>&1); then
            FAILED[$key]="wrong answer: $why"
            log "  $name: WRONG ANSWER: $why"
            stop_servers
            return 1
        fi
        log "  $name: answer checked"
    fi
    script=$(wrk_script "$name")
    [[ -z $script ]] || wrk_args+=(-s "$script")

    "${PIN_WRK[@]}" wrk "${wrk_args[@]}" -d"${WARMUP}s" "$url" >/dev/null 2>&1 || true
    out=$TMP/wrk-$name-$MODE-$round.txt
    read -r busy0 total0 < <(machine_ticks)
    srv0=$(proc_ticks "${SERVER_PIDS[@]}")
    ours0=$((srv0 + $(reaped_ticks)))
    if ! "${PIN_WRK[@]}" wrk "${wrk_args[@]}" -d"${DURATION}s" "$url" >"$out" 2>&1; then
        FAILED[$key]="wrk failed"
        log "  $name: wrk FAILED:"
        sed 's/^/    | /' "$out" >&2
        stop_servers
        return 1
    fi
    srv1=$(proc_ticks "${SERVER_PIDS[@]}")
    ours1=$((srv1 + $(reaped_ticks)))
    read -r busy1 total1 < <(machine_ticks)
    # CPU used by anything but the server and wrk during the run (other processes, the kernel
    # on their behalf, time stolen by the hypervisor), in percent of all CPUs.
    other=$(((total1 > total0) ? (100 * (busy1 - busy0 - (ours1 - ours0)) / (total1 - total0)) : 0))
    ((other >= 0)) || other=0
    check_port_owner "$name ($MODE, round $round)" "$PORT"
    if ! kill -0 "${SERVER_PIDS[0]}" 2>/dev/null; then
        wait "${SERVER_PIDS[0]}" && status=0 || status=$?
        FAILED[$key]="died during the measurement (exit status $status)"
        log "  $name: server DIED during the measurement (exit status $status); its log:"
        sed 's/^/    | /' "$SERVER_LOG" >&2
        stop_servers
        return 1
    fi
    stop_servers

    rps=$(awk '$1 == "Requests/sec:" { print $2 }' "$out")
    p99=$(awk '$1 == "99%" { print $2 }' "$out")
    if [[ -z $rps || -z $p99 ]]; then
        FAILED[$key]="wrk output unparsable"
        sed 's/^/    | /' "$out" >&2
        return 1
    fi
    p99=$(to_ms "$p99")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
    sockerr=$(grep -m1 'Socket errors:' "$out" || true)
    [[ -z $non2xx ]] || warn "$name ($MODE, round $round): $non2xx non-2xx responses"
    [[ -z $sockerr ]] || warn "$name ($MODE, round $round): ${sockerr#"${sockerr%%[![:space:]]*}"}"
    RPS[$key]+="$rps "
    P99[$key]+="$p99 "
    # The server's own CPU per request (user + system, every thread): what "per core" means,
    # and much steadier than req/s on a noisy machine.
    requests=$(awk '/requests in/ { print $1 }' "$out")
    CPU[$key]+="$(awk -v t="$((srv1 - srv0))" -v hz="$(getconf CLK_TCK)" -v n="$requests" \
        'BEGIN { printf "%.3f", (n > 0 ? t / hz * 1e6 / n : 0) }') "
    log "  $name: $rps req/s, p99 $p99 ms (other load during the run: $other% of the CPUs)"
    ((other < 5)) ||
        warn "$name ($MODE, round $round): other load used $other% of the CPUs during the run"
    ((other <= ${MAX_OTHER[$key]:-0})) || MAX_OTHER[$key]=$other
}

# ---- main ----
ensure_tools
ensure_built

selected=()
for name in "${BENCH_NAMES[@]}"; do
    if [[ -z $ONLY || ,$ONLY, == *,$name,* ]]; then
        selected+=("$name")
    fi
done
((${#selected[@]})) || { log "run.sh: --only $ONLY matches no server (${BENCH_NAMES[*]})"; exit 2; }

MODES=(pinned unpinned)
if ! taskset -c 0,1 true 2>/dev/null; then
    warn "CPUs 0 and 1 are not both available: skipping the pinned mode"
    MODES=(unpinned)
fi

build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null ||
    true)
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
log "mayfly bench: $ROUNDS rounds x ${DURATION}s per server and mode (+${WARMUP}s warm-up)"
log "  host: $(nproc) CPUs, $cpu_model, $(uname -sr)"
log "  build: $BUILD_DIR (${build_type:-unknown build type})"
log "  $(wrk -v 2>&1 | head -n1 || true); $(nginx -v 2>&1 || true);" \
    "libmicrohttpd $(pkg-config --modversion libmicrohttpd 2>/dev/null || echo '?')"
[[ -z $build_type || $build_type == Release ]] || warn "build type is $build_type, not Release"

# Run private copies: every round then measures the same binaries even if someone rebuilds the
# build dir meanwhile (a relink under a running server can also kill it).
mkdir -p "$TMP/bin"
cp "$MHD_HELLO_BIN" "$TMP/bin/mhd_hello"
MHD_HELLO_BIN=$TMP/bin/mhd_hello
if [[ -x $MAYFLY_BIN ]]; then
    log "  mayfly binary: $MAYFLY_BIN ($(date -r "$MAYFLY_BIN" '+%F %T'))"
    cp "$MAYFLY_BIN" "$TMP/bin/mayfly"
    MAYFLY_BIN=$TMP/bin/mayfly
fi

for MODE in "${MODES[@]}"; do
    if [[ $MODE == pinned ]]; then
        WORKERS=1 WRK_THREADS=1 WRK_CONNS=50
        PIN_SERVER=(taskset -c 0) PIN_WRK=(taskset -c 1)
    else
        WORKERS=2 WRK_THREADS=2 WRK_CONNS=100
        PIN_SERVER=() PIN_WRK=()
    fi
    for ((round = 1; round <= ROUNDS; round++)); do
        log "== $MODE, round $round/$ROUNDS (workers $WORKERS, wrk -t$WRK_THREADS -c$WRK_CONNS)"
        n=${#selected[@]}
        for ((i = 0; i < n; i++)); do
            # Rotate the order each round so no server always runs first or last.
            name=${selected[(i + round - 1) % n]}
            if [[ -n ${FAILED[$name|$MODE]:-} ]]; then
                log "  $name: skipped (${FAILED[$name|$MODE]} earlier)"
                continue
            fi
            measure "$name" "$round" || FAILURES=$((FAILURES + 1))
        done
    done
done

# ---- report ----
results=$BUILD_DIR/bench-results.txt
mkdir -p "$BUILD_DIR"
: >"$results.tmp"
declare -A MED_RPS MED_P99 MED_CPU
{
    echo
    echo "== results: median over $ROUNDS rounds of ${DURATION}s =="
    printf '%-9s %-18s %10s %7s %8s %10s %7s   %s\n' mode server 'req/s' spread 'p99 ms' \
        'cpu us/req' 'other' 'req/s per round'
    for MODE in "${MODES[@]}"; do
        for name in "${selected[@]}"; do
            key="$name|$MODE"
            if [[ -z ${RPS[$key]:-} ]]; then
                printf '%-9s %-18s %10s %7s %8s %10s %7s   %s\n' "$MODE" "$name" FAILED - - - - \
                    "${FAILED[$key]:-no result}"
                continue
            fi
            read -ra rps_rounds <<<"${RPS[$key]}"
            read -ra p99_rounds <<<"${P99[$key]}"
            MED_RPS[$key]=$(median "${rps_rounds[@]}")
            MED_P99[$key]=$(median "${p99_rounds[@]}")
            read -ra cpu_rounds <<<"${CPU[$key]}"
            MED_CPU[$key]=$(median "${cpu_rounds[@]}")
            # spread: (max - min) / median of the rounds' req/s.
            spread=$(printf '%s\n' "${rps_rounds[@]}" | sort -g | awk -v m="${MED_RPS[$key]}" '
                NR == 1 { lo = $1 }
                { hi = $1 }
                END { printf "%.0f%%", (m > 0 ? 100 * (hi - lo) / m : 0) }')
            printf '%-9s %-18s %10.0f %7s %8.2f %10.2f %7s   %s%s\n' "$MODE" "$name" \
                "${MED_RPS[$key]}" "$spread" "${MED_P99[$key]}" "${MED_CPU[$key]}" \
                "${MAX_OTHER[$key]:-0}%" \
                "$(printf '%.0f ' "${rps_rounds[@]}")" \
                "${FAILED[$key]:+ (then ${FAILED[$key]})}"
            echo "$name $MODE ${MED_RPS[$key]} ${MED_P99[$key]} ${MED_CPU[$key]}" >>"$results.tmp"
        done
    done
    echo
    echo "== ratios (req/s and requests per CPU-second: higher is better for the first; p99: lower is) =="
    for MODE in "${MODES[@]}"; do
        for pair in "${RATIOS[@]}"; do
            num=${pair%/*} den=${pair#*/}
            [[ " ${selected[*]} " == *" $num "* && " ${selected[*]} " == *" $den "* ]] || continue
            if [[ -z ${MED_RPS[$num|$MODE]:-} || -z ${MED_RPS[$den|$MODE]:-} ]]; then
                printf '%-9s %-36s %s\n' "$MODE" "$num / $den" "n/a (missing results)"
                continue
            fi
            awk -v m="$MODE" -v p="$num / $den" -v rn="${MED_RPS[$num|$MODE]}" \
                -v rd="${MED_RPS[$den|$MODE]}" -v ln="${MED_P99[$num|$MODE]}" \
                -v ld="${MED_P99[$den|$MODE]}" -v cn="${MED_CPU[$num|$MODE]}" \
                -v cd="${MED_CPU[$den|$MODE]}" 'BEGIN {
                    printf "%-9s %-36s req/s %.2fx   per CPU-second %.2fx   p99 %.2fx\n", m, p,
                        rn / rd, (cn > 0 ? cd / cn : 0), (ld > 0 ? ln / ld : 0) }'
        done
    done
    if ((${#WARNINGS[@]})); then
        echo
        echo "== warnings =="
        printf '  %s\n' "${WARNINGS[@]}"
    fi
}
mv "$results.tmp" "$results"
echo
echo "results: $results"

if ((FAILURES)); then
    echo "$FAILURES measurement(s) failed (a server did not start, answered wrongly or wrk failed); see above" >&2
    exit 1
fi
