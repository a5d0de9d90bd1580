"""Checks the spans tests/integration/fixtures/otlp/otlp_receiver.py wrote (one JSON object per
line) for test_tracing.sh: prints one line per check, "ok<TAB>name<TAB>" or
"not ok<TAB>name<TAB>detail" (lib.sh's checks_report counts them).

Usage: tracing_check.py SPANS SCENARIO [key=value ...]. A scenario waits up to 10 s for the
spans it needs (the exporter sends in batches), then checks them."""
import json
import sys
import time

SERVER, CLIENT, INTERNAL = 2, 3, 1
ERROR = 2

spans_file, scenario = sys.argv[1], sys.argv[2]
args = dict(a.split("=", 1) for a in sys.argv[3:])


def load():
    try:
        with open(spans_file) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def wait_for(pred, timeout=10.0):
    """The spans once pred(spans) is true (or the last read, after the timeout)."""
    end = time.time() + timeout
    while True:
        spans = load()
        if pred(spans) or time.time() > end:
            return spans
        time.sleep(0.1)


def check(name, cond, detail=""):
    print(("ok\t%s\t" % name) if cond else ("not ok\t%s\t%s" % (name, str(detail)[:400])))
    return cond


def named(spans, name, service=None):
    return [s for s in spans if s["name"] == name and
            (service is None or s["resource"].get("service.name") == service)]


def children(spans, parent):
    return [s for s in spans if s["parent_span_id"] == parent["span_id"] and
            s["trace_id"] == parent["trace_id"]]


def last(spans, name, service=None):
    found = named(spans, name, service)
    return found[-1] if found else None


def has_event(span, name):
    return [e for e in span["events"] if e["name"] == name]


def server_span(name, service=None, extra=lambda s, spans: True):
    spans = wait_for(lambda sp: any(extra(s, sp) for s in named(sp, name, service)))
    candidates = [s for s in named(spans, name, service) if extra(s, spans)]
    return (candidates[-1] if candidates else None), spans


def hello():
    trace, parent = args["trace"], args["parent"]
    s, _ = server_span("GET /hello", extra=lambda s, sp: s["trace_id"] == trace)
    if not check("hello: the server span continues the caller's trace", s is not None):
        return
    a = s["attributes"]
    check("hello: its parent is the caller's span", s["parent_span_id"] == parent, s)
    check("hello: kind SERVER", s["kind"] == SERVER, s["kind"])
    check("hello: span id is the one the response's traceparent names",
          s["span_id"] == args.get("span", s["span_id"]), s["span_id"])
    check("hello: http.request.method", a.get("http.request.method") == "GET", a)
    check("hello: http.route", a.get("http.route") == "/hello", a)
    check("hello: url.path", a.get("url.path") == "/hello", a)
    check("hello: url.scheme", a.get("url.scheme") == "http", a)
    check("hello: http.response.status_code is an int",
          a.get("http.response.status_code") == 200, a)
    check("hello: server.address and server.port from Host",
          a.get("server.address") == "127.0.0.1" and a.get("server.port") == int(args["port"]), a)
    check("hello: client.address", a.get("client.address") == "127.0.0.1", a)
    check("hello: user_agent.original", a.get("user_agent.original") == "tracing-test/1.0", a)
    check("hello: status unset on a 200", s["status"]["code"] == 0, s["status"])
    check("hello: flags: sampled, remote parent",
          s["flags"] & 0x1 and s["flags"] & 0x100 and s["flags"] & 0x200, s["flags"])
    d = s["end_ns"] - s["start_ns"]
    check("hello: start and end in wall time, in order",
          abs(s["start_ns"] / 1e9 - time.time()) < 60 and 0 < d < 5e9, (s["start_ns"], d))
    check("hello: scope is mayfly", s["scope"]["name"] == "mayfly" and s["scope"].get("version"),
          s["scope"])


def resource():
    """The resource and the export request of the caller's span in args['trace'] (the callee
    exports to the same collector)."""
    spans = wait_for(lambda sp: [s for s in sp if s["trace_id"] == args["trace"]])
    spans = [s for s in spans if s["trace_id"] == args["trace"]]
    if not check("resource: spans arrived", spans):
        return
    r = spans[-1]["resource"]
    check("resource: service.name from OTEL_SERVICE_NAME", r.get("service.name") == "caller", r)
    check("resource: OTEL_RESOURCE_ATTRIBUTES, percent-decoded",
          r.get("deployment.environment") == "test" and r.get("team") == "a b", r)
    check("resource: k8s.* from the pod's variables",
          r.get("k8s.pod.name") == "caller-0" and r.get("k8s.namespace.name") == "shop" and
          r.get("k8s.node.name") == "node-7", r)
    check("resource: telemetry.sdk.*",
          r.get("telemetry.sdk.name") == "mayfly" and r.get("telemetry.sdk.version"), r)
    check("resource: process.pid and host.name",
          isinstance(r.get("process.pid"), int) and r.get("host.name"), r)
    check("resource: service.instance.id", r.get("service.instance.id"), r)
    h = spans[-1]["headers"]
    check("export: OTEL_EXPORTER_OTLP_HEADERS sent, percent-decoded",
          h.get("x-api-key") == "k 1" and h.get("x-tenant") == "t1", h)
    check("export: %s%s" % (args["encoding"], ", gzip" if args["gzip"] == "1" else ""),
          spans[-1]["encoding"] == args["encoding"] and
          bool(spans[-1]["gzip"]) == (args["gzip"] == "1"),
          (spans[-1]["encoding"], spans[-1]["gzip"]))


def redis():
    def ready(s, sp):
        return len(children(sp, s)) >= 2
    s, spans = server_span("GET /redis", extra=ready)
    if not check("redis: the server span and its children arrived", s, len(spans)):
        return
    kids = {c["name"]: c for c in children(spans, s)}
    one, pipe = kids.get("SET"), kids.get("PIPELINE")
    check("redis: SET is a client span under the request's", one and one["kind"] == CLIENT, kids)
    check("redis: a pipeline is one span", pipe and pipe["kind"] == CLIENT, kids)
    if one and pipe:
        a = one["attributes"]
        check("redis: db.system and the operation",
              a.get("db.system") == "redis" and a.get("db.system.name") == "redis" and
              a.get("db.operation.name") == "SET", a)
        check("redis: the pipeline's batch size",
              pipe["attributes"].get("db.operation.batch.size") == 2, pipe["attributes"])
        check("redis: spans inside the request's time",
              s["start_ns"] <= one["start_ns"] <= one["end_ns"] <= s["end_ns"],
              (s["start_ns"], one["start_ns"], one["end_ns"], s["end_ns"]))
    text = json.dumps([c for c in children(spans, s)])
    check("redis: never the arguments", "secret" not in text, text)


def redis_error():
    s, spans = server_span("GET /redis-error", extra=lambda s, sp: len(children(sp, s)) >= 2)
    if not check("redis error: spans arrived", s):
        return
    push = [c for c in children(spans, s) if c["name"] == "LPUSH"]
    check("redis error: the failed command's span is an error with the reply's code only",
          push and push[0]["status"]["code"] == ERROR and
          push[0]["attributes"].get("error.type") == "WRONGTYPE" and
          "secret" not in json.dumps(push[0]), push)


def call():
    callee_port = int(args["callee_port"])

    def ready(s, sp):
        kids = children(sp, s)
        return kids and any(children(sp, k) for k in kids)
    s, spans = server_span("GET /call", "caller", extra=ready)
    if not check("call: the caller's server span, its client span and the callee's arrived", s):
        return
    client = [k for k in children(spans, s) if k["kind"] == CLIENT]
    check("call: one client span under the request's span", len(client) == 1, client)
    c = client[0]
    a = c["attributes"]
    check("call: named by the method", c["name"] == "GET", c["name"])
    check("call: url.full without the query's values",
          a.get("url.full") == "http://127.0.0.1:%d/inner?token=REDACTED&x=REDACTED" % callee_port,
          a.get("url.full"))
    check("call: server.address, server.port, status",
          a.get("server.address") == "127.0.0.1" and a.get("server.port") == callee_port and
          a.get("http.response.status_code") == 200, a)
    callee = children(spans, c)
    check("call: the callee's server span is the child of the caller's client span",
          len(callee) == 1 and callee[0]["kind"] == SERVER and callee[0]["name"] == "GET /inner"
          and callee[0]["resource"].get("service.name") == "callee", callee)
    if callee:
        check("call: the callee's parent is remote", callee[0]["flags"] & 0x200, callee[0]["flags"])
        inner = children(spans, callee[0])
        check("call: the callee's Redis span under its server span",
              [k for k in inner if k["name"] == "GET" and k["kind"] == CLIENT], inner)
    check("call: no secret in any span of the trace",
          "secret123" not in json.dumps([x for x in spans if x["trace_id"] == s["trace_id"]]))


def retries():
    s, spans = server_span("GET /retry", extra=lambda s, sp: len(children(sp, s)) >= 2)
    if not check("retries: the request's spans arrived", s):
        return
    attempts = sorted([k for k in children(spans, s) if k["kind"] == CLIENT],
                      key=lambda k: k["start_ns"])
    check("retries: one client span per attempt", len(attempts) == 2, attempts)
    if len(attempts) == 2:
        first, second = attempts
        check("retries: the first attempt's 503 is an error",
              first["status"]["code"] == ERROR and
              first["attributes"].get("http.response.status_code") == 503, first)
        check("retries: the retry carries http.request.resend_count 1",
              second["attributes"].get("http.request.resend_count") == 1 and
              "http.request.resend_count" not in first["attributes"], second["attributes"])
        check("retries: each attempt sent its own span as traceparent",
              args.get("seen", "").split(",") == [first["span_id"], second["span_id"]],
              (args.get("seen"), first["span_id"], second["span_id"]))


def script():
    s, spans = server_span("GET /script", extra=lambda s, sp: children(sp, s))
    if not check("script: spans arrived", s):
        return
    compute = [k for k in children(spans, s) if k["name"] == "compute"]
    if not check("script: trace.span is a child of the request's span",
                 len(compute) == 1 and compute[0]["kind"] == INTERNAL, children(spans, s)):
        return
    c = compute[0]
    a = c["attributes"]
    check("script: attributes given at the start", a.get("kind") == "demo", a)
    check("script: trace.set types: int, double, bool",
          a.get("items") == 4 and a.get("ratio") == 0.25 and a.get("flag") is True, a)
    check("script: a key set twice is sent once, with the last value",
          list(a.keys()).count("items") == 1 and c["dropped_attributes_count"] == 0, a)
    ev = has_event(c, "checkpoint")
    check("script: trace.event with its attributes",
          ev and ev[0]["attributes"] == {"n": "1", "stage": "a"}, c["events"])
    kids = children(spans, c)
    check("script: Redis inside the span is its child",
          [k for k in kids if k["name"] == "GET" and k["kind"] == CLIENT], kids)
    check("script: nested spans nest", [k for k in kids if k["name"] == "inner"], kids)
    check("script: trace.set outside a span sets the request's span",
          s["attributes"].get("answer") == 42, s["attributes"])


def script_error():
    s, spans = server_span("GET /script-error", extra=lambda s, sp: children(sp, s))
    if not check("script error: spans arrived", s):
        return
    fails = [k for k in children(spans, s) if k["name"] == "fails"]
    check("script error: the span is marked with the error",
          fails and fails[0]["status"]["code"] == ERROR and
          "boom in span" in fails[0]["status"]["message"], fails)
    check("script error: the request's span is an error with status 500",
          s["status"]["code"] == ERROR and s["attributes"].get("http.response.status_code") == 500,
          s)
    ex = has_event(s, "exception")
    check("script error: the error is an exception event with message and stack trace",
          ex and "boom in span" in ex[0]["attributes"].get("exception.message", "") and
          "stack traceback" not in ex[0]["attributes"].get("exception.message", "") and
          ex[0]["attributes"].get("exception.stacktrace"), s["events"])


def caught():
    s, spans = server_span("GET /caught", extra=lambda s, sp: children(sp, s))
    if not check("caught: spans arrived", s):
        return
    k = children(spans, s)
    check("caught: the span that raised is an error", k and k[0]["status"]["code"] == ERROR, k)
    check("caught: the request's span is not (the script caught it)",
          s["status"]["code"] == 0 and not has_event(s, "exception"), s)


def fail():
    s, _ = server_span("GET /fail")
    if not check("fail: span arrived", s):
        return
    ex = has_event(s, "exception")
    check("fail: a handler error: ERROR, 500, exception event",
          s["status"]["code"] == ERROR and "kaput" in s["status"]["message"] and ex and
          s["attributes"].get("error.type") == "500", s)
    s, _ = server_span("GET /teapot")
    check("a 503 returned by the handler: ERROR without an exception",
          s and s["status"]["code"] == ERROR and not has_event(s, "exception") and
          s["attributes"].get("error.type") == "503", s)


def hooks():
    spans = wait_for(lambda sp: last(sp, "on_start") and last(sp, "every 300ms") and
                     children(sp, last(sp, "every 300ms")))
    start, job = last(spans, "on_start"), last(spans, "every 300ms")
    check("hooks: on_start is a root span",
          start and start["parent_span_id"] == "" and start["kind"] == INTERNAL and
          start["attributes"].get("mayfly.hook") == "on_start", start)
    check("hooks: its Redis call is its child",
          start and [k for k in children(spans, start) if k["name"] == "SET"])
    check("hooks: a job is a root span of its own",
          job and job["parent_span_id"] == "" and job["attributes"].get("mayfly.job") == "300ms",
          job)
    check("hooks: each tick its own trace",
          len({s["trace_id"] for s in named(spans, "every 300ms")}) ==
          len(named(spans, "every 300ms")))
    check("hooks: probes are not traced", not [s for s in spans if "/livez" in s["name"] or
                                               s["attributes"].get("url.path") == "/metrics"])
    check("hooks: nor the readiness check that runs every second for them",
          not [s for s in spans if s["name"] in ("on_ready_check", "PING")])


def get(path, traceparent=None):
    """GET on the mayfly of args['port']: the sampled flag of the response's traceparent."""
    import urllib.request
    req = urllib.request.Request("http://127.0.0.1:%s%s" % (args["port"], path))
    if traceparent:
        req.add_header("traceparent", traceparent)
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()
        tp = r.headers.get("traceparent")
    return tp[3:35], tp[53:55] == "01"


def ratio_sampled(trace_id, ratio):
    """OpenTelemetry's TraceIdRatioBased: the last 8 bytes of the id, shifted to 63 bits."""
    return (int(trace_id[16:], 16) >> 1) < int(ratio * (1 << 63))


def sampler():
    """Requests under the sampler args['sampler'] (ratio args['ratio']), with and without a
    caller's sampled or unsampled traceparent; the spans exported must be exactly those the
    sampler decides, and each response's traceparent must carry that decision."""
    import os
    kind, ratio = args["sampler"], float(args.get("ratio", "1"))
    base = kind.replace("parentbased_", "")
    parent_based = kind.startswith("parentbased_")

    def decide(trace_id, parent):
        if parent is not None and parent_based:
            return parent
        return {"always_on": True, "always_off": False}.get(base) if base != "traceidratio" \
            else ratio_sampled(trace_id, ratio)

    cases = []
    for i in range(int(args.get("n", "200"))):
        parent = (None, True, False)[i % 3]
        tp = None
        if parent is not None:
            tp = "00-%s-%s-%s" % (os.urandom(16).hex(), os.urandom(8).hex(), "01" if parent else "00")
        trace_id, flagged = get("/hello", tp)
        cases.append((trace_id, parent, flagged, decide(trace_id, parent)))
    want = {t for t, _, _, d in cases if d}
    check("%s: each response's traceparent carries the decision" % kind,
          all(f == d for _, _, f, d in cases),
          [(t, p, f, d) for t, p, f, d in cases if f != d][:5])
    spans = wait_for(lambda sp: want <= {s["trace_id"] for s in named(sp, "GET /hello")},
                     timeout=10 if want else 0)
    time.sleep(1.0)  # stragglers that must not come
    got = {s["trace_id"] for s in named(load(), "GET /hello")} & {t for t, _, _, _ in cases}
    check("%s: exactly the sampled requests are exported (%d of %d)" % (kind, len(want),
                                                                      len(cases)),
          got == want, ("missing", list(want - got)[:3], "extra", list(got - want)[:3]))
    if base == "traceidratio" and not parent_based:
        check("%s: about the ratio of traces sampled" % kind,
              0.3 * len(cases) < len(want) < 0.7 * len(cases), len(want))


def count():
    """Prints the number of spans named args['name'] received so far."""
    print(len(named(load(), args["name"])))


def ids():
    """Prints the span ids of every span, one per line (the duplicate check)."""
    for s in load():
        print(s["span_id"])


scenarios = {f.__name__: f for f in (hello, resource, redis, redis_error, call, retries, script,
                                     script_error, caught, fail, hooks, sampler, count, ids)}
scenarios[scenario]()
