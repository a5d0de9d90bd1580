# HTTP behaviour of the real binary: routing, the request object, response forms, errors,
# limits and timeouts, driven with curl and raw sockets.
source "$(dirname "$0")/lib.sh"

mf_start "$TESTS_DIR/fixtures/http" MAYFLY_WORKERS=2 MAYFLY_REQUEST_TIMEOUT=500ms \
  MAYFLY_MAX_BODY=64KiB MAYFLY_IDLE_TIMEOUT=2s MAYFLY_MAX_HEADER=16KiB || exit 1

# ---- routing ----
expect "hello" GET /hello 200 "hello world"
check "hello is text/plain" [ "$(header_of Content-Type)" = "text/plain; charset=utf-8" ]
expect "query param" GET "/hello?name=ann" 200 "hello ann"
expect "param" GET /users/42 200 '"id":"42"'
expect "two params" GET /users/7/posts/9 200 '"post":"9"'
expect "percent-decoded param" GET /users/a%20b 200 '"id":"a b"'
expect "encoded slash stays in its segment" GET /users/a%2Fb 200 '"id":"a\/b"'
expect "rest match" GET /files/css/site.css 200 "css/site.css"
expect "rest match empty" GET /files/ 200 ""
expect "unknown path 404 JSON" GET /nope 404 '"error":"not found"'
check "404 is JSON" [ "$(header_of Content-Type)" = "application/json" ]
expect "wrong method 405" POST /hello 405 '"error":"method not allowed"'
check "405 Allow" [ "$(header_of Allow)" = "GET, HEAD" ]
expect "405 Allow lists all methods" PATCH /users/1 405
check "405 Allow with DELETE" [ "$(header_of Allow)" = "DELETE, GET, HEAD" ]
resp=$(raw 'HEAD /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
check "HEAD served by GET route" grep -q "^HTTP/1.1 200" <<<"$resp"
check "HEAD has no body" bash -c '! grep -q "hello world" <<<"$1"' _ "$resp"
check "HEAD keeps Content-Length" grep -qi "^Content-Length: 11" <<<"$resp"
expect "explicit HEAD route" HEAD /only-head 200 "" -- --head
expect "module required by a route file" GET /util 200 "hello from module"
expect "module file is not served" GET /util.lua 404

# ---- the request object ----
expect "query decoding" GET "/query?a=1&b=x+y&c=%41&flag&a=2" 200 '"b":"x y"'
check "query repeated key is an array" grep -q '"a":\["1","2"\]' <<<"$BODY"
check "query flag without value is true" grep -q '"flag":true' <<<"$BODY"
check "query percent escape" grep -q '"c":"A"' <<<"$BODY"
expect "headers lower-case" GET /headers 200 '"custom":"v1, v2"' -- -H "X-Custom: v1" -H "X-Custom: v2" -A "agent/1"
check "user agent" grep -qF '"agent":"agent\/1"' <<<"$BODY"
expect "request fields" GET "/request?x=1" 200 '"path":"\/request"' -- -H "X-Request-Id: abc-123"
check "request id from x-request-id" grep -q '"id":"abc-123"' <<<"$BODY"
check "remote_addr" grep -q '"remote_addr":"127.0.0.1"' <<<"$BODY"
check "method" grep -q '"method":"GET"' <<<"$BODY"
http GET /request -H "X-Request-Id: bad id with spaces"
check "unsafe x-request-id replaced" grep -qE '"id":"[0-9a-f]{32}"' <<<"$BODY"
expect "json echo" POST /echo 200 '"a":[1,2,3]' -- -H "Content-Type: application/json" -d '{"a":[1,2,3],"s":"x"}'
expect "bad json is 400 with request id" POST /echo 400 '"request_id"' -- -d '{nope'
expect "empty json body is 400" POST /echo 400 "empty"
head -c 40000 /dev/urandom | base64 -w0 > "$WORK/big.txt"
expect "raw body round trip" PUT /raw 201 "" -- --data-binary @"$WORK/big.txt"
check "raw body length" [ "$(header_of X-Length)" = "$(stat -c %s "$WORK/big.txt")" ]
check "raw body content" [ "$BODY" = "$(cat "$WORK/big.txt")" ]

# ---- response forms ----
expect "custom status" GET /status/418 418 "status 418"
expect "nil return is 204" GET /nothing 204
expect "204 from table" DELETE /users/1 204
expect "multi-value headers" GET /multi 200 ok
check "two Set-Cookie lines" [ "$(grep -ci '^set-cookie:' "$HEADERS")" = 2 ]
expect "explicit content type kept" GET /json-type 200 '{"ok":true}'
check "content type" [ "$(header_of Content-Type)" = "application/vnd.api+json" ]

# ---- script errors ----
expect "error is 500 with request id" GET /boom 500 '"request_id"'
check "500 body has no traceback" bash -c '! grep -q "stack traceback\|routes.lua" <<<"$1"' _ "$BODY"
rid=$(grep -o '"request_id":"[0-9a-f]*"' <<<"$BODY" | cut -d'"' -f4)
sleep 0.1
check "log has traceback with the request id" bash -c "grep '\"request_id\":\"$rid\"' '$MF_LOG' | grep -q 'traceback'"
check "log has the error message" log_has "something broke in the handler"
expect "CRLF in header value refused" GET /bad-header 500 '"request_id"'
check "no injected header" bash -c '! grep -qi "owned" "$1"' _ "$HEADERS"
expect "bad header name refused" GET /bad-header-name 500
expect "invalid status refused" GET /bad-status 500
expect "number return refused" GET /bad-return 500
expect "unencodable json refused" GET /unencodable 500

# ---- limits ----
expect "body over max-body: 413" POST /echo 413 "too large" -- -H "Content-Type: application/json" --data-binary @<(head -c 70000 /dev/zero | tr '\0' 'a')
expect "chunked body over max-body: 413" POST /echo 413 "too large" -- -H "Transfer-Encoding: chunked" --data-binary @<(head -c 70000 /dev/zero | tr '\0' 'a')
big=$(head -c 20000 /dev/zero | tr '\0' 'h')
http GET /hello -H "X-Big: $big"
check "oversized headers: 431" [ "$STATUS" = 431 ]
resp=$(raw 'GARBAGE\r\n\r\n')
check "malformed request line: closed or 400" bash -c '[ -z "$1" ] || grep -q "^HTTP/1.1 400" <<<"$1"' _ "$resp"
resp=$(raw 'G@T /hello HTTP/1.1\r\nHost: x\r\n\r\n')
check "invalid method: 400" grep -q "^HTTP/1.1 400" <<<"$resp"
resp=$(raw 'GET /hello HTTP/9.9\r\nHost: x\r\n\r\n')
# libmicrohttpd answers 505 and closes at once; the close can reset the connection before the
# client reads the answer, so an empty read is also a clean refusal.
check "unknown HTTP version: 505 or closed" bash -c '[ -z "$1" ] || grep -q "^HTTP/1.1 505" <<<"$1"' _ "$resp"
resp=$(raw 'GET /hello HTTP/1.1\r\n\r\n')
check "HTTP/1.1 without Host: 400" grep -q "^HTTP/1.1 400" <<<"$resp"
resp=$(raw 'GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
check "raw request served" grep -q "hello world" <<<"$resp"
resp=$(raw 'GET /hello#frag?name=no HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
check "a fragment is dropped, query and all" grep -q "hello world" <<<"$resp"
resp=$(raw 'GET http://example.com/users/9?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
check "absolute-form target routed by its path" grep -q '"id":"9"' <<<"$resp"
resp=$(raw 'GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /users/5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
check "pipelined requests answered in order" bash -c 'grep -q "hello world" <<<"$1" && grep -q "\"id\":\"5\"" <<<"$1"' _ "$resp"

# ---- slow clients ----
start=$(date +%s%N)
resp=$(raw 'GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ' 6)
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
check "half-sent head closed by idle timeout (${elapsed}ms)" [ "$elapsed" -lt 5500 ]
( raw 'GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ' 4 >/dev/null ) &
slow=$!
expect "served while a slow client waits" GET /hello 200 "hello world"
wait $slow

# ---- runaway handlers ----
expect "infinite loop stopped: 504" GET /loop 504 "timed out"
expect "loop swallowing the timeout in pcall: 504" GET /loop-pcall 504 "timed out"
expect "loop in loaded code: 504" GET /loop-load 504 "timed out"
for i in 1 2 3 4; do
  expect "workers serve after timeouts ($i)" GET /hello 200 "hello world"
done

# ---- logs ----
expect "print and log from a script" GET /print 200 logged
sleep 0.1
check "print is a log line" log_has '"msg":"printed\\t1\\ttrue"'
check "log fields" bash -c "grep '\"msg\":\"custom line\"' '$MF_LOG' | grep -q '\"user\":\"ann\"'"
check "reserved field not forged" bash -c "grep '\"msg\":\"custom line\"' '$MF_LOG' | grep -q '\"field_msg\":\"forged?\"'"
check "access log line" log_has '"msg":"request".*"route":"GET /users/:id","status":200'
check "every log line is JSON" python3 -c '
import json,sys
for line in open(sys.argv[1]):
    json.loads(line)
' "$MF_LOG"

check "still alive" mf_alive
mf_stop
check "SIGTERM exits 0" [ "$MF_EXIT" = 0 ]
mf_finish
