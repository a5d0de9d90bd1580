#!/usr/bin/env bash
# tests/bench/tracing.sh — what tracing costs: requests/s and mayfly's CPU per request with every
# request traced and exported (OpenTelemetry spans over OTLP/HTTP to a local collector) against
# tracing off, on the hello route and on one Redis INCR per request. A report, never a pass/fail
# test; the targets (docs/benchmarks.md#tracing) are on/off >= 0.9 on hello and >= 0.95 on the
# Redis route, in req/s and in requests per CPU-second.
#
#   bash tests/bench/tracing.sh [--quick] [--keep]
#
# Servers, each a mayfly with one worker (MAYFLY_WORKERS=1) pinned to CPU 0:
#   hello-off, hello-on   scripts/hello.lua's GET /hello: one server span per request when on
#   redis-off, redis-on   tests/bench/redis_scripts/incr.lua's GET /incr (one INCR on a real
#                         redis-server): a server span and a Redis client span per request
#   hello-tuned, redis-tuned  only with TUNED set: tracing on with the settings in TUNED added
#                         (e.g. TUNED="OTEL_BSP_MAX_QUEUE_SIZE=16384 OTEL_BSP_MAX_EXPORT_BATCH_SIZE=2048")
# "on" is OTEL_EXPORTER_OTLP_ENDPOINT pointing at tests/bench/otlp_sink.py and
# OTEL_TRACES_SAMPLER=always_on; everything else is the default: http/protobuf uncompressed,
# OTEL_BSP_SCHEDULE_DELAY 5000, a queue of 2048, batches of 512. The sink answers every export
# 200 at once and counts requests, bytes and spans; it and redis-server run on CPU 1 with
# wrk (-t1 -c50), so that mayfly's core is its own and holds only what tracing adds: the
# worker's span recording and the exporter thread's encoding, compression and sending.
#
# Rounds alternate the servers (5 rounds of 10 s, as tests/bench/run.sh; --quick: 2 of 3 s),
# each after a 1 s warm-up on a fresh server; the table gives the median req/s, p99, mayfly's CPU
# per request (user + system of every thread, from /proc: the exporter thread included), split
# into the busiest thread's (the worker) and the rest's (the exporter, the main thread), how much
# of its core mayfly used, and each round's req/s. Each traced run prints what /metrics says of
# its spans over the measured run (mayfly_otlp_spans_total by result: exported, queue_full,
# failed; the queue at the end) and what the sink received (requests, bytes, spans) and its CPU;
# a traced run whose spans never reached the sink counts as failed, so a broken exporter cannot
# pass as fast. Spans dropped at a full queue are a finding: they are summed in the report.
#
# Instructions per request under callgrind (one worker, INSTR_REQUESTS keep-alive requests one
# after another, 4096 by default, after 2000 to warm up), split by thread: the worker's and the
# exporter's. The exporter's queue is let drain before the counters are zeroed and before they
# are dumped, so the count holds the export of exactly the measured requests' spans, and its
# bound is raised so that none drops while callgrind runs one thread at a time. The counts repeat
# from run to run where req/s on a shared machine do not (the kernel's work is not counted).
# Needs wrk, redis-server, valgrind and python3 (wrk, redis-server and valgrind are installed
# with apt-get when missing) and a Release build in $MAYFLY_BUILD_DIR (default build/).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR=$ROOT/tests/bench
BUILD_DIR=${MAYFLY_BUILD_DIR:-$ROOT/build}
ROUNDS=5 DURATION=10 WARMUP=1
INSTR_REQUESTS=${INSTR_REQUESTS:-4096}
TUNED=${TUNED:-}
ROUTES=(hello redis)
VARIANTS=(off on)
[[ -z $TUNED ]] || VARIANTS+=(tuned)

source "$BENCH_DIR/lib.sh"
bench_options "$@"
# The caller's own OTEL_* settings would change what "off" and "on" mean.
for v in $(compgen -e | grep '^OTEL_' || true); do unset "$v"; done
if ((QUICK)); then ROUNDS=2 DURATION=3; fi
TMP=$(mktemp -d /tmp/mayfly-bench-tracing.XXXXXX)
PIDS=() # the server of the current measurement; only these are ever stopped

cleanup() {
    stop_pids
    for pid in "${BENCH_PIDS[@]}" "${REDIS_PID:-}" "${SINK_PID:-}"; do
        [[ -z $pid ]] || kill -TERM "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    if ((KEEP)); then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ensure_tools() {
    local missing=()
    command -v wrk >/dev/null || missing+=(wrk)
    command -v redis-server >/dev/null || missing+=(redis-server)
    command -v valgrind >/dev/null || missing+=(valgrind)
    install_missing "${missing[@]}"
}

# ---- the servers ----
SERVERS=()
for variant in "${VARIANTS[@]}"; do
    for route in "${ROUTES[@]}"; do SERVERS+=("$route-$variant"); done
done
declare -A PATH_OF=([hello]=/hello [redis]=/incr)
declare -A SPANS_PER_REQUEST=([hello]=1 [redis]=2)

# server_env NAME PORT: the environment of NAME's mayfly on PORT, one setting a line.
server_env() {
    local route=${1%-*} variant=${1##*-} setting
    echo "MAYFLY_LISTEN=127.0.0.1:$2"
    echo "MAYFLY_WORKERS=1"
    echo "MAYFLY_ACCESS_LOG=off"
    echo "MAYFLY_DRAIN_DELAY=0"
    if [[ $route == hello ]]; then
        echo "MAYFLY_SCRIPTS=$ROOT/scripts"
    else
        echo "MAYFLY_SCRIPTS=$BENCH_DIR/redis_scripts"
        echo "MAYFLY_REDIS_URL=redis://127.0.0.1:$REDIS_PORT"
    fi
    [[ $variant != off ]] || return 0
    echo "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$SINK_PORT"
    echo "OTEL_TRACES_SAMPLER=always_on"
    echo "OTEL_SERVICE_NAME=mayfly-bench"
    [[ $variant != tuned ]] || for setting in $TUNED; do echo "$setting"; done
}

start_server() {
    local settings
    mapfile -t settings < <(server_env "$1" "$2")
    env "${settings[@]}" taskset -c 0 "$MAYFLY_BIN" serve >>"$SERVER_LOG" 2>&1 &
    PIDS+=($!)
}

# ---- what is read from /proc, /metrics and the sink ----

# thread_ticks PID: "tid ticks" for every thread of PID.
thread_ticks() {
    local task stat fields
    for task in /proc/"$1"/task/*; do
        stat=$(cat "$task/stat" 2>/dev/null) || continue
        read -ra fields <<<"${stat##*) }"
        echo "${task##*/} $((fields[11] + fields[12]))"
    done
}

# Waits (30 s at most) until other work uses less than a tenth of the CPUs.
wait_quiet() {
    local busy0 total0 busy1 total1 i busy
    for ((i = 0; i < 60; i++)); do
        read -r busy0 total0 < <(machine_ticks)
        sleep 0.5
        read -r busy1 total1 < <(machine_ticks)
        busy=$(((total1 > total0) ? 100 * (busy1 - busy0) / (total1 - total0) : 0))
        ((busy >= 10)) || return 0
    done
    log "  WARNING: $busy% of the CPUs busy with other work before the measurement (noisy)"
}

# otlp_metrics URL: "exported queue_full failed queued exports_ok exports_retried exports_failed"
# from mayfly's /metrics (zeros for what it does not show).
otlp_metrics() {
    curl -s --max-time 5 "$1" | awk '
        /^mayfly_otlp_spans_total\{/ { split($1, a, "\""); s[a[2]] = $2 }
        /^mayfly_otlp_exports_total\{/ { split($1, a, "\""); e[a[2]] = $2 }
        /^mayfly_otlp_queue_spans / { q = $2 }
        END { printf "%d %d %d %d %d %d %d\n", s["exported"], s["queue_full"], s["failed"], q,
              e["ok"], e["retried"], e["failed"] }'
}

# sink_stats: "requests bytes spans bad" received by the sink so far.
sink_stats() {
    curl -s --max-time 5 "http://127.0.0.1:$SINK_PORT/stats" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(s["requests"], s["bytes"], s["spans"], s["bad"])'
}

# ---- one measurement ----
declare -A RPS P99 CPU WORKER REST CORE
declare -A EXPORTED QUEUE_FULL FAILED_SPANS SINK_REQ SINK_BYTES SINK_SPANS SINK_CPU
FAILURES=0
HZ=$(getconf CLK_TCK)

# measure NAME: one run of NAME in round $round (measure_rounds sets it).
measure() {
    local name=$1 route=${1%-*} variant=${1##*-} port url out pid
    local m0 m1 s0 s1 s2 sink0 sink1 redis0 redis1 busy0 total0 busy1 total1 ours0 ours1 other
    local -A th0 th1
    local tid t
    port=$(free_port)
    url=http://127.0.0.1:$port${PATH_OF[$route]}
    SERVER_LOG=$TMP/$name-${round:?}.log
    wait_quiet
    s0=$(sink_stats)
    start_server "$name" "$port"
    pid=${PIDS[0]}
    wait_200 "$url" || { stop_pids; FAILURES=$((FAILURES + 1)); return 0; }
    taskset -c 1 wrk -t1 -c50 -d"${WARMUP}s" "$url" >/dev/null 2>&1 || true
    out=$TMP/wrk-$name-$round.txt
    [[ $variant == off ]] || m0=$(otlp_metrics "http://127.0.0.1:$port/metrics")
    sink0=$(proc_ticks "$SINK_PID")
    redis0=$(proc_ticks "$REDIS_PID")
    s1=$(sink_stats)
    while read -r tid t; do th0[$tid]=$t; done < <(thread_ticks "$pid")
    read -r busy0 total0 < <(machine_ticks)
    ours0=$(($(proc_ticks "$pid") + sink0 + redis0 + $(reaped_ticks)))
    taskset -c 1 wrk -t1 -c50 -d"${DURATION}s" --latency "$url" >"$out" 2>&1 || true
    while read -r tid t; do th1[$tid]=$t; done < <(thread_ticks "$pid")
    read -r busy1 total1 < <(machine_ticks)
    sink1=$(proc_ticks "$SINK_PID")
    redis1=$(proc_ticks "$REDIS_PID")
    ours1=$(($(proc_ticks "$pid") + sink1 + redis1 + $(reaped_ticks)))
    other=$(((total1 > total0) ? (100 * (busy1 - busy0 - (ours1 - ours0)) / (total1 - total0)) : 0))
    ((other >= 0)) || other=0
    [[ $variant == off ]] || m1=$(otlp_metrics "http://127.0.0.1:$port/metrics")
    s2=$(sink_stats)
    if ! kill -0 "$pid" 2>/dev/null; then
        log "  $name: mayfly DIED during the measurement; its log:"
        sed 's/^/    | /' "$SERVER_LOG" >&2
        stop_pids
        FAILURES=$((FAILURES + 1))
        return 0
    fi
    stop_pids # SIGTERM: the drain sends what is queued
    local rps p99 n
    rps=$(awk '$1 == "Requests/sec:" { print $2 }' "$out")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
    n=$(awk '/requests in/ { print $1 }' "$out")
    if [[ -z $rps || -z $n ]] || ((n == 0)); then
        log "  $name: wrk gave no result:"
        sed 's/^/    | /' "$out" >&2
        FAILURES=$((FAILURES + 1))
        return 0
    fi
    if grep -q 'Non-2xx\|Socket errors' "$out"; then
        log "  WARNING $name: $(grep 'Non-2xx\|Socket errors' "$out" | tr -s ' ')"
    fi
    # The worker is the busiest thread; the rest is the exporter's thread and the main one.
    local all=0 top=0 d
    for tid in "${!th1[@]}"; do
        d=$((th1[$tid] - ${th0[$tid]:-0}))
        all=$((all + d))
        ((d <= top)) || top=$d
    done
    local cpu worker rest core
    read -r cpu worker rest core < <(awk -v all="$all" -v top="$top" -v hz="$HZ" -v n="$n" \
        -v d="$DURATION" 'BEGIN { printf "%.2f %.2f %.2f %.0f\n", all / hz * 1e6 / n,
            top / hz * 1e6 / n, (all - top) / hz * 1e6 / n, 100 * all / hz / d }')
    RPS[$name]+="$rps " P99[$name]+="$p99 " CPU[$name]+="$cpu " WORKER[$name]+="$worker "
    REST[$name]+="$rest " CORE[$name]+="$core "
    log "  $name (round $round): $rps req/s, p99 $p99 ms, $cpu us CPU/request" \
        "(worker $worker, other threads $rest), mayfly used $core% of its core;" \
        "other load $other% of the CPUs"
    ((other < 5)) || log "  WARNING $name: other load used $other% of the CPUs during the run"
    [[ $variant != off ]] || return 0

    # What the run's spans became: mayfly's counters and the sink's over the measured run, and
    # the sink's from the server's start to its exit (the drain's flush included).
    local e0 q0 f0 ok0 retried0 xfail0 e1 q1 f1 queued ok1 retried1 xfail1
    local r1 b1 sp1 r2 b2 sp2 bad2 sp3 s3 sink_cpu bad=""
    read -r e0 q0 f0 _ ok0 retried0 xfail0 <<<"$m0"
    read -r e1 q1 f1 queued ok1 retried1 xfail1 <<<"$m1"
    read -r r1 b1 sp1 _ <<<"$s1"
    read -r r2 b2 sp2 bad2 <<<"$s2"
    s3=$(sink_stats)
    read -r _ _ sp3 _ <<<"$s3"
    local sr=$((r2 - r1)) sb=$((b2 - b1)) ss=$((sp2 - sp1))
    local se=$((e1 - e0)) sq=$((q1 - q0)) sf=$((f1 - f0))
    # Every span ended by the end of the run was exported, dropped or queued; after the drain
    # the sink must hold the exported and the queued ones.
    local lifetime=$((sp3 - $(cut -d' ' -f3 <<<"$s0")))
    sink_cpu=$(awk -v t="$((sink1 - sink0))" -v hz="$HZ" -v d="$DURATION" \
        'BEGIN { printf "%.0f", 100 * t / hz / d }')
    EXPORTED[$name]=$((${EXPORTED[$name]:-0} + se))
    QUEUE_FULL[$name]=$((${QUEUE_FULL[$name]:-0} + sq))
    FAILED_SPANS[$name]=$((${FAILED_SPANS[$name]:-0} + sf))
    SINK_REQ[$name]=$((${SINK_REQ[$name]:-0} + sr))
    SINK_BYTES[$name]=$((${SINK_BYTES[$name]:-0} + sb))
    SINK_SPANS[$name]=$((${SINK_SPANS[$name]:-0} + ss))
    SINK_CPU[$name]+="$sink_cpu "
    log "    spans of the run ($n requests x ${SPANS_PER_REQUEST[$route]}): /metrics" \
        "mayfly_otlp_spans_total exported $se, queue_full $sq, failed $sf; $queued queued at" \
        "the end; exports ok $((ok1 - ok0)), retried $((retried1 - retried0)), failed $((xfail1 - xfail0))"
    ((bad2 == 0)) || bad=", $bad2 bad bodies in all"
    log "    the sink: $sr requests, $((sb / 1024)) KiB, $ss spans$bad," \
        "the sink used $sink_cpu% of a core; from mayfly's start to its exit it got $lifetime spans"
    ((lifetime == e1 + queued)) || log "  WARNING $name: the sink got $lifetime spans from mayfly's" \
        "start to its exit, not the $e1 exported and $queued queued at the end of the run"
    if ((se == 0 || ss == 0)); then
        log "  $name: NO SPANS reached the sink during the run: the exporter is broken, the run" \
            "does not count"
        FAILURES=$((FAILURES + 1))
        return 0
    fi
    ((sq == 0)) || log "  WARNING $name: $sq spans dropped at a full queue" \
        "($(awk -v q="$sq" -v m="$((se + sq + sf))" 'BEGIN { printf "%.1f", 100 * q / m }')% of those ended)"
}

# ---- instructions under callgrind ----

# traced_callgrind OUT PORT PATH N: mayfly (its settings in the caller's environment) under
# callgrind with a dump per thread: 2000 GETs of PATH to warm it, the exporter's queue left to
# drain, counters zeroed, N GETs one after another, the queue left to drain again, counters
# dumped to OUT-NN (NN the thread). The drain waits (twice the schedule delay and some) are the
# same with tracing off, so that idle work weighs alike.
traced_callgrind() {
    local out=$1 port=$2 path=$3 n=$4 pid file e q f queued settle=${OTEL_BSP_SCHEDULE_DELAY:-5000}
    settle=$(awk -v d="$settle" 'BEGIN { printf "%.1f", d / 1000 * 1.5 + 2 }')
    valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out.%p" \
        "$MAYFLY_BIN" serve >/dev/null 2>"$out.log" &
    pid=$!
    BENCH_PIDS+=("$pid")
    for _ in $(seq 1 600); do
        curl -sf -o /dev/null "http://127.0.0.1:$port$path" && break
        kill -0 "$pid" 2>/dev/null || { cat "$out.log" >&2; exit 1; }
        sleep 0.1
    done
    sequential_client "$port" 2000 "$path"
    sleep "$settle"
    callgrind_control -z "$pid" >/dev/null 2>&1
    sequential_client "$port" "$n" "$path"
    sleep "$settle"
    callgrind_control -d "$pid" >/dev/null 2>&1
    # After the dump: the queue must have been empty at it, or the count misses some export.
    if [[ -n ${OTEL_EXPORTER_OTLP_ENDPOINT:-} ]]; then
        read -r e q f queued _ < <(otlp_metrics "http://127.0.0.1:$port/metrics")
        ((queued == 0 && q == 0 && f == 0)) ||
            log "  WARNING callgrind $path: at the dump $queued spans still queued, $q dropped at" \
                "a full queue, $f failed (exported $e)"
    fi
    kill -TERM "$pid"
    wait "$pid" || true
    for file in "$out.$pid".1-*; do mv "$file" "$out-${file##*-}"; done
}

# thread_split OUT N: "total worker exporter" instructions per request of N from the per-thread
# dumps OUT-NN: the exporter is the thread that encoded spans, the worker the busiest other.
thread_split() {
    local f t total=0 worker=0 exporter=0
    for f in "$1"-*; do
        t=$(awk '$1 == "totals:" { print $2 }' "$f")
        total=$((total + t))
        if grep -qE '^c?fn=.*(mf_otlp_encode|export_batch|deflate)' "$f"; then
            exporter=$((exporter + t))
        elif ((t > worker)); then
            worker=$t
        fi
    done
    echo "$((total / $2)) $((worker / $2)) $((exporter / $2))"
}

declare -A INSTR
instructions() {
    local name=$1 port setting
    port=$(free_port)
    local settings
    mapfile -t settings < <(server_env "$name" "$port")
    # Exported here, not given to env: callgrind must run mayfly itself. Under callgrind one
    # thread runs at a time, and the worker can fill the default queue before the exporter
    # runs: a queue that cannot fill keeps every span (its size changes no span's work; TUNED
    # may still set another).
    for setting in OTEL_BSP_MAX_QUEUE_SIZE=65536 "${settings[@]}" MAYFLY_REDIS_TIMEOUT=10s; do
        local -x "$setting"
    done
    traced_callgrind "$TMP/callgrind.$name" "$port" "${PATH_OF[${name%-*}]}" "$INSTR_REQUESTS"
    INSTR[$name]=$(thread_split "$TMP/callgrind.$name" "$INSTR_REQUESTS")
}

# ---- main ----
ensure_tools
ensure_mayfly
if ! taskset -c 0,1 true 2>/dev/null; then
    log "tracing.sh: needs CPUs 0 and 1 (mayfly pinned to one, wrk, the sink and Redis to the other)"
    exit 1
fi

SINK_PORT=$(free_port)
taskset -c 1 python3 "$BENCH_DIR/otlp_sink.py" "$SINK_PORT" 2>"$TMP/sink.log" &
SINK_PID=$!
REDIS_PORT=$(free_port)
taskset -c 1 redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --loglevel warning >"$TMP/redis.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 1 100); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && sink_stats >/dev/null 2>&1 && break
    sleep 0.05
done
sink_stats >/dev/null || { log "the OTLP sink did not start:"; cat "$TMP/sink.log" >&2; exit 1; }

build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)
log "tracing bench: $ROUNDS round(s) x ${DURATION}s per server (+${WARMUP}s warm-up); $(nproc) CPUs," \
    "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
log "  build: $BUILD_DIR (${build_type:-unknown build type}); $(redis-server --version | cut -d' ' -f3)"
[[ -z $TUNED ]] || log "  tuned: $TUNED"
log "  load before the run: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine makes every number noisier)"
[[ -z $build_type || $build_type == Release ]] || log "  WARNING: build type is $build_type, not Release"

measure_rounds

echo
echo "== tracing on against off: median over $ROUNDS round(s) of ${DURATION}s =="
echo "   (mayfly, one worker, on CPU 0; wrk -t1 -c50, the OTLP sink and redis-server on CPU 1)"
printf '%-12s %9s %7s %7s %10s %8s %8s %6s   %s\n' server 'req/s' spread 'p99 ms' 'CPU us/req' \
    'worker' 'others' 'core' 'req/s per round'
declare -A MED
for name in "${SERVERS[@]}"; do
    if [[ -z ${RPS[$name]:-} ]]; then
        printf '%-12s %9s\n' "$name" FAILED
        continue
    fi
    read -ra r <<<"${RPS[$name]}"
    for what in RPS P99 CPU WORKER REST CORE; do
        declare -n col=$what
        read -ra v <<<"${col[$name]}"
        MED[$name|$what]=$(median "${v[@]}")
        unset -n col
    done
    spread=$(printf '%s\n' "${r[@]}" | sort -g | awk -v m="${MED[$name|RPS]}" 'NR == 1 { lo = $1 }
        { hi = $1 } END { printf "%.0f%%", (m > 0 ? 100 * (hi - lo) / m : 0) }')
    printf '%-12s %9.0f %7s %7.2f %10.2f %8.2f %8.2f %5.0f%%   %s\n' "$name" "${MED[$name|RPS]}" \
        "$spread" "${MED[$name|P99]}" "${MED[$name|CPU]}" "${MED[$name|WORKER]}" \
        "${MED[$name|REST]}" "${MED[$name|CORE]}" "$(printf '%.0f ' "${r[@]}")"
done

echo
echo "== spans over the measured runs (all rounds) =="
printf '%-12s %11s %11s %8s %8s %9s %10s %11s %9s\n' server exported queue_full failed dropped \
    'exports' 'KiB sent' 'sink spans' 'sink cpu'
for name in "${SERVERS[@]}"; do
    [[ $name != *-off && -n ${EXPORTED[$name]:-} ]] || continue
    read -ra c <<<"${SINK_CPU[$name]}"
    awk -v n="$name" -v e="${EXPORTED[$name]}" -v q="${QUEUE_FULL[$name]}" -v f="${FAILED_SPANS[$name]}" \
        -v r="${SINK_REQ[$name]}" -v b="${SINK_BYTES[$name]}" -v s="${SINK_SPANS[$name]}" \
        -v c="$(median "${c[@]}")" 'BEGIN {
        printf "%-12s %11d %11d %8d %7.2f%% %9d %10d %11d %8.0f%%\n", n, e, q, f,
            (e + q + f > 0 ? 100 * (q + f) / (e + q + f) : 0), r, b / 1024, s, c }'
done

echo
echo "== on / off (targets: hello >= 0.90, redis >= 0.95, in both) =="
for route in "${ROUTES[@]}"; do
    for variant in "${VARIANTS[@]:1}"; do
        on=$route-$variant off=$route-off
        if [[ -z ${MED[$on|RPS]:-} || -z ${MED[$off|RPS]:-} ]]; then
            echo "$on / $off: n/a (missing results)"
            continue
        fi
        awk -v p="$on / $off" -v ro="${MED[$on|RPS]}" -v rf="${MED[$off|RPS]}" \
            -v co="${MED[$on|CPU]}" -v cf="${MED[$off|CPU]}" -v wo="${MED[$on|WORKER]}" \
            -v wf="${MED[$off|WORKER]}" -v xo="${MED[$on|REST]}" -v xf="${MED[$off|REST]}" 'BEGIN {
            printf "%-24s req/s %.2fx   requests per CPU-second %.2fx   (CPU per request +%.2f us:" \
                " worker +%.2f, other threads +%.2f)\n", p, ro / rf, cf / co, co - cf, wo - wf, xo - xf }'
    done
done

log "instructions per request under callgrind ($INSTR_REQUESTS requests each, one after another)"
for name in "${SERVERS[@]}"; do instructions "$name"; done
echo
echo "== instructions per request under callgrind (one worker, $INSTR_REQUESTS requests one after another) =="
printf '%-12s %12s %12s %12s\n' server all worker exporter
for name in "${SERVERS[@]}"; do
    read -r all worker exporter <<<"${INSTR[$name]}"
    printf '%-12s %12d %12d %12d\n' "$name" "$all" "$worker" "$exporter"
done
for route in "${ROUTES[@]}"; do
    for variant in "${VARIANTS[@]:1}"; do
        read -r ao wo xo <<<"${INSTR[$route-$variant]}"
        read -r af wf _ <<<"${INSTR[$route-off]}"
        # Per span only where every request is sampled (TUNED may set a sampler).
        awk -v p="$route-$variant / $route-off" -v ao="$ao" -v af="$af" -v wo="$wo" -v wf="$wf" \
            -v xo="$xo" -v s="$([[ $variant == on ]] && echo "${SPANS_PER_REQUEST[$route]}")" 'BEGIN {
            printf "%-24s %.2fx: +%d per request, the worker +%d, the exporter %d", p, ao / af,
                ao - af, wo - wf, xo
            printf (s ? " (%d per span)\n" : "\n"), xo / (s ? s : 1) }'
    done
done

if ((FAILURES)); then
    echo "$FAILURES measurement(s) failed (a server did not start or died, wrk failed, or no span" \
        "reached the sink); see above" >&2
    exit 1
fi
