# Identical replicas: two mayfly processes serving examples/shop with one Redis answer a
# browser-like sequence of requests (counters, two users' sessions and carts, error cases) the
# same whichever process each request reaches: all to A, round-robin A/B, randomly chosen,
# and with B killed (SIGKILL) mid-sequence and replaced by a new process. State lives in
# Redis only, so nothing may depend on which process answered.
source "$(dirname "$0")/lib.sh"

SHOP="$MAYFLY_SOURCE_DIR/examples/shop"
DB=5

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RPORT=$(free_port)
REDIS_PID=
start_redis() {
  redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning \
    >"$WORK/redis.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 1 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "redis-server did not start"; cat "$WORK/redis.log"; return 1
}
rcli() { redis-cli -p "$RPORT" -n "$DB" "$@"; }

A_PID= B_PID= C_PID=
stop_all() {
  local p
  for p in $A_PID $B_PID $C_PID; do kill -KILL "$p" 2>/dev/null; done
  [ -n "$REDIS_PID" ] && kill -TERM "$REDIS_PID" 2>/dev/null
  MF_PID=
  cleanup
}
trap stop_all EXIT

start_redis || exit 1
START=(MAYFLY_WORKERS=2 MAYFLY_REDIS_URL="redis://127.0.0.1:$RPORT/$DB")
mf_start "$SHOP" "${START[@]}" || exit 1
A_PID=$MF_PID A_PORT=$MF_PORT A_LOG=$MF_LOG
mf_start "$SHOP" "${START[@]}" || exit 1
B_PID=$MF_PID B_PORT=$MF_PORT B_LOG=$MF_LOG
MF_PID=
check "two processes on two ports" [ "$A_PORT" != "$B_PORT" ]

# The sequence: WHO METHOD PATH [BODY]. WHO is ann or bob (each has a cookie jar, as a browser
# would) or - (no cookies). A body of @empty sends an empty body.
SEQ=(
  "- GET /counters/visits"
  "- POST /counters/visits"
  "- POST /counters/visits"
  "- POST /counters/orders"
  "- GET /counters/visits"
  "- GET /me"
  "- GET /cart"
  '- POST /cart/items {"sku":"apple","qty":1}'
  "- POST /login {bad json"
  "- POST /login @empty"
  '- POST /login {"user":"not a name!"}'
  '- POST /login ["ann"]'
  '- POST /counters/bad%20name'
  'ann POST /login {"user":"ann"}'
  "ann GET /me"
  '- GET /me'
  '- POST /logout'
  '- GET /counters/visits'
  '- GET /counters/orders'
  '- GET /counters/visits'
  '- GET /counters/orders'
  '- GET /cart'
  '- GET /counters/visits'
  '- GET /counters/orders'
  '- GET /cart'
  '- GET /counters/visits'
  '- GET /counters/orders'
  '- GET /cart'
  '- GET /counters/visits'
  '- GET /counters/orders'
  '- GET /cart'
)
SEQ=(
  "- GET /counters/visits"
  "- POST /counters/visits"
  "- POST /counters/visits"
  "- POST /counters/orders"
  "- GET /counters/visits"
  "- GET /me"
  "- GET /cart"
  '- POST /cart/items {"sku":"apple","qty":1}'
  "- POST /login {bad json"
  "- POST /login @empty"
  '- POST /login {"user":"not a name!"}'
  '- POST /counters/bad%20name'
  'ann POST /login {"user":"ann"}'
  "ann GET /me"
  '- GET /me'
  '- POST /logout'
  '- POST /counters/visits'
  '- GET /counters/visits'
  '- GET /counters/orders'
  '- GET /counters/visits'
  '- GET /counters/orders'
  '- GET /cart'
  '- GET /counters/visits'
  '- GET /counters/orders'
  '- GET /cart'
  '- GET /counters/visits'
  '- GET /counters/orders'
  '- GET /cart'
  '- GET /counters/visits'
  '- GET /counters/orders'
  '- GET /cart'
)
