#!/usr/bin/env bash
# Streamed responses and Server-Sent Events against the real binary, read over raw sockets by a
# strict client (streams.py, fixtures/stream_client.py): chunks as written, SSE framing, errors
# after the head, the request timeout per stretch of CPU, a stalled client's bounded memory,
# clients that vanish by the thousand (their descriptors, memory and runs all freed), a stream
# that ignores every cue to end, /livez past the stuck timeout while streams wait, and the ends
# a stream is given: MAYFLY_STREAM_TIMEOUT, a new version, the drain.
. "$(dirname "$0")/lib.sh"

SCRIPTS="$TESTS_DIR/fixtures/streams"
mkdir -p "$WORK/config"
echo 1 >"$WORK/config/version"

# streams CASE [ARGS...]: runs a case of streams.py, its verdicts counted here. streams_start
# runs one in the background (STREAMS_PID), streams_collect CASE waits for it and counts.
streams() {
  STREAM_MARK="$WORK/mark" python3 "$TESTS_DIR/streams.py" "$MF_PORT" "$@" >"$WORK/streams.$1.out" 2>&1
  streams_count "$1"
}
streams_start() {
  rm -f "$WORK/mark" "$WORK/mark.read"
  STREAM_MARK="$WORK/mark" python3 "$TESTS_DIR/streams.py" "$MF_PORT" "$@" >"$WORK/streams.$1.out" 2>&1 &
  STREAMS_PID=$!
}
streams_collect() { wait "$STREAMS_PID"; streams_count "$1"; }
streams_count() {
  local out="$WORK/streams.$1.out" line
  while IFS= read -r line; do
    case $line in
      "ok - "*) pass "${line#ok - }" ;;
      "not ok - "*) fail "${line#not ok - }" ;;
      "    "*) echo "$line" ;;
    esac
  done <"$out"
  grep -q "passed, .* failed" "$out" || fail "streams.py $1 ran to its end" "$(tail -3 "$out")"
}

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$MF_PID/status"; }
fds() { ls "/proc/$MF_PID/fd" | wc -l; }

# wait_metric NAME VALUE [SECONDS]: until /metrics shows it.
wait_metric() {
  local i
  for i in $(seq 1 $((${3:-5} * 10))); do
    [ "$(metric "$1")" = "$2" ] && return 0
    sleep 0.1
  done
  return 1
}

# wait_mark: the driver's marker file appears (its streams are open).
wait_mark() {
  local i
  for i in $(seq 1 200); do [ -s "$WORK/mark" ] && return 0; sleep 0.05; done
  return 1
}

mf_start "$SCRIPTS" MAYFLY_WORKERS=2 MAYFLY_CONFIG="$WORK/config" MAYFLY_REQUEST_TIMEOUT=1s \
  MAYFLY_STUCK_TIMEOUT=2s MAYFLY_MAX_CONNECTIONS_PER_IP=2000 MAYFLY_LOG_LEVEL=info || exit 1

streams basics
streams sse
streams middleware
streams errors
check "an error after the head is logged with the request id, while streaming" \
  log_has '"msg":"handler error".*"while":"streaming".*broke mid-stream'
check "the spinning stream's cut is logged as a timeout" log_has '"msg":"request timed out".*"GET /spin"'

# ---- waits are not work: /livez past the stuck timeout ----
sleepers=()
for _ in $(seq 1 20); do
  curl -s -N --max-time 8 "$(url /sleepy?s=4)" -o /dev/null &
  sleepers+=($!)
done
sleep 3
http GET /livez
check "/livez is 200 while 20 streams have waited past MAYFLY_STUCK_TIMEOUT" [ "$STATUS" = 200 ]
check "the streams are counted open" [ "$(metric mayfly_streams_open)" -ge 20 ]
wait "${sleepers[@]}"
check "every stream ended: none counted open" wait_metric mayfly_streams_open 0
check "a stream's access line is written when it ends, with its whole duration (4 s and more)" \
  log_has '"path":"/sleepy".*"status":200,"duration_ms":[4-9][0-9][0-9][0-9]\.'


# ---- clients that vanish ----
base_fds=$(fds)
base_rss=$(rss_kb)
streams vanish 1000 "/feed?ms=200"
check "1000 vanished clients: no stream left open" wait_metric mayfly_streams_open 0 10
sleep 0.5
now_fds=$(fds)
check "1000 vanished clients: descriptors back to where they were ($base_fds, now $now_fds)" \
  [ "$now_fds" -le $((base_fds + 4)) ]
now_rss=$(rss_kb)
# Under the sanitizer build RSS says little (ASan keeps freed memory in quarantine): there its
# leak check at exit is what tells.
if ! ldd "$MAYFLY_BIN" | grep -q libasan; then
  check "1000 vanished clients: memory back near where it was (${base_rss} KiB, now ${now_rss} KiB)" \
    [ "$now_rss" -le $((base_rss + 16384)) ]
fi
check "the requests of vanished clients are logged as they end" log_has '"path":"/feed".*"status":200'

# ---- a stream that ignores every cue to end ----
curl -s -N --max-time 0.5 "$(url /stubborn)" -o /dev/null
check "a stream ignoring its client's leaving ends at its next wait but one" \
  wait_metric mayfly_streams_open 0 3
t0=$(cpu_ticks "$MF_PID"); sleep 1; t1=$(cpu_ticks "$MF_PID")
check "nothing spins after it (CPU ticks in 1 s idle: $((t1 - t0)))" [ $((t1 - t0)) -le 20 ]

# ---- a stalled client ----
streams_start slow_client 64
wait_mark
stalled_rss=$(rss_kb)
check "a stalled client of a 64 MiB stream holds little memory (${stalled_rss} KiB, was ${now_rss} KiB)" \
  [ "$stalled_rss" -le $((now_rss + 8192)) ]
touch "$WORK/mark.read"
streams_collect slow_client
check "mayfly_stream_bytes_total counts the 64 MiB sent ($(metric mayfly_stream_bytes_total))" \
  awk -v b="$(metric mayfly_stream_bytes_total)" 'BEGIN { exit !(b >= 67108864) }'

# The same with a heartbeat falling due while the client lags: it waits for an idle stream, and
# the worker idles meanwhile.
streams_start slow_client 8 "&hb=0.05"
wait_mark
t0=$(cpu_ticks "$MF_PID"); sleep 1; t1=$(cpu_ticks "$MF_PID")
check "a heartbeat due while the client lags costs nothing (CPU ticks in 1 s: $((t1 - t0)))" \
  [ $((t1 - t0)) -le 20 ]
http GET /livez
check "... and the worker serves meanwhile" [ "$STATUS" = 200 ]
touch "$WORK/mark.read"
streams_collect slow_client

# ---- a new version ends the streams of the old one ----
streams_start hold 5 "/feed?ms=100" "bye:version 1"
wait_mark
echo 2 >"$WORK/config/version"
streams_collect hold
expect "the new version serves once the old one's streams ended" GET /plain 200 "plain 2"

# ---- the drain ----
streams_start hold 10 "/feed?ms=100" "bye:version 2"
wait_mark
mf_stop
streams_collect hold
check "the drain with 10 open streams exits 0" [ "$MF_EXIT" = 0 ]

# ---- MAYFLY_STREAM_TIMEOUT ----
mf_start "$SCRIPTS" MAYFLY_WORKERS=1 MAYFLY_CONFIG="$WORK/config" MAYFLY_STREAM_TIMEOUT=1s || exit 1
rm -f "$WORK/mark"
start=$(date +%s%N)
streams hold 3 "/feed?ms=100" "bye:version 2"
took=$(( ($(date +%s%N) - start) / 1000000 ))
check "streams end at MAYFLY_STREAM_TIMEOUT (1 s; took ${took} ms)" [ "$took" -ge 900 -a "$took" -le 4000 ]
mf_stop
check "clean exit" [ "$MF_EXIT" = 0 ]

# ---- a stream whose client left still reads its own request ----
upstream_start up || exit 1
mf_start "$SCRIPTS" MAYFLY_WORKERS=1 MAYFLY_CONFIG="$WORK/config" \
  MAYFLY_CFG_UP="http://127.0.0.1:$up_PORT" || exit 1
timeout 0.3 curl -s -N -H "X-Request-Id: owner-rid" -A owner-agent "$(url '/orphan?who=owner')" \
  -o /dev/null
for i in $(seq 1 30); do
  curl -s -H "X-Request-Id: other-$i" -A other-agent "$(url "/who?who=other-$i")" -o /dev/null
done
check "after its client left, the run reads its own query and id" \
  log_has '"msg":"orphan read".*"request_id":"owner-rid".*"who":"owner"'
check "the connection's fields read as absent, never another request's" \
  bash -c '! grep "orphan read" "$1" | grep -q other' _ "$MF_LOG"
mf_stop
check "the drain waits for the orphaned run; clean exit" [ "$MF_EXIT" = 0 ]
mf_finish
