# OpenTelemetry tracing end to end: two mayfly processes (a caller and a callee) and a real
# redis-server export to a collector run here (fixtures/otlp/otlp_receiver.py, which decodes
# with protoc's classes of the OTLP schema); tracing_check.py reads the spans back. The trace of
# a caller continued, span kinds and attributes, parents across Redis and an outbound call into
# the callee, scripts' spans, errors, hooks, each sampler, the resource, both encodings, the
# flush on SIGTERM, and a collector that refuses, is down or is slow.
source "$(dirname "$0")/lib.sh"

FIX="$TESTS_DIR/fixtures/tracing"
redis_start || exit 1
upstream_start up || exit 1

# receiver_start NAME: a collector on a free port writing its spans to $WORK/NAME.spans; sets
# RECV (its base URL) and SPANS.
receiver_start() {
  SPANS="$WORK/$1.spans"
  python3 "$TESTS_DIR/fixtures/otlp/otlp_receiver.py" "$SPANS" "$WORK/$1.port" 2>"$WORK/$1.log" &
  UP_PIDS+=($!)
  for _ in $(seq 1 200); do
    [ -s "$WORK/$1.port" ] && { RECV="http://127.0.0.1:$(cat "$WORK/$1.port")"; return 0; }
    sleep 0.05
  done
  echo "receiver $1 did not start"; cat "$WORK/$1.log"; return 1
}
control() { curl -s --max-time 5 -X POST -d "$1" "$RECV/control" >/dev/null; }
checks() { python3 "$TESTS_DIR/tracing_check.py" "$SPANS" "$@" >"$WORK/checks" 2>&1; checks_report "$WORK/checks"; }
quiet_get() { curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 "$@"; }
spans_named() { python3 "$TESTS_DIR/tracing_check.py" "$SPANS" count name="$1"; }
# wait_spans NAME AT-LEAST: waits up to 10 s for that many spans named NAME; sets N to the count.
wait_spans() {
  for _ in $(seq 1 100); do
    N=$(spans_named "$1")
    [ "$N" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}

receiver_start main || exit 1
BASE=(MAYFLY_WORKERS=2 MAYFLY_REDIS_URL="redis://127.0.0.1:$RPORT" MAYFLY_TRACE_RESPONSE=1
      MAYFLY_CFG_UP="http://127.0.0.1:$up_PORT" OTEL_BSP_SCHEDULE_DELAY=100)

# ---- the callee: a second process, as a service behind the caller ----
CALLEE_LOG="$WORK/callee.log"
env MAYFLY_LISTEN=127.0.0.1:0 MAYFLY_SCRIPTS="$FIX" MAYFLY_DRAIN_DELAY=0 "${BASE[@]}" \
  OTEL_EXPORTER_OTLP_ENDPOINT="$RECV" OTEL_SERVICE_NAME=callee "$MAYFLY_BIN" serve \
  >"$CALLEE_LOG" 2>&1 &
CALLEE_PID=$!
UP_PIDS+=($CALLEE_PID)
for _ in $(seq 1 200); do
  CALLEE_PORT=$(grep -o '"msg":"listening".*"port":[0-9]*,' "$CALLEE_LOG" | grep -o '"port":[0-9]*' | cut -d: -f2)
  [ -n "$CALLEE_PORT" ] && break
  sleep 0.05
done
[ -n "$CALLEE_PORT" ] || { echo "the callee did not start"; cat "$CALLEE_LOG"; exit 1; }

# ---- the caller: protobuf, gzip, headers, resource ----
mf_start "$FIX" "${BASE[@]}" MAYFLY_CFG_CALLEE="http://127.0.0.1:$CALLEE_PORT" \
  OTEL_EXPORTER_OTLP_ENDPOINT="$RECV/" OTEL_SERVICE_NAME=caller \
  OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test,team=a%20b" \
  OTEL_EXPORTER_OTLP_HEADERS="x-api-key=k%201, x-tenant=t1" OTEL_EXPORTER_OTLP_COMPRESSION=gzip \
  POD_NAME=caller-0 POD_NAMESPACE=shop NODE_NAME=node-7 || exit 1
check "the start-up log names the exporter" log_has '"tracing: spans go to '

TRACE=4bf92f3577b34da6a3ce929d0e0e4736
PARENT=00f067aa0ba902b7
expect "hello with a caller's traceparent" GET /hello 200 hello -- \
  -H "traceparent: 00-$TRACE-$PARENT-01" -A tracing-test/1.0
tp=$(header_of traceparent)
check "the response's traceparent: the caller's trace, sampled" \
  grep -qE "^00-$TRACE-[0-9a-f]{16}-01$" <<<"$tp"
checks hello trace=$TRACE parent=$PARENT span="${tp:36:16}" port="$MF_PORT"
checks resource encoding=protobuf gzip=1 trace=$TRACE

expect "redis" GET /redis 200
checks redis
expect "a Redis error reply" GET /redis-error 200 '"ok":false'
checks redis_error
expect "an outbound call into the callee" GET /call 200 inner
checks call callee_port="$CALLEE_PORT"
expect "a retried outbound call" GET /retry 200 "ok after 1"
checks retries seen="$(curl -s "http://127.0.0.1:$up_PORT/parents?key=tr")"
expect "script spans" GET /script 200 '"v":42'
checks script
expect "an error inside a script span" GET /script-error 500 '"request_id"'
checks script_error
expect "an error caught around a span" GET /caught 200 '"code":7'
checks caught
expect "misuse raises; span returns all its values" GET /misuse 200 '"refused":9'
values_ok() { grep -q '"a":1[,}]' <<<"$BODY" && grep -q '"b":true' <<<"$BODY" && grep -q '"c":"three"' <<<"$BODY"; }
check "span returns all its values" values_ok
expect "a handler error" GET /fail 500
expect "a 503 the handler returns" GET /teapot 503
checks fail
http GET /livez
http GET /metrics
checks hooks

# ---- the exporter's own metrics, and no span twice ----
check "mayfly_otlp_spans_total{result=\"exported\"} counts the spans" \
  [ "$(metric 'mayfly_otlp_spans_total{result="exported"}')" -gt 10 ]
dups=$(python3 "$TESTS_DIR/tracing_check.py" "$SPANS" ids | sort | uniq -d | wc -l)
check "no span was sent twice" [ "$dups" -eq 0 ]

# ---- a collector that answers 503, then recovers: retried, each span once ----
control '{"status": 503, "count": 2}'
before=$(spans_named "GET /hello")
for i in $(seq 1 10); do quiet_get "$(url /hello)" >/dev/null; done
wait_spans "GET /hello" $((before + 10))
check "after two 503s, every span arrives ($((N - before)) of 10)" [ "$((N - before))" -eq 10 ]
check "the retries are counted" [ "$(metric 'mayfly_otlp_exports_total{result="retried"}')" -ge 1 ]
dups=$(python3 "$TESTS_DIR/tracing_check.py" "$SPANS" ids | sort | uniq -d | wc -l)
check "a retried batch is not sent twice" [ "$dups" -eq 0 ]
mf_stop
check "the caller exits 0" [ "$MF_EXIT" = 0 ]

# ---- each sampler ----
for sampler in always_on always_off traceidratio:0.5 parentbased_always_on \
               parentbased_always_off parentbased_traceidratio:0.5; do
  name=${sampler%%:*}
  ratio=${sampler#*:}; [ "$ratio" = "$sampler" ] && ratio=1
  mf_start "$FIX" "${BASE[@]}" OTEL_EXPORTER_OTLP_ENDPOINT="$RECV" OTEL_TRACES_SAMPLER="$name" \
    OTEL_TRACES_SAMPLER_ARG="$ratio" || exit 1
  checks sampler sampler="$name" ratio="$ratio" port="$MF_PORT" n=150
  mf_stop
done

# ---- http/json, without compression (the default), to a signal-specific endpoint ----
receiver_start json || exit 1
mf_start "$FIX" "${BASE[@]}" OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:1" \
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="$RECV/v1/traces" OTEL_EXPORTER_OTLP_PROTOCOL=http/json \
  OTEL_SERVICE_NAME=caller \
  OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test,team=a%20b" \
  OTEL_EXPORTER_OTLP_HEADERS="x-api-key=k%201,x-tenant=t1" \
  POD_NAME=caller-0 POD_NAMESPACE=shop NODE_NAME=node-7 || exit 1
expect "json: hello" GET /hello 200 hello -- -H "traceparent: 00-$TRACE-$PARENT-01" \
  -A tracing-test/1.0
tp=$(header_of traceparent)
checks hello trace=$TRACE parent=$PARENT span="${tp:36:16}" port="$MF_PORT"
checks resource encoding=json gzip=0 trace=$TRACE
expect "json: script spans" GET /script 200
checks script
mf_stop

# ---- the flush on SIGTERM: what is queued is sent before the exit ----
receiver_start flush || exit 1
mf_start "$FIX" "${BASE[@]}" OTEL_EXPORTER_OTLP_ENDPOINT="$RECV" OTEL_BSP_SCHEDULE_DELAY=60000 \
  MAYFLY_SHUTDOWN_TIMEOUT=5s || exit 1
for i in $(seq 1 25); do quiet_get "$(url /hello)" >/dev/null; done
sleep 0.3
check "nothing sent before the batch is due" \
  [ "$(spans_named "GET /hello")" -eq 0 ]
mf_stop
check "SIGTERM: exit 0" [ "$MF_EXIT" = 0 ]
check "SIGTERM: the 25 queued spans were sent before the exit" \
  [ "$(spans_named "GET /hello")" -eq 25 ]

# ---- a collector that is down: requests unaffected, drops counted, a prompt exit ----
mf_start "$FIX" "${BASE[@]}" OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$(free_port)" \
  OTEL_BSP_MAX_QUEUE_SIZE=64 OTEL_BSP_MAX_EXPORT_BATCH_SIZE=16 OTEL_EXPORTER_OTLP_TIMEOUT=300 \
  OTEL_BSP_EXPORT_TIMEOUT=1000 MAYFLY_SHUTDOWN_TIMEOUT=3s || exit 1
codes=$(for i in $(seq 1 300); do quiet_get "$(url /hello)"; done | sort | uniq -c | tr -s ' ')
check "collector down: 300 requests, all 200 ($codes)" [ "$codes" = " 300 200" ]
dropped=$(( $(metric 'mayfly_otlp_spans_total{result="queue_full"}') +
            $(metric 'mayfly_otlp_spans_total{result="failed"}') ))
check "collector down: the spans lost are counted ($dropped)" [ "$dropped" -gt 0 ]
check "collector down: nothing counted as exported" \
  [ "$(metric 'mayfly_otlp_spans_total{result="exported"}')" = 0 ]
t0=$(date +%s%N)
mf_stop
t1=$(date +%s%N)
check "collector down: exit 0 within the shutdown timeout ($(( (t1 - t0) / 1000000 )) ms)" \
  [ "$MF_EXIT" = 0 ] && [ $(( (t1 - t0) / 1000000 )) -lt 6000 ]

# ---- a slow collector: the exporter times out, requests go on, then it recovers ----
receiver_start slow || exit 1
mf_start "$FIX" "${BASE[@]}" OTEL_EXPORTER_OTLP_ENDPOINT="$RECV" OTEL_EXPORTER_OTLP_TIMEOUT=200 \
  OTEL_BSP_EXPORT_TIMEOUT=500 || exit 1
control '{"delay": 2}'
codes=$(for i in $(seq 1 100); do quiet_get "$(url /hello)"; done | sort | uniq -c | tr -s ' ')
check "slow collector: 100 requests, all 200 ($codes)" [ "$codes" = " 100 200" ]
for _ in $(seq 1 50); do
  [ "$(metric 'mayfly_otlp_spans_total{result="failed"}')" -gt 0 ] && break
  sleep 0.1
done
check "slow collector: batches past the timeout are dropped and counted" \
  [ "$(metric 'mayfly_otlp_spans_total{result="failed"}')" -gt 0 ]
control '{}'
sleep 1 # the exports under way end
before=$(spans_named "GET /hello")
for i in $(seq 1 5); do quiet_get "$(url /hello)" >/dev/null; done
check "slow collector: once it is quick again, spans arrive" wait_spans "GET /hello" $((before + 5))
mf_stop

# ---- settings mayfly refuses, and tracing off ----
for bad in OTEL_EXPORTER_OTLP_PROTOCOL=grpc OTEL_TRACES_SAMPLER=sometimes \
           OTEL_TRACES_SAMPLER_ARG=1.5 OTEL_BSP_MAX_QUEUE_SIZE=-1; do
  out=$(env MAYFLY_LISTEN=127.0.0.1:0 MAYFLY_SCRIPTS="$FIX" OTEL_TRACES_SAMPLER=traceidratio \
          OTEL_EXPORTER_OTLP_ENDPOINT="$RECV" "$bad" timeout 10 "$MAYFLY_BIN" serve 2>&1)
  rc=$?
  check "refused at start: $bad (exit $rc)" \
    bash -c '[ "$1" = 2 ] && grep -q "${2%%=*}" <<<"$3"' _ "$rc" "$bad" "$out"
done
mf_start "$FIX" "${BASE[@]}" || exit 1
expect "tracing off: mayfly.trace.span runs its function" GET /script 200 '"v":42'
expect "tracing off: errors still propagate" GET /script-error 500
expect "tracing off: an error caught around a span" GET /caught 200 '"code":7'
expect "tracing off: misuse raises all the same" GET /misuse 200 '"refused":9'
check "tracing off: span returns all its values" values_ok
http GET /metrics
check "tracing off: no exporter metrics" bash -c '! grep -q mayfly_otlp_ <<<"$1"' _ "$BODY"
mf_stop

mf_finish
