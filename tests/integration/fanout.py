"""SSE clients of /news on one or more mayfly processes, for test_stream_fanout.sh.

  fanout.py listen N PORT[,PORT...] DIR: opens N clients spread over the ports, writes DIR/ready
      once each has its stream's first comment (subscribed), then records every event each
      client gets, with its arrival time (time.monotonic: CLOCK_MONOTONIC, the clock of
      `fanout.py publish`), into DIR/events.jsonl until DIR/stop appears. Exits 1 when a client
      fails (a framing error, a close before DIR/stop).
  fanout.py publish REDIS_PORT CHANNEL MESSAGE DIR: PUBLISH, with the time just before it
      appended to DIR/published.
"""
import asyncio
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures"))
from stream_client import SSEParser  # noqa: E402


async def client(i, port, out, subscribed, failures):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /news HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n")[0] or b"chunked" not in head.lower():
        failures.append(f"client {i}: {head[:80]!r}")
        return
    parser = SSEParser()
    seen = 0
    try:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.strip(), 16)
            data = await reader.readexactly(size + 2)
            if data[-2:] != b"\r\n":
                failures.append(f"client {i}: bad chunk framing")
                return
            if size == 0:
                out.append({"client": i, "end": True, "at": time.monotonic()})
                return
            parser.feed(data[:-2])
            if parser.comments and not subscribed[i]:
                subscribed[i] = True
            while seen < len(parser.events):
                e = parser.events[seen]
                seen += 1
                out.append({"client": i, "event": e["event"], "data": e["data"],
                            "at": time.monotonic()})
    except (asyncio.IncompleteReadError, ConnectionError) as e:
        out.append({"client": i, "closed": repr(e), "at": time.monotonic()})


async def listen(n, ports, folder):
    out, failures = [], []
    subscribed = [False] * n
    tasks = [asyncio.create_task(client(i, ports[i % len(ports)], out, subscribed, failures))
             for i in range(n)]
    ready_written = False
    flushed = 0
    with open(os.path.join(folder, "events.jsonl"), "a") as f:
        while not os.path.exists(os.path.join(folder, "stop")):
            await asyncio.sleep(0.02)
            if not ready_written and all(subscribed):
                open(os.path.join(folder, "ready"), "w").write(str(n))
                ready_written = True
            for e in out[flushed:]:
                f.write(json.dumps(e) + "\n")
            flushed = len(out)
            f.flush()
            if failures:
                break
        for t in tasks:
            t.cancel()
        await asyncio.sleep(0.1)
        for e in out[flushed:]:
            f.write(json.dumps(e) + "\n")
    for msg in failures:
        print(msg)
    return 1 if failures else 0


def publish(redis_port, channel, message, folder):
    s = socket.create_connection(("127.0.0.1", redis_port))
    parts = [b"PUBLISH", channel.encode(), message.encode()]
    cmd = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
    at = time.monotonic()
    s.sendall(cmd)
    reply = s.recv(100)
    with open(os.path.join(folder, "published"), "a") as f:
        f.write(json.dumps({"message": message, "at": at, "receivers": reply.decode().strip()}) + "\n")


if sys.argv[1] == "listen":
    ports = [int(p) for p in sys.argv[3].split(",")]
    sys.exit(asyncio.run(listen(int(sys.argv[2]), ports, sys.argv[4])))
else:
    publish(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])
