# The stateful stdlib over a real Redis: sessions (cookie flags, sliding expiry, expiry,
# regenerate on login, logout), a rate limit shared by two mayfly processes, the cache's
# stampede protection across workers and processes, and leases.
source "$(dirname "$0")/lib.sh"

redis_start || exit 1
R() { redis-cli -p "$RPORT" "$@"; }
FIX="$TESTS_DIR/fixtures/redis_stdlib"
ENVS=(MAYFLY_WORKERS=4 MAYFLY_REDIS_URL="redis://127.0.0.1:$RPORT" MAYFLY_REDIS_TIMEOUT=1s MAYFLY_ACCESS_LOG=off)

# A second process on the same Redis: started with mf_start, then its pid and port kept aside.
mf_start "$FIX" "${ENVS[@]}" || exit 1
PID2=$MF_PID PORT2=$MF_PORT
trap 'kill -KILL "$PID2" 2>/dev/null; cleanup' EXIT
mf_start "$FIX" "${ENVS[@]}" || exit 1
url2() { echo "http://127.0.0.1:$PORT2$1"; }
on2() { local p=$MF_PORT; MF_PORT=$PORT2; "$@"; MF_PORT=$p; }

# ---- session ----
JAR="$WORK/jar"
expect "session: a write starts one" POST /session/count 200 "1" -- -c "$JAR" -b "$JAR"
expect "session: the next request sees it" POST /session/count 200 "2" -- -c "$JAR" -b "$JAR"
old=$(awk '$6 == "mayfly_session" { print $7 }' "$JAR")
check "session: the cookie holds a 32-hex id" bash -c '[[ $1 =~ ^[0-9a-f]{32}$ ]]' _ "$old"
check "session: the data is a Redis hash" [ "$(R hget "session:$old" n)" = 2 ]
expect "session: login" POST "/session/login?user=ada&ttl=100" 200 '"before":"'"$old"'"' -- -c "$JAR" -b "$JAR"
new=$(awk '$6 == "mayfly_session" { print $7 }' "$JAR")
check "session: login regenerates the id" [ -n "$new" -a "$new" != "$old" ]
check "session: the old id is gone" [ "$(R exists "session:$old")" = 0 ]
check "session: the data moved to the new id" [ "$(R hget "session:$new" n)" = 2 ]
on2 expect "session: the other process reads it" GET /session/me 200 '"user":"ada"' -- -b "$JAR"
R expire "session:$new" 5 >/dev/null
expect "session: a read" GET "/session/me?ttl=100" 200 '"user":"ada"' -- -b "$JAR"
check "session: a read slides the expiry ($(R ttl "session:$new") s)" [ "$(R ttl "session:$new")" -gt 50 ]
check "session: Max-Age follows" grep -qi "^set-cookie: mayfly_session=$new; Path=/; Max-Age=100; HttpOnly; SameSite=Lax" "$HEADERS"
expect "session: logout" POST /session/logout 204 "" -- -b "$JAR"
check "session: logout expires the cookie" grep -qi "^set-cookie: mayfly_session=; .*Max-Age=0" "$HEADERS"
check "session: logout deletes the hash" [ "$(R exists "session:$new")" = 0 ]
expect "session: gone after logout" GET /session/me 401 "" -- -b "$JAR"
rm -f "$JAR"
expect "session: short ttl" POST "/session/login?user=bo&ttl=1" 200 "" -- -c "$JAR" -b "$JAR"
expect "session: alive at once" GET "/session/me?ttl=1" 200 '"user":"bo"' -- -b "$JAR"
sleep 2.2
expect "session: expired after its ttl" GET "/session/me?ttl=1" 401 "" -- -b "$JAR"
expect "session: a forged cookie is ignored" GET /session/me 401 "" -- -b "mayfly_session=../../etc"
expect "session: secure flags by default" GET /session/secure 200
check "session: Secure; HttpOnly; SameSite=Lax" grep -qi "^set-cookie: mayfly_session=[0-9a-f]*; Path=/; Max-Age=1800; HttpOnly; SameSite=Lax; Secure" "$HEADERS"

# ---- rate limit shared by two processes ----
: >"$WORK/rl"
for i in $(seq 1 8); do
  curl -s -o /dev/null -w '%{http_code}\n' "$(url "/limited?key=seq&limit=5")" >>"$WORK/rl"
  curl -s -o /dev/null -w '%{http_code}\n' "$(url2 "/limited?key=seq&limit=5")" >>"$WORK/rl"
done
check "ratelimit: 5 of 16 alternating requests allowed" [ "$(grep -c '^200$' "$WORK/rl")" = 5 ]
check "ratelimit: the rest 429" [ "$(grep -c '^429$' "$WORK/rl")" = 11 ]
expect "ratelimit: 429 body" GET "/limited?key=seq&limit=5" 429 '"retry_after"'
ra=$(header_of retry-after)
check "ratelimit: Retry-After in (0, 60] ($ra)" bash -c '[ "$1" -ge 1 ] && [ "$1" -le 60 ]' _ "$ra"
pids=()
for i in $(seq 1 40); do
  if ((i % 2)); then u=$(url "/limited?key=burst&limit=10"); else u=$(url2 "/limited?key=burst&limit=10"); fi
  curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 "$u" >"$WORK/burst.$i" &
  pids+=($!)
done
wait "${pids[@]}"
check "ratelimit: 40 concurrent requests on two processes, exactly 10 allowed" \
  [ "$(cat "$WORK"/burst.* | grep -c '^200$')" = 10 ]
expect "ratelimit: keys are separate" GET "/limited?key=other&limit=1" 200 allowed
expect "ratelimit: a new window allows again" GET "/limited?key=win&limit=1&window=0.3" 200
expect "ratelimit: within the window refused" GET "/limited?key=win&limit=1&window=0.3" 429
sleep 0.5
expect "ratelimit: after the window" GET "/limited?key=win&limit=1&window=0.3" 200

# ---- cache: stampede protection ----
pids=()
for i in $(seq 1 24); do
  if ((i % 2)); then u=$(url "/cached/hot?sleep_ms=300"); else u=$(url2 "/cached/hot?sleep_ms=300"); fi
  curl -s --max-time 10 "$u" >"$WORK/cache.$i" &
  pids+=($!)
done
wait "${pids[@]}"
check "cache: 24 concurrent misses on 8 workers in 2 processes, the loader ran once" [ "$(R get loads:hot)" = 1 ]
check "cache: every request got the value" bash -c 'for f in "$@"; do grep -q "\"n\":1" "$f" || exit 1; done' _ "$WORK"/cache.*
check "cache: the lock is gone" [ "$(R exists "{cache:hot}:lock")" = 0 ]
expect "cache: a hit" GET /cached/hot 200 '"n":1'
check "cache: the TTL is set" [ "$(R pttl cache:hot)" -gt 0 ]
R del cache:hot >/dev/null
expect "cache: after expiry the loader runs again" GET /cached/hot 200 '"n":2'
expect "cache: a loader's error is the handler's error" GET /cached-error 500 '"request_id"'
check "cache: a failed load releases the lock" [ "$(R exists "{cache:err}:lock")" = 0 ]
check "cache: a failed load stores nothing" [ "$(R exists cache:err)" = 0 ]

# ---- lease ----
lease() { http POST "/lease/$1?key=$2&owner=$3&ttl=${4:-5}"; echo "$BODY"; }
check "lease: o1 acquires" [ "$(lease acquire job o1)" = '{"result":true}' ]
check "lease: o2 cannot" [ "$(lease acquire job o2)" = '{"result":false}' ]
check "lease: o1 again (re-entrant)" [ "$(lease acquire job o1)" = '{"result":true}' ]
check "lease: owner is o1" [ "$(lease owner job x)" = '{"result":"o1"}' ]
check "lease: o2 cannot renew" [ "$(lease renew job o2)" = '{"result":false}' ]
check "lease: o1 renews" [ "$(lease renew job o1 100)" = '{"result":true}' ]
check "lease: renew sets the ttl" [ "$(R pttl lease:job)" -gt 50000 ]
check "lease: o2 cannot release" [ "$(lease release job o2)" = '{"result":false}' ]
check "lease: o1 releases" [ "$(lease release job o1)" = '{"result":true}' ]
check "lease: free" [ "$(lease owner job x)" = '{"result":false}' ]
check "lease: o2 acquires a short one" [ "$(lease acquire short o2 0.3)" = '{"result":true}' ]
sleep 0.6
check "lease: it lapses; o1 takes it" [ "$(lease acquire short o1)" = '{"result":true}' ]
check "lease: tokens are 32 hex" bash -c '[[ $1 =~ ^\{\"result\":\"[0-9a-f]{32}\"\}$ ]]' _ "$(lease token x x)"
expect "lease: misuse raises" POST "/lease/acquire?key=k&ttl=5" 500

# ---- EVALSHA falls back to EVAL after SCRIPT FLUSH ----
R script flush >/dev/null
expect "scripts: after SCRIPT FLUSH the rate limit still works" GET "/limited?key=flush&limit=1" 200
expect "sha1hex" GET "/sha1?s=abc" 200 a9993e364706816aba3e25717850c26c9cd0d89d

mf_stop
kill -TERM "$PID2"; wait "$PID2"
check "second process exit 0" [ $? = 0 ]
mf_finish
