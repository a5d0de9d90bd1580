# tests/bench/lib.sh — pieces the benchmark scripts share; sourced, never run.

log() { printf '%s\n' "$*" >&2; }

# bench_options ARGS...: a bench's command line: --quick sets QUICK=1, --keep KEEP=1 (both 0
# otherwise); -h or --help prints the script's header comment.
bench_options() {
    QUICK=0 KEEP=0
    while (($#)); do
        case $1 in
        --quick) QUICK=1 ;;
        --keep) KEEP=1 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 2 ;;
        *) echo "${0##*/}: unknown argument: $1" >&2; exit 2 ;;
        esac
        shift
    done
}

# free_port: a loopback TCP port nobody listens on (at the time of asking).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# install_missing PACKAGE...: installs the packages named with apt-get (nothing when none is).
install_missing() {
    (($#)) || return 0
    log "installing: $*"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "$@" >/dev/null
}

# ensure_mayfly: sets MAYFLY_BIN to a private copy in TMP of the mayfly MAYFLY_BIN names, or of
# BUILD_DIR's (built first, Release, when there is none), so that a rebuild during the run
# cannot change it.
ensure_mayfly() {
    MAYFLY_BIN=${MAYFLY_BIN:-$BUILD_DIR/mayfly}
    if [[ ! -x $MAYFLY_BIN ]]; then
        cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
        cmake --build "$BUILD_DIR" -j2 --target mayfly >/dev/null
    fi
    cp "$MAYFLY_BIN" "$TMP/mayfly"
    MAYFLY_BIN=$TMP/mayfly
}

# instructions_setup NAME [nginx-lua]: what a *_instructions.sh script needs before it counts:
# valgrind (installed when missing), nginx's Lua module when asked (NAME, the script, says so
# when it is missing), TMP (removed at exit, after the processes in BENCH_PIDS are stopped) and
# MAYFLY_BIN (ensure_mayfly).
instructions_setup() {
    command -v valgrind >/dev/null || "$ROOT/tools/deps.sh" valgrind
    if [[ ${2:-} == nginx-lua && ! -e ${NGINX_MODULE_DIR:-/usr/lib/nginx/modules}/ngx_http_lua_module.so ]]; then
        echo "$1: needs nginx with lua-nginx-module (apt-get install nginx-extras)" >&2
        exit 1
    fi
    TMP=$(mktemp -d "/tmp/mayfly-$1.XXXXXX")
    chmod 755 "$TMP" # nginx's workers, not root, read what is in it
    trap 'for p in "${BENCH_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"' EXIT
    ensure_mayfly
}

# stop_pids: stops every process in PIDS (SIGTERM, each waited for) and empties PIDS.
stop_pids() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
}

# wait_200 URL: waits until URL answers 200 (10 s at most); otherwise prints SERVER_LOG and fails.
wait_200() {
    local i
    for ((i = 0; i < 100; i++)); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true) == 200 ]] && return 0
        sleep 0.1
    done
    log "no 200 from $1; server log:"
    cat "$SERVER_LOG" >&2
    return 1
}

# pin_modes: sets MODES, the modes to measure in: pinned (the server on CPU 0 with one worker, wrk
# -t1 -c50 on CPU 1) and unpinned (no taskset, two workers, wrk -t2 -c100); unpinned alone when
# CPUs 0 and 1 cannot both be used.
pin_modes() {
    MODES=(pinned unpinned)
    taskset -c 0,1 true 2>/dev/null || MODES=(unpinned)
}

# set_mode MODE: WORKERS, WRK_T, WRK_C, PIN_SERVER and PIN_WRK for MODE (see pin_modes).
set_mode() {
    if [[ $1 == pinned ]]; then
        WORKERS=1 WRK_T=1 WRK_C=50 PIN_SERVER=(taskset -c 0) PIN_WRK=(taskset -c 1)
    else
        WORKERS=2 WRK_T=2 WRK_C=100 PIN_SERVER=() PIN_WRK=()
    fi
}

# measure_rounds: ROUNDS rounds of `measure NAME` for every NAME in SERVERS, the round's number
# in `round`; the order rotates each round so no server always runs first or last.
measure_rounds() {
    local i
    for ((round = 1; round <= ROUNDS; round++)); do
        for ((i = 0; i < ${#SERVERS[@]}; i++)); do
            measure "${SERVERS[(i + round - 1) % ${#SERVERS[@]}]}"
        done
    done
}

# wrk latency ("850.12us", "1.23ms", "2.00s", "1.05m") in ms.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        else if (u != "ms") { print "nan"; exit }
        printf "%.3f\n", n }'
}

# median NUMBER...: their median (%.3f); nan for none.
median() {
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) printf "%.3f\n", a[(NR + 1) / 2]
        else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# CPU time (clock ticks) used so far by the given processes and their direct children (nginx's
# workers), all threads included.
proc_ticks() {
    local pid stat sum=0 fields pids
    read -ra pids <<<"$* $(pgrep -d ' ' -P "$(IFS=,; echo "$*")" || true)"
    for pid in "${pids[@]}"; do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        read -ra fields <<<"${stat##*) }" # fields from "state" on: utime is [11], stime [12]
        sum=$((sum + fields[11] + fields[12]))
    done
    echo "$sum"
}

# nginx_conf DIR PORT HTTP-EXTRA SERVER-BODY [MAIN-EXTRA]: DIR/nginx.conf for one nginx worker in
# the foreground, listening on PORT with SERVER-BODY as its server block; HTTP-EXTRA goes in the
# http block, MAIN-EXTRA (say "master_process off;") at the top.
nginx_conf() {
    mkdir -p "$1"
    cat >"$1/nginx.conf" <<CONF
daemon off;
${5:-}
worker_processes 1;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $1/cb; proxy_temp_path $1/px; fastcgi_temp_path $1/fc;
    uwsgi_temp_path $1/uw; scgi_temp_path $1/sc;
    $3
    server { listen 127.0.0.1:$2; $4 }
}
CONF
}

# sequential_client PORT N PATH: N GETs of PATH one after another on one keep-alive connection;
# fails unless each is a 200.
sequential_client() {
    python3 - "$1" "$2" "$3" <<'PY'
import socket, sys
port, n, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = socket.create_connection(("127.0.0.1", port))
request = ("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode()
buf = b""
for _ in range(n):
    s.sendall(request)
    while True:
        head_end = buf.find(b"\r\n\r\n")
        if head_end >= 0:
            head = buf[:head_end].decode("latin-1").split("\r\n")
            assert head[0].startswith("HTTP/1.1 200"), head[0]
            length = next(int(l.split(":", 1)[1]) for l in head if l.lower().startswith("content-length:"))
            if len(buf) >= head_end + 4 + length:
                buf = buf[head_end + 4 + length:]
                break
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("the server closed the connection")
        buf += chunk
PY
}

# callgrind_requests OUT PORT PATH N COMMAND...: runs COMMAND (a server on PORT) under callgrind,
# warms it with 2000 GETs of PATH, zeroes the counters, sends N more one after another, and
# leaves the dump of those N in OUT. The server's pid is in BENCH_PIDS while it runs, for traps.
BENCH_PIDS=()
callgrind_requests() {
    local out=$1 port=$2 path=$3 n=$4 pid
    shift 4
    valgrind --tool=callgrind --callgrind-out-file="$out.%p" "$@" >/dev/null 2>"$out.log" &
    pid=$!
    BENCH_PIDS+=("$pid")
    for _ in $(seq 1 600); do
        curl -sf -o /dev/null "http://127.0.0.1:$port$path" && break
        kill -0 "$pid" 2>/dev/null || { cat "$out.log" >&2; exit 1; }
        sleep 0.1
    done
    sequential_client "$port" 2000 "$path"
    callgrind_control -z "$pid" >/dev/null 2>&1
    sequential_client "$port" "$n" "$path"
    callgrind_control -d "$pid" >/dev/null 2>&1
    kill -TERM "$pid"
    wait "$pid" || true
    mv "$out.$pid.1" "$out"
}

# callgrind_per_request OUT N: all the instructions of the callgrind dump OUT, per request of N.
callgrind_per_request() { awk -v n="$2" '$1 == "totals:" { printf "%d\n", $2 / n }' "$1"; }

# callgrind_incr OUT SCRIPTS: callgrind_requests for the Redis benches: one mayfly worker on the
# scripts folder SCRIPTS, INSTR_REQUESTS GETs of /incr, the dump in OUT; MAYFLY_REDIS_URL and any
# other setting come from the caller's environment. The Redis timeout is raised: callgrind runs
# everything ~50 times slower.
callgrind_incr() {
    local port
    port=$(free_port)
    MAYFLY_LISTEN=127.0.0.1:$port MAYFLY_WORKERS=1 MAYFLY_ACCESS_LOG=off MAYFLY_DRAIN_DELAY=0 \
        MAYFLY_REDIS_TIMEOUT=10s MAYFLY_SCRIPTS=$2 \
        callgrind_requests "$1" "$port" /incr "$INSTR_REQUESTS" "$MAYFLY_BIN" serve
}

# Clock ticks of the whole machine: "busy total" from the first line of /proc/stat.
machine_ticks() {
    local f busy
    read -ra f < <(head -n1 /proc/stat) # cpu user nice system idle iowait irq softirq steal
    busy=$((f[1] + f[2] + f[3] + f[6] + f[7] + f[8]))
    echo "$busy $((busy + f[4] + f[5]))"
}

# Ticks reaped children of this shell (wrk, once it exits) have used.
reaped_ticks() {
    local stat fields
    stat=$(cat /proc/$$/stat)
    read -ra fields <<<"${stat##*) }" # cutime is [13], cstime [14]
    echo "$((fields[13] + fields[14]))"
}

# sequential_post_client PORT N PATH BODY_FILE CONTENT_TYPE: N POSTs of BODY_FILE's bytes to PATH
# one after another on one keep-alive connection; fails unless each is a 200. Reads bodies framed
# by Content-Length or chunked (lua-nginx-module's output without a length).
sequential_post_client() {
    python3 - "$@" <<'PY'
import socket, sys
port, n, path, body_file, ctype = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
body = open(body_file, "rb").read()
request = ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
           % (path, ctype, len(body))).encode() + body
s = socket.create_connection(("127.0.0.1", port))
buf = b""

def need(k):
    """Reads until buf holds at least k bytes."""
    global buf
    while len(buf) < k:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("the server closed the connection")
        buf += chunk

def find(sep, start=0):
    """Reads until sep appears in buf at or after start; its offset."""
    global buf
    while (at := buf.find(sep, start)) < 0:
        need(len(buf) + 1)
    return at

for _ in range(n):
    s.sendall(request)
    head_end = find(b"\r\n\r\n")
    head = buf[:head_end].decode("latin-1").split("\r\n")
    assert head[0].startswith("HTTP/1.1 200"), head[0]
    fields = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip() for l in head[1:]}
    at = head_end + 4
    if "content-length" in fields:
        at += int(fields["content-length"])
        need(at)
    else:
        assert fields.get("transfer-encoding", "").lower() == "chunked", head
        while True:
            line_end = find(b"\r\n", at)
            size = int(buf[at:line_end].split(b";")[0], 16)
            at = line_end + 2 + size + 2
            need(at)
            if size == 0:
                break
    buf = buf[at:]
PY
}

# callgrind_post_requests OUT PORT PATH N BODY_FILE CONTENT_TYPE COMMAND...: callgrind_requests
# for a POST route: COMMAND (a server on PORT) under callgrind, warmed with 2000 POSTs of
# BODY_FILE to PATH, counters zeroed, N more one after another, the dump of those N in OUT.
callgrind_post_requests() {
    local out=$1 port=$2 path=$3 n=$4 body=$5 ctype=$6 pid
    shift 6
    valgrind --tool=callgrind --callgrind-out-file="$out.%p" "$@" >/dev/null 2>"$out.log" &
    pid=$!
    BENCH_PIDS+=("$pid")
    for _ in $(seq 1 600); do
        curl -sf -o /dev/null -H "Content-Type: $ctype" --data-binary "@$body" \
            "http://127.0.0.1:$port$path" && break
        kill -0 "$pid" 2>/dev/null || { cat "$out.log" >&2; exit 1; }
        sleep 0.1
    done
    sequential_post_client "$port" 2000 "$path" "$body" "$ctype"
    callgrind_control -z "$pid" >/dev/null 2>&1
    sequential_post_client "$port" "$n" "$path" "$body" "$ctype"
    callgrind_control -d "$pid" >/dev/null 2>&1
    kill -TERM "$pid"
    wait "$pid" || true
    mv "$out.$pid.1" "$out"
}
