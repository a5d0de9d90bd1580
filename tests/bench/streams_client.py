#!/usr/bin/env python3
"""The client and measurer of tests/bench/streams.sh: many open Server-Sent Events streams on
one server, what they cost in memory, and how long one PUBLISH takes to reach all of them.

  streams_client.py run --name NAME --port P --redis-port R --redis-pid PID --server-pid PID
                        --workers W --subscribers K [--streams 10000] [--procs 4]
                        [--publishes 20] [--lua-metrics] --out FILE
  streams_client.py report FILE...

run:
  1. warms the server up (a few streams get a message, then leave) and lets it settle;
  2. "before": the server's RSS (the process and its children: nginx's workers), with
     --lua-metrics mayfly's Lua heap (mayfly_lua_memory_bytes of /metrics), Redis's INFO
     (used_memory, used_memory_rss, mem_clients_normal, connected_clients), the kernel's Slab;
  3. opens N streams of GET /feed from --procs processes (asyncio, the connections spread
     evenly), each checked strictly: a 200, chunked, text/event-stream, chunk framing byte by
     byte, only comments and "data: " lines in the body, each event the text published; a
     stream counts once its ":subscribed" comment arrived (its subscription is made);
  4. waits until Redis counts K subscribers of the channel (mayfly: one per worker; nginx: one
     per stream), lets everything settle, and measures again: the idle streams' memory;
  5. publishes --publishes messages one after another (each once every stream had the one
     before, then a pause), taking time.monotonic() and time.time_ns() just before each
     PUBLISH leaves; each client process takes time.monotonic() when a stream's socket turns
     readable, before reading it ("seen"), and the kernel's receive time of the bytes
     (SO_TIMESTAMPNS, on the realtime clock: "kernel"); both clocks are shared by every
     process;
  6. measures memory again, and the CPU (clock ticks) that the server, Redis and the client
     processes used during the publishes; writes everything as JSON to FILE.
"Seen" minus "kernel" is how late the client itself was (its lag): the kernel's times cannot be
delayed by a client that is slow to read.

report: one column per run, and the ratio of the first two (mayfly / nginx).
"""
import argparse
import asyncio
import json
import multiprocessing
import multiprocessing.connection
import os
import re
import socket
import struct
import sys
import time

CHANNEL = b"bench:feed"
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux's value; Python lacks the name
ANC_SIZE = socket.CMSG_SPACE(16)
PAD = "x" * 64
HEX = re.compile(rb"[0-9a-fA-F]{1,8}")


def payload(seq):
    return "fanout %d %s" % (seq, PAD)


class ProtocolError(Exception):
    pass


# ---- one stream: the chunked body and the event stream, strictly ----

class Conn:
    __slots__ = ("sock", "buf", "text", "data", "subscribed", "comments", "events", "closed")

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.text = ""
        self.data = []  # the data lines of the event being read
        self.subscribed = False
        self.comments = 0
        self.events = []  # the data of each complete event, in order
        self.closed = False

    def feed(self, data):
        """Chunks complete in buf are decoded and their events split off."""
        buf = self.buf + data
        while True:
            line_end = buf.find(b"\r\n")
            if line_end < 0:
                if len(buf) > 10:
                    raise ProtocolError("bad chunk size line %r" % buf[:20])
                break
            if not HEX.fullmatch(buf[:line_end]):
                raise ProtocolError("bad chunk size line %r" % buf[:line_end][:20])
            size = int(buf[:line_end], 16)
            if size == 0:
                raise ProtocolError("the server ended the stream")
            start = line_end + 2
            if len(buf) < start + size + 2:
                break
            if buf[start + size:start + size + 2] != b"\r\n":
                raise ProtocolError("chunk data not followed by CRLF")
            self.text += buf[start:start + size].decode("utf-8")
            buf = buf[start + size + 2:]
        self.buf = buf
        if "\n" not in self.text:
            return
        # Line by line, as the event-stream format is read: a comment is a line of its own, a
        # blank line dispatches the event its data lines made. Both servers end lines with LF.
        lines = self.text.split("\n")
        self.text = lines.pop()
        for line in lines:
            if not line:
                if self.data:
                    self.events.append("\n".join(self.data))
                    self.data = []
            elif line[0] == ":":
                self.comments += 1
                if line == ":subscribed":
                    self.subscribed = True
            elif line.startswith("data: "):
                self.data.append(line[6:])
            else:
                raise ProtocolError("unexpected line %r" % line[:40])


def check_head(head):
    lines = head.decode("latin-1").split("\r\n")
    if not re.match(r"HTTP/1\.1 200 ", lines[0] + " "):
        raise ProtocolError("status line %r" % lines[0])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() != "chunked":
        raise ProtocolError("not chunked: %r" % headers)
    if not headers.get("content-type", "").startswith("text/event-stream"):
        raise ProtocolError("content type %r" % headers.get("content-type"))


# ---- a client process ----

def client_process(pipe, port, path, count, concurrency):
    asyncio.run(client_main(pipe, port, path, count, concurrency))


async def client_main(pipe, port, path, count, concurrency):
    loop = asyncio.get_running_loop()
    request = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: text/event-stream\r\n\r\n"
               % (path, port)).encode()
    conns = []
    arrivals = {}  # seq -> [(seen monotonic, kernel realtime ns)]
    got = {}
    errors = []

    def fail(conn, why):
        if not conn.closed:
            conn.closed = True
            errors.append(why)
            loop.remove_reader(conn.sock.fileno())

    def on_readable(conn):
        seen = time.monotonic()
        try:
            data, anc, _, _ = conn.sock.recvmsg(65536, ANC_SIZE)
        except BlockingIOError:
            return
        except OSError as e:
            return fail(conn, "recv: %s" % e)
        if not data:
            return fail(conn, "the server closed a stream")
        kernel = None
        for level, kind, value in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", value[:16])
                kernel = sec * 1_000_000_000 + nsec
        try:
            conn.feed(data)
        except (ProtocolError, UnicodeDecodeError) as e:
            return fail(conn, str(e))
        for event in conn.events:
            parts = event.split(" ", 2)
            if (len(parts) != 3 or parts[0] != "fanout" or not parts[1].isdigit()
                    or event != payload(int(parts[1]))):
                return fail(conn, "unexpected event %r" % event[:40])
            seq = int(parts[1])
            arrivals.setdefault(seq, []).append((seen, kernel))
            n = got[seq] = got.get(seq, 0) + 1
            if n == count:
                pipe.send(("got", seq))
        conn.events.clear()

    async def open_one(gate):
        async with gate:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            conn = Conn(sock)
            try:
                await loop.sock_connect(sock, ("127.0.0.1", port))
                await loop.sock_sendall(sock, request)
                head = b""
                while b"\r\n\r\n" not in head:
                    data = await loop.sock_recv(sock, 4096)
                    if not data:
                        raise ProtocolError("closed before the head")
                    head += data
                head, rest = head.split(b"\r\n\r\n", 1)
                check_head(head)
                conn.feed(rest)
                while not conn.subscribed:
                    data = await loop.sock_recv(sock, 4096)
                    if not data:
                        raise ProtocolError("closed before subscribing")
                    conn.feed(data)
                if conn.events:
                    raise ProtocolError("an event before any was published")
            except asyncio.CancelledError:  # its time ran out: counted by the caller
                sock.close()
                raise
            except Exception as e:  # noqa: BLE001 - every failure is counted, none stops the run
                sock.close()
                errors.append("%s: %s" % (type(e).__name__, e))
                return
            conns.append(conn)
            loop.add_reader(sock.fileno(), on_readable, conn)

    started = time.monotonic()
    gate = asyncio.Semaphore(concurrency)
    results = await asyncio.gather(*(asyncio.wait_for(open_one(gate), 60) for _ in range(count)),
                                   return_exceptions=True)
    errors += ["%s while opening" % type(r).__name__ for r in results if isinstance(r, BaseException)]
    pipe.send(("ready", len(conns), time.monotonic() - started, errors[:5], len(errors)))

    # Commands from the driver: "report" (the arrivals, the errors since), "close".
    done = loop.create_future()

    def on_command():
        cmd = pipe.recv()
        if cmd == "report":
            pipe.send(("report", {str(k): v for k, v in arrivals.items()}, errors[:5], len(errors)))
        elif cmd == "close":
            if not done.done():
                done.set_result(None)

    loop.add_reader(pipe.fileno(), on_command)
    await done
    for conn in conns:
        if not conn.closed:
            loop.remove_reader(conn.sock.fileno())
        conn.sock.close()


# ---- the driver: Redis, /proc, the publishes ----

class Redis:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("redis closed the connection")
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.sock.recv(65536)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))]
        if kind == b":":
            return int(rest)
        if kind == b"+":
            return rest
        raise RuntimeError("redis: %s" % rest.decode())

    @staticmethod
    def encode(*args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def call(self, *args):
        self.sock.sendall(self.encode(*args))
        return self.reply()

    def info(self):
        text = self.call("INFO").decode()
        fields = {}
        for line in text.split("\r\n"):
            name, sep, value = line.partition(":")
            if sep and not name.startswith("#"):
                fields[name] = value
        return fields


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def rss_kib(pids):
    total = 0
    for pid in pids:
        for p in [pid] + children(pid):
            try:
                with open("/proc/%d/status" % p) as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
            except OSError:
                pass
    return total


def ticks(pids):
    total = 0
    for pid in pids:
        for p in [pid] + children(pid):
            try:
                with open("/proc/%d/stat" % p) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
            except OSError:
                pass
    return total


def meminfo_kib(field):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def http_get(port, path):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk


def lua_bytes(port):
    """mayfly's Lua heap, all workers: mayfly_lua_memory_bytes is each worker's state after its
    last request, so a few requests first bring every worker's figure up to date."""
    for _ in range(16):
        http_get(port, "/hello")
    total = 0
    for line in http_get(port, "/metrics").decode("latin-1").split("\n"):
        if line.startswith("mayfly_lua_memory_bytes"):
            total += float(line.split()[-1])
    return int(total)


def snapshot(args, redis):
    info = redis.info()
    return {
        "lua_bytes": lua_bytes(args.port) if args.lua_metrics else None,
        "slab_kib": meminfo_kib("Slab"),
        "server_rss_kib": rss_kib([args.server_pid]),
        "redis_rss_kib": rss_kib([args.redis_pid]),
        "redis_used_memory": int(info["used_memory"]),
        "redis_used_memory_rss": int(info["used_memory_rss"]),
        "redis_mem_clients_normal": int(info["mem_clients_normal"]),
        "redis_connected_clients": int(info["connected_clients"]),
    }


def numsub(redis):
    return redis.call("PUBSUB", "NUMSUB", CHANNEL)[1]


def wait_for(what, seconds, step=0.1):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if what():
            return True
        time.sleep(step)
    return what()


def warm_up(args, redis, streams=8):
    """A few streams get one message and leave: the route, the subscriber connections and the
    allocator's first arenas are in place before "before" is measured."""
    socks = []
    for _ in range(streams):
        s = socket.create_connection(("127.0.0.1", args.port), timeout=10)
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % args.path.encode())
        socks.append([s, b""])
    for entry in socks:
        while b"subscribed" not in entry[1]:
            data = entry[0].recv(4096)
            if not data:
                raise SystemExit("warm-up: the server closed a stream")
            entry[1] += data
    # The ":subscribed" comment may come before Redis confirmed the SUBSCRIBE: publish until
    # each stream has had the message.
    deadline = time.monotonic() + 10
    for entry in socks:
        entry[0].setblocking(False)
    while socks and time.monotonic() < deadline:
        redis.call("PUBLISH", CHANNEL, "fanout 0 " + PAD)
        time.sleep(0.1)
        for entry in list(socks):
            try:
                data = entry[0].recv(65536)
            except BlockingIOError:
                continue
            if not data:
                raise SystemExit("warm-up: the server closed a stream")
            entry[1] += data
            if b"fanout 0" in entry[1]:
                entry[0].close()
                socks.remove(entry)
    if socks:
        raise SystemExit("warm-up: %d streams had no message in 10 s" % len(socks))
    wait_for(lambda: numsub(redis) == 0, 10)


def percentile(values, p):
    """Nearest rank: the smallest value with at least p % of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def run(args):
    redis = Redis(args.redis_port)
    clk = os.sysconf("SC_CLK_TCK")
    warm_up(args, redis)
    time.sleep(args.settle)
    before = snapshot(args, redis)

    ctx = multiprocessing.get_context("fork")
    procs, pipes = [], []
    share = [args.streams // args.procs + (1 if i < args.streams % args.procs else 0)
             for i in range(args.procs)]
    setup_started = time.monotonic()
    setup_ticks = ticks([os.getpid()])
    for count in share:
        mine, theirs = ctx.Pipe()
        p = ctx.Process(target=client_process,
                        args=(theirs, args.port, args.path, count, args.concurrency))
        p.start()
        procs.append(p)
        pipes.append(mine)
    client_pids = [p.pid for p in procs]
    connected, errors, error_count = 0, [], 0
    for pipe in pipes:
        _, n, _, errs, nerr = pipe.recv()
        connected += n
        errors += errs
        error_count += nerr
    setup_seconds = time.monotonic() - setup_started
    setup_client_ticks = ticks(client_pids) + ticks([os.getpid()]) - setup_ticks
    print("  %d streams open in %.1f s (%d failed%s)" % (
        connected, setup_seconds, error_count, ": " + "; ".join(errors[:3]) if errors else ""),
        file=sys.stderr)
    subscribed = wait_for(lambda: numsub(redis) == args.subscribers, 30)
    time.sleep(args.settle)
    idle = snapshot(args, redis)

    watched = [args.server_pid]
    t0 = {"server": ticks(watched), "redis": ticks([args.redis_pid]), "clients": ticks(client_pids)}
    wall0 = time.monotonic()
    publishes = []
    for seq in range(1, args.publishes + 1):
        message = payload(seq).encode()
        command = Redis.encode("PUBLISH", CHANNEL, message)
        t_real = time.time_ns()
        t_mono = time.monotonic()
        redis.sock.sendall(command)
        receivers = redis.reply()
        waiting = set(range(len(pipes)))
        deadline = time.monotonic() + args.timeout
        while waiting and time.monotonic() < deadline:
            for pipe in multiprocessing.connection.wait([pipes[i] for i in waiting],
                                                        deadline - time.monotonic()):
                kind, got_seq = pipe.recv()
                if kind == "got" and got_seq == seq:
                    waiting.discard(pipes.index(pipe))
        publishes.append({"seq": seq, "mono": t_mono, "real_ns": t_real,
                          "receivers": receivers, "complete": not waiting})
        time.sleep(args.gap)
    wall = time.monotonic() - wall0
    used = {k: ticks(watched if k == "server" else [args.redis_pid] if k == "redis"
                     else client_pids) - v for k, v in t0.items()}
    after = snapshot(args, redis)

    arrivals = {}
    for pipe in pipes:
        pipe.send("report")
        _, report, errs, nerr = pipe.recv()
        errors += errs
        error_count += nerr
        for seq, values in report.items():
            arrivals.setdefault(int(seq), []).extend(values)
    for pipe in pipes:
        pipe.send("close")
    for p in procs:
        p.join(30)

    last_seen, last_kernel, first_seen, all_seen, all_kernel, lags = [], [], [], [], [], []
    missing = 0
    for pub in publishes:
        values = arrivals.get(pub["seq"], [])
        missing += connected - len(values)
        if not values:
            continue
        seen = [s - pub["mono"] for s, _ in values]
        kernel = [(k - pub["real_ns"]) / 1e9 for _, k in values if k is not None]
        last_seen.append(max(seen))
        first_seen.append(min(seen))
        all_seen += seen
        if kernel:
            last_kernel.append(max(kernel))
            all_kernel += kernel
        # Seen less kernel: comparing two clocks sampled together at the PUBLISH.
        lags += [(s - pub["mono"]) - (k - pub["real_ns"]) / 1e9 for s, k in values if k is not None]

    ms = lambda v: None if v is None else round(v * 1000, 3)  # noqa: E731
    deliveries = connected * len(publishes)
    result = {
        "name": args.name,
        "workers": args.workers,
        "streams": args.streams,
        "connected": connected,
        "client_processes": args.procs,
        "errors": error_count,
        "error_samples": errors[:5],
        "subscribers_reached": subscribed,
        "setup_seconds": round(setup_seconds, 2),
        "setup_client_cpu_seconds": round(setup_client_ticks / clk, 2),
        "memory": {"before": before, "idle": idle, "after_fanout": after},
        "publishes": len(publishes),
        "receivers": sorted({p["receivers"] for p in publishes}),
        "incomplete_publishes": sum(not p["complete"] for p in publishes),
        "missing_deliveries": missing,
        "last_seen_ms": {"median": ms(percentile(last_seen, 50)), "p99": ms(percentile(last_seen, 99)),
                         "max": ms(max(last_seen) if last_seen else None)},
        "last_kernel_ms": {"median": ms(percentile(last_kernel, 50)),
                           "p99": ms(percentile(last_kernel, 99)),
                           "max": ms(max(last_kernel) if last_kernel else None)},
        "first_seen_ms": {"median": ms(percentile(first_seen, 50))},
        "delivery_seen_ms": {"median": ms(percentile(all_seen, 50)), "p99": ms(percentile(all_seen, 99))},
        "delivery_kernel_ms": {"median": ms(percentile(all_kernel, 50)),
                               "p99": ms(percentile(all_kernel, 99))},
        "client_lag_ms": {"median": ms(percentile(lags, 50)), "p99": ms(percentile(lags, 99)),
                          "max": ms(max(lags) if lags else None)},
        "fanout_wall_seconds": round(wall, 2),
        "fanout_cpu_seconds": {k: round(v / clk, 2) for k, v in used.items()},
        "cpu_us_per_delivery": {k: round(v / clk / deliveries * 1e6, 2) if deliveries else None
                                for k, v in used.items()},
        "redis_cpu_ms_per_publish": round(used["redis"] / clk / len(publishes) * 1e3, 2)
        if publishes else None,
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print("  fan-out to the last client: median %s ms, p99 %s ms (seen); %s / %s ms (kernel); "
          "client lag p99 %s ms" % (result["last_seen_ms"]["median"], result["last_seen_ms"]["p99"],
                                    result["last_kernel_ms"]["median"], result["last_kernel_ms"]["p99"],
                                    result["client_lag_ms"]["p99"]), file=sys.stderr)
    return 0 if connected == args.streams and not missing else 1


# ---- report ----

def per_stream(r):
    """KiB per stream of each part, from before to idle (and to after the publishes)."""
    b, i, a = r["memory"]["before"], r["memory"]["idle"], r["memory"]["after_fanout"]
    n = r["connected"] or 1
    out = {
        "server": (i["server_rss_kib"] - b["server_rss_kib"]) / n,
        "redis": (i["redis_used_memory"] - b["redis_used_memory"]) / 1024 / n,
        "redis_rss": (i["redis_rss_kib"] - b["redis_rss_kib"]) / n,
        "slab": (i["slab_kib"] - b["slab_kib"]) / n,
        "server_after": (a["server_rss_kib"] - b["server_rss_kib"]) / n,
        "lua": None,
        "lua_after": None,
    }
    if b.get("lua_bytes") is not None:
        out["lua"] = (i["lua_bytes"] - b["lua_bytes"]) / 1024 / n
        out["lua_after"] = (a["lua_bytes"] - b["lua_bytes"]) / 1024 / n
    return out


def fmt(v, spec="%.1f"):
    if v is None:
        return "-"
    if isinstance(v, float) and abs(v) < 0.05:
        v = 0.0  # no "-0.0" for noise around nothing
    return spec % v


def report(files):
    """One column per run; the ratio column compares the first two (mayfly / nginx)."""
    runs = []
    for path in files:
        with open(path) as f:
            runs.append(json.load(f))
    names = [r["name"] for r in runs]
    mem = [per_stream(r) for r in runs]
    rows = []

    def row(label, values, spec="%.1f", ratio=True):
        ratio_cell = ""
        if ratio and len(values) > 1 and values[0] is not None and values[1]:
            ratio_cell = "%.2fx" % max(0.0, values[0] / values[1])
        rows.append([label, *[fmt(v, spec) for v in values], ratio_cell])

    row("streams open", [r["connected"] for r in runs], "%d", ratio=False)
    row("workers", [r["workers"] for r in runs], "%d", ratio=False)
    row("server KiB per idle stream (RSS)", [m["server"] for m in mem])
    row("  of which Lua (mayfly_lua_memory_bytes)", [m["lua"] for m in mem])
    row("Redis KiB per idle stream (used_memory)", [m["redis"] for m in mem])
    row("total KiB per idle stream (server RSS + Redis used_memory)",
        [m["server"] + m["redis"] for m in mem])
    row("Redis RSS KiB per idle stream", [m["redis_rss"] for m in mem])
    row("kernel Slab KiB per idle stream (every socket of it)", [m["slab"] for m in mem])
    row("server KiB per stream after the publishes (RSS)", [m["server_after"] for m in mem])
    row("  of which Lua", [m["lua_after"] for m in mem])
    row("Redis clients with the streams open",
        [r["memory"]["idle"]["redis_connected_clients"] for r in runs], "%d", ratio=False)
    row("fan-out to the last client, median ms", [r["last_seen_ms"]["median"] for r in runs])
    row("fan-out to the last client, p99 ms", [r["last_seen_ms"]["p99"] for r in runs])
    row("  by kernel timestamps: median ms", [r["last_kernel_ms"]["median"] for r in runs])
    row("  by kernel timestamps: p99 ms", [r["last_kernel_ms"]["p99"] for r in runs])
    row("first client, median ms", [r["first_seen_ms"]["median"] for r in runs], "%.2f")
    row("one delivery, median ms", [r["delivery_seen_ms"]["median"] for r in runs])
    row("one delivery, p99 ms", [r["delivery_seen_ms"]["p99"] for r in runs])
    row("server CPU per delivery, us", [r["cpu_us_per_delivery"]["server"] for r in runs], "%.2f")
    row("Redis CPU per PUBLISH, ms", [r["redis_cpu_ms_per_publish"] for r in runs], "%.2f")
    row("client lag (seen - kernel), p99 ms", [r["client_lag_ms"]["p99"] for r in runs], "%.2f",
        ratio=False)
    row("client CPU per delivery, us", [r["cpu_us_per_delivery"]["clients"] for r in runs], "%.2f",
        ratio=False)
    row("deliveries missing", [r["missing_deliveries"] for r in runs], "%d", ratio=False)

    header = ["", *names, "%s/%s" % tuple(names[:2]) if len(names) > 1 else ""]
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    for r in [header] + rows:
        print("  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i])
                        for i, c in enumerate(r)).rstrip())
    for r in runs:
        if r["errors"] or r["incomplete_publishes"] or r["connected"] != r["streams"]:
            print("%s: %d of %d streams open, %d errors (%s), %d publishes not complete" % (
                r["name"], r["connected"], r["streams"], r["errors"],
                "; ".join(r["error_samples"]), r["incomplete_publishes"]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run")
    p.add_argument("--name", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", default="/feed")
    p.add_argument("--redis-port", type=int, required=True)
    p.add_argument("--redis-pid", type=int, required=True)
    p.add_argument("--server-pid", type=int, required=True)
    p.add_argument("--workers", type=int, required=True)
    p.add_argument("--subscribers", type=int, required=True,
                   help="subscribers of the channel Redis counts once every stream is open")
    p.add_argument("--streams", type=int, default=10000)
    p.add_argument("--procs", type=int, default=4)
    p.add_argument("--concurrency", type=int, default=64, help="connections opening at once, per process")
    p.add_argument("--publishes", type=int, default=20)
    p.add_argument("--gap", type=float, default=0.3, help="seconds between publishes")
    p.add_argument("--settle", type=float, default=6.0,
                   help="seconds before measuring memory (Redis trims an idle client's buffers "
                        "after 2-3 s)")
    p.add_argument("--lua-metrics", action="store_true",
                   help="read mayfly_lua_memory_bytes from the server's /metrics")
    p.add_argument("--timeout", type=float, default=15.0)
    p.add_argument("--out", required=True)
    r = sub.add_parser("report")
    r.add_argument("files", nargs="+")
    args = parser.parse_args()
    if args.cmd == "run":
        sys.exit(run(args))
    report(args.files)


if __name__ == "__main__":
    main()
