#!/usr/bin/env bash
# tests/bench/json_instructions.sh — what one JSON echo costs, in instructions: the servers of
# run.sh's JSON echo pair, each as one process under callgrind, answering POST /echo with the
# 541-byte tests/bench/json_echo_body.json decoded and re-encoded:
#   mayfly-json     one worker (tests/bench/json_scripts/echo.lua)
#   nginx-lua-json  nginx + lua-nginx-module + lua-cjson (tests/bench/nginx_json.conf.in),
#                   master_process off
# Printed per request: all of each process's instructions, their ratio, and each server's split
# by object (its own code, LuaJIT, libc, ...). Counts repeat closely from run to run where
# requests/s on a shared machine do not (run.sh --only mayfly-json,nginx-lua-json): use this one
# to compare changes, that one for what they are worth in time. The kernel's work (system calls,
# loopback TCP) is not counted. A report, never a pass/fail test.
#
#   bash tests/bench/json_instructions.sh [REQUESTS]     (default 2000; MAYFLY_BIN to pick)
#
# Each server: started under valgrind --tool=callgrind, 2000 requests to warm it up, counters
# zeroed, REQUESTS keep-alive POSTs one after another from one client, counters dumped.
# callgrind counts a `rep stos` as one instruction per byte, which inflates libmicrohttpd's
# per-request pool clearing far beyond its time.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR=$ROOT/tests/bench
BUILD_DIR=${MAYFLY_BUILD_DIR:-$ROOT/build}
NGINX_MODULE_DIR=/usr/lib/nginx/modules
BODY=$BENCH_DIR/json_echo_body.json
N=${1:-2000}
source "$BENCH_DIR/lib.sh"
instructions_setup json_instructions.sh nginx-lua

port=$(free_port)
MAYFLY_LISTEN=127.0.0.1:$port MAYFLY_WORKERS=1 MAYFLY_ACCESS_LOG=off MAYFLY_DRAIN_DELAY=0 \
  MAYFLY_SCRIPTS=$BENCH_DIR/json_scripts \
  callgrind_post_requests "$TMP/mayfly-json.out" "$port" /echo "$N" "$BODY" application/json \
  "$MAYFLY_BIN" serve

port=$(free_port)
mkdir -p "$TMP/nginx"
load=""
for mod in ndk_http_module ngx_http_lua_module; do load+="load_module $NGINX_MODULE_DIR/$mod.so; "; done
sed -e "s|@PREFIX@|$TMP/nginx|g" -e "s|@PORT@|$port|g" -e "s|@WORKERS@|1|g" -e "s|@MASTER@|off|g" \
  -e "s|@LOAD_MODULES@|$load|g" "$BENCH_DIR/nginx_json.conf.in" >"$TMP/nginx/nginx.conf"
callgrind_post_requests "$TMP/nginx-lua-json.out" "$port" /echo "$N" "$BODY" application/json \
  nginx -p "$TMP/nginx" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf"

# Per request: all instructions, and the own instructions of each object.
python3 - "$N" "mayfly-json=$TMP/mayfly-json.out" "nginx-lua-json=$TMP/nginx-lua-json.out" <<'PY'
import collections, re, sys

def read(path):
    names = {}
    own = collections.Counter()
    ob = None
    calls = False
    for line in open(path):
        key, _, val = line.rstrip("\n").partition("=")
        if key in ("ob", "cob"):  # both name objects: "(id) path" the first time, "(id)" after
            m = re.match(r"\((\d+)\)(?:\s+(.*))?", val)
            if m and m.group(2):
                names[m.group(1)] = m.group(2)
            if key == "ob":
                ob = names.get(m.group(1), val) if m else val
        elif key == "calls":
            calls = True  # the next cost line is a call's inclusive cost, not own work
        elif line[:1].isdigit() or line[:1] in "+-*":
            parts = line.split()
            if len(parts) >= 2 and not calls:
                own[(ob or "?").rsplit("/", 1)[-1]] += int(parts[1])
            calls = False
    return own

n = int(sys.argv[1])
servers = {}
for arg in sys.argv[2:]:
    name, _, path = arg.partition("=")
    servers[name] = read(path)
total = {s: sum(own.values()) // n for s, own in servers.items()}
print(f"instructions per JSON echo (POST /echo, 541-byte body), one process, {n} requests one after another (callgrind):")
for s in servers:
    print(f"  {s:<38} {total[s]:>9,}")
print(f"  {'mayfly-json / nginx-lua-json':<38} {total['mayfly-json'] / total['nginx-lua-json']:>9.2f}x")
for s, own in servers.items():
    print(f"\n  {s} by object (own instructions):")
    for obj, cost in own.most_common(6):
        print(f"    {obj:<36} {cost // n:>9,}")
PY
