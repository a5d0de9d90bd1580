# Middleware: a route file's before/after and the shared layers of _middleware.lua, through the
# real binary with a real Redis: their order, a before's short-circuit, an after rewriting the
# response, the table an after is given, errors (500 with the request id, an HTTP error's own
# status), waits on Redis, a fresh state every request, what `mayfly check` says and refuses,
# `mayfly test` running them, and a reload adding and removing the shared file.
source "$(dirname "$0")/lib.sh"
FIX=$TESTS_DIR/fixtures/middleware
ORDER="shared1.before,shared2.before,file.before,handler,file.after,shared2.after,shared1.after"

# ---- mayfly check ----
out=$("$MAYFLY_BIN" check "$FIX/app" 2>&1)
check "check passes the fixture" [ $? -eq 0 ]
check "check lists the shared middleware" grep -qE '^  before, after \(every route\) +_middleware.lua$' <<<"$out"
check "check lists a file's own middleware" grep -qE '^  before, after \(its routes\) +wrapped.lua$' <<<"$out"
check "the shared file is not listed as a module" bash -c '! grep -qE "^  _middleware " <<<"$1"' _ "$out"
check "a module stays a module" grep -qE '^  trail +trail.lua$' <<<"$out"
# refused FIXTURE MESSAGE: `mayfly check` exits 1 naming the file and the reason.
refused() {
  local got
  got=$("$MAYFLY_BIN" check "$FIX/$1" 2>&1)
  if [ $? -eq 1 ] && grep -qF -- "$2" <<<"$got"; then pass "check refuses $1"; else
    fail "check refuses $1" "wanted: $2" "got: $got"; fi
}
refused bad_before "routes.lua: 'before' is a string, not a function"
refused bad_shared_route "_middleware.lua: 'GET /x': this file holds the middleware of every route"
refused bad_shared_entry "_middleware.lua: entry 2: 'after' is a number, not a function"
refused bad_shared_type "_middleware.lua: returned a function; expected a table"
refused bad_shared_both "_middleware.lua: holds both before/after and a list"
MAYFLY_LISTEN=127.0.0.1:0 MAYFLY_SCRIPTS="$FIX/bad_shared_entry" timeout 10 "$MAYFLY_BIN" serve \
  >"$WORK/bad_serve.log" 2>&1
rc=$?
check "serve refuses to start on a bad shared middleware file" [ "$rc" -ne 0 -a "$rc" -ne 124 ]
check "serve says why" grep -qF "entry 2: 'after' is a number" "$WORK/bad_serve.log"

# ---- serving ----
redis_start || exit 1
mf_start "$FIX/app" MAYFLY_WORKERS=2 MAYFLY_REDIS_URL="redis://127.0.0.1:$RPORT/4" || exit 1

expect "a wrapped route answers" GET /wrapped/text 200 "hello ann"
check "befores outermost first, afters innermost first" [ "$(header_of X-Trail)" = "$ORDER" ]
check "what a before sets on req, the handler reads" [ "$BODY" = "hello ann" ]
expect "a route file without middleware" GET /plain 200 "plain"
check "only the shared layers wrap it" \
  [ "$(header_of X-Trail)" = "shared1.before,shared2.before,handler,shared2.after,shared1.after" ]
http HEAD /wrapped/text --head
check "HEAD goes through the middleware of the GET route" \
  [ "$STATUS" = 200 -a "$(header_of X-Trail)" = "$ORDER" ]

# A before that returns a response: the inner befores and the handler do not run; the afters of
# the layers outside it do.
expect "the file's before short-circuits" GET "/wrapped/text?stop=file" 200 "stopped by the file's before"
check "no handler, no inner after; the shared afters ran" \
  [ "$(header_of X-Trail)" = "shared1.before,shared2.before,file.before,shared2.after,shared1.after" ]
check "a shared after changed the short-circuit's response" [ "$(header_of X-Shared)" = 2 ]
expect "the outermost before short-circuits" GET "/wrapped/text?stop=shared" 403 '"error":"stopped by the shared middleware"'
check "then no after runs at all" [ -z "$(header_of X-Trail)" -a -z "$(header_of X-Shared)" ]
check "its json= is sent as JSON" [ "$(header_of Content-Type)" = "application/json" ]

# What an after returns is sent: status, headers and body rewritten.
expect "an after rewrites the response" GET "/wrapped/text?rewrite=1" 201 "hello ann!"
check "with a header of its own" [ "$(header_of X-Rewritten)" = yes ]
check "and the handler's Content-Type" [ "$(header_of Content-Type)" = "text/plain; charset=utf-8" ]
expect "an after that returns nothing sends a 204" GET "/wrapped/text?forget=1" 204
expect "a handler's headers and json= pass through the afters" GET /wrapped/json 202 '{"user":"ann"}'
check "its header" [ "$(header_of X-Handler)" = h ]
check "its repeated header, one line each" [ "$(grep -ci '^set-cookie:' "$HEADERS")" = 2 ]
check "JSON still" [ "$(header_of Content-Type)" = "application/json" ]

# The table an after is given, whatever the handler returned.
# shown PATH: the `res` the file's after was given, as JSON.
shown() { http GET "$1"; python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1])["seen"], sort_keys=True))' "$BODY" 2>&1; }
check "a string is {status=200, headers={}, body=}" \
  [ "$(shown '/wrapped/text?show=1')" = '{"body": "hello ann", "headers": {}, "status": 200}' ]
check "json= stays a value, headers lower-cased, lists kept" \
  [ "$(shown '/wrapped/json?show=1')" = '{"headers": {"set-cookie": ["a=1", "b=2"], "x-handler": "h"}, "json": {"user": "ann"}, "status": 202}' ]
check "nothing is {status=204, headers={}}" \
  [ "$(shown '/wrapped/nothing?show=1')" = '{"headers": {}, "status": 204}' ]

# Errors: a 500 with the request id, like a handler's; the log line has the error.
# failing QUERY LOGGED: a 500 naming the request id sent, and a log line with that id and text.
failing() {
  local id="mw-$RANDOM$RANDOM"
  http GET "/wrapped/text?$1" -H "X-Request-Id: $id"
  if [ "$STATUS" != 500 ] || [[ "$BODY" != *"\"request_id\":\"$id\""* ]]; then
    fail "$1: 500 with the request id" "status $STATUS" "body: $BODY"
  elif ! log_has "\"request_id\":\"$id\".*\"error\":\"[^\"]*$2"; then
    fail "$1: 500 with the request id" "no log line for $id with: $2"
  else
    pass "$1: 500 with the request id, logged"
  fi
}
failing fail=shared_before "_middleware.lua:15: boom in the shared before"
failing fail=shared_after "_middleware.lua:19: boom in the shared after"
failing fail=file_before "wrapped.lua:8: boom in the file's before"
failing fail=file_after "wrapped.lua:15: boom in the file's after"
failing bad=before "invalid response from the before in wrapped.lua: returned a number"
failing bad=after "invalid response from the after in wrapped.lua: returned a boolean"
http GET /wrapped/fail
check "an error in the handler skips the afters: the host's 500" \
  [ "$STATUS" = 500 -a -z "$(header_of X-Trail)" ]
expect "an HTTP error raised in a before answers its status" GET "/wrapped/text?need_json=1" 400 '"error":"request body is empty; expected JSON"'
check "with the request id" grep -q '"request_id":"' <<<"$BODY"

# A fresh environment every request: the shared file's chunk-level counter is always 1.
calls=""
for _ in 1 2 3 4 5 6; do http GET /plain; calls+="$(header_of X-Calls)"; done
check "middleware state does not survive its request" [ "$calls" = 111111 ]

# Redis in a before and an after: they wait as handlers do, other requests go on meanwhile.
redis-cli -p "$RPORT" -n 4 SET mw:hits 100 >/dev/null
expect "a before and an after call Redis" GET /counted 200 "counted 101"
check "the after read Redis too" [ "$(header_of X-Seen)" = 101 -a "$(header_of X-Hits)" = 101 ]
pids=()
for _ in $(seq 1 40); do
  curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 "$(url /counted)" >>"$WORK/counted.codes" &
  pids+=($!)
done
wait "${pids[@]}"
check "40 concurrent requests waiting in middleware all answered 200" \
  [ "$(grep -c '^200$' "$WORK/counted.codes")" = 40 ]
check "each counted once" [ "$(redis-cli -p "$RPORT" -n 4 GET mw:hits)" = 141 ]

# ---- mayfly test runs them too ----
MAYFLY_SCRIPTS="$FIX/app" MAYFLY_REDIS_URL="redis://127.0.0.1:$RPORT/9" \
  "$MAYFLY_BIN" test -o plainTerminal "$FIX/app" >"$WORK/spec.out" 2>&1
check "the middleware spec passes under mayfly test" grep -q "^5 successes / 0 failures / 0 errors" "$WORK/spec.out"
grep -q "^5 successes" "$WORK/spec.out" || cat "$WORK/spec.out"
mf_stop

# ---- a reload adds and removes the shared file ----
mkdir -p "$WORK/live"
cp "$FIX/app/plain.lua" "$FIX/app/trail.lua" "$WORK/live/"
mf_start "$WORK/live" MAYFLY_WORKERS=1 || exit 1
expect "without _middleware.lua" GET /plain 200 plain
check "nothing wraps the route" [ -z "$(header_of X-Trail)" ]
cp "$FIX/app/_middleware.lua" "$WORK/live/"
kill -HUP "$MF_PID"
for _ in $(seq 1 50); do http GET /plain; [ -n "$(header_of X-Trail)" ] && break; sleep 0.1; done
check "a reload that adds it wraps every route" \
  [ "$(header_of X-Trail)" = "shared1.before,shared2.before,handler,shared2.after,shared1.after" ]
rm "$WORK/live/_middleware.lua"
kill -HUP "$MF_PID"
for _ in $(seq 1 50); do http GET /plain; [ -z "$(header_of X-Trail)" ] && break; sleep 0.1; done
check "a reload that removes it unwraps them" [ "$STATUS" = 200 -a -z "$(header_of X-Trail)" ]

mf_finish
