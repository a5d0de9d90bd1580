#!/usr/bin/env bash
# tests/bench/jwt.sh — verifying a bearer JWT in a handler, HS256 and RS256: mayfly against
# nginx + lua-nginx-module. A report, never a pass/fail test.
#
#   bash tests/bench/jwt.sh [--quick] [--keep]
#
# Routes, the same on both servers (a bearer token in the Authorization header; the answer is
# its sub claim, 200 text/plain, or 401 with the reason):
#   token   the token read, not verified: the baseline, what the rest of a request costs
#   hs256   the token verified with an HMAC-SHA256 secret of 64 bytes
#   rs256   the token verified with an RSA 2048 public key (PEM)
# Servers:
#   mayfly  tests/bench/jwt_scripts/jwt.lua: mayfly.jwt.verify with the key read from the config
#           folder at each request, as many workers as nginx has processes
#   nginx   nginx + lua-nginx-module (tests/bench/nginx_jwt.conf.in, tests/bench/nginx_jwt.lua):
#           Debian has no lua-resty-jwt nor lua-resty-openssl, so libcrypto through LuaJIT's FFI
#           (an HMAC context keyed once; the PEM key parsed once and a verify context reused),
#           lua-resty-core's base64url, lua-cjson; the same checks as mayfly.jwt.verify
# Keys and tokens are made at the start with the openssl command line: a 64-byte secret, an RSA
# 2048 key, one token per algorithm (six claims, valid for a day); both servers verify the same
# token with the same key. Before each measurement the route must answer the token with its sub
# and refuse a token whose payload was changed with 401 "bad signature".
#
# Modes, as in tests/bench/run.sh:
#   pinned    server on CPU 0 (one worker); wrk -t1 -c50 on CPU 1
#   unpinned  no taskset, two workers, wrk -t2 -c100
# Rounds alternate the six server-route pairs (3 rounds of 5 s; --quick: 1 round of 3 s) after
# a 1 s warm-up each; the table gives the median req/s, p99 and the server's CPU per request
# (user + system, every thread and process) and each round's req/s. Ratios: mayfly / nginx per
# route; "verifying" is a route's CPU per request less the token route's, per server: what the
# verification itself costs. On a shared, noisy machine ratios within ~10-20% of 1 are noise.
# Instructions per request under callgrind: one mayfly worker and one nginx process
# (master_process off), INSTR_REQUESTS keep-alive requests one after another (2000 by default,
# after 2000 to warm up; the token in the access_token query argument, RFC 6750 2.3, since that
# client sends no headers), with libcrypto's own share: counts that repeat from run to run where
# req/s do not (the kernel's work is not counted).
# Needs wrk, nginx-extras, lua-cjson, valgrind and openssl (installed with apt-get when missing)
# and a Release build in $MAYFLY_BUILD_DIR (default build/).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR=$ROOT/tests/bench
BUILD_DIR=${MAYFLY_BUILD_DIR:-$ROOT/build}
NGINX_MODULE_DIR=/usr/lib/nginx/modules
ROUNDS=3 DURATION=5 WARMUP=1
INSTR_REQUESTS=${INSTR_REQUESTS:-2000}
ROUTES=(token hs256 rs256)
SERVERS=(mayfly-token nginx-token mayfly-hs256 nginx-hs256 mayfly-rs256 nginx-rs256)

source "$ROOT/tests/bench/lib.sh"
bench_options "$@"
if ((QUICK)); then ROUNDS=1 DURATION=3; fi
TMP=$(mktemp -d /tmp/mayfly-bench-jwt.XXXXXX)
chmod 755 "$TMP" # nginx workers run unprivileged when started as root
PIDS=()          # what this script started; only these are ever stopped

cleanup() {
    stop_pids
    for pid in "${BENCH_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done # callgrind's
    if ((KEEP)); then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

ensure_tools() {
    local missing=()
    command -v wrk >/dev/null || missing+=(wrk)
    [[ -e $NGINX_MODULE_DIR/ngx_http_lua_module.so ]] || missing+=(nginx-extras)
    compgen -G '/usr/lib/*/lua/5.1/cjson.so' >/dev/null || missing+=(lua-cjson)
    command -v valgrind >/dev/null || missing+=(valgrind)
    command -v openssl >/dev/null || missing+=(openssl)
    install_missing "${missing[@]}"
}

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# make_tokens: the config folder ($TMP/config: jwt_secret, jwt_public_key) both servers read,
# and TOKEN[route], BAD_TOKEN[route] (the payload changed, the signature kept) for each route.
declare -A TOKEN BAD_TOKEN
make_tokens() {
    local config=$TMP/config now secret alg route payload other input sig
    mkdir -p "$config"
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TMP/rsa.key" 2>/dev/null
    openssl pkey -in "$TMP/rsa.key" -pubout -out "$config/jwt_public_key"
    secret=$(openssl rand -hex 32)
    printf '%s' "$secret" >"$config/jwt_secret"
    now=$(date +%s)
    payload='{"iss":"mayfly-bench","sub":"bench-user","scope":"read write","iat":'$now',"nbf":'$now',"exp":'$((now + 86400))'}'
    other=$(printf '%s' "${payload/bench-user/someone-else}" | b64url)
    for alg in HS256 RS256; do
        route=${alg,,}
        input=$(printf '{"alg":"%s","typ":"JWT"}' "$alg" | b64url).$(printf '%s' "$payload" | b64url)
        if [[ $alg == HS256 ]]; then
            sig=$(printf '%s' "$input" | openssl dgst -sha256 -hmac "$secret" -binary | b64url)
        else
            sig=$(printf '%s' "$input" | openssl dgst -sha256 -sign "$TMP/rsa.key" -binary | b64url)
        fi
        TOKEN[$route]=$input.$sig
        BAD_TOKEN[$route]=${input%%.*}.$other.$sig
    done
    TOKEN[token]=${TOKEN[hs256]}
}

start_mayfly() {
    env MAYFLY_LISTEN="127.0.0.1:$1" MAYFLY_WORKERS="$WORKERS" MAYFLY_ACCESS_LOG=off \
        MAYFLY_DRAIN_DELAY=0 MAYFLY_SCRIPTS="$BENCH_DIR/jwt_scripts" MAYFLY_CONFIG="$TMP/config" \
        "${PIN_SERVER[@]}" "$MAYFLY_BIN" serve >>"$SERVER_LOG" 2>&1 &
    PIDS+=($!)
}

# nginx_jwt_conf PORT WORKERS MASTER: a prefix directory of its own with nginx.conf in it,
# printed.
nginx_jwt_conf() {
    local dir load="" mod
    dir=$(mktemp -d "$TMP/nginx.XXXXXX")
    chmod 755 "$dir"
    for mod in ndk_http_module ngx_http_lua_module; do
        load+="load_module $NGINX_MODULE_DIR/$mod.so; "
    done
    sed -e "s|@PREFIX@|$dir|g" -e "s|@PORT@|$1|g" -e "s|@WORKERS@|$2|g" -e "s|@MASTER@|$3|g" \
        -e "s|@BENCH_DIR@|$BENCH_DIR|g" -e "s|@SECRET_FILE@|$TMP/config/jwt_secret|g" \
        -e "s|@PEM_FILE@|$TMP/config/jwt_public_key|g" -e "s|@LOAD_MODULES@|$load|g" \
        "$BENCH_DIR/nginx_jwt.conf.in" >"$dir/nginx.conf"
    echo "$dir"
}

start_nginx() {
    local dir
    dir=$(nginx_jwt_conf "$1" "$WORKERS" on)
    "${PIN_SERVER[@]}" nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" \
        >>"$SERVER_LOG" 2>&1 &
    PIDS+=($!)
}

# check_route URL ROUTE: the route answers its token with the sub claim and refuses a changed one.
check_route() {
    local body
    body=$(curl -s -H "Authorization: Bearer ${TOKEN[$2]}" "$1")
    [[ $body == bench-user ]] || { log "$1: '$body' for a valid token"; return 1; }
    [[ $2 == token ]] && return 0
    body=$(curl -s -w ' %{http_code}' -H "Authorization: Bearer ${BAD_TOKEN[$2]}" "$1")
    [[ $body == 'bad signature 401' ]] || { log "$1: '$body' for a changed token"; return 1; }
}

declare -A RPS P99 CPU
measure() {
    local name=$1 server=${1%%-*} route=${1#*-} port url out pid t0 t1
    port=$(free_port)
    url=http://127.0.0.1:$port/$route
    SERVER_LOG=$TMP/$name-$MODE.log
    "start_$server" "$port"
    pid=${PIDS[-1]}
    wait_200 "$url?access_token=${TOKEN[$route]}" || { stop_pids; return 1; }
    check_route "$url" "$route" || { stop_pids; return 1; }
    local auth=(-H "Authorization: Bearer ${TOKEN[$route]}")
    "${PIN_WRK[@]}" wrk -t"$WRK_T" -c"$WRK_C" -d"${WARMUP}s" "${auth[@]}" "$url" >/dev/null 2>&1 || true
    out=$TMP/wrk-$name-$MODE-$round.txt
    t0=$(proc_ticks "$pid")
    "${PIN_WRK[@]}" wrk -t"$WRK_T" -c"$WRK_C" -d"${DURATION}s" --latency "${auth[@]}" "$url" >"$out" 2>&1
    t1=$(proc_ticks "$pid")
    stop_pids
    if grep -q 'Non-2xx' "$out"; then log "  WARNING $name: $(grep 'Non-2xx' "$out")"; fi
    local rps p99 n cpu
    rps=$(awk '$1 == "Requests/sec:" { print $2 }' "$out")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
    n=$(awk '/requests in/ { print $1 }' "$out")
    cpu=$(awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v n="$n" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
    RPS[$name|$MODE]+="$rps "
    P99[$name|$MODE]+="$p99 "
    CPU[$name|$MODE]+="$cpu "
    log "  $name ($MODE, round $round): $rps req/s, p99 $p99 ms, $cpu us CPU/request"
}

ensure_tools
ensure_mayfly
make_tokens

log "jwt bench: $ROUNDS round(s) x ${DURATION}s; $(nproc) CPUs; $(nginx -v 2>&1 | cut -d' ' -f3);" \
    "$(openssl version | cut -d' ' -f1-2)"
log "  tokens: HS256 ${#TOKEN[hs256]} bytes, RS256 ${#TOKEN[rs256]} bytes"
log "  load before the run: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine makes every number noisier)"

pin_modes
for MODE in "${MODES[@]}"; do
    set_mode "$MODE"
    measure_rounds
done

echo
echo "== a bearer JWT verified per request: median over $ROUNDS round(s) of ${DURATION}s =="
printf '%-9s %-6s %-7s %9s %8s %11s   %s\n' mode route server 'req/s' 'p99 ms' 'CPU us/req' \
    'req/s per round'
for MODE in "${MODES[@]}"; do
    for route in "${ROUTES[@]}"; do
        for server in mayfly nginx; do
            key="$server-$route|$MODE"
            read -ra r <<<"${RPS[$key]}"
            read -ra p <<<"${P99[$key]}"
            read -ra c <<<"${CPU[$key]}"
            RPS[$key|med]=$(median "${r[@]}")
            P99[$key|med]=$(median "${p[@]}")
            CPU[$key|med]=$(median "${c[@]}")
            printf '%-9s %-6s %-7s %9.0f %8.2f %11.2f   %s\n' "$MODE" "$route" "$server" \
                "${RPS[$key|med]}" "${P99[$key|med]}" "${CPU[$key|med]}" "$(printf '%.0f ' "${r[@]}")"
        done
    done
done
echo
echo "== mayfly / nginx, and what verifying costs (CPU per request less the token route's) =="
for MODE in "${MODES[@]}"; do
    for route in "${ROUTES[@]}"; do
        awk -v mode="$MODE" -v route="$route" \
            -v mr="${RPS[mayfly-$route|$MODE|med]}" -v nr="${RPS[nginx-$route|$MODE|med]}" \
            -v mc="${CPU[mayfly-$route|$MODE|med]}" -v nc="${CPU[nginx-$route|$MODE|med]}" \
            -v mb="${CPU[mayfly-token|$MODE|med]}" -v nb="${CPU[nginx-token|$MODE|med]}" 'BEGIN {
            printf "%-9s %-6s req/s %.2fx, CPU per request %.2fx", mode, route, mr / nr, mc / nc
            if (route != "token") printf "; verifying: mayfly %.2f us, nginx %.2f us", mc - mb, nc - nb
            printf "\n" }'
    done
done

# libcrypto_share OUT N: the instructions libcrypto runs itself, per request of N, from the
# callgrind dump OUT. Self costs by object in callgrind's format: "ob=" names the object of the
# functions that follow ("(id) name" defines an id, "(id)" reuses it, "cob=" defines ids too); a
# cost line right after "calls=" is a call's inclusive cost, counted already by the callee.
libcrypto_share() {
    awk -v n="$2" '
        /^c?ob=/ { v = substr($0, index($0, "=") + 1); id = v
                   if (match(v, /^\([0-9]+\)/)) {
                       id = substr(v, 1, RLENGTH)
                       if (length(v) > RLENGTH) name[id] = substr(v, RLENGTH + 2)
                   } else name[id] = v
                   if (/^ob=/) ob = name[id]
                   next }
        /^calls=/ { call = 1; next }
        /^[0-9+*-]/ { if (call) call = 0; else if (ob ~ /\/libcrypto\.so/) s += $2 }
        END { printf "%d\n", s / n }' "$1"
}

# instructions SERVER ROUTE: INSTR[SERVER-ROUTE] (all of the process's per request) and
# INSTR[SERVER-ROUTE|crypto] (libcrypto's own) of one worker under callgrind.
declare -A INSTR
instructions() {
    local server=$1 route=$2 out port dir path
    out=$TMP/callgrind.$server-$route
    port=$(free_port)
    path="/$route?access_token=${TOKEN[$route]}"
    if [[ $server == mayfly ]]; then
        # Set for the call, not given to env: callgrind must run mayfly itself.
        MAYFLY_LISTEN=127.0.0.1:$port MAYFLY_WORKERS=1 MAYFLY_ACCESS_LOG=off MAYFLY_DRAIN_DELAY=0 \
            MAYFLY_SCRIPTS=$BENCH_DIR/jwt_scripts MAYFLY_CONFIG=$TMP/config \
            callgrind_requests "$out" "$port" "$path" "$INSTR_REQUESTS" "$MAYFLY_BIN" serve
    else
        dir=$(nginx_jwt_conf "$port" 1 off)
        callgrind_requests "$out" "$port" "$path" "$INSTR_REQUESTS" \
            nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf"
    fi
    INSTR[$server-$route]=$(callgrind_per_request "$out" "$INSTR_REQUESTS")
    INSTR[$server-$route|crypto]=$(libcrypto_share "$out" "$INSTR_REQUESTS")
}
log "instructions per request under callgrind ($INSTR_REQUESTS requests each)"
for route in "${ROUTES[@]}"; do
    for server in mayfly nginx; do instructions "$server" "$route"; done
done

echo
echo "== instructions per request under callgrind (one worker, $INSTR_REQUESTS requests one after another) =="
printf '%-6s %-7s %12s %14s %12s\n' route server instructions 'of libcrypto' 'verifying'
for route in "${ROUTES[@]}"; do
    for server in mayfly nginx; do
        awk -v route="$route" -v server="$server" -v i="${INSTR[$server-$route]}" \
            -v c="${INSTR[$server-$route|crypto]}" -v b="${INSTR[$server-token]}" 'BEGIN {
            printf "%-6s %-7s %12d %14d", route, server, i, c
            if (route != "token") printf " %12d", i - b
            printf "\n" }'
    done
done
for route in hs256 rs256; do
    awk -v route="$route" -v m="${INSTR[mayfly-$route]}" -v n="${INSTR[nginx-$route]}" \
        -v mb="${INSTR[mayfly-token]}" -v nb="${INSTR[nginx-token]}" 'BEGIN {
        printf "%-6s mayfly / nginx: %.2fx the request, %.2fx the verifying\n", route, m / n,
            (m - mb) / (n - nb) }'
done
