#!/usr/bin/env python3
"""Sends a corpus of malformed and adversarial requests over raw sockets and checks each gets a
clean 4xx/5xx refusal or a closed connection -- never a 2xx for a smuggled or malformed message,
never a hang -- and that a normal request is served after each case.

usage: hostile_http.py PORT. Prints one "ok - ..." / "not ok - ..." line per check and the
count line "N passed, N failed"; exits non-zero on a failure. Run it against a server whose idle
timeout is well past ANSWER_S, so that waiting for that timeout shows as a hang."""
import re, socket, sys, time

PORT = int(sys.argv[1])
ANSWER_S = 3.0  # an answer (a status or a close) comes within this, or the case hung
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok - {name}")
    else:
        failed += 1
        print(f"not ok - {name}\n    {detail[:300]!r}")


def exchange(data, timeout=ANSWER_S, shut=False, chunks=None, delay=0.0, first=True):
    """Sends data (or chunks with delay between), then reads until the server closes, the first
    whole response has come (first=False: only a close), or timeout. Returns bytes read, whether the server closed the connection,
    and whether either happened within the timeout."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
    got, closed, answered = b"", False, False
    try:
        for c in chunks or [data]:
            s.sendall(c)
            if delay:
                time.sleep(delay)
        if shut:
            s.shutdown(socket.SHUT_WR)
        end = time.time() + timeout
        while time.time() < end:
            s.settimeout(max(0.01, end - time.time()))
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
            if first and complete(got):
                answered = True
                end = min(end, time.time() + 0.2)  # a close that follows the answer
    except (BrokenPipeError, ConnectionResetError):
        closed = True
    finally:
        s.close()
    return got, closed, answered or closed


def complete(resp):
    """A whole response (head, and a body as long as its Content-Length) has been read."""
    head, sep, body = resp.partition(b"\r\n\r\n")
    if not sep or not head.startswith(b"HTTP/1."):
        return False
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return len(body) >= (int(m.group(1)) if m else 0)


def statuses(resp):
    return [int(m) for m in re.findall(rb"HTTP/1\.[01] (\d{3}) ", resp)]


def healthy(name):
    got, _, _ = exchange(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check(f"{name}: a normal request is served after it", statuses(got)[:1] == [200], got)


def refused(name, data, **kw):
    """Refused: no 2xx for it; a 4xx/5xx or a closed connection, within ANSWER_S."""
    got, closed, answered = exchange(data, **kw)
    st = statuses(got)
    ok = all(s >= 400 for s in st) and (st or closed) and answered
    check(f"{name}: refused ({st or 'closed' if answered else 'no answer: it waited'})", ok, got)
    healthy(name)


def served(name, data, status=200, **kw):
    """A well-formed neighbour of a hostile shape: answered with status within ANSWER_S."""
    got, _, answered = exchange(data, **kw)
    st = statuses(got)
    check(f"{name}: served ({st or 'no answer'})", st[:1] == [status] and answered, got)


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
# Framing RFC 9112 leaves no length for, or a length some peer would read differently: refused
# (400/501 and a close), never waited on.
P = b"POST /echo HTTP/1.1\r\n" + H
TE = P + b"Transfer-Encoding: "
cases += [
    ("Transfer-Encoding chunked, chunked", TE + b"chunked, chunked\r\n\r\n0\r\n\r\n"),
    ("Transfer-Encoding chunked in two header lines",
     TE + b"chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("Transfer-Encoding xchunked", TE + b"xchunked\r\n\r\n0\r\n\r\n"),
    ("Transfer-Encoding identity", TE + b"identity\r\n\r\n{}"),
    ("Transfer-Encoding gzip alone", TE + b"gzip\r\n\r\n{}"),
    ("Transfer-Encoding chunked, gzip", TE + b"chunked, gzip\r\n\r\n0\r\n\r\n"),
    ("Transfer-Encoding with a trailing comma", TE + b"chunked,\r\n\r\n0\r\n\r\n"),
    ("Transfer-Encoding empty", TE + b"\r\n\r\n0\r\n\r\n"),
    ("Transfer-Encoding gzip then chunked in two lines",
     TE + b"gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("Transfer-Encoding obs-folded", TE + b"gzip,\r\n chunked\r\n\r\n0\r\n\r\n"),
    ("Transfer-Encoding in HTTP/1.0 with Content-Length",
     b"POST /echo HTTP/1.0\r\n" + H + b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}"),
    ("Transfer-Encoding before Content-Length",
     TE + b"chunked\r\nContent-Length: 2\r\n\r\n2\r\n{}\r\n0\r\n\r\n"),
    ("chunk extension of 100 KB", TE + b"chunked\r\n\r\n2;" + b"e" * 100000 + b"\r\n{}\r\n0\r\n\r\n"),
    ("chunk extension of 20 KB, many parameters",
     TE + b"chunked\r\n\r\n2" + b";a=b" * 5000 + b"\r\n{}\r\n0\r\n\r\n"),
    ("chunk-size line of 100 KB of zeros", TE + b"chunked\r\n\r\n" + b"0" * 100000 + b"2\r\n{}\r\n0\r\n\r\n"),
    ("chunk size 0x-prefixed", TE + b"chunked\r\n\r\n0x2\r\n{}\r\n0\r\n\r\n"),
    ("chunk size negative", TE + b"chunked\r\n\r\n-2\r\n{}\r\n0\r\n\r\n"),
    ("chunk shorter than its size", TE + b"chunked\r\n\r\n5\r\n{}\r\n0\r\n\r\nGET /hello HTTP/1.1\r\n" + H + b"\r\n"),
    ("chunk without its CRLF", TE + b"chunked\r\n\r\n2\r\n{}XX0\r\n\r\n"),
    ("trailer of 100 KB", TE + b"chunked\r\n\r\n2\r\n{}\r\n0\r\nX-T: " + b"t" * 100000 + b"\r\n\r\n"),
    ("5000 trailers", TE + b"chunked\r\n\r\n2\r\n{}\r\n0\r\n" +
     b"".join(b"X-%d: v\r\n" % i for i in range(5000)) + b"\r\n"),
    ("Content-Length with a leading +", P + b"Content-Length: +2\r\n\r\n{}"),
    ("Content-Length with a space inside", P + b"Content-Length: 1 0\r\n\r\n{}"),
    ("Content-Length as a list", P + b"Content-Length: 2, 2\r\n\r\n{}"),
    ("Content-Length in hex", P + b"Content-Length: 0x2\r\n\r\n{}"),
    ("Content-Length empty", P + b"Content-Length: \r\n\r\n{}"),
    ("duplicate equal Content-Length", P + b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}"),
    ("duplicate differing Content-Length, larger first",
     P + b"Content-Length: 5\r\nContent-Length: 2\r\n\r\n{}abc"),
    ("Content-Length past 2^64", P + b"Content-Length: 99999999999999999999999\r\n\r\n{}"),
    ("NUL in a header name", b"GET /hello HTTP/1.1\r\n" + H + b"X-\x00A: 1\r\n\r\n"),
    ("NUL in Transfer-Encoding", TE + b"chunked\x00\r\n\r\n0\r\n\r\n"),
    ("obs-fold first line", b"GET /hello HTTP/1.1\r\n folded: 1\r\n" + H + b"\r\n"),
]
for name, data in cases:
    refused(name, data)

# A client that shuts its write side before its request is whole: the server sees the end and
# answers (400) or closes at once, in every phase of the request.
for name, data in [
    ("before anything", b""),
    ("mid request line", b"GET /hel"),
    ("after the request line", b"GET /hello HTTP/1.1\r\n"),
    ("mid headers", b"GET /hello HTTP/1.1\r\n" + H + b"X-A: 1"),
    ("mid header name", b"GET /hello HTTP/1.1\r\n" + H + b"X-Lo"),
    ("head without its blank line", b"GET /hello HTTP/1.1\r\n" + H),
    ("after a head with Content-Length and no body", P + b"Content-Length: 10\r\n\r\n"),
    ("partway through a Content-Length body", P + b"Content-Length: 10\r\n\r\n{\"a"),
    ("after a chunked head", TE + b"chunked\r\n\r\n"),
    ("mid chunk-size line", TE + b"chunked\r\n\r\n2;ext"),
    ("mid chunk data", TE + b"chunked\r\n\r\n4\r\n{}"),
    ("before the final chunk", TE + b"chunked\r\n\r\n2\r\n{}\r\n"),
    ("after the final chunk, before the trailers end", TE + b"chunked\r\n\r\n2\r\n{}\r\n0\r\n"),
    ("mid trailer", TE + b"chunked\r\n\r\n2\r\n{}\r\n0\r\nX-T: 1"),
]:
    refused(f"half-closed {name}", data, shut=True)

# Sent in pieces before the half-close: the end comes on its own edge, not with the bytes.
refused("half-closed after a pause, mid headers", None, shut=True, delay=0.05,
        chunks=[b"GET /hello HTTP/1.1\r\n", H])
refused("half-closed after a pause, Content-Length body unsent", None, shut=True, delay=0.05,
        chunks=[P + b"Content-Length: 10\r\n\r\n", b"{"])

# The well-formed neighbours are still served.
served("Transfer-Encoding CHUNKED (case-insensitive)",
       P + b"Connection: close\r\nTransfer-Encoding: CHUNKED\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
served("chunked with a short extension",
       TE + b"chunked\r\nConnection: close\r\n\r\n2;name=value\r\n{}\r\n0\r\n\r\n")
served("chunked with a trailer",
       TE + b"chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\nX-T: 1\r\n\r\n")
served("chunked in many small chunks", TE + b"chunked\r\nConnection: close\r\n\r\n" +
       b"1\r\n \r\n" * 2000 + b"2\r\n{}\r\n0\r\n\r\n")
served("Content-Length 0", b"PUT /raw HTTP/1.1\r\n" + H + b"Connection: close\r\nContent-Length: 0\r\n\r\n", 201)
served("half-closed after a whole POST", P + b"Content-Length: 2\r\n\r\n{}", shut=True)
served("half-closed after a whole chunked POST", TE + b"chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", shut=True)
got, _, _ = exchange((b"GET /hello HTTP/1.1\r\n" + H + b"\r\n") * 3, shut=True, first=False)
check("half-closed after three pipelined requests: all answered", statuses(got) == [200] * 3, got)
healthy("the half-close cases")

# Accepted only in a clean form: a folded line joined with spaces, a value cut at a NUL; the
# handler never sees a CR, LF or NUL.
for name, value in [("obs-fold header", b"1\r\n  folded"), ("NUL in a header value", b"a\x00b")]:
    got, _, _ = exchange(b"GET /headers HTTP/1.1\r\n" + H + b"X-Custom: " + value +
                      b"\r\nConnection: close\r\n\r\n")
    st = statuses(got)
    body = got.partition(b"\r\n\r\n")[2]
    clean = b"\\u0000" not in body and b"\\r" not in body and b"\\n" not in body
    check(f"{name}: refused, or seen by the handler without CR, LF or NUL ({st})",
          (st and st[0] >= 400) or (st == [200] and clean), got)
    healthy(name)

# Pipelined flood: every request answered, in order.
n = 500
got, _, _ = exchange((b"GET /hello HTTP/1.1\r\n" + H + b"\r\n") * n +
                  b"GET /hello HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n", timeout=10, first=False)
st = statuses(got)
check(f"pipelined flood of {n + 1}: every request answered 200", st == [200] * (n + 1), f"{len(st)} answers")

# Half-closed: the request is sent and the write side shut; the answer still arrives.
got, _, _ = exchange(b"GET /hello HTTP/1.1\r\n" + H + b"\r\n", shut=True)
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
