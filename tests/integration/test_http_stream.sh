# mayfly.http.request{stream = true} against real upstreams on loopback
# (tests/integration/fixtures/upstream.py): a relay (fixtures/http_stream) whose first piece
# reaches the client before the upstream has finished, pieces in order and complete; an upstream
# failing mid-body (read() -> nil, "io", the relay's body cut); a client leaving mid-relay (the
# upstream sees its connection close within a second); read_timeout; a plain handler reading a
# stream whole; retries before the head only; the backpressure of a 200 MiB relay to a client
# that stalls (the upstream waits, mayfly's memory stays bounded); a stream's own end
# (MAYFLY_STREAM_TIMEOUT) and the drain cutting a read; the relay under mayfly test
# (fixtures/http_stream/relay_spec.lua); the blocking mode (a hook, code that cannot yield);
# misuse; the metrics.
source "$(dirname "$0")/lib.sh"

upstream_start main || exit 1
MAIN="http://127.0.0.1:$main_PORT"
FIX="$TESTS_DIR/fixtures/http_stream"
up() { curl -s --max-time 5 "$MAIN$1"; }
json_has() { grep -qF -- "$1" <<<"$BODY"; }
# A key's log at the upstream, one field: start, first, finish, died, gone, written.
up_log() { up "/log?key=$1" | python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$2"; }

# client.py PATH [STALL_S] [MODE]: one GET over a raw socket; the chunked body parsed strictly as
# it comes. Prints JSON: status, first (time.time() of the first body byte), size, sha256, body
# (when short), ended (the terminating chunk came), cut (the connection closed before it), and
# in MODE "first" stops after the first piece and closes (closed: when).
cat >"$WORK/client.py" <<'PY'
import hashlib, json, socket, sys, time
port, path = int(sys.argv[1]), sys.argv[2]
stall = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
mode = sys.argv[4] if len(sys.argv) > 4 else "all"
s = socket.create_connection(("127.0.0.1", port), timeout=30)
s.sendall(("GET %s HTTP/1.1\r\nHost: test\r\n\r\n" % path).encode())
out = {"status": None, "chunked": False, "ended": False, "cut": False, "size": 0, "first": None}
digest, body = hashlib.sha256(), bytearray()
buf, pos = bytearray(), 0

def need(n):
    """At least n bytes unread in buf."""
    global buf, pos
    while len(buf) - pos < n:
        if pos > 1 << 20:
            del buf[:pos]
            pos = 0
        data = s.recv(1 << 20)
        if not data:
            raise EOFError()
        buf += data

def line():
    global pos
    while True:
        i = buf.find(b"\r\n", pos)
        if i >= 0:
            text = bytes(buf[pos:i])
            pos = i + 2
            return text
        need(len(buf) - pos + 1)

try:
    head = []
    while True:
        text = line()
        if not text:
            break
        head.append(text)
    out["status"] = int(head[0].split(b" ")[1])
    out["chunked"] = any(h.lower() == b"transfer-encoding: chunked" for h in head)
    if stall:
        time.sleep(stall)
    while True:
        n = int(line(), 16)
        if n == 0:
            if line() != b"":
                raise ValueError("trailer")
            out["ended"] = True
            break
        need(n + 2)
        if out["first"] is None:
            out["first"] = time.time()
        piece = memoryview(buf)[pos:pos + n]
        digest.update(piece)
        if len(body) < 4096:
            body += piece
        piece.release()
        if buf[pos + n:pos + n + 2] != b"\r\n":
            raise ValueError("chunk framing")
        pos += n + 2
        out["size"] += n
        if mode == "first":
            out["closed"] = time.time()
            s.close()
            break
except EOFError:
    out["cut"] = True
except socket.timeout:
    out["timeout"] = True
out["sha256"] = digest.hexdigest()
out["body"] = bytes(body).decode("latin-1")
print(json.dumps(out))
PY
client() { python3 "$WORK/client.py" "$MF_PORT" "$@"; }
field() { python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"; }

DEAD="http://127.0.0.1:$(free_port)"
mf_start "$FIX" MAYFLY_WORKERS=1 MAYFLY_REQUEST_TIMEOUT=3s MAYFLY_HTTP_MAX_BODY=64KiB \
  MAYFLY_LOG_LEVEL=debug MAYFLY_CFG_MAIN="$MAIN" MAYFLY_CFG_DEAD="$DEAD" || exit 1

# ---- the blocking mode: a hook (no loop) reads the whole body, then hands it out ----
check "a hook's stream = true call: the whole body, by read()" \
  log_has '"msg":"hook stream".*"body":"chunk 1\\nchunk 2\\nchunk 3\\n"'
expect "code that cannot yield: the whole body, by read()" GET /no-yield 200 \
  '"body":"chunk 1\nchunk 2\nchunk 3\n"'
check "code that cannot yield: no body field" json_has '"has_body":false'

# ---- a relay: the first piece before the upstream has finished, all of them in order ----
R=$(client "/relay?path=/drip%3Fn%3D5%26ms%3D300%26key%3Dt1")
check "relay: 200, chunked" [ "$(field "$R" status) $(field "$R" chunked)" = "200 True" ]
check "relay: every piece, in order, and the terminating chunk" \
  [ "$(field "$R" body)|$(field "$R" ended)" = $'chunk 1\nchunk 2\nchunk 3\nchunk 4\nchunk 5|True' ]
first=$(field "$R" first)
finish=$(up_log t1 finish)
check "relay: the first piece reached the client 1 s before the upstream finished" \
  python3 -c "import sys; sys.exit(not (float('$first') + 1.0 < float('$finish')))"
http GET "/relay?path=/drip%3Fn%3D2%26ms%3D10"
check "relay: the upstream's content type passed on" [ "$(header_of content-type)" = text/plain ]
check "relay: attempts" [ "$(header_of x-attempts)" = 1 ]

# Both engines run this suite (test_http_stream_curl.sh sets MAYFLY_HTTP_ENGINE=curl).
ENGINE=${MAYFLY_HTTP_ENGINE:-native}
check "the attempts' log lines name the engine ($ENGINE)" log_has "\"engine\":\"$ENGINE\""

# ---- a plain handler reads a stream to its end ----
expect "plain handler: pieces concatenated" GET "/concat?path=/drip%3Fn%3D4%26ms%3D50" 200 \
  '"body":"chunk 1\nchunk 2\nchunk 3\nchunk 4\n"'
check "plain handler: ok" json_has '"ok":true'
check "plain handler: no body field" json_has '"has_body":false'
check "plain handler: more than one piece" bash -c '[ "$(grep -o "\"pieces\":[0-9]*" <<<"$1" | cut -d: -f2)" -ge 2 ]' _ "$BODY"
expect "a 404 head is a response, its body read" GET "/concat?path=/status/404" 200 '"status":404'
check "a 404: its body" json_has '"body":"status 404"'
expect "a redirect followed before the head" GET "/concat?path=/redirect%3Fto%3D/drip%253Fn%253D2%2526ms%253D10" \
  200 '"body":"chunk 1\nchunk 2\n"'
expect "redirects: 0 returns the 302" GET "/concat?redirects=0&path=/redirect%3Fto%3D/hello" 200 '"status":302'
expect "a redirect loop: limited" GET "/concat?path=/loop" 200 '"err":"redirect"'
expect "MAYFLY_HTTP_MAX_BODY does not bound a streamed body (chunked)" \
  GET "/concat?path=/bigchunked%3Fn%3D300000" 200 '"ok":true'
expect "MAYFLY_HTTP_MAX_BODY does not bound a streamed body (Content-Length)" \
  GET "/concat?path=/big%3Fn%3D300000" 200 '"ok":true'
expect "... while it bounds a whole one" GET "/whole?path=/big%3Fn%3D300000" 200 '"err":"too_large"'

# ---- failures before the head: retried; a 503 head retried with its body unread ----
up /reset >/dev/null
expect "a 503 head is retried like a call's" GET "/concat?path=/stream503%3Fkey%3Ds1" 200 \
  '"body":"after 503\ndone\n"'
check "the 503 then the stream: two attempts" json_has '"attempts":2'
expect "no retries: the 503 head is the response, its body read" \
  GET "/concat?retries=0&path=/stream503%3Fkey%3Ds2" 200 '"status":503'
check "no retries: its body" json_has '"body":"busy"'
expect "connect error: nil, connect (a 502 from the relay)" GET "/relay?up=dead&retries=1" 502 '"err":"connect"'
check "connect error: retried (attempt 2 logged)" log_has '"attempt":2,"error":"connect"'
expect "timeout bounds the head" GET "/concat?timeout=0.3&retries=0&path=/stall%3Fms%3D2000" 200 '"err":"timeout"'

# ---- failures after the head: never retried; read() -> nil, kind ----
up /reset >/dev/null
expect "the upstream dies mid-body: read() -> nil, io" GET "/concat?path=/die%3Fn%3D3%26ms%3D50%26key%3Dd1" \
  200 '"err":"io"'
check "dies mid-body: the pieces before it were read" json_has '"body":"chunk 1\nchunk 2\nchunk 3\n"'
check "dies mid-body: one attempt, never retried" json_has '"attempts":1'
R=$(client "/relay?path=/die%3Fn%3D3%26ms%3D50")
check "the relay of a body that dies: the client's body is cut (no terminating chunk)" \
  [ "$(field "$R" cut) $(field "$R" ended)" = "True False" ]
check "the relay of a body that dies: what came before was relayed" \
  [ "$(field "$R" body)" = $'chunk 1\nchunk 2\nchunk 3' ]
check "the relay's failure is logged with the kind" log_has 'upstream: io: the body broke off'

# ---- read_timeout ----
expect "read_timeout: nil, timeout" GET "/concat?read_timeout=0.3&path=/quiet%3Fms%3D3000%26key%3Dq1" 200 '"err":"timeout"'
check "read_timeout: the message names it" json_has 'read_timeout (300ms)'
check "read_timeout: what came first was read" json_has '"body":"first\n"'
gone=
for _ in $(seq 1 20); do [ -n "$(up_log q1 gone)" ] && { gone=1; break; }; sleep 0.05; done
check "read_timeout: the transfer is aborted (the upstream sees its connection close)" [ -n "$gone" ]
expect "read_timeout defaults to timeout" GET "/concat?timeout=0.4&path=/quiet%3Fms%3D3000" 200 'read_timeout (400ms)'
expect "in a plain handler the request's deadline bounds the reads" \
  GET "/concat?read_timeout=30&path=/quiet%3Fms%3D10000" 200 'MAYFLY_REQUEST_TIMEOUT'
check "...with the request's reserve left to answer" json_has '"err":"timeout"'
R=$(client "/relay?read_timeout=0.3&path=/quiet%3Fms%3D3000")
check "read_timeout in a relay: the body is cut after what came" \
  [ "$(field "$R" cut)|$(field "$R" body)" = $'True|first' ]

# ---- a client that leaves mid-relay: the upstream sees its connection close ----
R=$(client "/relay?path=/drip%3Fn%3D100%26ms%3D100%26key%3Dc1" 0 first)
closed=$(field "$R" closed)
gone=
for _ in $(seq 1 40); do gone=$(up_log c1 gone); [ -n "$gone" ] && break; sleep 0.05; done
check "a client leaving mid-relay: the upstream sees its connection close" [ -n "$gone" ]
check "... within a second" python3 -c "import sys; sys.exit(not (0 <= float('${gone:-0}') - float('$closed') < 1.0))"
check "... long before the upstream would have finished" [ -z "$(up_log c1 finish)" ]
expect "res:close() aborts the transfer" GET "/close?path=/drip%3Fn%3D100%26ms%3D100%26key%3Dc2" 200 '"first":"chunk 1\n"'
gone=
for _ in $(seq 1 40); do [ -n "$(up_log c2 gone)" ] && { gone=1; break; }; sleep 0.05; done
check "res:close(): the upstream sees its connection close" [ -n "$gone" ]

# ---- misuse raises ----
for w in read-whole close-whole read-closed stream-value read-timeout-alone bad-read-timeout json coroutine; do
  expect "misuse raises: $w" GET "/misuse/$w" 500 '"request_id"'
done
check "misuse: the reason is logged" log_has 'res:read() must wait for the body and cannot here'
check "misuse: the script's line is named" log_has '"error":"relay.lua:[0-9]*: mayfly.http: stream must be true or false"'

# ---- the metrics count streamed calls ----
check "metrics: streamed attempts by status class" \
  [ "$(metric "mayfly_http_client_requests_total{upstream=\"127.0.0.1:$main_PORT\",class=\"2xx\"}")" != 0 ]
check "metrics: a body that broke off counts as an io error" \
  [ "$(metric "mayfly_http_client_errors_total{upstream=\"127.0.0.1:$main_PORT\",kind=\"io\"}")" != 0 ]
check "metrics: a read past read_timeout counts as a timeout" \
  [ "$(metric "mayfly_http_client_errors_total{upstream=\"127.0.0.1:$main_PORT\",kind=\"timeout\"}")" != 0 ]
check "metrics: streamed body bytes" \
  [ "$(metric "mayfly_http_client_stream_bytes_total{upstream=\"127.0.0.1:$main_PORT\"}")" != 0 ]

mf_stop

# ---- backpressure: a 200 MiB relay to a client that stalls, then reads ----
# MAYFLY_MAX_LUA_MEMORY off: a run's allowance counts what each stretch between its waits grew
# and is never given back when the collector frees it later, so 200 MiB of pieces read would
# exhaust it though little of it is live at any time.
mf_start "$FIX" MAYFLY_WORKERS=1 MAYFLY_MAX_LUA_MEMORY=0 MAYFLY_CFG_MAIN="$MAIN" || exit 1
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$MF_PID/status"; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$MF_PID/status"; }
base=$(rss_kib)
client "/relay?path=/flood%3Fmb%3D200%26key%3Df1" 4 >"$WORK/flood.json" &
flood=$!
sleep 2
stalled=$(up_log f1 written)
t0=$(cpu_ticks "$MF_PID")
sleep 1
stalled2=$(up_log f1 written)
check "backpressure: a paused transfer keeps no worker busy" [ $(( $(cpu_ticks "$MF_PID") - t0 )) -lt 30 ]
rss_stalled=$(rss_kib)
check "backpressure: the upstream's writes block while the client reads nothing (${stalled:-?} bytes written)" \
  [ "${stalled:-0}" = "$stalled2" ]
check "backpressure: ... after a few socket buffers' worth, far from the 200 MiB" \
  [ "${stalled:-0}" -gt 0 -a "${stalled:-0}" -lt $((48 * 1024 * 1024)) ]
check "backpressure: mayfly's memory bounded meanwhile (RSS $base -> $rss_stalled KiB)" \
  [ "$rss_stalled" -lt $((base + 32 * 1024)) ]
wait "$flood"
R=$(cat "$WORK/flood.json")
expected=$(python3 -c 'import hashlib; h=hashlib.sha256(); p=bytes(range(256))*256
for _ in range(200*16): h.update(p)
print(h.hexdigest())')
check "backpressure: all 200 MiB relayed, in order, complete" \
  [ "$(field "$R" size) $(field "$R" sha256) $(field "$R" ended)" = "$((200 * 1024 * 1024)) $expected True" ]
# Under the sanitizer build the peak says little (ASan keeps freed memory in quarantine).
if ! ldd "$MAYFLY_BIN" | grep -q libasan; then
  check "backpressure: mayfly's peak memory stayed bounded (VmHWM $(hwm_kib) KiB, from $base)" \
    [ "$(hwm_kib)" -lt $((base + 48 * 1024)) ]
fi
mf_stop
check "exit 0" [ "$MF_EXIT" = 0 ]

# ---- mayfly test: handlers' calls wait on the runner's loop, so a relay streams there too ----
MAYFLY_CFG_MAIN="$MAIN" MAYFLY_SCRIPTS="$FIX" timeout 120 "$MAYFLY_BIN" test -o json "$FIX" \
  >"$WORK/spec.json" 2>"$WORK/spec.err"
spec_rc=$?
spec=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["successes"]), len(d["failures"]) + len(d["errors"]))' "$WORK/spec.json" 2>/dev/null)
check "mayfly test: the relay's specs pass (successes, failures: ${spec:-none})" [ "$spec_rc $spec" = "0 4 0" ]

# ---- a stream's own end cuts a read at once ----
mf_start "$FIX" MAYFLY_WORKERS=1 MAYFLY_STREAM_TIMEOUT=1s MAYFLY_CFG_MAIN="$MAIN" || exit 1
t0=$(date +%s%N)
R=$(client "/relay-report?read_timeout=30&path=/quiet%3Fms%3D5000%26key%3De1")
t1=$(date +%s%N)
check "MAYFLY_STREAM_TIMEOUT cuts a waiting read: nil, timeout" \
  log_has '"msg":"stream read ended".*"message":"the stream passed MAYFLY_STREAM_TIMEOUT"'
check "... at once (within 2 s, not the read's 30 s nor the upstream's 5 s)" [ $(( (t1 - t0) / 1000000 )) -lt 2500 ]
gone=
for _ in $(seq 1 40); do [ -n "$(up_log e1 gone)" ] && { gone=1; break; }; sleep 0.05; done
check "... and the run's end aborts the transfer" [ -n "$gone" ]

# ---- the drain cuts a waiting read; the relay ends cleanly ----
client "/relay-report?read_timeout=30&path=/quiet%3Fms%3D5000" >"$WORK/drain.json" &
drainer=$!
sleep 0.5
mf_stop
wait "$drainer"
R=$(cat "$WORK/drain.json")
check "the drain: a waiting read returns nil, draining" \
  grep -qF 'end: draining: the stream is to end' <<<"$(field "$R" body)"
check "the drain: the stream ended cleanly" [ "$(field "$R" ended)" = True ]
check "the drain: exit 0" [ "$MF_EXIT" = 0 ]
mf_finish
