# The access log line, byte for byte where its format is fixed: its keys in order, the numbers
# as written, static fields and client-chosen values escaped so that each decodes back to what
# was sent, the request ids given or made. The line is written piece by piece for speed; this
# is what keeps it a JSON object with the same fields.
source "$(dirname "$0")/lib.sh"

# Static fields with a quote, a backslash, a tab and non-ASCII: escaped once, at start-up.
mf_start "$MAYFLY_SOURCE_DIR/scripts" MAYFLY_WORKERS=2 POD_NAME='pod "1"' \
  MAYFLY_LOG_FIELDS=$'team=a\\b,zone=caf\xc3\xa9\tx' || exit 1

curl -s -o /dev/null "$(url /hello)"
curl -s -o /dev/null -H 'X-Request-Id: given-id_1.2:3' "$(url '/hello?name=x')"
curl -s -o /dev/null -H 'X-Request-Id: bad"id' -X POST "$(url /nope)"
python3 - "$MF_PORT" <<'PY'
import socket, sys
port = int(sys.argv[1])
# Paths of a byte each that must be escaped, and valid UTF-8: every one decodes back exactly.
for path in [b'/q"uote', b'/back\\slash', b'/ctl\x01\x1f\x7f', b'/tab\there', b'/caf\xc3\xa9',
             b'/"},"status":1,"x":"']:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    while s.recv(65536):
        pass
    s.close()
PY
for _ in $(seq 1 50); do curl -s -o /dev/null "$(url /hello)"; done

lines_check() {
  python3 - "$MF_LOG" <<'PY'
import json, re, sys
ids, paths = [], []
n = 0
for raw in open(sys.argv[1], "rb").read().split(b"\n")[:-1]:
    o = json.loads(raw.decode("utf-8"))
    if o["msg"] != "request":
        continue
    n += 1
    keys = list(o)
    route = ["route"] if "route" in o else []
    assert keys == ["ts", "level", "msg", "request_id", "trace_id", "span_id", "pod_name",
                    "team", "zone", "method", "path"] + route + ["status", "duration_ms"], keys
    assert o["level"] == "info", o
    assert o["pod_name"] == 'pod "1"' and o["team"] == "a\\b" and o["zone"] == "caf\u00e9\tx", o
    assert re.fullmatch(r"[0-9a-f]{32}", o["trace_id"]) and re.fullmatch(r"[0-9a-f]{16}", o["span_id"]), o
    # the numbers as written: an integer status, milliseconds with exactly three decimals
    assert re.search(rb'"status":[1-5][0-9][0-9],"duration_ms":[0-9]+\.[0-9]{3}}$', raw), raw
    ids.append(o["request_id"])
    paths.append(o["path"])
    if o["path"] == "/hello":
        assert o["route"] == "GET /hello" and o["status"] == 200, o
    else:
        assert "route" not in o and o["status"] == 404, o
assert n == 59, n
assert "given-id_1.2:3" in ids, ids[:3]
made = [i for i in ids if i != "given-id_1.2:3"]
assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in made), made  # bad"id was replaced
assert len(set(ids)) == len(ids), "a request id repeats"
for p in ['/q"uote', '/back\\slash', '/ctl\x01\x1f\x7f', '/tab\there', '/caf\u00e9',
          '/"},"status":1,"x":"', '/nope']:
    assert p in paths, (p, paths)
PY
}
# Access lines are written in batches within 20 ms: wait for the last one.
for _ in $(seq 1 40); do [ "$(grep -c '"msg":"request"' "$MF_LOG")" -ge 59 ] && break; sleep 0.05; done
check "access lines: keys in order, values escaped and decoded back, ids" lines_check
mf_stop
check "clean exit" [ "$MF_EXIT" = 0 ]

mf_start "$MAYFLY_SOURCE_DIR/scripts" MAYFLY_ACCESS_LOG=off || exit 1
curl -s -o /dev/null "$(url /hello)"
mf_stop
check "MAYFLY_ACCESS_LOG=off: no access line" bash -c '! grep -q "\"msg\":\"request\"" "$1"' _ "$MF_LOG"

mf_finish
