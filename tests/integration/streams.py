"""Streamed responses driven over raw sockets (fixtures/stream_client.py) against the routes of
fixtures/streams/. Usage: streams.py PORT CASE [ARGS]; prints "ok - ..." / "not ok - ..." lines
and ends with "N passed, N failed" (exit 1 on any failure). The server's own state (its file
descriptors, its metrics) is read by test_streams.sh around these cases."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures"))
from stream_client import ProtocolError, SSEParser, Stream  # noqa: E402

PORT = int(sys.argv[1])
CASE = sys.argv[2]
ARGS = sys.argv[3:]
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok - {name}")
    else:
        failed += 1
        print(f"not ok - {name}\n    {str(detail)[:400]}")


def events_of(body):
    p = SSEParser()
    p.feed(body)
    return p


def pipelined(first):
    """What comes back on one connection for the request first, then GET /plain behind it."""
    sock = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    sock.sendall(first + b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    deadline = time.monotonic() + 5
    while b"\r\n\r\nplain " not in data and time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    sock.close()
    return data


def case_basics():
    # Chunks as written: each tick its own chunk, the first long before the last sleep ends.
    s = Stream(PORT, "/ticks?n=3&ms=400").read_head()
    check("a stream answers 200, chunked", s.status == 200 and s.chunked, s.headers)
    arrivals = []
    while True:
        t, data = s.next_data(5)
        if data is None:
            break
        arrivals.append((t - s.sent_at, data))
    check("each write arrives as its own chunk, in order",
          [d for _, d in arrivals] == [b"tick 1\n", b"tick 2\n", b"tick 3\n"], arrivals)
    check("the first chunk arrives before the handler's first sleep ends",
          arrivals and arrivals[0][0] < 0.3, arrivals)
    check("the chunks arrive about as they are written (0.4 s apart)",
          len(arrivals) == 3 and arrivals[2][0] - arrivals[0][0] > 0.7, arrivals)
    check("the body ends with the last chunk once the function returns", s.ended)
    s.close()

    # Keep-alive: a second request on the same connection after a stream.
    data = pipelined(b"GET /ticks?n=2&ms=10 HTTP/1.1\r\nHost: x\r\n\r\n")
    check("the connection serves the next request once a stream ended",
          b"tick 2\n\r\n0\r\n\r\n" in data and data.count(b"HTTP/1.1 200") == 2
          and b"\r\n\r\nplain " in data, data[-200:])

    # HTTP/1.0: no chunked framing, the body ends with the connection.
    s = Stream(PORT, "/ticks?n=2&ms=50", version="HTTP/1.0").read_head()
    body = s.read_all(5)
    check("an HTTP/1.0 client gets the body unframed, ended by the close",
          not s.chunked and body == b"tick 1\ntick 2\n", (s.headers, body))
    s.close()

    # HEAD: the head only; the function learns the client has what it asked for.
    data = pipelined(b"HEAD /ticks?n=2&ms=10 HTTP/1.1\r\nHost: x\r\n\r\n")
    check("HEAD of a stream route sends no body and the connection goes on",
          b"tick" not in data and b"\r\n\r\nplain " in data, data)


def case_middleware():
    s = Stream(PORT, "/wrapped").read_head()
    body = s.read_all(5)
    check("middleware's after sees the stream function and may wrap it",
          s.headers.get("x-wrapped") == "yes" and body == b"before\ninner\nafter\n",
          (s.headers, body))


def case_sse():
    s = Stream(PORT, "/sse", headers={"Last-Event-ID": "41"}).read_head()
    body = s.read_all(5)
    check("SSE: text/event-stream, not cached, not buffered by proxies",
          s.headers.get("content-type", "").startswith("text/event-stream")
          and s.headers.get("cache-control") == "no-cache"
          and s.headers.get("x-accel-buffering") == "no", s.headers)
    try:
        p = events_of(body)
    except (UnicodeDecodeError, ProtocolError) as e:
        check("SSE: the body parses", False, e)
        return
    want = [
        {"event": "multi", "data": "first line\nsecond line\nthird\nfourth", "id": "1"},
        {"event": "message", "data": '{"answer":42}', "id": "1"},
        {"event": "message", "data": "empty id resets", "id": ""},
        {"event": "resume", "data": "from 41", "id": ""},
        {"event": "message", "data": "", "id": ""},
        {"event": "message", "data": "trailing newline\n", "id": ""},
    ]
    check("SSE: events parse strictly as sent (multi-line data, ids, JSON data, empty data)",
          p.events == want, p.events)
    check("SSE: retry fields set the reconnection time (the last one wins)", p.retry == 1500, p.retry)
    check("SSE: a comment of two lines is two comment lines",
          p.comments == ["a comment", "of two lines"], p.comments)
    check("SSE: every line of the body ends in LF and the body in a blank line",
          body.endswith(b"\n\n") and b"\r" not in body, body[-40:])

    s = Stream(PORT, "/quiet?s=1").read_head()
    body = s.read_all(5)
    p = events_of(body)
    check("SSE: heartbeat comments while the function waits, then its event",
          len(p.comments) >= 3 and p.events and p.events[-1]["data"] == "done",
          (p.comments, p.events))


def case_errors():
    for path, what in (("/not_function", "stream is a string"), ("/both", "body or a stream"),
                       ("/bad_heartbeat", "heartbeat must be"), ("/status_204", "no body to stream")):
        s = Stream(PORT, path).read_head()
        body = s.read_all(5) if s.status != 204 else b""
        check(f"{path}: an invalid streamed response is a 500 with the request id",
              s.status == 500 and b"request_id" in body, (s.status, body))
    s = Stream(PORT, "/fails").read_head()
    got = b""
    cut = False
    try:
        while True:
            _, data = s.next_data(5)
            if data is None:
                break
            got += data
    except (EOFError, ConnectionResetError):
        cut = True
    check("an error after the head cuts the body: no last chunk, the connection closes",
          s.status == 200 and cut and not s.ended and got == b"partial\n", (cut, s.ended, got))
    s = Stream(PORT, "/spin").read_head()
    t0 = time.monotonic()
    cut = False
    try:
        s.read_all(10)
    except (EOFError, ConnectionResetError):
        cut = True
    check("a stream spinning the CPU after the head is cut by the request timeout",
          cut and time.monotonic() - t0 < 5, time.monotonic() - t0)


def case_slow_client():
    # The client reads nothing for a while: the stream's writes wait, its buffer stays bounded.
    mb = int(ARGS[0]) if ARGS else 64
    extra = ARGS[1] if len(ARGS) > 1 else ""
    s = Stream(PORT, f"/flood?mb={mb}{extra}", rcvbuf=4096).read_head()
    time.sleep(1.5)
    # test_streams.sh reads the server's memory now (the marker file).
    open(os.environ["STREAM_MARK"], "w").write("stalled")
    while not os.path.exists(os.environ["STREAM_MARK"] + ".read"):
        time.sleep(0.05)
    total = 0
    ok = True
    want = b"0123456789abcdef" * 4096
    pending = b""
    while True:
        _, data = s.next_data(20)
        if data is None:
            break
        pending += data.replace(b"\n", b"")  # heartbeats (hb=) go between writes
        while len(pending) >= len(want):
            ok = ok and pending[:len(want)] == want
            pending = pending[len(want):]
            total += len(want)
    check(f"a stalled client then gets all {mb} MiB, intact", ok and total == mb << 20 and not pending,
          (total, len(pending)))
    s.close()


def case_hold():
    # Opens N streams of PATH, signals they are all open (the marker), and waits for them to end;
    # prints what each got. For the drain, reload and stream-timeout cases.
    n, path = int(ARGS[0]), ARGS[1]
    streams = [Stream(PORT, path, timeout=15).read_head() for _ in range(n)]
    for s in streams:
        s.next_data(5)  # the first event is in: the stream runs
    open(os.environ["STREAM_MARK"], "w").write("open")
    results = []
    for s in streams:
        try:
            s.read_all(15)
            results.append((s.ended, events_of(s.body).events))
        except Exception as e:  # noqa: BLE001
            results.append((False, repr(e)))
    ended = all(r[0] for r in results)
    last = [r[1][-1] if isinstance(r[1], list) and r[1] else None for r in results]
    check(f"{n} open streams each ended cleanly (their last chunk)", ended, results[:3])
    for want in ARGS[2:]:
        check(f"each stream's last event is {want!r}",
              all(e and e["event"] + ":" + e["data"] == want for e in last), last[:3])


def case_vanish():
    # N clients open a stream and vanish with a reset, in waves.
    n, path = int(ARGS[0]), ARGS[1]
    opened = 0
    for start in range(0, n, 100):
        wave = []
        for _ in range(min(100, n - start)):
            try:
                s = Stream(PORT, path, timeout=10).read_head()
                s.next_data(5)
                wave.append(s)
            except Exception as e:  # noqa: BLE001
                print(f"# open failed: {e!r}")
        opened += len(wave)
        for s in wave:
            s.reset()
    check(f"{n} streams opened and their clients vanished (reset)", opened == n, opened)


globals()["case_" + CASE]()
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
