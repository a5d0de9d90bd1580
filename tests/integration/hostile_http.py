#!/usr/bin/env python3
"""Sends a corpus of malformed and adversarial requests over raw sockets and checks each gets a
clean 4xx/5xx refusal or a closed connection -- never a 2xx for a smuggled or malformed message,
never a hang -- and that a normal request is served after each case.

usage: hostile_http.py PORT. Prints one "ok - ..." / "not ok - ..." line per check and the
count line "N passed, N failed"; exits non-zero on a failure."""
import re, socket, sys, time

PORT = int(sys.argv[1])
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok - {name}")
    else:
        failed += 1
        print(f"not ok - {name}\n    {detail[:300]!r}")


def exchange(data, timeout=3.0, shut=False, chunks=None, delay=0.0):
    """Sends data (or chunks with delay between), reads until close or timeout. Returns bytes
    read and whether the server closed the connection."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
    got, closed = b"", False
    try:
        for c in chunks or [data]:
            s.sendall(c)
            if delay:
                time.sleep(delay)
        if shut:
            s.shutdown(socket.SHUT_WR)
        end = time.time() + timeout
        while time.time() < end:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not b:
                closed = True
                break
            got += b
    except (BrokenPipeError, ConnectionResetError):
        closed = True
    finally:
        s.close()
    return got, closed


def statuses(resp):
    return [int(m) for m in re.findall(rb"HTTP/1\.[01] (\d{3}) ", resp)]


def healthy(name):
    got, _ = exchange(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check(f"{name}: a normal request is served after it", statuses(got)[:1] == [200], got)


def refused(name, data, **kw):
    """Refused: no 2xx for it; a 4xx/5xx or a closed connection, within the timeout."""
    t0 = time.time()
    got, closed = exchange(data, **kw)
    st = statuses(got)
    ok = all(s >= 400 for s in st) and (st or closed)
    check(f"{name}: refused ({st or 'closed'})", ok, got)
    healthy(name)


H = b"Host: x\r\n"
cases = [
    ("Content-Length with Transfer-Encoding",
     b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /hello HTTP/1.1\r\n" + H + b"\r\n"),
    ("duplicate differing Content-Length",
     b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nContent-Length: 5\r\n\r\nabcde"),
    ("negative Content-Length", b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n"),
    ("Content-Length not a number", b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 1e3\r\n\r\n"),
    ("bad chunk size",
     b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
    ("chunk size overflow",
     b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabc\r\n0\r\n\r\n"),
    ("unknown transfer coding",
     b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
    ("space before colon", b"GET /hello HTTP/1.1\r\n" + H + b"X-A : 1\r\n\r\n"),
    ("invalid method", b"G@T /hello HTTP/1.1\r\n" + H + b"\r\n"),
    ("target without a slash", b"GET hello HTTP/1.1\r\n" + H + b"\r\n"),
    ("NUL in the target", b"GET /hel\x00lo HTTP/1.1\r\n" + H + b"\r\n"),
    ("control byte in a header name", b"GET /hello HTTP/1.1\r\n" + H + b"X-\x01A: 1\r\n\r\n"),
    ("bare LF line ends then CR junk", b"GET /hello HTTP/1.1\r\n" + H + b"X: \r\r\n\r\n"),
    ("missing Host in HTTP/1.1", b"GET /hello HTTP/1.1\r\n\r\n"),
    ("two Host headers", b"GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
    ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    ("unknown HTTP version", b"GET /hello HTTP/3.7\r\n" + H + b"\r\n"),
    ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\xaa" * 64),
    ("huge header", b"GET /hello HTTP/1.1\r\n" + H + b"X-Big: " + b"a" * 40000 + b"\r\n\r\n"),
    ("many headers", b"GET /hello HTTP/1.1\r\n" + H + b"".join(b"X-%d: v\r\n" % i for i in range(5000)) + b"\r\n"),
    ("absurd URI", b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\n" + H + b"\r\n"),
    ("body larger than the limit", b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 99999999999\r\n\r\nabc"),
]
for name, data in cases:
    refused(name, data)

# Accepted only in a clean form: a folded line joined with spaces, a value cut at a NUL; the
# handler never sees a CR, LF or NUL.
for name, value in [("obs-fold header", b"1\r\n  folded"), ("NUL in a header value", b"a\x00b")]:
    got, _ = exchange(b"GET /headers HTTP/1.1\r\n" + H + b"X-Custom: " + value +
                      b"\r\nConnection: close\r\n\r\n")
    st = statuses(got)
    body = got.partition(b"\r\n\r\n")[2]
    clean = b"\\u0000" not in body and b"\\r" not in body and b"\\n" not in body
    check(f"{name}: refused, or seen by the handler without CR, LF or NUL ({st})",
          (st and st[0] >= 400) or (st == [200] and clean), got)
    healthy(name)

# Pipelined flood: every request answered, in order.
n = 500
got, _ = exchange((b"GET /hello HTTP/1.1\r\n" + H + b"\r\n") * n +
                  b"GET /hello HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n", timeout=10)
st = statuses(got)
check(f"pipelined flood of {n + 1}: every request answered 200", st == [200] * (n + 1), f"{len(st)} answers")

# Half-closed: the request is sent and the write side shut; the answer still arrives.
got, _ = exchange(b"GET /hello HTTP/1.1\r\n" + H + b"\r\n", shut=True)
check("half-closed client still gets its answer", statuses(got)[:1] == [200], got)

# Slowloris: a head trickled byte by byte does not stop others from being served.
s = socket.create_connection(("127.0.0.1", PORT))
s.sendall(b"GET /hello HTTP/1.1\r\nX-Slow: ")
for i in range(5):
    s.sendall(b"a")
    healthy(f"slowloris byte {i}")
    time.sleep(0.1)
s.close()

# Slow body: a declared body arriving slowly does not stop others either.
s = socket.create_connection(("127.0.0.1", PORT))
s.sendall(b"POST /echo HTTP/1.1\r\n" + H + b"Content-Type: text/plain\r\nContent-Length: 100\r\n\r\nab")
healthy("slow body")
s.close()

# Many connections opened and dropped at once.
socks = [socket.create_connection(("127.0.0.1", PORT)) for _ in range(200)]
for s in socks:
    s.close()
healthy("200 connections dropped at once")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
