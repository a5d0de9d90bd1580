# examples/login and examples/ratelimit served by the real binary with a real Redis, driven by
# curl: the same cases as their spec files (examples/*/spec), over HTTP and across two
# processes where the point is sharing state.
source "$(dirname "$0")/lib.sh"

redis_start || exit 1
R() { redis-cli -p "$RPORT" "$@"; }
ENVS=(MAYFLY_WORKERS=2 MAYFLY_REDIS_URL="redis://127.0.0.1:$RPORT" MAYFLY_ACCESS_LOG=off)

# ---- examples/login ----
mf_start "$MAYFLY_SOURCE_DIR/examples/login/scripts" "${ENVS[@]}" MAYFLY_CFG_COOKIE_SECURE=false || exit 1
JAR="$WORK/jar"
login() { http POST /login -H 'Content-Type: application/json' --data "{\"user\":\"$1\",\"password\":\"$2\"}" "${@:3}"; }
login ada letmein -c "$JAR" -b "$JAR"
check "login: 200" [ "$STATUS" = 200 ]
check "login: session cookie HttpOnly, SameSite" \
  grep -qiE '^set-cookie: mayfly_session=[0-9a-f]{32}; Path=/; Max-Age=1800; HttpOnly; SameSite=Lax' "$HEADERS"
first=$(awk '$6 == "mayfly_session" { print $7 }' "$JAR")
expect "me: the user" GET /me 200 '"user":"ada"' -- -b "$JAR"
check "me: visits counted" grep -q '"visits":1' <<<"$BODY"
expect "me: again" GET /me 200 '"visits":2' -- -b "$JAR"
login ada letmein -c "$JAR" -b "$JAR"
second=$(awk '$6 == "mayfly_session" { print $7 }' "$JAR")
check "login again: a new session id" [ -n "$second" ] && [ "$second" != "$first" ]
check "login again: the old session deleted" [ "$(R exists "session:$first")" = 0 ]
expect "logout" POST /logout 204 "" -- -b "$JAR" -c "$JAR"
expect "after logout: 401" GET /me 401 "" -- -b "$JAR"
login bob wrong
check "wrong password: 401" [ "$STATUS" = 401 ]
for _ in 1 2 3 4; do login bob wrong; done
login bob letmein
check "6th attempt in a minute: 429" [ "$STATUS" = 429 ]
check "429 has Retry-After" [ -n "$(header_of retry-after)" ]
login "no spaces" letmein
check "bad user name: 400" [ "$STATUS" = 400 ]
mf_stop
mf_start "$MAYFLY_SOURCE_DIR/examples/login/scripts" "${ENVS[@]}" || exit 1
login cy letmein
check "login: Secure cookie by default" grep -qi '^set-cookie: mayfly_session=.*; Secure' "$HEADERS"
mf_stop

# ---- examples/ratelimit, two processes sharing one limit ----
mf_start "$MAYFLY_SOURCE_DIR/examples/ratelimit/scripts" "${ENVS[@]}" || exit 1
PID2=$MF_PID PORT2=$MF_PORT
trap 'kill -KILL "$PID2" 2>/dev/null; cleanup' EXIT
mf_start "$MAYFLY_SOURCE_DIR/examples/ratelimit/scripts" "${ENVS[@]}" || exit 1
: >"$WORK/codes"
for i in 1 2 3 4; do
  curl -s -o /dev/null -w '%{http_code}\n' -H 'X-Api-Key: k1' "$(url /api/quote)" >>"$WORK/codes"
  curl -s -o /dev/null -w '%{http_code}\n' -H 'X-Api-Key: k1' "http://127.0.0.1:$PORT2/api/quote" >>"$WORK/codes"
done
check "ratelimit: 5 of 8 across two processes" [ "$(grep -c '^200$' "$WORK/codes")" = 5 ]
check "ratelimit: 3 refused" [ "$(grep -c '^429$' "$WORK/codes")" = 3 ]
expect "ratelimit: 429 JSON" GET /api/quote 429 '"rate limit exceeded"' -- -H 'X-Api-Key: k1'
check "ratelimit: Retry-After" bash -c '[ "$1" -ge 1 ] && [ "$1" -le 10 ]' _ "$(header_of retry-after)"
check "ratelimit: RateLimit-Remaining 0" [ "$(header_of ratelimit-remaining)" = 0 ]
expect "ratelimit: another key is separate" GET /api/quote 200 '"quote"' -- -H 'X-Api-Key: k2'
check "ratelimit: RateLimit-Remaining 4" [ "$(header_of ratelimit-remaining)" = 4 ]
expect "stats through the cache" GET /api/stats 200 '"served"' -- -H 'X-Api-Key: k3'
check "stats cached in Redis" [ "$(R exists cache:api:stats)" = 1 ]
mf_stop
kill -TERM "$PID2"; wait "$PID2"
check "second process exit 0" [ $? = 0 ]
mf_finish
