#!/usr/bin/env bash
# tests/bench/redis.sh — one Redis INCR per request: mayfly against nginx + lua-nginx-module, with
# redis-benchmark as the ceiling. A report, never a pass/fail test.
#
#   bash tests/bench/redis.sh [--quick] [--keep]
#
# Servers (each answers GET /incr with the counter after one INCR on a redis-server of the run):
#   mayfly-redis   tests/bench/redis_scripts/incr.lua (redis.call on each worker's own
#                  pipelined connection, the request suspended meanwhile), as many workers as
#                  nginx has processes
#   mayfly-redis-many  the same with MANY_WORKERS (default 8) workers on the same CPUs (and a
#                  pool of MANY_WORKERS + 1 so each has its own connection): what more workers
#                  than cores costs or brings
#   nginx-redis    nginx + lua-nginx-module, a RESP exchange over a keepalive cosocket
#   nginx-resty-redis  the same with lua-resty-redis (tests/bench/nginx_resty_redis.conf.in),
#                  when LUA_RESTY_REDIS names a checkout's lib/ (not packaged in Debian: git clone
#                  https://github.com/openresty/lua-resty-redis); left out otherwise
#                  (tests/bench/nginx_redis.conf.in)
#   mayfly-redis-tls  mayfly-redis over rediss:// to the same redis-server's TLS port (a test CA
#                  and certificate made by openssl for the run): what TLS costs
# Ceiling: redis-benchmark -t incr -c 50 against the same redis-server: the most INCRs per
# second that Redis takes over loopback from one client process, without any HTTP in between.
#
# Modes, as in tests/bench/run.sh:
#   pinned    server on CPU 0 (one worker); wrk -t1 -c50 and redis-server on CPU 1
#   unpinned  no taskset, two workers, wrk -t2 -c100
# Rounds alternate the two servers (3 rounds of 5 s; --quick: 1 round of 3 s) after a 1 s warm-up
# each; the table gives the median req/s and p99 and each round's req/s. Ratios: mayfly / nginx
# (the target is >= 1.0 at the same cores) and each server / the redis-benchmark ceiling. On a
# shared, noisy machine ratios within ~10-20% of 1 are noise: repeat before concluding.
# TLS: the req/s of mayfly-redis-tls / mayfly-redis per mode, and instructions per request of
# both (one worker under callgrind, INSTR_REQUESTS keep-alive requests one after another, 2000
# by default, after 2000 to warm up), with the share that libssl and libcrypto run: counts that
# repeat from run to run where req/s do not (the kernel's work is not counted).
# Needs wrk, nginx-extras, redis-tools and valgrind (installed with apt-get when missing), openssl and a Release
# build in $MAYFLY_BUILD_DIR (default build/).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR=$ROOT/tests/bench
BUILD_DIR=${MAYFLY_BUILD_DIR:-$ROOT/build}
NGINX_MODULE_DIR=/usr/lib/nginx/modules
ROUNDS=3 DURATION=5 WARMUP=1
MANY_WORKERS=${MANY_WORKERS:-8}
INSTR_REQUESTS=${INSTR_REQUESTS:-2000}
SERVERS=(mayfly-redis mayfly-redis-many nginx-redis mayfly-redis-tls)
if [[ -f ${LUA_RESTY_REDIS:-}/resty/redis.lua ]]; then
    SERVERS+=(nginx-resty-redis)
else
    echo "redis.sh: nginx-resty-redis left out: set LUA_RESTY_REDIS to a lua-resty-redis checkout's lib/ (git clone https://github.com/openresty/lua-resty-redis)" >&2
fi

source "$ROOT/tests/bench/lib.sh"
bench_options "$@"
if ((QUICK)); then ROUNDS=1 DURATION=3; fi
TMP=$(mktemp -d /tmp/mayfly-bench-redis.XXXXXX)
chmod 755 "$TMP" # nginx workers run unprivileged when started as root
PIDS=()          # what this script started; only these are ever stopped

cleanup() {
    stop_pids
    for pid in "${BENCH_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done # callgrind's
    [[ -n ${REDIS_PID:-} ]] && { kill -TERM "$REDIS_PID" 2>/dev/null; wait "$REDIS_PID" 2>/dev/null; }
    if ((KEEP)); then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

ensure_tools() {
    local missing=()
    command -v wrk >/dev/null || missing+=(wrk)
    [[ -e $NGINX_MODULE_DIR/ngx_http_lua_module.so ]] || missing+=(nginx-extras)
    command -v redis-benchmark >/dev/null || missing+=(redis-tools)
    command -v valgrind >/dev/null || missing+=(valgrind)
    install_missing "${missing[@]}"
}

# start_mayfly_redis PORT [SETTING=value...]: the plaintext URL unless the settings say otherwise.
start_mayfly_redis() {
    local port=$1
    shift
    env MAYFLY_LISTEN=127.0.0.1:$port MAYFLY_WORKERS=$WORKERS MAYFLY_ACCESS_LOG=off \
        MAYFLY_DRAIN_DELAY=0 MAYFLY_REDIS_POOL_SIZE=$((WORKERS + 1 > 8 ? WORKERS + 1 : 8)) \
        MAYFLY_REDIS_URL=redis://127.0.0.1:$REDIS_PORT MAYFLY_SCRIPTS=$BENCH_DIR/redis_scripts "$@" \
        "${PIN_SERVER[@]}" "$MAYFLY_BIN" serve >>"$SERVER_LOG" 2>&1 &
    PIDS+=($!)
}

start_mayfly_redis_tls() {
    start_mayfly_redis "$1" "${TLS_SETTINGS[@]}"
}

start_mayfly_redis_many() {
    local WORKERS=$MANY_WORKERS
    start_mayfly_redis "$1"
}

start_nginx_resty_redis() {
    NGINX_CONF=nginx_resty_redis start_nginx_redis "$1"
}

start_nginx_redis() {
    local dir load="" mod
    dir=$(mktemp -d "$TMP/nginx.XXXXXX")
    chmod 755 "$dir"
    for mod in ndk_http_module ngx_http_lua_module; do
        load+="load_module $NGINX_MODULE_DIR/$mod.so; "
    done
    sed -e "s|@PREFIX@|$dir|g" -e "s|@PORT@|$1|g" -e "s|@WORKERS@|$WORKERS|g" \
        -e "s|@REDIS_PORT@|$REDIS_PORT|g" -e "s|@LOAD_MODULES@|$load|g" \
        -e "s|@LIB@|${LUA_RESTY_REDIS:-}|g" \
        "$BENCH_DIR/${NGINX_CONF:-nginx_redis}.conf.in" >"$dir/nginx.conf"
    "${PIN_SERVER[@]}" nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" \
        >>"$SERVER_LOG" 2>&1 &
    PIDS+=($!)
}

declare -A RPS P99
measure() {
    local name=$1 port out url
    port=$(free_port)
    url=http://127.0.0.1:$port/incr
    SERVER_LOG=$TMP/$name-$MODE.log
    "start_${name//-/_}" "$port"
    wait_200 "$url" || { stop_pids; return 1; }
    "${PIN_WRK[@]}" wrk -t"$WRK_T" -c"$WRK_C" -d"${WARMUP}s" "$url" >/dev/null 2>&1 || true
    out=$TMP/wrk-$name-$MODE-$round.txt
    "${PIN_WRK[@]}" wrk -t"$WRK_T" -c"$WRK_C" -d"${DURATION}s" --latency "$url" >"$out" 2>&1
    stop_pids
    if grep -q 'Non-2xx' "$out"; then log "  WARNING $name: $(grep 'Non-2xx' "$out")"; fi
    local rps p99
    rps=$(awk '$1 == "Requests/sec:" { print $2 }' "$out")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
    RPS[$name|$MODE]+="$rps "
    P99[$name|$MODE]+="$p99 "
    log "  $name ($MODE, round $round): $rps req/s, p99 $p99 ms"
}

# make_certs: a test CA ($TMP/ca.crt) and a certificate for 127.0.0.1 signed by it.
make_certs() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=mayfly bench CA" -keyout "$TMP/ca.key" -out "$TMP/ca.crt" 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=127.0.0.1" -keyout "$TMP/redis.key" -out "$TMP/redis.csr" 2>/dev/null
    openssl x509 -req -in "$TMP/redis.csr" -CA "$TMP/ca.crt" -CAkey "$TMP/ca.key" -days 2 \
        -set_serial 1 -extfile <(echo subjectAltName=IP:127.0.0.1) -out "$TMP/redis.crt" 2>/dev/null
}

ensure_tools
ensure_mayfly
make_certs
REDIS_PORT=$(free_port)
REDIS_TLS_PORT=$(free_port)
TLS_SETTINGS=(MAYFLY_REDIS_URL=rediss://127.0.0.1:$REDIS_TLS_PORT MAYFLY_REDIS_CA_FILE=$TMP/ca.crt)
# Redis shares CPU 1 with wrk in the pinned mode, the same for both servers.
PIN_REDIS=()
taskset -c 1 true 2>/dev/null && PIN_REDIS=(taskset -c 1)
"${PIN_REDIS[@]}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --tls-port "$REDIS_TLS_PORT" --tls-cert-file "$TMP/redis.crt" --tls-key-file "$TMP/redis.key" \
    --tls-ca-cert-file "$TMP/ca.crt" --tls-auth-clients no \
    --loglevel warning >"$TMP/redis.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done

log "redis bench: $ROUNDS round(s) x ${DURATION}s; $(nproc) CPUs; $(redis-server --version | cut -d' ' -f3)"
log "  load before the run: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine makes every number noisier)"

pin_modes
declare -A CEIL_RPS CEIL_P99
for MODE in "${MODES[@]}"; do
    set_mode "$MODE"
    measure_rounds
    # The ceiling: the client where the server would run, Redis where it always is.
    csv=$("${PIN_SERVER[@]}" redis-benchmark -p "$REDIS_PORT" -t incr -c "$WRK_C" \
        -n $((DURATION * 60000)) --csv 2>/dev/null | tail -n1 | tr -d '"')
    CEIL_RPS[$MODE]=$(cut -d, -f2 <<<"$csv")
    CEIL_P99[$MODE]=$(cut -d, -f7 <<<"$csv")
    log "  redis-benchmark ($MODE): ${CEIL_RPS[$MODE]} req/s, p99 ${CEIL_P99[$MODE]} ms"
done

echo
echo "== one INCR per request: median over $ROUNDS round(s) of ${DURATION}s =="
printf '%-9s %-18s %10s %8s   %s\n' mode server 'req/s' 'p99 ms' 'req/s per round'
for MODE in "${MODES[@]}"; do
    for name in "${SERVERS[@]}"; do
        read -ra r <<<"${RPS[$name|$MODE]}"
        read -ra p <<<"${P99[$name|$MODE]}"
        RPS[$name|$MODE|med]=$(median "${r[@]}")
        P99[$name|$MODE|med]=$(median "${p[@]}")
        printf '%-9s %-18s %10.0f %8.2f   %s\n' "$MODE" "$name" "${RPS[$name|$MODE|med]}" \
            "${P99[$name|$MODE|med]}" "$(printf '%.0f ' "${r[@]}")"
    done
    printf '%-9s %-18s %10.0f %8.2f\n' "$MODE" redis-benchmark "${CEIL_RPS[$MODE]}" "${CEIL_P99[$MODE]}"
done
echo
echo "== ratios =="
for MODE in "${MODES[@]}"; do
    n=${RPS[nginx-redis|$MODE|med]} np=${P99[nginx-redis|$MODE|med]} c=${CEIL_RPS[$MODE]}
    for name in mayfly-redis mayfly-redis-many; do
        awk -v mode="$MODE" -v name="$name" -v m="${RPS[$name|$MODE|med]}" -v n="$n" -v c="$c" \
            -v mp="${P99[$name|$MODE|med]}" -v np="$np" 'BEGIN {
            printf "%-9s %-18s / nginx: req/s %.2fx, p99 %.2fx   / ceiling %.2fx\n",
                mode, name, m / n, (np > 0 ? mp / np : 0), m / c }'
    done
    awk -v mode="$MODE" -v n="$n" -v c="$c" 'BEGIN {
        printf "%-9s %-18s / ceiling %.2fx\n", mode, "nginx-redis", n / c }'
    if [[ -n ${RPS[nginx-resty-redis|$MODE|med]:-} ]]; then
        awk -v mode="$MODE" -v m="${RPS[mayfly-redis|$MODE|med]}" -v r="${RPS[nginx-resty-redis|$MODE|med]}" \
            -v mp="${P99[mayfly-redis|$MODE|med]}" -v rp="${P99[nginx-resty-redis|$MODE|med]}" -v c="$c" 'BEGIN {
            printf "%-9s %-18s / nginx-resty-redis: req/s %.2fx, p99 %.2fx; nginx-resty-redis / ceiling %.2fx\n",
                mode, "mayfly-redis", m / r, (rp > 0 ? mp / rp : 0), r / c }'
    fi
done

# instructions NAME [SETTING=value...]: the instructions per request of one mayfly worker under
# callgrind (callgrind_incr), on the plaintext URL unless the settings say otherwise; sets
# INSTR[NAME] (all of the process's) and INSTR[NAME|tls] (libssl's and libcrypto's own).
declare -A INSTR
instructions() {
    local name=$1 out setting
    shift
    # Exported here, not given to env: callgrind must run mayfly itself, not a program that execs it.
    local -x MAYFLY_REDIS_URL=redis://127.0.0.1:$REDIS_PORT
    for setting in "$@"; do local -x "$setting"; done
    out=$TMP/callgrind.$name
    callgrind_incr "$out" "$BENCH_DIR/redis_scripts"
    INSTR[$name]=$(callgrind_per_request "$out" "$INSTR_REQUESTS")
    # Self costs by object in callgrind's format: "ob=" names the object of the functions that
    # follow ("(id) name" defines an id, "(id)" reuses it, "cob=" defines ids too); a cost line
    # right after "calls=" is a call's inclusive cost, counted already by the callee.
    INSTR[$name|tls]=$(awk -v n="$INSTR_REQUESTS" '
        /^c?ob=/ { v = substr($0, index($0, "=") + 1); id = v
                   if (match(v, /^\([0-9]+\)/)) {
                       id = substr(v, 1, RLENGTH)
                       if (length(v) > RLENGTH) name[id] = substr(v, RLENGTH + 2)
                   } else name[id] = v
                   if (/^ob=/) ob = name[id]
                   next }
        /^calls=/ { call = 1; next }
        /^[0-9+*-]/ { if (call) call = 0; else if (ob ~ /\/lib(ssl|crypto)\.so/) s += $2 }
        END { printf "%d\n", s / n }' "$out")
}
log "instructions per request under callgrind ($INSTR_REQUESTS requests each)"
instructions plain
instructions tls "${TLS_SETTINGS[@]}"

echo
echo "== TLS: rediss:// against redis:// to the same redis-server =="
for MODE in "${MODES[@]}"; do
    awk -v mode="$MODE" -v t="${RPS[mayfly-redis-tls|$MODE|med]}" -v p="${RPS[mayfly-redis|$MODE|med]}" \
        'BEGIN { printf "%-9s req/s %.0f over TLS, %.0f plaintext: %.2fx\n", mode, t, p, t / p }'
done
awk -v p="${INSTR[plain]}" -v t="${INSTR[tls]}" -v s="${INSTR[tls|tls]}" -v ps="${INSTR[plain|tls]}" 'BEGIN {
    printf "instructions per request, one worker: %d plaintext, %d over TLS (+%d, %.2fx);\n", p, t, t - p, t / p
    printf "  libssl and libcrypto run %d of them (%d plaintext)\n", s, ps }'
