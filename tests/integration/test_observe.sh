# Observability of the real binary: /metrics checked by promtool and by the Prometheus Python
# client's parsers (text and OpenMetrics), values after a known request sequence, script
# metrics, JSON log lines under concurrent hostile input, W3C trace context.
source "$(dirname "$0")/lib.sh"

# prometheus_client is Debian's package, for Debian's python3 (a python3 earlier on PATH may
# not see it).
PY=/usr/bin/python3
cp -r "$TESTS_DIR/fixtures/observe" "$WORK/scripts"
mf_start "$WORK/scripts" MAYFLY_WORKERS=2 POD_NAME=pod-1 NAMESPACE=ns-1 \
  MAYFLY_LOG_FIELDS=team=obs,env=test MAYFLY_TRACE_RESPONSE=1 || exit 1

scrape() { # scrape FILE [curl args]: the exposition into FILE, headers into $HEADERS
  local file=$1; shift
  HEADERS="$WORK/headers"
  STATUS=$(curl -s -D "$HEADERS" -o "$file" -w '%{http_code}' --max-time 10 "$@" "$(url /metrics)")
}
# mval FILE SERIES: the value of one sample line (labels as mayfly orders them), or "none"
mval() { K=$2 awk 'BEGIN { k = ENVIRON["K"] } index($0, k " ") == 1 { print $NF; found = 1 } END { if (!found) print "none" }' "$1"; }
expect_metric() { # NAME FILE SERIES VALUE
  local got; got=$(mval "$2" "$3")
  if [ "$got" = "$4" ]; then pass "$1"; else fail "$1" "$3: expected $4, got $got"; fi
}

# ---- a known sequence of requests ----
for i in $(seq 1 7); do curl -s -o /dev/null "$(url /items/$i)"; done
for i in 1 2 3; do curl -s -o /dev/null -X POST "$(url /items)"; done
for i in 1 2; do curl -s -o /dev/null "$(url /boom)"; done
for p in /nope /nope/deeper /items /a%22b; do curl -s -o /dev/null "$(url "$p")"; done
curl -s -o /dev/null -X PATCH "$(url /items/1)"
curl -s -o /dev/null -X BREW "$(url /items/1)"
curl -s -o /dev/null "$(url /livez)"
M="$WORK/m1.txt"
scrape "$M"
check "/metrics is 200" [ "$STATUS" = 200 ]
check "text format content type" [ "$(header_of Content-Type)" = "text/plain; version=0.0.4; charset=utf-8" ]
if promtool check metrics <"$M" >"$WORK/promtool.out" 2>&1; then
  pass "promtool check metrics"
else
  fail "promtool check metrics" "$(cat "$WORK/promtool.out")"
fi
expect_metric "GET by route pattern" "$M" 'http_requests_total{method="GET",route="/items/:id",status="200"}' 7
expect_metric "POST counted apart" "$M" 'http_requests_total{method="POST",route="/items",status="201"}' 3
expect_metric "handler errors are 500s" "$M" 'http_requests_total{method="GET",route="/boom",status="500"}' 2
expect_metric "handler error counter" "$M" 'mayfly_handler_errors_total{route="/boom",kind="error"}' 2
expect_metric "no timeouts" "$M" 'mayfly_handler_errors_total{route="/boom",kind="timeout"}' 0
expect_metric "404s share the unmatched label" "$M" 'http_requests_total{method="GET",route="unmatched",status="404"}' 3
expect_metric "a known path with another method: 405, unmatched" "$M" 'http_requests_total{method="GET",route="unmatched",status="405"}' 1
expect_metric "405 is unmatched" "$M" 'http_requests_total{method="PATCH",route="unmatched",status="405"}' 1
expect_metric "unknown method is other" "$M" 'http_requests_total{method="other",route="unmatched",status="405"}' 1
expect_metric "probes by path" "$M" 'http_requests_total{method="GET",route="/livez",status="200"}' 1
expect_metric "duration count by route" "$M" 'http_request_duration_seconds_count{route="/items/:id"}' 7
expect_metric "duration +Inf bucket" "$M" 'http_request_duration_seconds_bucket{route="/items/:id",le="+Inf"}' 7
expect_metric "in flight: the scrape itself" "$M" 'http_requests_in_flight' 1
check "no raw path in labels" bash -c '! grep -qE "/items/[0-9]|/nope|a%22b" "$1"' _ "$M"
check "Lua memory per worker" bash -c '[ "$(grep -c "^mayfly_lua_memory_bytes{worker=" "$1")" -ge 1 ]' _ "$M"
check "process metrics" bash -c 'for m in process_resident_memory_bytes process_cpu_seconds_total process_open_fds process_start_time_seconds process_max_fds process_virtual_memory_bytes; do grep -q "^$m [0-9]" "$1" || exit 1; done' _ "$M"
check "resident memory is positive" awk '$1 == "process_resident_memory_bytes" && $2 > 0 { ok = 1 } END { exit !ok }' "$M"
check "start time is after 2020" awk '$1 == "process_start_time_seconds" && $2 > 1577836800 { ok = 1 } END { exit !ok }' "$M"
check "script version info" grep -qE '^mayfly_scripts_info\{version="[0-9a-f]{16}"\} 1$' "$M"
check "breaker families" grep -q '^# TYPE mayfly_circuit_breaker_state gauge' "$M"

# Every histogram parsed by the Prometheus client: buckets cumulative, +Inf equal to count.
hist_check() {
  "$PY" - "$1" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = list(text_string_to_metric_families(open(sys.argv[1]).read()))
n = 0
for f in fams:
    if f.type != "histogram":
        continue
    series = {}
    for s in f.samples:
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        series.setdefault(key, {"buckets": [], "count": None})
        if s.name.endswith("_bucket"):
            series[key]["buckets"].append((float(s.labels["le"]), s.value))
        elif s.name.endswith("_count"):
            series[key]["count"] = s.value
    for key, v in series.items():
        b = sorted(v["buckets"])
        assert b and b[-1][0] == float("inf"), (f.name, key, "no +Inf")
        assert all(b[i][1] <= b[i + 1][1] for i in range(len(b) - 1)), (f.name, key, b)
        assert b[-1][1] == v["count"], (f.name, key, b[-1], v["count"])
        n += 1
assert n >= 3, n
print("histograms", n)
PY
}
check "histograms consistent (Python client parser)" hist_check "$M"

scrape "$WORK/om.txt" -H "Accept: application/openmetrics-text; version=1.0.0,text/plain;q=0.5"
check "OpenMetrics content type" [ "$(header_of Content-Type)" = "application/openmetrics-text; version=1.0.0; charset=utf-8" ]
check "OpenMetrics ends with # EOF" [ "$(tail -1 "$WORK/om.txt")" = "# EOF" ]
om_check() {
  "$PY" - "$1" <<'PY'
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
assert fams["http_requests"].type == "counter", fams.keys()
assert fams["http_request_duration_seconds"].type == "histogram"
assert fams["process_cpu_seconds"].type == "counter"
PY
}
check "OpenMetrics parses (Python client parser)" om_check "$WORK/om.txt"

# ---- metrics declared by scripts ----
for k in book book pen; do curl -s -o /dev/null -X POST "$(url /order/$k)"; done
curl -s -o /dev/null -X POST "$(url "/order/book?big=1")"
curl -s -o /dev/null -X POST "$(url /depth/10)"
for v in 0.05 0.3 0.3 0.7 3; do curl -s -o /dev/null -X POST "$(url /work/load/$v)"; done
curl -s -o /dev/null -X POST "$(url /order/a%22b%5Cc%0Ad%FF)"
M="$WORK/m2.txt"
scrape "$M"
expect_metric "script counter" "$M" 'shop_orders_total{kind="book"}' 5.5
expect_metric "script counter, other label" "$M" 'shop_orders_total{kind="pen"}' 1
expect_metric "label value escaped, invalid UTF-8 replaced" "$M" "shop_orders_total{kind=\"a\\\"b\\\\c\\nd$(printf '\xef\xbf\xbd')\"}" 1
expect_metric "script gauge: set, inc, dec" "$M" 'shop_queue_depth' 9
expect_metric "script histogram bucket" "$M" 'shop_work_seconds_bucket{step="load",le="0.5"}' 3
expect_metric "script histogram le 1" "$M" 'shop_work_seconds_bucket{step="load",le="1"}' 4
expect_metric "script histogram +Inf" "$M" 'shop_work_seconds_bucket{step="load",le="+Inf"}' 5
expect_metric "script histogram count" "$M" 'shop_work_seconds_count{step="load"}' 5
expect_metric "script histogram sum" "$M" 'shop_work_seconds_sum{step="load"}' 4.35
check "promtool accepts script metrics" bash -c 'promtool check metrics <"$1" >/dev/null 2>&1' _ "$M"
check "histograms consistent with script metrics" hist_check "$M"

expect "misuse of mayfly.metrics raises" GET /misuse 200
for want in "already declared differently" "already declared differently" "is not [a-zA-Z_]" \
  "ends in _total" "prefix 'mayfly_'" "invalid label name '__reserved'" "invalid label name 'le'" \
  "finite and increasing" "would collide" "label 'kind' is missing" "exactly the labels" \
  "a finite number >= 0" "a finite number"; do
  check "misuse refused: $want" grep -qF -- "$want" <<<"$BODY"
done
check "nothing misused was accepted" bash -c '! grep -q accepted <<<"$1"' _ "$BODY"

# The label-set bound: 200 per metric; past it updates are dropped, counted and logged once.
for i in $(seq 1 230); do printf 'url = "%s"\n-X POST\n-o /dev/null\n' "$(url /visit/v$i)"; done >"$WORK/visits.cfg"
curl -s -K "$WORK/visits.cfg"
http POST /visit/v1
check "an update returns nothing a request could learn from" [ "$BODY" = "0" ]
http POST /visit/another
M="$WORK/m3.txt"
scrape "$M"
check "200 label sets kept" [ "$(grep -c '^shop_visitors_total{' "$M")" = 200 ]
expect_metric "a known label set still counts past the bound" "$M" 'shop_visitors_total{name="v1"}' 2
check "a new label set past the bound is dropped" bash -c '! grep -q "name=\"another\"" "$1"' _ "$M"
expect_metric "dropped updates counted" "$M" 'mayfly_metrics_dropped_updates_total{metric="shop_visitors_total"}' 31
check "the bound is logged once" [ "$(grep -c 'metric shop_visitors_total: more than 200 label sets' "$MF_LOG")" = 1 ]

# ---- reloads ----
cat >"$WORK/scripts/extra.lua" <<'LUA'
return { ["GET /extra"] = function() return "extra" end }
LUA
wait_log() { for _ in $(seq 1 100); do [ "$(grep -c -- "$1" "$MF_LOG")" -ge "$2" ] && return 0; sleep 0.05; done; return 1; }
check "reload after a new file" wait_log '"msg":"reloaded"' 1
echo 'return {' >"$WORK/scripts/broken.lua"
check "reload of a broken set fails" wait_log '"msg":"reload failed' 1
M="$WORK/m4.txt"
scrape "$M"
expect_metric "successful reloads counted" "$M" 'mayfly_reloads_total{folder="scripts",result="success"}' 1
expect_metric "failed reloads counted" "$M" 'mayfly_reloads_total{folder="scripts",result="failure"}' 1
expect_metric "reload failure shown" "$M" 'mayfly_scripts_reload_failed' 1
expect_metric "script metrics survive a reload" "$M" 'shop_orders_total{kind="pen"}' 1
rm "$WORK/scripts/broken.lua"
# The fixed set is the version already serving: a good reload that changes nothing.
wait_metric() { for _ in $(seq 1 100); do scrape "$M"; [ "$(mval "$M" "$1")" = "$2" ] && return 0; sleep 0.05; done; return 1; }
check "reload after the fix counted" wait_metric 'mayfly_reloads_total{folder="scripts",result="success"}' 2
expect_metric "reload failure cleared" "$M" 'mayfly_scripts_reload_failed' 0
# A changed definition of a declared metric fails the reload: the old version keeps serving.
cat >"$WORK/scripts/redefine.lua" <<'LUA'
mayfly.metrics.counter("shop_orders_total", "A new help text.", { "kind" })
return { ["GET /redefined"] = function() return "new" end }
LUA
check "a redefinition fails the reload" wait_metric 'mayfly_reloads_total{folder="scripts",result="failure"}' 2
check "the reload error names the metric" grep -q "shop_orders_total' is already declared differently" "$MF_LOG"
expect "the old version keeps serving" GET /redefined 404
rm "$WORK/scripts/redefine.lua"

# ---- trace context ----
TP=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
expect "trace continued" GET /trace 200 '"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"' -- -H "traceparent: $TP" -H "tracestate: congo=t61rcWkgMzE"
check "parent id is the caller's span" grep -q '"parent_id":"00f067aa0ba902b7"' <<<"$BODY"
check "sampled flag" grep -q '"sampled":true' <<<"$BODY"
check "tracestate passed on" grep -q '"tracestate":"congo=t61rcWkgMzE"' <<<"$BODY"
span=$(grep -o '"span_id":"[0-9a-f]*"' <<<"$BODY" | cut -d'"' -f4)
check "a new span id" bash -c '[[ "$1" =~ ^[0-9a-f]{16}$ ]] && [ "$1" != 00f067aa0ba902b7 ]' _ "$span"
check "response traceparent: same trace, this span" [ "$(header_of traceparent)" = "00-4bf92f3577b34da6a3ce929d0e0e4736-$span-01" ]
check "req.trace.traceparent for downstream calls" grep -q "\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-$span-01\"" <<<"$BODY"
check "the request's log line has the trace id" log_has "\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"span_id\":\"$span\""
expect "no traceparent: a new trace" GET /trace 200 '"sampled":false'
check "new trace has no parent" bash -c '! grep -q parent_id <<<"$1"' _ "$BODY"
check "new trace id on the response" grep -qE '^00-[0-9a-f]{32}-[0-9a-f]{16}-00$' <<<"$(header_of traceparent)"
for bad in "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" \
  "00-00000000000000000000000000000000-00f067aa0ba902b7-01" \
  "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01" \
  "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01" \
  "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01" \
  "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x" \
  'x"},{"a' "$(head -c 300 /dev/zero | tr '\0' 'a')"; do
  http GET /trace -H "traceparent: $bad" -H "tracestate: a=b"
  if [ "$STATUS" = 200 ] && ! grep -q '4bf92f3577b34da6a3ce929d0e0e4736\|parent_id\|tracestate' <<<"$BODY" &&
    grep -qE '^00-[0-9a-f]{32}-[0-9a-f]{16}-00$' <<<"$(header_of traceparent)"; then
    pass "malformed traceparent ignored: ${bad:0:40}"
  else
    fail "malformed traceparent ignored: ${bad:0:40}" "status $STATUS" "body: $BODY"
  fi
done

# ---- log lines under concurrent hostile input ----
hostile() {
  "$PY" - "$MF_PORT" <<'PY'
import socket, sys, threading
port = int(sys.argv[1])
reqs = [
    b'GET /log/a"b\\c?q=%22%0A%00%7B HTTP/1.1\r\nHost: x\r\nUser-Agent: "},"level":"forged\r\n\r\n',
    b'GET /log/\xff\xfe\xc3\x28?q=\xe2\x82 HTTP/1.1\r\nHost: x\r\nX-Raw: \xff\xfe\x80bad utf8 \xc3\xa9 ok\r\n\r\n',
    b'GET /log/x?q=%01%1f%7f%e2%80%a8 HTTP/1.1\r\nHost: x\r\nX-Request-Id: a","trace_id":"x\r\n\r\n',
    b'GET /log/y HTTP/1.1\r\nHost: x\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nX-Raw: tab\there \\ back\\slash\r\n\r\n',
    b'GET /nope/"\\\x01\x7f HTTP/1.1\r\nHost: x\r\n\r\n',
    b'GET /log/\x1b[31mred HTTP/1.1\r\nHost: x\r\nUser-Agent: \x01\x02\r\n\r\n',
]
def worker(n):
    for i in range(40):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        try:
            s.sendall(reqs[(i + n) % len(reqs)][:-2] + b"Connection: close\r\n\r\n")
            while s.recv(65536):
                pass
        except OSError:
            pass
        finally:
            s.close()
ts = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
for t in ts: t.start()
for t in ts: t.join()
PY
}
hostile
sleep 0.2
logs_check() {
  "$PY" - "$1" <<'PY'
import json, re, sys
raw = open(sys.argv[1], "rb").read()
lines = raw.split(b"\n")
assert lines[-1] == b"", "the log does not end with a newline"
n = requests = script = 0
by_request = {}
for i, line in enumerate(lines[:-1]):
    text = line.decode("utf-8")  # every byte of the log is UTF-8
    o = json.loads(text)
    assert isinstance(o, dict), (i, text)
    keys = list(o)
    assert keys[:3] == ["ts", "level", "msg"], (i, keys)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["ts"]), o["ts"]
    assert o["level"] in ("debug", "info", "warn", "error"), o
    assert o["pod_name"] == "pod-1" and o["namespace"] == "ns-1", o
    assert o["team"] == "obs" and o["env"] == "test", o
    if "request_id" in o:
        assert re.fullmatch(r"[0-9a-f]{32}", o["trace_id"]), o
        assert re.fullmatch(r"[0-9a-f]{16}", o["span_id"]), o
        assert re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", o["request_id"]), o
        by_request.setdefault(o["request_id"], set()).add((o["trace_id"], o["span_id"]))
    if o["msg"] == "request":
        requests += 1
    if "field_ts" in o:
        script += 1
        for k in ("ts", "level", "msg", "request_id", "trace_id", "span_id", "pod_name", "team"):
            assert o["field_" + k] == "forged", (k, o)
            assert o[k] != "forged", (k, o)
    n += 1
assert requests >= 320, requests
assert script >= 150, script
# one trace and one span for every line of a request
assert all(len(v) == 1 for v in by_request.values()), [v for v in by_request.values() if len(v) > 1][:3]
print(n, "lines", requests, "access lines", script, "script lines")
PY
}
sleep 0.2 # access lines are written in batches within 20 ms
check "every log line is one JSON object with the host's keys" logs_check "$MF_LOG"
check "the server survived" mf_alive

mf_stop
check "clean exit" [ "$MF_EXIT" = 0 ]

# MAYFLY_METRICS=off: nothing counted, /metrics not served.
mf_start "$WORK/scripts" MAYFLY_WORKERS=1 MAYFLY_METRICS=off || exit 1
expect "MAYFLY_METRICS=off: /metrics is not served" GET /metrics 404
mf_stop

# Static fields cannot take a host key; a malformed list is refused at start.
out=$(MAYFLY_LOG_FIELDS=trace_id=x "$MAYFLY_BIN" serve 2>&1); code=$?
check "MAYFLY_LOG_FIELDS refuses host keys" [ "$code" = 2 ]
check "MAYFLY_LOG_FIELDS names the key" grep -q "'trace_id' is a field the host writes" <<<"$out"
out=$(MAYFLY_LOG_FIELDS=novalue "$MAYFLY_BIN" serve 2>&1); code=$?
check "MAYFLY_LOG_FIELDS refuses a part without =" [ "$code" = 2 ]

mf_finish
