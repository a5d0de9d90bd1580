# Redis failures under a real server: a Redis frozen with SIGSTOP (calls time out: 503, workers
# free), a Redis killed under load and restarted on the same port (503s, no crash, no hung
# worker, /readyz flips to 503 naming redis and back), all without restarting mayfly.
source "$(dirname "$0")/lib.sh"

redis_start || exit 1
mf_start "$TESTS_DIR/fixtures/redis" MAYFLY_WORKERS=4 MAYFLY_REDIS_TIMEOUT=200ms \
  MAYFLY_REDIS_URL="redis://127.0.0.1:$RPORT" MAYFLY_ACCESS_LOG=off || exit 1
expect "Redis up: INCR" GET /incr 200

# load N SECONDS OUT: N concurrent clients hitting /incr for SECONDS; one status per line in OUT
# ("000" would be a request that got no answer within curl's 5 s bound: a hung worker).
LOAD_PIDS=()
load() {
  local n=$1 secs=$2 out=$3 i
  : >"$out"
  LOAD_PIDS=()
  for ((i = 0; i < n; i++)); do
    (
      end=$((SECONDS + secs))
      while ((SECONDS < end)); do
        curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 "$(url /incr)" >>"$out"
      done
    ) &
    LOAD_PIDS+=($!)
  done
}
load_wait() { wait "${LOAD_PIDS[@]}"; }

# ---- SIGSTOP: Redis accepts connections (the kernel does) but never answers ----
kill -STOP "$REDIS_PID"
load 8 2 "$WORK/stopped.txt"
expect "Redis stopped: routes without Redis answer" GET /plain 200 "no redis here"
expect "Redis stopped: livez 200" GET /livez 200
load_wait
check "Redis stopped: every Redis request answered 503" \
  bash -c '[ -s "$1" ] && ! grep -qv "^503$" "$1"' _ "$WORK/stopped.txt"
check "Redis stopped: none hung (no 000)" bash -c '! grep -q "^000$" "$1"' _ "$WORK/stopped.txt"
http GET /incr
check "Redis stopped: 503 body names the request id" grep -q '"request_id"' <<<"$BODY"
expect "Redis stopped: readyz 503 naming redis" GET /readyz 503 '"redis":{"ok":false'
expect "Redis stopped: pcall lets the handler choose" GET /pcall-down 200 '"degraded":true'
kill -CONT "$REDIS_PID"
ok=
for _ in $(seq 1 50); do
  http GET /incr
  [ "$STATUS" = 200 ] && { ok=1; break; }
  sleep 0.1
done
check "Redis resumed: recovers without restart" [ -n "$ok" ]

# ---- killed under load, restarted on the same port ----
load 8 6 "$WORK/killed.txt"
sleep 1
{ kill -KILL "$REDIS_PID"; wait "$REDIS_PID"; } 2>/dev/null
REDIS_PID=
sleep 0.5
expect "Redis killed: readyz 503 naming redis" GET /readyz 503 '"redis":{"ok":false'
expect "Redis killed: other routes unaffected" GET /plain 200 "no redis here"
sleep 1.5
redis_start || exit 1
load_wait
check "killed under load: mayfly still running" mf_alive
check "killed under load: only 200 and 503" bash -c '! grep -qvE "^(200|503)$" "$1"' _ "$WORK/killed.txt"
check "killed under load: some 503s" grep -q "^503$" "$WORK/killed.txt"
check "killed under load: 200s after the restart" bash -c 'tail -n 20 "$1" | grep -q "^200$"' _ "$WORK/killed.txt"
expect "restarted: readyz 200 again" GET /readyz 200 '"redis":{"ok":true,"detail":"single 127.0.0.1:'
expect "restarted: INCR works (a fresh Redis)" GET /incr 200
check "no crash in the log" bash -c '! grep -qiE "fatal|abort|sanitizer" "$1"' _ "$MF_LOG"
mf_stop
check "exit 0 after the outages" [ "$MF_EXIT" = 0 ]
mf_finish
