#!/usr/bin/env bash
# The lifecycle: probes that never queue behind handlers, the admin listener, a wedged worker
# failing /livez, hooks (on_start retried until it passes, on_ready_check, on_config refusing a
# config, every, on_shutdown), the drain of a request outlasting the delay, the shutdown timeout.
. "$(dirname "$0")/lib.sh"

F="$TESTS_DIR/fixtures/lifecycle"
S="$WORK/scripts"; C="$WORK/config"
mkdir -p "$S" "$C"
cp "$F/app.lua" "$S/"
echo no >"$C/start"

# ---- on_start fails until the config says otherwise: not ready, routes answer 503 ----
APORT=$(free_port)
mf_start "$S" MAYFLY_CONFIG="$C" MAYFLY_WORKERS=2 MAYFLY_REQUEST_TIMEOUT=10s \
  MAYFLY_STUCK_TIMEOUT=1s MAYFLY_ADMIN_LISTEN=127.0.0.1:$APORT || exit 1
sleep 0.3
expect "on_start failing: startupz 503" GET /startupz 503 '"starting"'
expect "on_start failing: readyz names the hook" GET /readyz 503 'start is not ok yet'
expect "on_start failing: routes answer 503" GET /fast 503 '"starting"'
expect "on_start failing: livez 200" GET /livez 200
check "on_start failure logged" log_has '"msg":"hook failed","hook":"on_start"'
echo ok >"$C/start"
for _ in $(seq 1 60); do log_has '"msg":"ready"' && break; sleep 0.1; done
check "on_start retried and passed" log_has '"msg":"on_start ran"'
expect "after on_start: readyz 200" GET /readyz 200 '"hooks":{"ok":true}'
expect "after on_start: startupz 200" GET /startupz 200
expect "after on_start: routes serve" GET /fast 200 fast

# ---- every ----
sleep 0.7
check "every 200ms job ran repeatedly" bash -c '[ "$(grep -c "\"msg\":\"tick\"" "$1")" -ge 2 ]' _ "$MF_LOG"

# ---- probes with every worker busy ----
# Staggered: the second connection, if hashed to the busy worker, is handed to the idle one.
# os.clock is the process's CPU time, which both spinning workers advance: 6 "seconds" each
# last at least 3 s of wall time.
curl -s -m 30 "$(url /slow?s=6)" >/dev/null & b1=$!
sleep 0.3
curl -s -m 30 "$(url /slow?s=6)" >/dev/null & b2=$!
sleep 0.4
for i in 1 2 3; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -m 0.5 "$(url /readyz)")
  check "readyz on the main port answers with all workers busy ($i)" [ "$code" = 200 ]
done
code=$(curl -s -o /dev/null -w '%{http_code}' -m 0.5 "http://127.0.0.1:$APORT/readyz")
check "readyz on the admin port answers with all workers busy" [ "$code" = 200 ]
sleep 1
http GET /livez
check "livez fails once a run passes the stuck limit" [ "$STATUS" = 503 ]
check "livez names what is stuck" grep -q '"running":"GET /slow"' <<<"$BODY"
wait $b1 $b2
for _ in $(seq 1 50); do http GET /livez; [ "$STATUS" = 200 ] && break; sleep 0.1; done
check "livez recovers when the runs end" [ "$STATUS" = 200 ]
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$APORT/fast")
check "admin port serves no script routes" [ "$code" = 404 ]

# ---- on_ready_check ----
echo on >"$C/maintenance"; kill -HUP "$MF_PID"
for _ in $(seq 1 40); do http GET /readyz; [ "$STATUS" = 503 ] && break; sleep 0.1; done
check "on_ready_check false: readyz 503 with the reason" grep -q 'in maintenance' <<<"$BODY"
expect "on_ready_check false: routes still serve" GET /fast 200 fast
rm "$C/maintenance"; kill -HUP "$MF_PID"
for _ in $(seq 1 40); do http GET /readyz; [ "$STATUS" = 200 ] && break; sleep 0.1; done
check "on_ready_check true again: readyz 200" [ "$STATUS" = 200 ]

# ---- on_config ----
echo 10 >"$C/limit"; kill -HUP "$MF_PID"
for _ in $(seq 1 40); do http GET /limit; [ "$BODY" = 10 ] && break; sleep 0.1; done
check "on_config accepts a good config" [ "$BODY" = 10 ]
echo lots >"$C/limit"; kill -HUP "$MF_PID"
for _ in $(seq 1 40); do log_has 'config refused by on_config' && break; sleep 0.1; done
check "on_config refusal logged" log_has 'limit must be a number'
expect "refused config: the old value stays" GET /limit 200 10

# ---- the drain: a request outlasting the delay completes; on_shutdown runs ----
curl -s -m 20 -o "$WORK/slow.out" "$(url /slow?s=1.5)" & b1=$!
# SIGTERM once the request runs (its worker's busy slot shows in /livez only past the stuck
# limit, so look for the connection instead).
for _ in $(seq 1 100); do
  [ -n "$(ss -Htn state established "( dport = :$MF_PORT )")" ] && break; sleep 0.02
done
sleep 0.2
mf_stop
wait $b1
check "in-flight request outlasting the drain delay completed" grep -q "slow done" "$WORK/slow.out"
check "clean drain: exit 0" [ "$MF_EXIT" = 0 ]
check "on_shutdown ran with the serving config" log_has '"msg":"on_shutdown ran".*"limit":"10"'
n=$(grep -c '"msg":"tick"' "$MF_LOG")
sleep 0.5
check "jobs stopped at shutdown" [ "$(grep -c '"msg":"tick"' "$MF_LOG")" = "$n" ]

# ---- the drain under keep-alive load: nothing sent before the listener closed is lost ----
mf_start "$S" MAYFLY_CONFIG="$C" MAYFLY_WORKERS=2 MAYFLY_DRAIN_DELAY=1s MAYFLY_ACCESS_LOG=off || exit 1
for _ in $(seq 1 40); do log_has '"msg":"ready"' && break; sleep 0.1; done
python3 "$TESTS_DIR/keepalive_load.py" "$MF_PORT" /fast 3 8 >"$WORK/load.out" & w=$!
sleep 1
mf_stop
wait $w
read -r _ ok _ refused _ lost <"$WORK/load.out"
echo "    drain under load: $(cat "$WORK/load.out")"
check "drain under load: requests were served" [ "${ok:-0}" -gt 0 ]
check "drain under load: no request on an open connection lost" [ "${lost:-1}" = 0 ]
check "drain under load: exit 0" [ "$MF_EXIT" = 0 ]

# ---- the shutdown timeout: exit 3, what was running is logged ----
mf_start "$S" MAYFLY_CONFIG="$C" MAYFLY_WORKERS=1 MAYFLY_SHUTDOWN_TIMEOUT=300ms \
  MAYFLY_REQUEST_TIMEOUT=10s || exit 1
for _ in $(seq 1 40); do log_has '"msg":"ready"' && break; sleep 0.1; done
curl -s -m 10 "$(url /slow?s=3)" >/dev/null & b1=$!
sleep 0.3
mf_stop
kill $b1 2>/dev/null; wait $b1 2>/dev/null
check "shutdown timeout: exit 3" [ "$MF_EXIT" = 3 ]
check "shutdown timeout: what was running is logged" log_has '"msg":"still running at exit".*"running":"GET /slow"'

# ---- a hook of the wrong type is refused at start: exit 1 ----
printf 'return { on_start = "soon" }\n' >"$WORK/bad.lua"
mkdir -p "$WORK/bad" && mv "$WORK/bad.lua" "$WORK/bad/"
out=$(MAYFLY_LISTEN=127.0.0.1:0 MAYFLY_SCRIPTS="$WORK/bad" timeout 10 "$MAYFLY_BIN" serve 2>&1); rc=$?
check "hook of the wrong type: exit 1 naming it" bash -c '[ "$1" = 1 ] && grep -q "hook .on_start. is a string" <<<"$2"' _ "$rc" "$out"
printf 'return { every = { soon = function() end } }\n' >"$WORK/bad/bad.lua"
out=$(MAYFLY_LISTEN=127.0.0.1:0 MAYFLY_SCRIPTS="$WORK/bad" timeout 10 "$MAYFLY_BIN" serve 2>&1); rc=$?
check "bad job interval: exit 1 naming it" bash -c '[ "$1" = 1 ] && grep -q "every\[\"soon\"\]" <<<"$2"' _ "$rc" "$out"
mf_finish
