#!/usr/bin/env bash
# The drain: a connection the kernel accepted before the listener closed is answered, never
# reset. First connections opened before SIGTERM whose requests come after it; then rounds of
# clients opening a new connection for every request while the server is told to stop, with CPU
# hogs keeping the machine busy so that handshakes, the accept queue and the close interleave.
# Only connects after the close may be refused.
. "$(dirname "$0")/lib.sh"

ROUNDS=${DRAIN_ROUNDS:-12}
HOGS=()
stop_hogs() { for p in "${HOGS[@]}"; do kill "$p" 2>/dev/null; done; HOGS=(); }
trap 'stop_hogs; cleanup' EXIT
for _ in 1 2 3; do (while :; do :; done) & HOGS+=($!); done

S="$WORK/scripts"
mkdir -p "$S"
# A little work per request keeps the workers busy enough for the accept queue to fill.
cat >"$S/app.lua" <<'LUA'
return {
  ["GET /work"] = function()
    local t, x = os.clock(), 0
    while os.clock() - t < 0.002 do x = x + 1 end
    return "done"
  end,
}
LUA

# ---- connected before the drain, request sent after it began ----
# The kernel accepted these connections before SIGTERM; their requests come 300 ms later (a
# client, or the worker that reads them, slow under load). Each is answered.
mf_start "$S" MAYFLY_WORKERS=2 MAYFLY_ACCESS_LOG=off || exit 1
python3 - "$MF_PORT" "$WORK/connected" >"$WORK/late.out" <<'PY' & late=$!
import socket, sys, time
port, flag = int(sys.argv[1]), sys.argv[2]
socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(20)]
open(flag, "w").close()
time.sleep(0.3)
ok = 0
for s in socks:
    try:
        s.sendall(b"GET /work HTTP/1.1\r\nHost: x\r\n\r\n")
        ok += s.recv(100).startswith(b"HTTP/1.1 200 ")
    except OSError:
        pass
print(ok)
PY
for _ in $(seq 1 100); do [ -e "$WORK/connected" ] && break; sleep 0.02; done
mf_stop
wait $late
check "connections accepted before the drain, requests sent after it began: all 20 answered" \
  [ "$(cat "$WORK/late.out")" = 20 ]
check "clean exit after them" [ "$MF_EXIT" = 0 ]

# ---- the drain under load, again and again ----
ok=0 refused=0 lost=0 bad_exit=0 rounds=0 t0=$SECONDS
for round in $(seq 1 "$ROUNDS"); do
  [ $((SECONDS - t0)) -lt 35 ] || break # bounded: fewer rounds on a slow machine
  mf_start "$S" MAYFLY_WORKERS=2 MAYFLY_ACCESS_LOG=off MAYFLY_LOG_LEVEL=warn || exit 1
  rm -f "$WORK/ready"
  python3 "$TESTS_DIR/drain_load.py" "$MF_PORT" /work 10 48 "$WORK/ready" >"$WORK/load.out" & load=$!
  for _ in $(seq 1 100); do [ -e "$WORK/ready" ] && break; sleep 0.05; done
  sleep "0.$((1 + RANDOM % 3))"
  mf_stop
  wait $load
  read -r _ o _ r _ l <"$WORK/load.out"
  ok=$((ok + ${o:-0})); refused=$((refused + ${r:-0})); lost=$((lost + ${l:-1}))
  [ "$MF_EXIT" = 0 ] || bad_exit=$((bad_exit + 1))
  [ "${l:-1}" = 0 ] || echo "    round $round: $(cat "$WORK/load.out")"
  rounds=$round
done
stop_hogs
echo "    $rounds rounds: ok $ok refused $refused lost $lost"
check "drain under contention: requests were served" [ "$ok" -gt 0 ]
check "drain under contention: at least 5 rounds ran" [ "$rounds" -ge 5 ]
check "drain under contention: no accepted connection lost ($lost in $rounds rounds)" [ "$lost" = 0 ]
check "drain under contention: every exit 0" [ "$bad_exit" = 0 ]
mf_finish
