# redis.call against a real redis-server: reply mapping, binary values, error replies, and a
# Redis outage (503 on the routes that need it, the rest unaffected, recovery on its own).
source "$(dirname "$0")/lib.sh"

redis_start || exit 1

mf_start "$TESTS_DIR/fixtures/redis" MAYFLY_WORKERS=2 MAYFLY_REDIS_URL="redis://127.0.0.1:$RPORT/3" || exit 1

expect "INCR" POST /count/x 200 "1"
expect "INCR again" POST /count/x 200 "2"
check "database from the URL" [ "$(redis-cli -p "$RPORT" -n 3 get count:x)" = 2 ]
expect "reply mapping" GET /types 200 '"status":"OK"'
for want in '"bulk":"v"' '"integer":1' '"array":["a","b"]' '"top_nil":true' '"null_in_array":true' '"hash":["f","v"]'; do
  check "reply mapping $want" grep -qF "$want" <<<"$BODY"
done
expect "binary-safe values" GET /binary 200 "6"
expect "error reply raises: 500" GET /error-reply 500 '"request_id"'
expect "pcall returns nil, err" GET /pcall 200 "not an integer"

{ kill -KILL "$REDIS_PID"; wait "$REDIS_PID"; } 2>/dev/null
expect "Redis down: 503 with request id" POST /count/x 503 '"request_id"'
expect "Redis down: other routes unaffected" GET /plain 200 "no redis here"
expect "Redis down: pcall gives nil, err" GET /pcall 200 "cannot connect to Redis at"
redis_start || exit 1
ok=
for _ in $(seq 1 20); do
  http POST /count/y
  [ "$STATUS" = 200 ] && { ok=1; break; }
  sleep 0.2
done
check "recovers when Redis returns, without restart" [ -n "$ok" ]
mf_stop
check "exit 0" [ "$MF_EXIT" = 0 ]
mf_finish
