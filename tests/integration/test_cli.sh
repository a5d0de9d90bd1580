# The command line: check, version, help, flag errors, start-up refusals and exit codes.
source "$(dirname "$0")/lib.sh"
F="$TESTS_DIR/fixtures"

out=$("$MAYFLY_BIN" check "$F/http" 2>&1); rc=$?
check "check: good folder exits 0" [ "$rc" = 0 ]
check "check: lists routes with their files" grep -q "GET /users/:id .*routes.lua" <<<"$out"
check "check: lists modules" grep -q "util .*util.lua" <<<"$out"

check "check: no warning on a clean folder" bash -c '! grep -q "warnings:" <<<"$1"' _ "$out"

out=$("$MAYFLY_BIN" check "$F/lint" 2>&1); rc=$?
check "check: warnings do not fail the check" [ "$rc" = 0 ]
check "check: warns about a chunk-level global, with file and line" grep -q "stateful.lua:3: global 'hits' assigned at chunk level" <<<"$out"
check "check: warns about a global set in a handler" grep -q "stateful.lua:13: global 'total_seen' assigned in a function" <<<"$out"
check "check: warns about a chunk-level local a handler assigns" grep -q "stateful.lua:12: chunk-level local 'count'" <<<"$out"
check "check: a closure's own local is not flagged" bash -c '! grep -q "inner" <<<"$1"' _ "$out"
check "check: handler locals are not flagged" [ "$(grep -c "stateful.lua" <<<"$out")" = 5 ]

out=$("$MAYFLY_BIN" check "$F/syntax" 2>&1); rc=$?
check "check: syntax error exits 1" [ "$rc" = 1 ]
check "check: syntax error names file and line" grep -q "bad.lua:5:" <<<"$out"

out=$("$MAYFLY_BIN" check "$F/conflict" 2>&1); rc=$?
check "check: route conflict exits 1" [ "$rc" = 1 ]
check "check: conflict names both files and routes" bash -c 'grep -q "a.lua" <<<"$1" && grep -q "b.lua" <<<"$1" && grep -q "GET /items/:id" <<<"$1" && grep -q "GET /items/:name" <<<"$1"' _ "$out"

out=$("$MAYFLY_BIN" check "$F/load_error" 2>&1); rc=$?
check "check: error while loading exits 1" [ "$rc" = 1 ]
check "check: load error names the module" grep -q "does_not_exist" <<<"$out"
out=$(timeout 30 "$MAYFLY_BIN" check "$F/load_loop" 2>&1); rc=$?
check "check: a chunk that never returns is cut off (exit 1)" bash -c '[ "$1" = 1 ] && grep -q "took longer" <<<"$2"' _ "$rc" "$out"
out=$("$MAYFLY_BIN" check "$F/bad_route" 2>&1); rc=$?
check "check: invalid route exits 1" bash -c '[ "$1" = 1 ] && grep -q "invalid route" <<<"$2"' _ "$rc" "$out"
out=$("$MAYFLY_BIN" check "$F/not_function" 2>&1); rc=$?
check "check: non-function route exits 1" bash -c '[ "$1" = 1 ] && grep -q "not a function" <<<"$2"' _ "$rc" "$out"
out=$("$MAYFLY_BIN" check "$WORK/none" 2>&1); rc=$?
check "check: missing folder exits 1" [ "$rc" = 1 ]

out=$("$MAYFLY_BIN" version); rc=$?
check "version" bash -c '[ "$1" = 0 ] && grep -qE "^mayfly [0-9]+\.[0-9]+\.[0-9]+" <<<"$2"' _ "$rc" "$out"
out=$("$MAYFLY_BIN" version "$F/http"); rc=$?
check "version of a scripts folder" bash -c '[ "$1" = 0 ] && grep -qE "^scripts [0-9a-f]{16} " <<<"$2"' _ "$rc" "$out"
mf_start "$F/http" || exit 1
http GET /readyz
check "version matches what readyz shows" grep -q "\"version\":\"$(awk '/^scripts/ {print $2}' <<<"$out")\"" <<<"$BODY"
mf_stop
out=$("$MAYFLY_BIN" --help); rc=$?
check "--help lists commands and settings" bash -c '[ "$1" = 0 ] && grep -q "MAYFLY_WORKERS" <<<"$2" && grep -q "check" <<<"$2"' _ "$rc" "$out"
"$MAYFLY_BIN" >/dev/null 2>&1; check "no command exits 2" [ "$?" = 2 ]
"$MAYFLY_BIN" frobnicate >/dev/null 2>&1; check "unknown command exits 2" [ "$?" = 2 ]

expect_usage() {
  local name=$1 want=$2; shift 2
  out=$(env "$@" 2>&1); rc=$?
  if [ "$rc" = 2 ] && grep -q -- "$want" <<<"$out"; then pass "$name"; else fail "$name" "rc=$rc" "$out"; fi
}
expect_usage "bad flag" "unknown flag '--nope'" "$MAYFLY_BIN" serve --nope
expect_usage "flag without value" "needs a value" "$MAYFLY_BIN" serve --workers
expect_usage "bad workers" "MAYFLY_WORKERS: expected an integer" MAYFLY_WORKERS=zero "$MAYFLY_BIN" serve
expect_usage "bad duration" "expected a duration" "$MAYFLY_BIN" serve --request-timeout=fast
expect_usage "bad size" "expected a size" MAYFLY_MAX_BODY=lots "$MAYFLY_BIN" serve
expect_usage "bad listen" "expected host:port" "$MAYFLY_BIN" serve --listen nowhere
expect_usage "bad log level" "debug, info, warn or error" MAYFLY_LOG_LEVEL=loud "$MAYFLY_BIN" serve
expect_usage "bad access log" "on or off" MAYFLY_ACCESS_LOG=maybe "$MAYFLY_BIN" serve

out=$(MAYFLY_LISTEN=127.0.0.1:0 MAYFLY_SCRIPTS="$F/conflict" timeout 10 "$MAYFLY_BIN" serve 2>&1); rc=$?
check "serve refuses a route conflict (exit 1)" bash -c '[ "$1" = 1 ] && grep -q "route conflict" <<<"$2"' _ "$rc" "$out"
out=$(MAYFLY_LISTEN=127.0.0.1:0 MAYFLY_SCRIPTS="$F/syntax" timeout 10 "$MAYFLY_BIN" serve 2>&1); rc=$?
check "serve refuses a syntax error (exit 1)" bash -c '[ "$1" = 1 ] && grep -q "bad.lua:5:" <<<"$2"' _ "$rc" "$out"

mf_start "$F/http" MAYFLY_WORKERS=2 || exit 1
out=$(MAYFLY_LISTEN=127.0.0.1:$MF_PORT MAYFLY_SCRIPTS="$F/http" timeout 10 "$MAYFLY_BIN" serve 2>&1); rc=$?
# SO_REUSEPORT lets a second process share the port; bind only fails for another user or a
# non-reuseport socket, so occupy a port with a plain listener instead.
python3 - "$WORK/port" <<'PY' &
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
time.sleep(8)
PY
holder=$!
for _ in $(seq 1 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
out=$(MAYFLY_LISTEN=127.0.0.1:$(cat "$WORK/port") MAYFLY_SCRIPTS="$F/http" timeout 10 "$MAYFLY_BIN" serve 2>&1); rc=$?
check "port in use: exit 1 with the address" bash -c '[ "$1" = 1 ] && grep -q "cannot listen on 127.0.0.1" <<<"$2"' _ "$rc" "$out"
kill "$holder" 2>/dev/null

expect "readyz while ready" GET /readyz 200 '"status":"ok"'
expect "livez" GET /livez 200 '"status":"ok"'
expect "startupz" GET /startupz 200 '"status":"ok"'
mf_stop
check "SIGTERM: exit 0" [ "$MF_EXIT" = 0 ]
check "stop logged" log_has '"msg":"stopped"'

# The drain: readiness turns 503 at once while requests are still served.
mf_start "$F/http" MAYFLY_WORKERS=2 MAYFLY_DRAIN_DELAY=2s || exit 1
kill -TERM "$MF_PID"
sleep 0.3
expect "draining: readyz 503" GET /readyz 503 '"state":"draining"'
expect "draining: still serving" GET /hello 200 "hello world"
check "draining: Connection close" grep -qi "^connection: close" "$HEADERS"
wait "$MF_PID"; rc=$?; MF_PID=
check "drain ends with exit 0" [ "$rc" = 0 ]

# A port another mayfly serves is refused (SO_REUSEPORT alone would let both bind and split the
# traffic), naming the address and the setting, unless sharing is asked for.
ADMIN=$(free_port)
mf_start "$F/http" MAYFLY_WORKERS=2 MAYFLY_ADMIN_LISTEN=127.0.0.1:$ADMIN || exit 1
A_PID=$MF_PID A_PORT=$MF_PORT A_LOG=$MF_LOG
out=$(MAYFLY_LISTEN=127.0.0.1:0 MAYFLY_ADMIN_LISTEN=127.0.0.1:$ADMIN MAYFLY_SCRIPTS="$F/http" \
  timeout 10 "$MAYFLY_BIN" serve 2>&1); rc=$?
check "admin port in use: exit 1 naming it" \
  bash -c '[ "$1" = 1 ] && grep -q "cannot listen on 127.0.0.1:$2: the address is already in use" <<<"$3"' \
  _ "$rc" "$ADMIN" "$out"
out=$(MAYFLY_LISTEN=127.0.0.1:$A_PORT MAYFLY_SCRIPTS="$F/http" timeout 10 "$MAYFLY_BIN" serve 2>&1); rc=$?
check "port in use: exit 1" [ "$rc" = 1 ]
check "port in use: the message names the address and the setting" \
  grep -q "cannot listen on 127.0.0.1:$A_PORT: the address is already in use.*MAYFLY_REUSE_PORT=on" <<<"$out"
out=$(MAYFLY_SCRIPTS="$F/http" timeout 10 "$MAYFLY_BIN" serve --listen=127.0.0.1:$A_PORT 2>&1); rc=$?
check "port in use (flag): exit 1" [ "$rc" = 1 ]
expect "port in use: the first process still serves" GET /hello 200 "hello world"
mf_start "$F/http" MAYFLY_LISTEN=127.0.0.1:$A_PORT MAYFLY_REUSE_PORT=on MAYFLY_WORKERS=1 || exit 1
check "MAYFLY_REUSE_PORT=on: starts beside the first process on the same port" [ "$MF_PORT" = "$A_PORT" ]
mf_stop
check "MAYFLY_REUSE_PORT=on: clean exit" [ "$MF_EXIT" = 0 ]
MF_PID=$A_PID MF_LOG=$A_LOG MF_PORT=$A_PORT
mf_stop
# Once the first process has exited, the port is free again.
mf_start "$F/http" MAYFLY_LISTEN=127.0.0.1:$A_PORT || exit 1
check "port free again after the first process exited" [ "$MF_PORT" = "$A_PORT" ]
mf_stop

# A second signal during the drain delay ends it at once.
mf_start "$F/http" MAYFLY_DRAIN_DELAY=30s || exit 1
kill -TERM "$MF_PID"; sleep 0.3; kill -INT "$MF_PID"
for _ in $(seq 1 50); do kill -0 "$MF_PID" 2>/dev/null || break; sleep 0.1; done
check "second signal shortens the drain" bash -c '! kill -0 "$1" 2>/dev/null' _ "$MF_PID"
wait "$MF_PID"; MF_PID=
mf_finish
