#!/usr/bin/env python3
"""Keep-alive clients sending continuously for a while, counting what happened to each request.

usage: keepalive_load.py PORT PATH SECONDS [CLIENTS]
Prints: "ok N refused N lost N". A request is lost when its connection was open (connect
succeeded, or a reused keep-alive connection whose last response did not say close) and it got
no complete response. Refused: the connect itself failed (the listener was closed)."""
import socket, sys, threading, time

port, path, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
clients = int(sys.argv[4]) if len(sys.argv) > 4 else 8
counts = {"ok": 0, "refused": 0, "lost": 0}
lock = threading.Lock()
request = f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()


def read_response(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            return None, False
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
    n = int(headers.get("content-length", "0"))
    while len(body) < n:
        chunk = s.recv(65536)
        if not chunk:
            return None, False
        body += chunk
    return status, headers.get("connection", "").lower() == "close"


def client(stop_at):
    s = None
    while time.time() < stop_at:
        if s is None:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
            except OSError:
                with lock:
                    counts["refused"] += 1
                time.sleep(0.01)
                continue
        try:
            s.sendall(request)
            status, close = read_response(s)
        except OSError:
            status, close = None, True
        with lock:
            counts["ok" if status == 200 else "lost"] += 1
        if status is None or close:
            s.close()
            s = None
    if s:
        s.close()


stop_at = time.time() + seconds
threads = [threading.Thread(target=client, args=(stop_at,)) for _ in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(f"ok {counts['ok']} refused {counts['refused']} lost {counts['lost']}")
