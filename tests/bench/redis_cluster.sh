#!/usr/bin/env bash
# tests/bench/redis_cluster.sh — one Redis INCR per request on random keys, through a Redis
# Cluster of three primaries against one redis-server, and what a reshard (a storm of MOVED and
# ASK redirects) costs while requests run. A report, never a pass/fail test.
#
#   bash tests/bench/redis_cluster.sh [--quick] [--keep]
#
# Servers (each answers GET /incr?k=K with the counter after one INCR of "bench:K",
# tests/bench/redis_cluster_scripts/incr.lua; wrk's tests/bench/redis_cluster_keys.lua draws K
# from 1..10000 at random per request, so the keys spread over the slots of every primary):
#   mayfly-single   MAYFLY_REDIS_URL=redis:// to one redis-server
#   mayfly-cluster  MAYFLY_REDIS_URL=redis+cluster:// to a cluster of three primaries and no
#                   replicas (redis-cli --cluster create): each command on the worker's own
#                   pipelined connection to the primary of its key's slot
# Ceilings: redis-benchmark -t incr -r 10000 against the one server and, with --cluster, against
# the cluster: the most INCRs per second Redis takes from one client process, no HTTP between.
#
# Modes, as in tests/bench/redis.sh:
#   pinned    server on CPU 0 (one worker); wrk -t1 -c50 and every redis-server on CPU 1 (the
#             three nodes where the one server was: CPU 1 carries the same INCRs in three
#             processes)
#   unpinned  no taskset, two workers, wrk -t2 -c100
# Rounds alternate the two servers (5 rounds of 5 s; --quick: 2 rounds of 3 s) after a 1 s
# warm-up each. The table gives the median req/s, p99, mayfly's CPU per request (user + system,
# every thread: one core kept busy serves 1e6 / that many requests per second), the Redis side's
# CPU per request (the one server's, or the three nodes' together) and each round's req/s. The
# ratio mayfly-cluster / mayfly-single per mode has the target >= 0.9; pinned is the per-core
# figure, unpinned also carries what three redis-servers cost on the same two cores. On a
# shared, noisy machine ratios within ~10-20% are noise: repeat before concluding; CPU per
# request and the instruction counts repeat better.
# Instructions per request: each server under callgrind, one worker, INSTR_REQUESTS keep-alive
# requests one after another (2000 by default, after 2000 to warm up) to GET /incr, whose key
# then comes from math.random in the handler; the totals, their ratio, and the functions whose
# own instructions per request differ most between the two (the kernel's work is not counted).
# The MOVED storm (unpinned, one fresh mayfly-cluster): wrk for STORM s steady, then wrk for
# STORM s while `redis-cli --cluster reshard` moves 1500 slots from the first primary to the
# second and back, again and again until wrk ends (then home, so every run starts alike): the
# whole second window is resharding. It reports req/s, p99, non-2xx answers and socket errors of
# both windows (non-2xx should be 0: every redirect followed), the moves made and their
# durations, and mayfly's redirect (moved, ask, tryagain) and slot map read (ok, failed)
# counters from /metrics over each window. STORM is 10 s (--quick: 5 s).
# Needs wrk, redis-server, redis-tools and valgrind (installed with apt-get when missing) and a
# Release build in $MAYFLY_BUILD_DIR (default build/).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR=$ROOT/tests/bench
BUILD_DIR=${MAYFLY_BUILD_DIR:-$ROOT/build}
ROUNDS=5 DURATION=5 WARMUP=1 STORM=10
STORM_SLOTS=1500
INSTR_REQUESTS=${INSTR_REQUESTS:-2000}
SERVERS=(mayfly-single mayfly-cluster)
KEYS_SCRIPT=$BENCH_DIR/redis_cluster_keys.lua

source "$ROOT/tests/bench/lib.sh"
bench_options "$@"
if ((QUICK)); then ROUNDS=2 DURATION=3 STORM=5; fi
TMP=$(mktemp -d /tmp/mayfly-bench-redis-cluster.XXXXXX)
PIDS=()       # the server being measured; only what this script started is ever stopped
REDIS_PIDS=() # the redis-servers of the run
WRK_PID=

cleanup() {
    stop_pids
    [[ -z $WRK_PID ]] || kill -TERM "$WRK_PID" 2>/dev/null || true
    for pid in "${BENCH_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done # callgrind's
    for pid in "${REDIS_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${REDIS_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if ((KEEP)); then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

ensure_tools() {
    local missing=()
    command -v wrk >/dev/null || missing+=(wrk)
    command -v redis-server >/dev/null || missing+=(redis-server)
    command -v redis-benchmark >/dev/null || missing+=(redis-tools)
    command -v valgrind >/dev/null || missing+=(valgrind)
    install_missing "${missing[@]}"
}

# ---- the Redis side ----

wait_ping() {
    local i
    for ((i = 0; i < 100; i++)); do
        redis-cli -p "$1" ping 2>/dev/null | grep -q PONG && return 0
        sleep 0.05
    done
    log "redis-server on port $1 did not start"
    return 1
}

# start_single: the one redis-server (SINGLE_PORT).
start_single() {
    SINGLE_PORT=$(free_port)
    mkdir -p "$TMP/single"
    "${PIN_REDIS[@]}" redis-server --port "$SINGLE_PORT" --bind 127.0.0.1 --dir "$TMP/single" \
        --save '' --appendonly no --loglevel warning >"$TMP/single.log" 2>&1 &
    REDIS_PIDS+=($!)
    SINGLE_PIDS=($!)
    wait_ping "$SINGLE_PORT"
}

# start_cluster: three primaries, no replicas (NODE_PORTS, NODE_IDS); each node has its own
# --dir, where it keeps its nodes file.
start_cluster() {
    local port seeds=() i state
    NODE_PIDS=()
    # Free ports whose port + 10000 (the node's cluster bus) is free too.
    read -ra NODE_PORTS <<<"$(python3 "$ROOT/tests/integration/fixtures/cluster_ports.py" 3)"
    for port in "${NODE_PORTS[@]}"; do
        mkdir -p "$TMP/node-$port"
        "${PIN_REDIS[@]}" redis-server --port "$port" --bind 127.0.0.1 --dir "$TMP/node-$port" \
            --cluster-enabled yes --cluster-config-file "$TMP/node-$port/nodes.conf" \
            --save '' --appendonly no --loglevel warning >"$TMP/node-$port.log" 2>&1 &
        REDIS_PIDS+=($!)
        NODE_PIDS+=($!)
        seeds+=("127.0.0.1:$port")
    done
    for port in "${NODE_PORTS[@]}"; do wait_ping "$port"; done
    redis-cli --cluster create "${seeds[@]}" --cluster-replicas 0 --cluster-yes \
        >"$TMP/cluster-create.log" 2>&1 || { cat "$TMP/cluster-create.log" >&2; return 1; }
    for port in "${NODE_PORTS[@]}"; do
        for ((i = 0; i < 200; i++)); do
            state=$(redis-cli -p "$port" cluster info 2>/dev/null | tr -d '\r' |
                awk -F: '$1 == "cluster_state" { print $2 }')
            [[ $state == ok ]] && break
            sleep 0.05
        done
        [[ $state == ok ]] ||
            { log "cluster node $port: cluster_state ${state:-unknown}"; return 1; }
    done
    NODE_IDS=()
    for port in "${NODE_PORTS[@]}"; do
        NODE_IDS+=("$(redis-cli -p "$port" cluster myid | tr -d '\r')")
    done
    CLUSTER_URL=redis+cluster://127.0.0.1:${NODE_PORTS[0]},127.0.0.1:${NODE_PORTS[1]}
}

# slot_counts: how many slots each primary holds, "PORT:N" in NODE_PORTS' order.
slot_counts() {
    redis-cli -p "${NODE_PORTS[0]}" cluster nodes | tr -d '\r' | awk -v order="${NODE_PORTS[*]}" '
        $3 ~ /master/ { split($2, a, "@"); n = split(a[1], hp, ":"); port = hp[n]
            for (i = 9; i <= NF; i++) {
                if ($i ~ /^\[/) continue
                m = split($i, r, "-"); count[port] += (m > 1 ? r[2] - r[1] + 1 : 1) } }
        END { k = split(order, p, " ")
              for (i = 1; i <= k; i++) printf "%s:%d ", p[i], count[p[i]] }'
}

# ---- the servers ----

start_mayfly() {
    local port=$1
    shift
    env "MAYFLY_LISTEN=127.0.0.1:$port" "MAYFLY_WORKERS=$WORKERS" MAYFLY_ACCESS_LOG=off \
        MAYFLY_DRAIN_DELAY=0 MAYFLY_REDIS_POOL_SIZE=$((WORKERS + 1 > 8 ? WORKERS + 1 : 8)) \
        "MAYFLY_SCRIPTS=$BENCH_DIR/redis_cluster_scripts" "$@" \
        "${PIN_SERVER[@]}" "$MAYFLY_BIN" serve >>"$SERVER_LOG" 2>&1 &
    PIDS+=($!)
}
start_mayfly_single() { start_mayfly "$1" "MAYFLY_REDIS_URL=redis://127.0.0.1:$SINGLE_PORT"; }
start_mayfly_cluster() { start_mayfly "$1" "MAYFLY_REDIS_URL=$CLUSTER_URL"; }

# us_per_request TICKS REQUESTS
us_per_request() {
    awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v n="$2" \
        'BEGIN { printf "%.3f", (n > 0 ? t / hz * 1e6 / n : 0) }'
}

# wrk_parse OUT: "req/s p99_ms requests non2xx socket_errors" of a wrk --latency output.
wrk_parse() {
    local rps p99 n non2xx sockerr
    rps=$(awk '$1 == "Requests/sec:" { print $2 }' "$1")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$1")")
    n=$(awk '/requests in/ { print $1 }' "$1")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$1")
    sockerr=$(awk '/Socket errors:/ { s = 0; for (i = 3; i <= NF; i++) if ($i ~ /^[0-9]+/) s += $i
        print s }' "$1")
    echo "$rps $p99 $n ${non2xx:-0} ${sockerr:-0}"
}

declare -A RPS P99 CPU REDIS_CPU
measure() {
    local name=$1 port out url t0 t1 r0 r1 rps p99 n non2xx sockerr redis_pids=("${SINGLE_PIDS[@]}")
    [[ $name == mayfly-cluster ]] && redis_pids=("${NODE_PIDS[@]}")
    port=$(free_port)
    url=http://127.0.0.1:$port/incr
    SERVER_LOG=$TMP/$name-$MODE.log
    "start_${name//-/_}" "$port"
    wait_200 "$url" || { stop_pids; return 1; }
    "${PIN_WRK[@]}" wrk -t"$WRK_T" -c"$WRK_C" -d"${WARMUP}s" -s "$KEYS_SCRIPT" "$url" \
        >/dev/null 2>&1 || true
    out=$TMP/wrk-$name-$MODE-$round.txt
    t0=$(proc_ticks "${PIDS[0]}")
    r0=$(proc_ticks "${redis_pids[@]}")
    "${PIN_WRK[@]}" wrk -t"$WRK_T" -c"$WRK_C" -d"${DURATION}s" --latency -s "$KEYS_SCRIPT" "$url" \
        >"$out" 2>&1
    t1=$(proc_ticks "${PIDS[0]}")
    r1=$(proc_ticks "${redis_pids[@]}")
    stop_pids
    read -r rps p99 n non2xx sockerr <<<"$(wrk_parse "$out")"
    ((non2xx + sockerr == 0)) ||
        log "  WARNING $name: $non2xx non-2xx answers, $sockerr socket errors"
    RPS[$name|$MODE]+="$rps "
    P99[$name|$MODE]+="$p99 "
    CPU[$name|$MODE]+="$(us_per_request $((t1 - t0)) "$n") "
    REDIS_CPU[$name|$MODE]+="$(us_per_request $((r1 - r0)) "$n") "
    log "  $name ($MODE, round $round): $rps req/s, p99 $p99 ms"
}

# ceiling NAME ARGS...: redis-benchmark's INCR on 10000 random keys with ARGS (where the
# server(s) are), the client where the server would run; sets CEIL_RPS and CEIL_P99.
declare -A CEIL_RPS CEIL_P99
ceiling() {
    local name=$1 csv
    shift
    csv=$("${PIN_SERVER[@]}" redis-benchmark "$@" -t incr -r 10000 -c "$WRK_C" \
        -n $((DURATION * 60000)) --csv 2>/dev/null | tail -n1 | tr -d '"')
    CEIL_RPS[$name|$MODE]=$(cut -d, -f2 <<<"$csv")
    CEIL_P99[$name|$MODE]=$(cut -d, -f7 <<<"$csv")
    log "  redis-benchmark $name ($MODE): ${CEIL_RPS[$name|$MODE]} req/s," \
        "p99 ${CEIL_P99[$name|$MODE]} ms"
}

# ---- the run ----

ensure_tools
ensure_mayfly
# Redis shares CPU 1 with wrk in the pinned mode, the same for both servers.
PIN_REDIS=()
taskset -c 1 true 2>/dev/null && PIN_REDIS=(taskset -c 1)
start_single
start_cluster
CLUSTER_BENCH=1 # redis-benchmark --cluster came with Redis 6
redis-benchmark --help 2>&1 | grep -q -- --cluster || CLUSTER_BENCH=0

log "redis cluster bench: $ROUNDS round(s) x ${DURATION}s; $(nproc) CPUs;" \
    "$(redis-server --version | cut -d' ' -f3)"
log "  cluster: primaries on ports ${NODE_PORTS[*]}, slots $(slot_counts)"
log "  load before the run: $(cut -d' ' -f1-3 /proc/loadavg)" \
    "(other work on the machine makes every number noisier)"

pin_modes
for MODE in "${MODES[@]}"; do
    set_mode "$MODE"
    measure_rounds
    ceiling single -p "$SINGLE_PORT"
    if ((CLUSTER_BENCH)); then ceiling cluster --cluster -h 127.0.0.1 -p "${NODE_PORTS[0]}"; fi
done

# ---- instructions per request ----

# instructions NAME URL: the instructions per request of one mayfly worker under callgrind
# (callgrind_incr), and the file of each function's own instructions per request
# ($TMP/self.NAME: "count<TAB>function [object]").
declare -A INSTR
instructions() {
    local name=$1 out
    # Exported here, not given to env: callgrind must run mayfly itself, not a program that
    # execs it.
    local -x MAYFLY_REDIS_URL=$2
    out=$TMP/callgrind.$name
    callgrind_incr "$out" "$BENCH_DIR/redis_cluster_scripts"
    INSTR[$name]=$(callgrind_per_request "$out" "$INSTR_REQUESTS")
    # Self costs by function in callgrind's format: "fn=" names the function of the cost lines
    # that follow, "ob=" its object ("(id) name" defines an id, "(id)" reuses it; "cfn=" and
    # "cob=" define ids too); a cost line right after "calls=" is a call's inclusive cost,
    # counted already by the callee.
    awk -v n="$INSTR_REQUESTS" '
        function named(v, kind,   id) {
            if (!match(v, /^\([0-9]+\)/)) return v
            id = substr(v, 1, RLENGTH)
            if (length(v) > RLENGTH) names[kind, id] = substr(v, RLENGTH + 2)
            return names[kind, id]
        }
        /^ob=/ { ob = named(substr($0, 4), "ob"); sub(/.*\//, "", ob); next }
        /^cob=/ { named(substr($0, 5), "ob"); next }
        /^fn=/ { fn = named(substr($0, 4), "fn"); next }
        /^cfn=/ { named(substr($0, 5), "fn"); next }
        /^calls=/ { call = 1; next }
        /^[0-9+*-]/ { if (call) call = 0; else self[fn " [" ob "]"] += $2 }
        END { for (f in self) printf "%.1f\t%s\n", self[f] / n, f }' "$out" >"$TMP/self.$name"
}
log "instructions per request under callgrind ($INSTR_REQUESTS requests each)"
instructions single "redis://127.0.0.1:$SINGLE_PORT"
instructions cluster "$CLUSTER_URL"

# ---- the MOVED storm ----

# cluster_counters PORT: "moved ask tryagain refreshes_ok refreshes_failed" from mayfly's /metrics.
cluster_counters() {
    curl -s "http://127.0.0.1:$1/metrics" | awk '
        /^mayfly_redis_cluster_redirects_total\{kind="moved"\}/ { m = $2 }
        /^mayfly_redis_cluster_redirects_total\{kind="ask"\}/ { a = $2 }
        /^mayfly_redis_cluster_redirects_total\{kind="tryagain"\}/ { t = $2 }
        /^mayfly_redis_cluster_refreshes_total\{result="ok"\}/ { ok = $2 }
        /^mayfly_redis_cluster_refreshes_total\{result="failed"\}/ { f = $2 }
        END { printf "%d %d %d %d %d\n", m, a, t, ok, f }'
}

# reshard FROM TO: moves STORM_SLOTS slots from the primary NODE_IDS[FROM] to NODE_IDS[TO] (the
# lowest-numbered ones the source holds, so a move back restores the layout).
reshard() {
    redis-cli --cluster reshard "127.0.0.1:${NODE_PORTS[0]}" --cluster-from "${NODE_IDS[$1]}" \
        --cluster-to "${NODE_IDS[$2]}" --cluster-slots "$STORM_SLOTS" --cluster-yes \
        >>"$TMP/reshard.log" 2>&1
}

now_ms() { date +%s%3N; }

log "MOVED storm: ${STORM}s steady, then ${STORM}s while $STORM_SLOTS slots move between two" \
    "primaries"
WORKERS=2 PIN_SERVER=()
SERVER_LOG=$TMP/storm.log
STORM_PORT=$(free_port)
url=http://127.0.0.1:$STORM_PORT/incr
slots_before=$(slot_counts)
start_mayfly_cluster "$STORM_PORT"
wait_200 "$url"
wrk -t2 -c100 -d"${WARMUP}s" -s "$KEYS_SCRIPT" "$url" >/dev/null 2>&1 || true
read -ra C0 <<<"$(cluster_counters "$STORM_PORT")"
wrk -t2 -c100 -d"${STORM}s" --latency -s "$KEYS_SCRIPT" "$url" >"$TMP/wrk-steady.txt" 2>&1
read -ra C1 <<<"$(cluster_counters "$STORM_PORT")"
wrk -t2 -c100 -d"${STORM}s" --latency -s "$KEYS_SCRIPT" "$url" >"$TMP/wrk-storm.txt" 2>&1 &
WRK_PID=$!
window_start=$(now_ms)
MOVES=() from=0 to=1 reshard_failed=0
while kill -0 "$WRK_PID" 2>/dev/null; do
    t=$(now_ms)
    if ! reshard "$from" "$to"; then
        reshard_failed=1
        log "  WARNING: a reshard failed; the end of its output:"
        tail -n 5 "$TMP/reshard.log" >&2
        break
    fi
    MOVES+=($(($(now_ms) - t)))
    read -r from to <<<"$to $from"
done
wait "$WRK_PID" || true
WRK_PID=
window_ms=$(($(now_ms) - window_start))
read -ra C2 <<<"$(cluster_counters "$STORM_PORT")"
stop_pids
# Home again: after an odd number of moves the slots are on the second primary.
if ((!reshard_failed && ${#MOVES[@]} % 2)); then
    reshard "$from" "$to" || log "  WARNING: moving the slots home failed (see $TMP/reshard.log)"
fi
slots_after=$(slot_counts)
read -r S_RPS S_P99 _ S_NON2XX S_SOCK <<<"$(wrk_parse "$TMP/wrk-steady.txt")"
read -r R_RPS R_P99 _ R_NON2XX R_SOCK <<<"$(wrk_parse "$TMP/wrk-storm.txt")"

# ---- the report ----

echo
echo "== one INCR per request on 10000 random keys: median over $ROUNDS round(s) of ${DURATION}s =="
printf '%-9s %-24s %10s %8s %11s %11s   %s\n' mode server 'req/s' 'p99 ms' 'cpu us/req' \
    'redis us/req' 'req/s per round'
for MODE in "${MODES[@]}"; do
    for name in "${SERVERS[@]}"; do
        read -ra r <<<"${RPS[$name|$MODE]}"
        read -ra p <<<"${P99[$name|$MODE]}"
        read -ra c <<<"${CPU[$name|$MODE]}"
        read -ra rc <<<"${REDIS_CPU[$name|$MODE]}"
        RPS[$name|$MODE|med]=$(median "${r[@]}")
        P99[$name|$MODE|med]=$(median "${p[@]}")
        CPU[$name|$MODE|med]=$(median "${c[@]}")
        REDIS_CPU[$name|$MODE|med]=$(median "${rc[@]}")
        printf '%-9s %-24s %10.0f %8.2f %11.1f %11.1f   %s\n' "$MODE" "$name" \
            "${RPS[$name|$MODE|med]}" "${P99[$name|$MODE|med]}" "${CPU[$name|$MODE|med]}" \
            "${REDIS_CPU[$name|$MODE|med]}" "$(printf '%.0f ' "${r[@]}")"
    done
    for name in single cluster; do
        [[ -n ${CEIL_RPS[$name|$MODE]:-} ]] || continue
        printf '%-9s %-24s %10.0f %8.2f\n' "$MODE" "redis-benchmark $name" \
            "${CEIL_RPS[$name|$MODE]}" "${CEIL_P99[$name|$MODE]}"
    done
done
echo "(cpu us/req: mayfly's user + system CPU per request; redis us/req: the redis-server's, or the"
echo " three nodes' together; both medians over the rounds)"
((CLUSTER_BENCH)) || echo "(this redis-benchmark has no --cluster: no cluster ceiling)"
echo
echo "== cluster / single (target: req/s >= 0.9x) =="
for MODE in "${MODES[@]}"; do
    awk -v mode="$MODE" \
        -v c="${RPS[mayfly-cluster|$MODE|med]}" -v s="${RPS[mayfly-single|$MODE|med]}" \
        -v cp="${P99[mayfly-cluster|$MODE|med]}" -v sp="${P99[mayfly-single|$MODE|med]}" \
        -v cc="${CPU[mayfly-cluster|$MODE|med]}" -v sc="${CPU[mayfly-single|$MODE|med]}" 'BEGIN {
        printf "%-9s req/s %.2fx   p99 %.2fx   cpu per request %.2fx", mode, c / s,
            (sp > 0 ? cp / sp : 0), (sc > 0 ? cc / sc : 0)
        printf " (one core: %.0f req/s cluster, %.0f single)\n",
            (cc > 0 ? 1e6 / cc : 0), (sc > 0 ? 1e6 / sc : 0) }'
done
echo
echo "== instructions per request, one worker ($INSTR_REQUESTS requests one after another) =="
awk -v s="${INSTR[single]}" -v c="${INSTR[cluster]}" 'BEGIN {
    printf "single %d, cluster %d: +%d, %.3fx\n", s, c, c - s, c / s }'
echo "the functions whose own instructions per request differ by 20 or more (cluster - single):"
awk -F'\t' 'NR == FNR { s[$2] = $1; next } { c[$2] = $1 }
    END { for (f in c) d[f] = c[f] - s[f]; for (f in s) if (!(f in c)) d[f] = -s[f]
          for (f in d) printf "%+8.0f  %8.0f  %8.0f  %s\n", d[f], s[f], c[f], f }' \
    "$TMP/self.single" "$TMP/self.cluster" | sort -k1,1gr | awk '
    { line[NR] = $0; v = $1 < 0 ? -$1 : $1; if (v >= 20) keep[NR] = 1 }
    END { printf "%8s  %8s  %8s  %s\n", "diff", "single", "cluster", "function [object]"
          for (i = 1; i <= NR; i++) if (keep[i]) print line[i] }'
echo
echo "== MOVED storm: mayfly-cluster unpinned (2 workers, wrk -t2 -c100), ${STORM}s each =="
printf '%-28s %10s %8s %8s %8s %8s %8s %10s %10s\n' window 'req/s' 'p99 ms' non-2xx 'sock err' \
    moved ask tryagain 'map reads'
printf '%-28s %10.0f %8.2f %8d %8d %8d %8d %8d %10s\n' steady "$S_RPS" "$S_P99" "$S_NON2XX" \
    "$S_SOCK" $((C1[0] - C0[0])) $((C1[1] - C0[1])) $((C1[2] - C0[2])) \
    "$((C1[3] - C0[3]))/$((C1[4] - C0[4]))"
printf '%-28s %10.0f %8.2f %8d %8d %8d %8d %8d %10s\n' "resharding (${#MOVES[@]} moves)" "$R_RPS" \
    "$R_P99" "$R_NON2XX" "$R_SOCK" $((C2[0] - C1[0])) $((C2[1] - C1[1])) $((C2[2] - C1[2])) \
    "$((C2[3] - C1[3]))/$((C2[4] - C1[4]))"
echo "(map reads: ok/failed; counters from /metrics over each window)"
if ((${#MOVES[@]})); then
    echo "moves of $STORM_SLOTS slots: ${MOVES[*]} ms" \
        "(median $(median "${MOVES[@]}" | cut -d. -f1) ms);" \
        "resharding from the window's start until ${window_ms} ms (wrk: ${STORM} s)"
fi
awk -v r="$R_RPS" -v s="$S_RPS" -v rp="$R_P99" -v sp="$S_P99" 'BEGIN {
    printf "resharding / steady: req/s %.2fx, p99 %.2fx\n", r / s, (sp > 0 ? rp / sp : 0) }'
echo "slots per primary before: $slots_before"
echo "slots per primary after:  $slots_after"
((R_NON2XX + R_SOCK == 0)) ||
    echo "NOTE: requests failed during the reshard (the server's log: $TMP/storm.log with --keep)"
