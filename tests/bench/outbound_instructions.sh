#!/usr/bin/env bash
# tests/bench/outbound_instructions.sh — what one outbound call costs, in instructions: the
# proxy route of tests/bench/outbound (one mayfly.http call to a local nginx, its body
# returned) served by one worker under callgrind, next to nginx proxy_pass to the same upstream
# under callgrind. Printed per request: all of each server's instructions, and mayfly's split by
# library, with what libcurl runs including the libc work it calls. Counts repeat closely from
# run to run where requests/s on a shared machine do not (tests/bench/outbound.sh): use this one
# to compare changes of the outbound path, that one for what they are worth in time. The
# kernel's work (system calls, loopback TCP) is not counted. A report, never a pass/fail test.
#
#   bash tests/bench/outbound_instructions.sh [REQUESTS]     (default 2000; MAYFLY_BIN to pick)
#
# Each server: started under valgrind --tool=callgrind, 2000 requests to warm it up, counters
# zeroed, REQUESTS keep-alive requests one after another from one client, counters dumped.
# callgrind counts a `rep stos` as one instruction per byte, which inflates libmicrohttpd's
# per-request pool clearing (about 24,600 of mayfly's count) far beyond its time.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${MAYFLY_BUILD_DIR:-$ROOT/build}
MAYFLY_BIN=${MAYFLY_BIN:-$BUILD_DIR/mayfly}
N=${1:-2000}
[ -x "$MAYFLY_BIN" ] || { cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null &&
  cmake --build "$BUILD_DIR" -j"$(nproc)" >/dev/null; }
command -v valgrind >/dev/null || "$ROOT/tools/deps.sh" valgrind
command -v nginx >/dev/null || { echo "outbound_instructions.sh: needs nginx (apt-get install nginx-extras)" >&2; exit 1; }
source "$ROOT/tests/bench/lib.sh"
TMP=$(mktemp -d /tmp/mayfly-outinstr.XXXXXX)
chmod 755 "$TMP"
trap 'for p in "${BENCH_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"' EXIT

UP_PORT=$(free_port)
nginx_conf "$TMP/up" "$UP_PORT" "" 'location = /hello { default_type text/plain; return 200 "hello world"; }'
nginx -p "$TMP/up" -e "$TMP/up/error.log" -c "$TMP/up/nginx.conf" &
BENCH_PIDS+=($!)
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$UP_PORT/hello" && break; sleep 0.1; done

port=$(free_port)
MAYFLY_LISTEN=127.0.0.1:$port MAYFLY_WORKERS=1 MAYFLY_ACCESS_LOG=off MAYFLY_DRAIN_DELAY=0 \
  MAYFLY_SCRIPTS="$ROOT/tests/bench/outbound" MAYFLY_CFG_UPSTREAM="http://127.0.0.1:$UP_PORT" \
  callgrind_requests "$TMP/mayfly.out" "$port" /proxy "$N" "$MAYFLY_BIN" serve

port=$(free_port)
nginx_conf "$TMP/px" "$port" "upstream up { server 127.0.0.1:$UP_PORT; keepalive 64; }" \
  'location = /proxy { proxy_pass http://up/hello; proxy_http_version 1.1; proxy_set_header Connection ""; }' \
  "master_process off;"
callgrind_requests "$TMP/nginx.out" "$port" /proxy "$N" nginx -p "$TMP/px" -e "$TMP/px/error.log" -c "$TMP/px/nginx.conf"

# Per request: self instructions by object, and the inclusive cost of calls made into libcurl
# from outside it (libcurl with the libc work it calls).
python3 - "$TMP/mayfly.out" "$TMP/nginx.out" "$N" <<'PY'
import collections, re, sys

def read(path):
    names = {}
    def name(kind, text):
        m = re.match(r"\((\d+)\)(?:\s+(.*))?", text)
        if not m:
            return text
        if m.group(2):
            names[(kind, m.group(1))] = m.group(2)
        return names.get((kind, m.group(1)), m.group(1))
    own = collections.Counter()
    into_curl = 0
    ob = cob = None
    call = False
    for line in open(path):
        line = line.rstrip("\n")
        key, _, val = line.partition("=")
        if key == "ob":
            ob = cob = name("ob", val)
        elif key == "cob":
            cob = name("ob", val)
        elif key in ("fn", "cfn", "fl", "fi", "fe", "cfi", "cfl"):
            name("fn" if key.endswith("fn") else "fl", val)
            if key == "fn":
                cob = ob
        elif key == "calls":
            call = True
        elif line[:1].isdigit() or line[:1] in "+-*":
            parts = line.split()
            if len(parts) < 2:
                continue
            cost = int(parts[1])
            if call:
                if "libcurl" in (cob or "") and "libcurl" not in (ob or ""):
                    into_curl += cost
                call = False
                cob = ob
            else:
                own[(ob or "?").rsplit("/", 1)[-1]] += cost
    return own, into_curl

n = int(sys.argv[3])
mayfly, curl = read(sys.argv[1])
nginx, _ = read(sys.argv[2])
total = sum(mayfly.values())
print(f"instructions per proxied GET, one worker, {n} requests (callgrind):")
print(f"  nginx proxy_pass                       {sum(nginx.values()) // n:>9,}")
print(f"  mayfly                                 {total // n:>9,}")
print(f"    libcurl, with the libc work it calls {curl // n:>9,}")
for obj, cost in mayfly.most_common(6):
    print(f"    {obj + ' (own)':<36} {cost // n:>9,}")
PY
