# redis.call / pcall / pipeline against a real redis-server: reply mapping for every reply type,
# argument conversion, binary values, refused commands, pipelines, and a Redis outage (503 on
# the routes that need it, the rest unaffected, /readyz naming redis, recovery on its own).
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
expect "reply mapping from scripts" GET /types2 200
for want in '"arr_int":1' '"arr_bulk":"two"' '"arr_nested":3' '"arr_err":"ERR bad"' \
  '"arr_false_is_null":true' '"arr_len":5' '"nested":"b"' '"raised":"redis: MYERR oops"' \
  '"status":"FINE"' '"pcall_nil":true' '"pcall_err":"MYERR soft"' '"empty":true' '"float_is_bulk":"1.5"'; do
  check "reply mapping $want" grep -qF "$want" <<<"$BODY"
done
expect "binary-safe values" GET /binary 200 "6"
expect "error reply raises: 500" GET /error-reply 500 '"request_id"'
expect "pcall returns nil, err" GET /pcall 200 "not an integer"

expect "arguments convert predictably" GET /args 200 '["3","9007199254740991","0.1","-7","1","0","s","1e+300"]'
for bad in nil table fn; do
  expect "argument of type $bad raises (call)" GET "/args/$bad" 200 "argument #3 is"
  check "argument of type $bad raises (pcall too: misuse)" grep -qF '"pcall_raises":true' <<<"$BODY"
done
expect "SELECT refused" GET /refused/select 200 '"refused":true'
expect "CLIENT SETNAME refused" GET "/refused/client?sub=setname" 200 '"refused":true'
expect "CLIENT LIST allowed" GET "/refused/client?sub=list" 200 '"refused":false'
expect "MULTI refused in a pipeline" GET /pipeline-refused 200 '"refused":true'

expect "pipeline" POST /pipeline 200 '"n":8'
for want in '"del":0' '"incr":1' '"incrby":11' '"get":"11"' '"missing_is_null":true' \
  '"err":"WRONGTYPE' '"bin_len":3' '"empty":0'; do
  check "pipeline $want" grep -qF "$want" <<<"$BODY"
done
expect "p:call returns the reply's index" GET /pipeline/queued 200 '"idx2":2'
check "pipeline reply found by index" grep -qF '"got":"a"' <<<"$BODY"
expect "readyz names redis, ok" GET /readyz 200 '"redis":{"ok":true,"detail":"single 127.0.0.1:'

{ kill -KILL "$REDIS_PID"; wait "$REDIS_PID"; } 2>/dev/null
expect "Redis down: 503 with request id" POST /count/x 503 '"request_id"'
expect "Redis down: other routes unaffected" GET /plain 200 "no redis here"
expect "Redis down: pcall gives nil, err" GET /pcall-down 200 '"degraded":true'
expect "Redis down: readyz 503 naming redis" GET /readyz 503 '"redis":{"ok":false'
expect "Redis down: livez unaffected" GET /livez 200
redis_start || exit 1
ok=
for _ in $(seq 1 50); do
  http POST /count/y
  [ "$STATUS" = 200 ] && { ok=1; break; }
  sleep 0.2
done
check "recovers when Redis returns, without restart" [ -n "$ok" ]
expect "readyz ok again" GET /readyz 200 '"redis":{"ok":true,"detail":"single 127.0.0.1:'
mf_stop
check "exit 0" [ "$MF_EXIT" = 0 ]

# Not configured: no redis check in /readyz, calls fail with a clear message.
mf_start "$TESTS_DIR/fixtures/redis" MAYFLY_WORKERS=1 || exit 1
expect "no Redis configured: readyz has no redis check" GET /readyz 200
check "no redis key in readyz" bash -c '! grep -q "\"redis\"" <<<"$1"' _ "$BODY"
expect "no Redis configured: 503 saying so" POST /count/x 503 "not configured"
mf_stop

# Password and database from the URL; a wrong password is an outage with a clear message.
APORT=$(free_port)
redis-server --port "$APORT" --bind 127.0.0.1 --save "" --appendonly no --requirepass s3cret \
  >"$WORK/redis-auth.log" 2>&1 &
APID=$!
trap 'kill -TERM "$APID" 2>/dev/null; cleanup' EXIT
for _ in $(seq 1 100); do redis-cli -p "$APORT" -a s3cret --no-auth-warning ping >/dev/null 2>&1 && break; sleep 0.05; done
mf_start "$TESTS_DIR/fixtures/redis" MAYFLY_WORKERS=1 MAYFLY_REDIS_URL="redis://:s3cret@127.0.0.1:$APORT/2" || exit 1
expect "AUTH with the URL's password" POST /count/a 200 "1"
check "AUTH: the URL's database" [ "$(redis-cli -p "$APORT" -a s3cret --no-auth-warning -n 2 get count:a)" = 1 ]
mf_stop
mf_start "$TESTS_DIR/fixtures/redis" MAYFLY_WORKERS=1 MAYFLY_REDIS_URL="redis://default:wrong@127.0.0.1:$APORT" || exit 1
expect "a wrong password: 503 naming AUTH" POST /count/a 503 "AUTH failed"
mf_stop
kill -TERM "$APID"; wait "$APID" 2>/dev/null

# A malformed URL stops the start with a message.
MAYFLY_REDIS_URL=http://nope MAYFLY_SCRIPTS="$TESTS_DIR/fixtures/redis" MAYFLY_LISTEN=127.0.0.1:0 \
  "$MAYFLY_BIN" serve >"$WORK/badurl.log" 2>&1
code=$?
check "malformed MAYFLY_REDIS_URL: non-zero exit" [ "$code" -ne 0 ]
check "malformed MAYFLY_REDIS_URL: says why" grep -q "MAYFLY_REDIS_URL" "$WORK/badurl.log"
mf_finish
