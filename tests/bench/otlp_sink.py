#!/usr/bin/env python3
"""A null OTLP/HTTP trace collector for tests/bench/tracing.sh: takes every export as fast as it
can and keeps nothing but counts, so that the exporter's side is what a benchmark measures.

  otlp_sink.py PORT [--no-spans]

POST /v1/traces   the body read whole (Content-Length or chunked), answered 200 with an empty
                  body and Content-Type application/x-protobuf (an empty
                  ExportTraceServiceResponse encodes to no bytes), keep-alive. Counted: requests,
                  the body's bytes as sent, and, unless --no-spans, the spans in it: the body
                  inflated (Content-Encoding gzip) and its protobuf walked three levels down
                  (resource_spans = 1 > scope_spans = 2 > spans = 2) without decoding a span,
                  or for application/json, parsed. A body that cannot be read so is answered
                  all the same and counted as bad.
GET /stats        {"requests", "bytes", "inflated_bytes", "spans", "bad"} as JSON.
Anything else     404.

One thread, asyncio protocols: an export costs the sink a few hundred microseconds of CPU
(mostly zlib's inflate), so at the rates mayfly exports (a batch of 512 spans per request) it
stays far from being the bottleneck; tracing.sh reports its CPU per run to show it.
"""
import asyncio
import json
import sys
import zlib

stats = {"requests": 0, "bytes": 0, "inflated_bytes": 0, "spans": 0, "bad": 0}
COUNT_SPANS = True

RESPONSE_200 = (b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\n"
                b"Content-Length: 0\r\n\r\n")


def varint(buf, i):
    """The varint at buf[i:] and the index after it."""
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def fields(buf, start, end, wanted):
    """(start, end) of each length-delimited field numbered wanted in buf[start:end]; other
    fields are skipped by their wire type."""
    i = start
    while i < end:
        key, i = varint(buf, i)
        wire = key & 7
        if wire == 2:
            n, i = varint(buf, i)
            if key >> 3 == wanted:
                yield i, i + n
            i += n
        elif wire == 0:
            _, i = varint(buf, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise ValueError("wire type %d" % wire)
    if i != end:
        raise ValueError("a field runs past its message")


def count_protobuf(buf):
    n = 0
    for rs in fields(buf, 0, len(buf), 1):          # ExportTraceServiceRequest.resource_spans
        for ss in fields(buf, rs[0], rs[1], 2):     # ResourceSpans.scope_spans
            for _ in fields(buf, ss[0], ss[1], 2):  # ScopeSpans.spans
                n += 1
    return n


def count_json(buf):
    doc = json.loads(buf)
    return sum(len(ss.get("spans", ())) for rs in doc.get("resourceSpans", ())
               for ss in rs.get("scopeSpans", ()))


def account(headers, body):
    stats["requests"] += 1
    stats["bytes"] += len(body)
    if not COUNT_SPANS:
        return
    try:
        if "gzip" in headers.get("content-encoding", ""):
            body = zlib.decompress(body, 31)
        stats["inflated_bytes"] += len(body)
        if "json" in headers.get("content-type", ""):
            stats["spans"] += count_json(body)
        else:
            stats["spans"] += count_protobuf(body)
    except (ValueError, IndexError, zlib.error):
        stats["bad"] += 1


class Connection(asyncio.Protocol):
    """One keep-alive connection: requests parsed out of what arrived, answered in order."""

    def connection_made(self, transport):
        self.transport = transport
        self.buf = bytearray()
        self.continued = False  # "100 Continue" sent for the request being read

    def data_received(self, data):
        self.buf += data
        while self.buf:
            done = self.one_request()
            if done is None:
                return
            del self.buf[:done]

    def one_request(self):
        """Answers the first request of buf and returns its length, or None while incomplete."""
        head_end = self.buf.find(b"\r\n\r\n")
        if head_end < 0:
            if len(self.buf) > 65536:
                self.transport.close()
            return None
        lines = bytes(self.buf[:head_end]).decode("latin-1").split("\r\n")
        method, target = lines[0].split(" ")[:2]
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        pos = head_end + 4
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = bytearray()
            while True:
                eol = self.buf.find(b"\r\n", pos)
                if eol < 0:
                    return None
                size = int(bytes(self.buf[pos:eol]).split(b";")[0], 16)
                if size == 0:
                    end = self.buf.find(b"\r\n\r\n", eol)  # no trailers expected: the last CRLF
                    if end < 0:
                        return None
                    pos = end + 4
                    break
                if len(self.buf) < eol + 2 + size + 2:
                    return None
                body += self.buf[eol + 2:eol + 2 + size]
                pos = eol + 2 + size + 2
        else:
            n = int(headers.get("content-length", "0"))
            if len(self.buf) < pos + n:
                if headers.get("expect", "").lower() == "100-continue" and not self.continued:
                    self.continued = True
                    self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                return None
            body = self.buf[pos:pos + n]
            pos += n
        self.continued = False
        if method == "POST" and target.split("?")[0] == "/v1/traces":
            account(headers, bytes(body))
            self.transport.write(RESPONSE_200)
        elif method == "GET" and target == "/stats":
            out = json.dumps(stats).encode()
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(out), out))
        else:
            self.transport.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        return pos


async def main(port):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Connection, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--no-spans" in args:
        COUNT_SPANS = False
        args.remove("--no-spans")
    if len(args) != 1:
        sys.exit(__doc__)
    try:
        asyncio.run(main(int(args[0])))
    except KeyboardInterrupt:
        pass
