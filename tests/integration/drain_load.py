#!/usr/bin/env python3
"""Clients that open a new connection for every request (Connection: close), as many at once as
asked, for the drain test: handshakes are under way and connections wait in the accept queue
when the listener closes. One thread, non-blocking sockets.

usage: drain_load.py PORT PATH SECONDS [CONCURRENCY] [READY_FILE]
Runs until every client has met a refused connect, or SECONDS. READY_FILE is created once a
first response has come. Prints: "ok N refused N lost N". Refused: the connect failed (no
listener any more) or was never answered. Lost: the connect succeeded -- the kernel accepted the
connection -- and the request got no complete response (a reset, or a close before it)."""
import errno, selectors, socket, sys, time

port, path, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
concurrency = int(sys.argv[4]) if len(sys.argv) > 4 else 32
ready_file = sys.argv[5] if len(sys.argv) > 5 else None
request = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
counts = {"ok": 0, "refused": 0, "lost": 0}
sel = selectors.DefaultSelector()
CONNECT_WAIT = 3.0  # a SYN dropped while the listener closes is retried after a second


def start():
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    except OSError:
        s.close()
        counts["refused"] += 1
        return False
    sel.register(s, selectors.EVENT_WRITE, {"state": "connecting", "got": b"", "t": time.time()})
    return True


def finish(s, what):
    sel.unregister(s)
    s.close()
    counts[what] += 1
    if what == "ok" and counts["ok"] == 1 and ready_file:
        open(ready_file, "w").close()


active = 0
for _ in range(concurrency):
    active += start()
stop_at = time.time() + seconds
while active and time.time() < stop_at:
    for key, _ in sel.select(timeout=0.1):
        s, st = key.fileobj, key.data
        if st["state"] == "connecting":
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                finish(s, "refused")
                active -= 1  # the listener is gone: this client stops
                continue
            try:
                s.send(request)
            except OSError:
                finish(s, "lost")
                active -= 1 - start()
                continue
            st["state"] = "reading"
            sel.modify(s, selectors.EVENT_READ, st)
            continue
        try:
            b = s.recv(65536)
        except OSError:
            b = None
        if b:
            st["got"] += b
            continue
        what = "ok" if b == b"" and st["got"].startswith(b"HTTP/1.1 200 ") else "lost"
        finish(s, what)
        active -= 1 - start()
    now = time.time()
    for key in list(sel.get_map().values()):
        if key.data["state"] == "connecting" and now - key.data["t"] > CONNECT_WAIT:
            finish(key.fileobj, "refused")
            active -= 1
print(f"ok {counts['ok']} refused {counts['refused']} lost {counts['lost']}")
