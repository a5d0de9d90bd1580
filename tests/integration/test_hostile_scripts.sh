#!/usr/bin/env bash
# Hostile scripts: memory bombs (MAYFLY_MAX_LUA_MEMORY), deep recursion, endless loops, bad
# responses, errors inside error handlers. Each costs only its own request: the process stays up,
# memory comes back, and the next request is served.
. "$(dirname "$0")/lib.sh"

mf_start "$TESTS_DIR/fixtures/hostile" MAYFLY_WORKERS=1 MAYFLY_REQUEST_TIMEOUT=1s \
  MAYFLY_MAX_LUA_MEMORY=32MiB || exit 1
rss() { awk '/VmRSS/ {print $2}' "/proc/$MF_PID/status"; }
expect "baseline" GET /ok 200 ok
rss0=$(rss)

for bomb in table-bomb string-bomb concat-bomb; do
  expect "$bomb: 500 with the request id" GET "/$bomb" 500 '"request_id"'
  expect "$bomb: the next request is served" GET /ok 200 ok
done
check "memory bomb logged as passing the cap" log_has 'MAYFLY_MAX_LUA_MEMORY'
expect "a memory refusal swallowed by pcall and retried: the request fails" GET /swallowed-bomb 500 '"request_id"'
expect "and the next one is served" GET /ok 200 ok
expect "deep recursion: 500" GET /recursion 500 '"request_id"'
# Nested coroutines until the memory cap: a 500, or a 504 when the build is slow enough (the
# sanitizers) to reach the request timeout first.
http GET /coroutine-recursion
check "coroutine recursion: 500 or 504 with the request id" \
  bash -c '[[ "$1" = 500 || "$1" = 504 ]] && grep -q request_id <<<"$2"' _ "$STATUS" "$BODY"
expect "endless loop: 504" GET /loop 504 'timed out'
expect "endless loop inside pcall: 504" GET /loop-in-pcall 504 'timed out'
expect "a response reader past the timeout: 504" GET /slow-reader 504 'timed out'
expect "a response reader past the memory cap: 500" GET /greedy-reader 500 '"request_id"'
expect "status out of range: 500" GET /bad-status 500
expect "CR/LF in a header value: 500, never sent" GET /crlf-header 500
check "no injected header" bash -c '! grep -qi "^set-cookie" "$1"' _ "$HEADERS"
expect "NUL in a header name: 500" GET /nul-header-name 500
expect "error object whose __tostring errors: 500" GET /error-object 500 '"request_id"'
expect "error inside an error handler: 500" GET /error-in-handler 500 '"request_id"'
expect "a response past the memory cap: 500" GET /huge-response 500
expect "after everything: served" GET /ok 200 ok
check "process alive" mf_alive
rss1=$(rss)
echo "    RSS before ${rss0} KiB, after ${rss1} KiB"
check "memory came back (RSS within 64 MiB of the start)" [ "$((rss1 - rss0))" -lt 65536 ]
mf_stop
check "clean exit" [ "$MF_EXIT" = 0 ]
mf_finish
