# The connection bound: many workers, a small MAYFLY_REDIS_POOL_SIZE and a Redis with a low
# maxclients. Every request is served (workers wait for a free connection), Redis never sees
# more than the pool's connections from mayfly, and nothing is refused for maxclients.
source "$(dirname "$0")/lib.sh"

POOL=3
RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning \
  --maxclients 6 >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 1 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.05; done

# A generous timeout: what is tested is the bound, not how fast a loaded machine answers.
mf_start "$TESTS_DIR/fixtures/redis" MAYFLY_WORKERS=16 MAYFLY_REDIS_POOL_SIZE=$POOL \
  MAYFLY_REDIS_TIMEOUT=3s MAYFLY_REDIS_URL="redis://127.0.0.1:$RPORT" MAYFLY_ACCESS_LOG=off || exit 1

# Clients other than redis-cli itself (the one asking).
clients() { redis-cli -p "$RPORT" client list | grep -vc 'cmd=client|list'; }

pids=()
for i in $(seq 1 32); do
  (for _ in $(seq 1 15); do
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 "$(url /incr)"
  done >"$WORK/status.$i") &
  pids+=($!)
done
max=0
while kill -0 "${pids[0]}" 2>/dev/null; do
  n=$(clients)
  ((n > max)) && max=$n
  sleep 0.05
done
wait "${pids[@]}"
cat "$WORK"/status.* >"$WORK/all"
check "32 clients x 15 requests over 16 workers: all answered" [ "$(wc -l <"$WORK/all")" = 480 ]
check "all 200 (no 503 for a full pool, no maxclients refusal)" \
  bash -c '! grep -qv "^200$" "$1"' _ "$WORK/all"
check "Redis counted every request" [ "$(redis-cli -p "$RPORT" get load)" = 480 ]
check "at most $POOL connections while under load (saw $max)" [ "$max" -le "$POOL" ]
check "at most $POOL connections after (saw $(clients))" [ "$(clients)" -le "$POOL" ]
check "some connection was made" [ "$max" -ge 1 ]
check "maxclients never hit" bash -c '! grep -qi "max number of clients" "$1"' _ "$MF_LOG"
mf_stop
check "exit 0" [ "$MF_EXIT" = 0 ]
for _ in $(seq 1 40); do [ "$(clients)" = 0 ] && break; sleep 0.05; done
check "connections closed at shutdown" [ "$(clients)" = 0 ]
mf_finish
