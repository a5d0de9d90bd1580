#!/usr/bin/env bash
# examples/singleton-job: two mayfly processes on one Redis, each with the job
# `every = { ["2s"] = { run = fn, singleton = true } }`. The runs recorded in Redis must come
# from one process at a time; killing that one (SIGKILL: no drain, no lease released) must let
# the other take over, and from then on only the survivor runs it.
. "$(dirname "$0")/lib.sh"

EX="$MAYFLY_SOURCE_DIR/examples"
redis_start || exit 1
RURL="redis://127.0.0.1:$RPORT/0"

start_replica() { # NAME: sets RPID
  env MAYFLY_LISTEN=127.0.0.1:0 MAYFLY_SCRIPTS="$EX/singleton-job/scripts" MAYFLY_DRAIN_DELAY=0 \
    MAYFLY_REDIS_URL="$RURL" POD_NAME="$1" MAYFLY_ACCESS_LOG=off \
    "$MAYFLY_BIN" serve >"$WORK/$1.log" 2>&1 &
  RPID=$!
}
runs_by() { redis-cli -p "$RPORT" lrange job:runs 0 -1 | awk '{print $1}'; }
# wait_runs N: until job:runs holds at least N entries (or 60 s).
wait_runs() {
  for _ in $(seq 1 600); do [ "$(redis-cli -p "$RPORT" llen job:runs)" -ge "$1" ] && return 0; sleep 0.1; done
  return 1
}
start_replica one; PA=$RPID
start_replica two; PB=$RPID
trap 'kill -KILL $PA $PB 2>/dev/null; cleanup' EXIT
check "singleton: the job runs" wait_runs 4
check "singleton: both processes are up and ready" \
  bash -c 'kill -0 "$1" && kill -0 "$2" && grep -q "\"msg\":\"ready\"" "$3" && grep -q "\"msg\":\"ready\"" "$4"' \
  _ "$PA" "$PB" "$WORK/one.log" "$WORK/two.log"
runners=$(runs_by | sort -u)
check "singleton: every run while both live comes from one process" [ "$(wc -l <<<"$runners")" = 1 ]
holder=$(runs_by | tail -1)
if [ "$holder" = one ]; then victim=$PA other=two survivor=$PB; else victim=$PB other=one survivor=$PA; fi
kill -KILL "$victim"; wait "$victim" 2>/dev/null
n=$(redis-cli -p "$RPORT" llen job:runs)
took_over() {
  for _ in $(seq 1 600); do runs_by | tail -n +"$((n + 1))" | grep -qx "$other" && return 0; sleep 0.1; done
  return 1
}
check "singleton: after the runner is killed, the other takes over" took_over
n2=$(redis-cli -p "$RPORT" llen job:runs)
wait_runs $((n2 + 2))
check "singleton: then only the survivor runs it" \
  bash -c '[ -z "$(tail -n +"$1" <<<"$2" | grep -vx "$3")" ]' _ "$((n + 1))" "$(runs_by)" "$other"
kill -TERM "$survivor"; wait "$survivor"
check "singleton: the survivor drains to exit 0" [ $? = 0 ]
mf_finish
