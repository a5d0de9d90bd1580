#!/usr/bin/env bash
# tests/bench/streams.sh — open Server-Sent Events streams fed by Redis pub/sub: what an idle
# stream costs in memory, and how long one PUBLISH takes to reach every stream. mayfly against
# nginx + lua-nginx-module. A report, never a pass/fail test.
#
#   bash tests/bench/streams.sh [--quick] [--keep]
#
# Servers (each serves GET /feed: an SSE stream subscribed to the Redis channel bench:feed that
# writes each message as an event, with a heartbeat comment after 15 s without a write):
#   mayfly  tests/bench/streams_scripts/feed.lua: mayfly.sse.stream, mayfly.subscribe and
#           sub:next(30) (heartbeat at mayfly.sse's default); every stream of a worker shares
#           the worker's one subscriber connection
#   nginx   nginx + lua-nginx-module (tests/bench/nginx_streams.conf.in): one Redis connection
#           (a cosocket) per request, subscribed, each message written with ngx.print +
#           ngx.flush(true), as lua-resty-redis's subscribe would have it
#   mayfly-1-worker   mayfly with one worker: every stream on one thread's loop
#   mayfly-4KiB-head  mayfly with MAYFLY_MAX_HEADER=4KiB: what libmicrohttpd's per-connection
#           pool (MAYFLY_MAX_HEADER, 16KiB by default) takes of a stream's memory
# mayfly and nginx run WORKERS=2 workers each (nginx cannot hold 10,000 streams in one worker
# under this machine's 20,000-descriptor limit, as each stream takes two there), on loopback,
# their connection limits raised, on the same redis-server of the run (--save "" --appendonly
# no, maxclients raised).
#
# Modes:
#   unpinned  no taskset: the servers, Redis and the clients share every CPU
#   pinned    the server (both workers) on CPU 0; Redis and the clients on CPU 1, so the
#             clients' own work does not slow the server (full runs only, mayfly and nginx)
#
# What it measures, per server and mode (tests/bench/streams_client.py run):
#   memory per idle stream: (RSS with STREAMS streams open - RSS before) / STREAMS, the server's
#     process and its children, after a warm-up and a settling pause; mayfly's Lua heap
#     (mayfly_lua_memory_bytes) the same way; Redis's growth (INFO used_memory, RSS, clients):
#     one subscriber connection per worker for mayfly, one per stream for nginx; the kernel's
#     Slab (every socket of a stream: the client's, the server's, for nginx its Redis
#     connection's two ends). The target for mayfly is <= 32 KiB.
#   fan-out: PUBLISHES messages one at a time; for each, the time from just before the PUBLISH
#     to the last of the STREAMS clients having the event (time.monotonic(), one clock for
#     every process), median and p99 over the publishes (nearest rank: with 30 publishes the
#     p99 is the slowest); also by the kernel's receive timestamp of each client socket
#     (SO_TIMESTAMPNS), which the client's own speed cannot delay, and the client's lag (seen -
#     kernel); the first client, and every delivery's time. CPU per delivery of the server,
#     CPU of Redis per PUBLISH, and the clients' own CPU per delivery.
# Clients: CLIENT_PROCS Python asyncio processes holding the STREAMS connections between them,
# each stream checked strictly (status, chunked framing, only comments and data lines, each
# event's text). STREAMS=10,000 and 30 publishes, about 3 minutes; --quick: 2,000 streams, 10
# publishes, mayfly and nginx unpinned only, under a minute.
#
# On two cores the clients need about as much CPU per delivery as the servers: unpinned, they
# compete with the server for the CPUs during a fan-out, which the pinned mode avoids.
# Results: the tables below, and $MAYFLY_BUILD_DIR/streams-<server>-<mode>.json (default build/).
#
# Needs nginx-extras and redis-server (installed with apt-get when missing), python3 and a
# Release build in $MAYFLY_BUILD_DIR (default build/).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR=$ROOT/tests/bench
BUILD_DIR=${MAYFLY_BUILD_DIR:-$ROOT/build}
NGINX_MODULE_DIR=/usr/lib/nginx/modules
source "$BENCH_DIR/lib.sh"
bench_options "$@"

STREAMS=10000 PUBLISHES=30 CLIENT_PROCS=4 WORKERS=2
if ((QUICK)); then STREAMS=2000 PUBLISHES=10 CLIENT_PROCS=2; fi

# Every stream is a descriptor in a client and in the server, for nginx a second one in the
# server and one in Redis: raise the soft limit to the hard one for every process started here.
ulimit -n "$(ulimit -Hn)"
if (($(ulimit -n) < STREAMS * 2 / WORKERS + 1000)) || (($(ulimit -n) < STREAMS + 1000)); then
    log "the descriptor limit ($(ulimit -n)) is too low for $STREAMS streams"
    exit 1
fi

TMP=$(mktemp -d /tmp/mayfly-bench-streams.XXXXXX)
chmod 755 "$TMP" # nginx workers run unprivileged when started as root
PIDS=()          # what this script started; only these are ever stopped

cleanup() {
    stop_pids
    [[ -n ${REDIS_PID:-} ]] && { kill -TERM "$REDIS_PID" 2>/dev/null; wait "$REDIS_PID" 2>/dev/null; }
    if ((KEEP)); then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

ensure_tools() {
    local missing=()
    [[ -e $NGINX_MODULE_DIR/ngx_http_lua_module.so ]] || missing+=(nginx-extras)
    command -v redis-server >/dev/null || missing+=(redis-server)
    install_missing "${missing[@]}"
}

MAYFLY_SETTINGS=("MAYFLY_WORKERS=$WORKERS" MAYFLY_ACCESS_LOG=off MAYFLY_DRAIN_DELAY=0
    MAYFLY_SHUTDOWN_TIMEOUT=5s "MAYFLY_MAX_CONNECTIONS=$((STREAMS + 1000))"
    MAYFLY_MAX_CONNECTIONS_PER_IP=0)

# start_<server> PORT: starts it (its pid last in PIDS) and sets SUBSCRIBERS (what Redis counts
# on the channel once every stream is open), RUN_WORKERS and CLIENT_FLAGS.

# start_mayfly PORT [SETTING=value...]
start_mayfly() {
    local port=$1
    shift
    env "MAYFLY_LISTEN=127.0.0.1:$port" "MAYFLY_REDIS_URL=redis://127.0.0.1:$REDIS_PORT" \
        "MAYFLY_SCRIPTS=$BENCH_DIR/streams_scripts" "${MAYFLY_SETTINGS[@]}" "$@" \
        "${PIN_SERVER[@]}" "$MAYFLY_BIN" serve >>"$SERVER_LOG" 2>&1 &
    PIDS+=($!)
    SUBSCRIBERS=$RUN_WORKERS # one subscriber connection per worker
    CLIENT_FLAGS=(--lua-metrics)
}

start_mayfly_1_worker() {
    RUN_WORKERS=1
    start_mayfly "$1" MAYFLY_WORKERS=1
}

start_mayfly_4KiB_head() {
    start_mayfly "$1" MAYFLY_MAX_HEADER=4KiB
}

start_nginx() {
    local dir load="" mod
    dir=$(mktemp -d "$TMP/nginx-$MODE.XXXXXX")
    NGINX_ERRORS=$dir/error.log
    chmod 755 "$dir"
    for mod in ndk_http_module ngx_http_lua_module; do
        load+="load_module $NGINX_MODULE_DIR/$mod.so; "
    done
    sed -e "s|@PREFIX@|$dir|g" -e "s|@PORT@|$1|g" -e "s|@WORKERS@|$WORKERS|g" \
        -e "s|@REDIS_PORT@|$REDIS_PORT|g" -e "s|@LOAD_MODULES@|$load|g" \
        "$BENCH_DIR/nginx_streams.conf.in" >"$dir/nginx.conf"
    "${PIN_SERVER[@]}" nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" \
        >>"$SERVER_LOG" 2>&1 &
    PIDS+=($!)
    SUBSCRIBERS=$STREAMS # one Redis connection per stream
    CLIENT_FLAGS=()
}

# set_mode MODE: PIN_SERVER, PIN_CLIENT and Redis's CPUs for MODE.
set_mode() {
    if [[ $1 == pinned ]]; then
        PIN_SERVER=(taskset -c 0) PIN_CLIENT=(taskset -c 1)
        taskset -p -c 1 "$REDIS_PID" >/dev/null
    else
        PIN_SERVER=() PIN_CLIENT=()
        taskset -p -c "0-$(($(nproc) - 1))" "$REDIS_PID" >/dev/null
    fi
}

declare -A RESULTS
measure() {
    local name=$1 port out rc=0
    port=$(free_port)
    SERVER_LOG=$TMP/$name-$MODE.log
    RUN_WORKERS=$WORKERS NGINX_ERRORS=/dev/null
    "start_${name//-/_}" "$port"
    wait_200 "http://127.0.0.1:$port/hello" || { stop_pids; return 1; }
    out=$BUILD_DIR/streams-$name-$MODE.json
    [[ -d $BUILD_DIR ]] || out=$TMP/streams-$name-$MODE.json
    log "$name ($MODE): $STREAMS streams from $CLIENT_PROCS client processes, $PUBLISHES publishes"
    "${PIN_CLIENT[@]}" python3 "$BENCH_DIR/streams_client.py" run --name "$name" --port "$port" \
        --redis-port "$REDIS_PORT" --redis-pid "$REDIS_PID" --server-pid "${PIDS[-1]}" \
        --workers "$RUN_WORKERS" --subscribers "$SUBSCRIBERS" --streams "$STREAMS" \
        --procs "$CLIENT_PROCS" --publishes "$PUBLISHES" "${CLIENT_FLAGS[@]}" --out "$out" || rc=$?
    ((rc == 0)) || log "  WARNING $name: not every stream opened or had every event (see the table)"
    stop_pids
    [[ -s $out ]] && RESULTS[$MODE]+="$out "
    if grep -qiE '"error"|\[(error|alert|emerg)\]' "$SERVER_LOG" "$NGINX_ERRORS" 2>/dev/null; then
        log "  $name's log:"
        grep -hiE '"error"|\[(error|alert|emerg)\]' "$SERVER_LOG" "$NGINX_ERRORS" 2>/dev/null |
            head -5 >&2
    fi
    return 0
}

ensure_tools
ensure_mayfly
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --maxclients $((STREAMS + 1000)) --loglevel warning >"$TMP/redis.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done

log "streams bench: $STREAMS streams, $WORKERS workers each, $PUBLISHES publishes; $(nproc) CPUs;" \
    "redis $(redis-server --version | cut -d' ' -f3 | cut -d= -f2); $(nginx -v 2>&1 | cut -d' ' -f3)"
log "  load before the run: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine makes every number noisier)"

MODES=(unpinned)
((QUICK)) || ! taskset -c 0,1 true 2>/dev/null || MODES+=(pinned)
for MODE in "${MODES[@]}"; do
    set_mode "$MODE"
    measure mayfly
    measure nginx
    if ((!QUICK)) && [[ $MODE == unpinned ]]; then
        measure mayfly-1-worker
        measure mayfly-4KiB-head
    fi
done

for MODE in "${MODES[@]}"; do
    echo
    echo "== $MODE: $STREAMS SSE streams on one Redis channel, $PUBLISHES publishes =="
    read -ra files <<<"${RESULTS[$MODE]:-}"
    ((${#files[@]})) && python3 "$BENCH_DIR/streams_client.py" report "${files[@]}"
done
echo
echo "== commands =="
echo "redis-server --port $REDIS_PORT --bind 127.0.0.1 --save \"\" --appendonly no --maxclients $((STREAMS + 1000))"
echo "mayfly: env ${MAYFLY_SETTINGS[*]} MAYFLY_SCRIPTS=tests/bench/streams_scripts mayfly serve"
echo "        (mayfly-1-worker: MAYFLY_WORKERS=1; mayfly-4KiB-head: MAYFLY_MAX_HEADER=4KiB)"
echo "nginx:  nginx -c tests/bench/nginx_streams.conf.in (worker_processes $WORKERS, worker_connections 19000)"
echo "client: tests/bench/streams_client.py run --streams $STREAMS --procs $CLIENT_PROCS" \
    "--publishes $PUBLISHES --subscribers (mayfly: workers, nginx: $STREAMS)"
[[ " ${MODES[*]} " == *" pinned "* ]] && echo "pinned: taskset -c 0 for the server, taskset -c 1 for Redis and the clients"
