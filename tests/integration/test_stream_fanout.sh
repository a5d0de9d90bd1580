#!/usr/bin/env bash
# Redis pub/sub fanned out to Server-Sent Events: two mayfly processes on one Redis, 80 SSE
# clients spread over both (fanout.py, a strict SSE parser); one PUBLISH reaches all of them
# within a second, with one subscriber connection per worker whatever the number of streams; a
# Redis restart under the subscribed streams (they resubscribe by themselves and get the next
# message); the drain sends each stream its last event and exits 0; 1,000 streams whose clients
# vanish (reset) free their descriptors, their streams and their subscriptions.
. "$(dirname "$0")/lib.sh"

SCRIPTS="$TESTS_DIR/fixtures/streams"
A_PID= B_PID=
stop_all() {
  local p
  for p in $A_PID $B_PID; do kill -KILL "$p" 2>/dev/null; done
  MF_PID=
  cleanup
}
trap stop_all EXIT
ulimit -n 8192 2>/dev/null

redis_start || exit 1
SETTINGS=(MAYFLY_WORKERS=1 MAYFLY_REDIS_URL="redis://127.0.0.1:$RPORT" MAYFLY_REDIS_TIMEOUT=2s
  MAYFLY_MAX_CONNECTIONS_PER_IP=4000 MAYFLY_LOG_LEVEL=info)
mf_start "$SCRIPTS" "${SETTINGS[@]}" || exit 1
A_PID=$MF_PID A_PORT=$MF_PORT A_LOG=$MF_LOG
mf_start "$SCRIPTS" "${SETTINGS[@]}" || exit 1
B_PID=$MF_PID B_PORT=$MF_PORT

numsub() { redis-cli -p "$RPORT" pubsub numsub "$1" 2>/dev/null | tail -1; }
# until_true SECONDS COMMAND...: polls every 50 ms.
until_true() {
  local n=$(($1 * 20)); shift
  for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.05; done
  return 1
}
numsub_is() { [ "$(numsub "$1")" = "$2" ]; }
# received MESSAGE: how many clients got it as a news event.
received() { python3 - "$F/events.jsonl" "$1" <<'PY'
import json, sys
got = {json.loads(l)["client"] for l in open(sys.argv[1])
       if json.loads(l).get("event") == "news" and json.loads(l).get("data") == sys.argv[2]}
print(len(got))
PY
}
received_by() { [ "$(received "$1")" = "$2" ]; }
# latency MESSAGE: seconds from the PUBLISH to the last client's arrival.
latency() { python3 - "$F" "$1" <<'PY'
import json, sys, os
f = sys.argv[1]
at = max(json.loads(l)["at"] for l in open(os.path.join(f, "published")) if json.loads(l)["message"] == sys.argv[2])
last = max(json.loads(l)["at"] for l in open(os.path.join(f, "events.jsonl"))
           if json.loads(l).get("data") == sys.argv[2])
print(f"{last - at:.3f}")
PY
}

# mayfly.subscribe returns once Redis confirmed the subscription, the worker's first (its
# subscriber connection opened for it) and later ones alike.
got=
for n in $(seq 1 20); do
  got+=$(curl -s --max-time 5 "http://127.0.0.1:$A_PORT/self_publish?n=$n")
done
check "a PUBLISH right after mayfly.subscribe returns reaches the subscription (20 of 20)" \
  [ "$got" = "$(printf 'mine%.0s' $(seq 1 20))" ]

F="$WORK/fanout"
mkdir -p "$F"
python3 "$TESTS_DIR/fanout.py" listen 80 "$A_PORT,$B_PORT" "$F" >"$WORK/fanout.out" 2>&1 &
listener=$!
check "80 SSE clients over two processes are subscribed" until_true 10 test -s "$F/ready"
check "one subscriber connection per worker: PUBSUB NUMSUB news is 2 for 80 streams" \
  until_true 5 numsub_is news 2

python3 "$TESTS_DIR/fanout.py" publish "$RPORT" news "hello everyone" "$F"
check "one PUBLISH reaches all 80 clients" until_true 5 received_by "hello everyone" 80
took=$(latency "hello everyone")
check "the last of the 80 has it within a second of the PUBLISH (${took} s)" \
  awk -v t="$took" 'BEGIN { exit !(t < 1.0) }'
python3 "$TESTS_DIR/fanout.py" publish "$RPORT" news $'two\nlines' "$F"
check "a message of two lines arrives whole, as one event's data" \
  until_true 5 received_by $'two\nlines' 80

# ---- Redis restarts under the subscribed streams ----
kill -KILL "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null
sleep 0.5
redis_start || exit 1
check "after a Redis restart both workers resubscribe by themselves" until_true 15 numsub_is news 2
python3 "$TESTS_DIR/fanout.py" publish "$RPORT" news "after the restart" "$F"
check "the next PUBLISH reaches all 80 streams, none of which ended" \
  until_true 5 received_by "after the restart" 80
check "no client was cut by the outage" [ "$(grep -c '"closed"\|"end"' "$F/events.jsonl")" = 0 ]

# ---- the drain of one process ----
kill -TERM "$A_PID"
wait "$A_PID"; a_exit=$?
A_PID=
check "the drain with 40 subscribed streams exits 0" [ "$a_exit" = 0 ]
check "its 40 streams got their last event and ended cleanly" until_true 5 \
  bash -c "[ \$(grep -c '\"bye\"' '$F/events.jsonl') = 40 ] && [ \$(grep -c '\"end\": true' '$F/events.jsonl') = 40 ]"
check "the other process's subscriber is still there" numsub_is news 1
touch "$F/stop"
wait "$listener"
check "the SSE clients saw strict framing throughout" [ ! -s "$WORK/fanout.out" ]

# ---- 1,000 subscribed streams whose clients vanish ----
MF_PORT=$B_PORT MF_PID=$B_PID
check "the other process's streams ended with their clients" until_true 5 bash -c \
  "[ \"\$(curl -s $(url /metrics) | awk '\$1 == \"mayfly_streams_open\" { print \$2 }')\" = 0 ]"
base_fds=$(ls "/proc/$B_PID/fd" | wc -l)
python3 "$TESTS_DIR/streams.py" "$B_PORT" vanish 1000 /news >"$WORK/vanish.out" 2>&1
check "1000 subscribed streams opened and their clients vanished" grep -q "^ok - 1000" "$WORK/vanish.out"
check "... every stream ended" until_true 10 bash -c \
  "[ \"\$(curl -s $(url /metrics) | awk '\$1 == \"mayfly_streams_open\" { print \$2 }')\" = 0 ]"
check "... every subscription released (mayfly_redis_subscriptions 0)" \
  [ "$(metric mayfly_redis_subscriptions)" = 0 ]
check "... the worker's subscriber left the channel" until_true 5 numsub_is news 0
now_fds=$(ls "/proc/$B_PID/fd" | wc -l)
check "... descriptors back to where they were ($base_fds, now $now_fds)" [ "$now_fds" -le $((base_fds + 4)) ]
MF_PID=$B_PID
B_PID=
mf_stop
check "clean exit" [ "$MF_EXIT" = 0 ]
mf_finish
