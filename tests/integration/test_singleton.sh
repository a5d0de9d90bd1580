#!/usr/bin/env bash
# Singleton periodic jobs: two processes on one Redis, the job runs on exactly one of them; kill
# that one and the other takes over within the lease time. A job not marked singleton runs on
# both.
. "$(dirname "$0")/lib.sh"

redis_start || exit 1
F="$TESTS_DIR/fixtures/singleton"
R="redis://127.0.0.1:$RPORT/0"
mf_start "$F" MAYFLY_REDIS_URL="$R" POD_NAME=alpha || exit 1
A_PID=$MF_PID; A_LOG=$MF_LOG
mf_start "$F" MAYFLY_REDIS_URL="$R" POD_NAME=beta || exit 1
B_PID=$MF_PID
sleep 2
runs() { redis-cli -p "$RPORT" lrange runs 0 -1 | sort | uniq -c; }
holders=$(redis-cli -p "$RPORT" lrange runs 0 -1 | sort -u)
echo "    runs by: $(runs | tr '\n' ' ')"
check "singleton job ran" [ -n "$holders" ]
check "singleton job ran on exactly one process" [ "$(wc -l <<<"$holders")" = 1 ]
check "a plain job runs on both" bash -c '[ "$(redis-cli -p "$1" get everywhere:alpha)" -gt 0 ] && [ "$(redis-cli -p "$1" get everywhere:beta)" -gt 0 ]' _ "$RPORT"

# Kill the holder without a drain: its lease lapses, the other takes over.
if [ "$holders" = alpha ]; then kill -KILL "$A_PID"; survivor=beta; MF_PID=$B_PID
else kill -KILL "$B_PID"; survivor=alpha; MF_PID=$A_PID; MF_LOG=$A_LOG; fi
redis-cli -p "$RPORT" del runs >/dev/null
sleep 3
echo "    after the kill, runs by: $(runs | tr '\n' ' ')"
check "the survivor took the job over" bash -c '[ "$(redis-cli -p "$1" lrange runs 0 -1 | sort -u)" = "$2" ]' _ "$RPORT" "$survivor"
mf_stop
check "survivor exits 0" [ "$MF_EXIT" = 0 ]
kill -KILL "$A_PID" "$B_PID" 2>/dev/null
mf_finish
