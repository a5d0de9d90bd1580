#!/usr/bin/env bash
# tests/bench/outbound_instructions.sh — what one outbound call costs, in instructions: the
# servers of tests/bench/outbound.sh, each as one process under callgrind, answering GET /proxy
# with one call to a local nginx upstream:
#   mayfly        one worker, the default engine (tests/bench/outbound/proxy.lua)
#   mayfly-curl   the same with MAYFLY_HTTP_ENGINE=curl (left out when this mayfly does not
#                 list the setting)
#   resty-http    nginx + lua-nginx-module + lua-resty-http (tests/bench/nginx_outbound.conf.in),
#                 master_process off; left out, with how to get it, unless LUA_RESTY_HTTP names
#                 a lua-resty-http checkout's lib/
#   nginx-proxy   nginx proxy_pass, master_process off: the C reference
# Printed per request: all of each process's instructions, the ratios of mayfly's to the
# others', and each server's split by object (its own code, LuaJIT, libc, ...), with what
# libcurl runs including the libc work it calls. Counts repeat closely from run to run where
# requests/s on a shared machine do not (tests/bench/outbound.sh): use this one to compare
# changes of the outbound path, that one for what they are worth in time. The kernel's work
# (system calls, loopback TCP) is not counted. A report, never a pass/fail test.
#
#   bash tests/bench/outbound_instructions.sh [REQUESTS]     (default 2000; MAYFLY_BIN to pick)
#
# Each server: started under valgrind --tool=callgrind, 2000 requests to warm it up, counters
# zeroed, REQUESTS keep-alive requests one after another from one client, counters dumped.
# callgrind counts a `rep stos` as one instruction per byte, which inflates libmicrohttpd's
# per-request pool clearing (about 24,600 of mayfly's count) far beyond its time.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR=$ROOT/tests/bench
BUILD_DIR=${MAYFLY_BUILD_DIR:-$ROOT/build}
NGINX_MODULE_DIR=/usr/lib/nginx/modules
N=${1:-2000}
source "$BENCH_DIR/lib.sh"
instructions_setup outbound_instructions.sh nginx-lua

UP_PORT=$(free_port)
nginx_conf "$TMP/up" "$UP_PORT" "" 'location = /hello { default_type text/plain; return 200 "hello world"; }'
nginx -p "$TMP/up" -e "$TMP/up/error.log" -c "$TMP/up/nginx.conf" &
BENCH_PIDS+=($!)
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$UP_PORT/hello" && break; sleep 0.1; done

DUMPS=() # NAME=callgrind dump, in the order printed
mayfly_under_callgrind() { # NAME [SETTING=value...]
  local name=$1 port
  shift
  port=$(free_port)
  # The settings exported in a subshell, not given to env: callgrind must run mayfly itself.
  (
    (($#)) && export "$@"
    MAYFLY_LISTEN=127.0.0.1:$port MAYFLY_WORKERS=1 MAYFLY_ACCESS_LOG=off MAYFLY_DRAIN_DELAY=0 \
      MAYFLY_SCRIPTS="$BENCH_DIR/outbound" MAYFLY_CFG_UPSTREAM="http://127.0.0.1:$UP_PORT" \
      callgrind_requests "$TMP/$name.out" "$port" /proxy "$N" "$MAYFLY_BIN" serve
  )
  DUMPS+=("$name=$TMP/$name.out")
}

mayfly_under_callgrind mayfly
if "$MAYFLY_BIN" --help 2>&1 | grep -q MAYFLY_HTTP_ENGINE; then
  mayfly_under_callgrind mayfly-curl MAYFLY_HTTP_ENGINE=curl
else
  echo "mayfly-curl left out: this mayfly lists no MAYFLY_HTTP_ENGINE (libcurl is its only engine)" >&2
fi

if [[ -f ${LUA_RESTY_HTTP:-}/resty/http.lua ]]; then
  port=$(free_port)
  mkdir -p "$TMP/rh"
  load=""
  for mod in ndk_http_module ngx_http_lua_module; do load+="load_module $NGINX_MODULE_DIR/$mod.so; "; done
  sed -e "s|@PREFIX@|$TMP/rh|g" -e "s|@PORT@|$port|g" -e "s|@MASTER@|off|g" -e "s|@UP_PORT@|$UP_PORT|g" \
    -e "s|@LUA_PATH@|$LUA_RESTY_HTTP/?.lua;;|g" -e "s|@LOAD_MODULES@|$load|g" \
    "$BENCH_DIR/nginx_outbound.conf.in" >"$TMP/rh/nginx.conf"
  callgrind_requests "$TMP/resty-http.out" "$port" /proxy "$N" \
    nginx -p "$TMP/rh" -e "$TMP/rh/error.log" -c "$TMP/rh/nginx.conf"
  DUMPS+=("resty-http=$TMP/resty-http.out")
else
  echo "resty-http left out: LUA_RESTY_HTTP (${LUA_RESTY_HTTP:-unset}) holds no resty/http.lua; to add it:" >&2
  echo "  git clone https://github.com/ledgetech/lua-resty-http && export LUA_RESTY_HTTP=\$PWD/lua-resty-http/lib" >&2
fi

port=$(free_port)
nginx_conf "$TMP/px" "$port" \
  "upstream up { server 127.0.0.1:$UP_PORT; keepalive 64; keepalive_requests 1000000; }" \
  'location = /proxy { proxy_pass http://up/hello; proxy_http_version 1.1; proxy_set_header Connection ""; }' \
  "master_process off;"
callgrind_requests "$TMP/nginx-proxy.out" "$port" /proxy "$N" nginx -p "$TMP/px" -e "$TMP/px/error.log" -c "$TMP/px/nginx.conf"
DUMPS+=("nginx-proxy=$TMP/nginx-proxy.out")

# Per request: self instructions by object, and the inclusive cost of calls made into libcurl
# from outside it (libcurl with the libc work it calls).
python3 - "$N" "${DUMPS[@]}" <<'PY'
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

n = int(sys.argv[1])
servers = {}
for arg in sys.argv[2:]:
    server, _, path = arg.partition("=")
    servers[server] = read(path)
total = {s: sum(own.values()) // n for s, (own, _) in servers.items()}
print(f"instructions per proxied GET, one process, {n} requests one after another (callgrind):")
for s in servers:
    print(f"  {s:<38} {total[s]:>9,}")
print()
for a, b in (("mayfly", "resty-http"), ("mayfly", "mayfly-curl"), ("mayfly", "nginx-proxy"),
             ("mayfly-curl", "resty-http"), ("resty-http", "nginx-proxy")):
    if a in total and b in total:
        print(f"  {a + ' / ' + b:<38} {total[a] / total[b]:>9.2f}x")
for s, (own, curl) in servers.items():
    print(f"\n  {s} by object (own instructions):")
    if curl:
        print(f"    {'libcurl, with the libc work it calls':<36} {curl // n:>9,}")
    for obj, cost in own.most_common(6):
        print(f"    {obj:<36} {cost // n:>9,}")
PY
