#!/usr/bin/env bash
# tests/bench/observe_instructions.sh — what observing a request costs, in instructions: the
# hello route served by one worker under callgrind, with the access log and metrics on
# (observed) and both off (unobserved), instructions per request of each and the difference.
# Instruction counts repeat to a few in 40,000 from run to run, where requests/s on a shared
# machine vary by tens of percent (tests/bench/observe.sh): use this one to compare changes of
# the request path, that one for what they are worth in time. Counts leave out the kernel
# (system calls) and the machine's speed; the server thread's own work only. A report, never a
# pass/fail test.
#
#   bash tests/bench/observe_instructions.sh [REQUESTS]     (default 3000; MAYFLY_BIN to pick)
#
# Each mode: start mayfly under valgrind --tool=callgrind, 2000 requests to warm it up, counters
# zeroed, REQUESTS keep-alive requests one after another from one client, counters dumped.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${MAYFLY_BUILD_DIR:-$ROOT/build}
N=${1:-3000}
source "$ROOT/tests/bench/lib.sh"
instructions_setup observe_instructions.sh

# per_request on|off: instructions per request with the access log and metrics on or off.
per_request() {
  local port
  port=$(free_port)
  MAYFLY_LISTEN=127.0.0.1:$port MAYFLY_WORKERS=1 MAYFLY_ACCESS_LOG=$1 MAYFLY_METRICS=$1 \
    MAYFLY_DRAIN_DELAY=0 MAYFLY_SCRIPTS=$ROOT/scripts \
    callgrind_requests "$TMP/callgrind.$1" "$port" /hello "$N" "$MAYFLY_BIN" serve
  # Every thread's instructions over the N requests.
  callgrind_per_request "$TMP/callgrind.$1" "$N"
}

on=$(per_request on)
off=$(per_request off)
echo "instructions per GET /hello, one worker, $N requests (callgrind):"
echo "  access log + metrics on   $on"
echo "  both off                  $off"
awk -v on="$on" -v off="$off" 'BEGIN { printf "  observing costs           %d (%.1f%%)\n", on - off, 100 * (on - off) / off }'
