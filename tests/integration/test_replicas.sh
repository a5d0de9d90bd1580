# Identical replicas: two mayfly processes serving examples/shop with one Redis answer a
# browser-like sequence of requests (counters, two users' sessions and carts, error cases) the
# same whichever process each request reaches: all to A; round-robin A/B; a seeded random
# choice; and round-robin with B killed (SIGKILL) mid-sequence and replaced by a new process.
# State lives in Redis only, so no answer may depend on which process gave it.
source "$(dirname "$0")/lib.sh"

SHOP="$MAYFLY_SOURCE_DIR/examples/shop/scripts"
DB=5

rcli() { redis-cli -p "$RPORT" -n "$DB" "$@"; }

A_PID= B_PID= C_PID=
stop_all() {
  local p
  for p in $A_PID $B_PID $C_PID; do kill -KILL "$p" 2>/dev/null; done
  MF_PID=
  cleanup
}
trap stop_all EXIT

redis_start || exit 1
# A generous Redis timeout: a loaded test machine must not turn into 503s here.
SETTINGS=(MAYFLY_WORKERS=2 MAYFLY_REDIS_TIMEOUT=3s MAYFLY_REDIS_URL="redis://127.0.0.1:$RPORT/$DB")
mf_start "$SHOP" "${SETTINGS[@]}" || exit 1
A_PID=$MF_PID A_PORT=$MF_PORT A_LOG=$MF_LOG
mf_start "$SHOP" "${SETTINGS[@]}" || exit 1
B_PID=$MF_PID B_PORT=$MF_PORT B_LOG=$MF_LOG
MF_PID=
check "two processes, two ports" [ "$A_PORT" != "$B_PORT" ]

# The sequence: "EXPECTED-STATUS WHO METHOD PATH [BODY]". WHO is ann or bob (each with a cookie
# jar, as a browser keeps one) or - (no cookies). The body @empty sends an empty body.
SEQ=(
  '200 - GET /counters/visits'
  '200 - POST /counters/visits'
  '200 - POST /counters/visits'
  '200 - POST /counters/orders'
  '200 - GET /counters/visits'
  '401 - GET /me'
  '401 - GET /cart'
  '401 - POST /cart/items {"sku":"apple","qty":1}'
  '400 - POST /login {bad json'
  '400 - POST /login @empty'
  '400 - POST /login {"user":"not a name!"}'
  '400 - POST /login ["ann"]'
  '400 - POST /counters/bad%20name'
  '200 ann POST /login {"user":"ann"}'
  '200 ann GET /me'
  '200 bob POST /login {"user":"bob"}'
  '200 bob GET /me'
  '200 ann GET /cart'
  '200 ann POST /cart/items {"sku":"apple","qty":2}'
  '200 ann POST /cart/items {"sku":"pear","qty":1}'
  '200 bob POST /cart/items {"sku":"apple","qty":5}'
  '200 ann POST /cart/items {"sku":"apple","qty":3}'
  '400 ann POST /cart/items {"sku":"apple","qty":0}'
  '400 ann POST /cart/items {"sku":"apple","qty":1.5}'
  '400 ann POST /cart/items not json'
  '400 ann POST /cart/items {"qty":1}'
  '200 bob POST /cart/items {"sku":"kiwi"}'
  '200 ann GET /cart'
  '200 bob GET /cart'
  '200 ann DELETE /cart/items/pear'
  '404 ann DELETE /cart/items/pear'
  '200 bob POST /counters/orders'
  '200 ann POST /counters/orders'
  '204 ann POST /logout'
  '401 ann GET /me'
  '401 ann GET /cart'
  '200 bob GET /me'
  '200 ann POST /login {"user":"ann"}'
  '200 ann GET /cart'
  '404 - GET /no/such/page'
  '405 - PUT /counters/visits'
  '200 bob DELETE /cart/items/apple'
  '200 bob GET /cart'
  '200 - GET /counters/orders'
  '204 bob POST /logout'
)
KILL_AT=21   # in the kill run, B dies just before this (odd, so B's replacement serves it)

# send STEP PORT: sends SEQ[STEP] to the process on PORT over a fresh connection; prints the
# record line "NN WHO METHOD PATH | STATUS | BODY | set-cookie: ..." with session ids in
# Set-Cookie replaced by <id> (the body as received: canonical() sorts its JSON keys later).
send() {
  local step=$1 port=$2 want who method path data status body cookie
  read -r want who method path data <<<"${SEQ[$step]}"
  local args=(-s -S -X "$method" -D "$WORK/h" -o "$WORK/raw" -w '%{http_code}' --max-time 10
              -H "X-Request-Id: step-$step")
  [ "$who" != - ] && args+=(-b "$WORK/jar.$who" -c "$WORK/jar.$who")
  if [ -n "$data" ]; then
    [ "$data" = @empty ] && data=
    args+=(-H 'Content-Type: application/json' --data-binary "$data")
  fi
  : >"$WORK/raw"
  status=$(curl "${args[@]}" "http://127.0.0.1:$port$path" 2>&1)
  body=$(tr '\n' ' ' <"$WORK/raw")
  cookie=$(grep -i '^set-cookie:' "$WORK/h" | tr -d '\r' | tr 'A-Z' 'a-z' |
           sed -E 's/sid=[0-9a-f]{32};/sid=<id>;/' | paste -sd' ' -)
  printf '%02d %s %s %s | %s | %s | %s\n' "$step" "$who" "$method" "$path" "$status" "$body" "$cookie"
}

# canonical <raw-records >records: each body that is JSON re-encoded with its keys sorted.
# JSON object keys come out of lua-cjson in the order of the Lua table's hash part, which
# differs between Lua states (each worker of each process), so bodies are compared as JSON.
canonical() {
  python3 -c '
import json, sys
for line in sys.stdin:
    head, status, rest = line.rstrip("\n").split(" | ", 2)
    body, cookie = rest.rsplit(" | ", 1)
    try: body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except ValueError: pass
    print(" | ".join((head, status, body, cookie)))
'
}

# Access lines are written in batches within 20 ms: let the last ones land before counting.
served() { sleep 0.2; grep -c '"msg":"request"' "$1"; }

# run NAME MODE: FLUSHDB, fresh cookie jars, the whole sequence; MODE picks the process:
# a (always A), alt (A, B, A, B, ...), random (RANDOM seeded by the caller), kill (alt, with B
# killed and replaced before step KILL_AT). Writes $WORK/NAME.raw (the records as received),
# NAME.rec (the same, canonical) and NAME.state (the Redis contents, which must not depend on
# which process served what).
run() {
  local name=$1 mode=$2 step port pick
  PICKS=
  rcli flushdb >/dev/null
  rm -f "$WORK"/jar.*
  : >"$WORK/$name.raw"
  for step in "${!SEQ[@]}"; do
    case $mode in
      a) pick=0 ;;
      alt|kill) pick=$((step % 2)) ;;
      random) pick=$((RANDOM % 2)) ;;   # here, not in a $(...): a subshell reseeds RANDOM
    esac
    port=$A_PORT; [ "$pick" = 1 ] && port=$B_PORT
    PICKS+=$pick
    if [ "$mode" = kill ] && [ "$step" = "$KILL_AT" ]; then
      kill -KILL "$B_PID"; wait "$B_PID" 2>/dev/null; B_EXIT=$?
      check "kill: B died of SIGKILL at step $step" [ "$B_EXIT" = 137 ]
      mf_start "$SHOP" "${SETTINGS[@]}" || exit 1
      C_PID=$MF_PID C_LOG=$MF_LOG B_PID= B_PORT=$MF_PORT
      MF_PID=
      port=$B_PORT
    fi
    send "$step" "$port" >>"$WORK/$name.raw"
  done
  canonical <"$WORK/$name.raw" >"$WORK/$name.rec"
  state >"$WORK/$name.state"
}

# The Redis contents: counters, carts (fields sorted), the users holding a live session, and
# the TTL bound of every session. Session ids are random and left out.
state() {
  local key
  for key in $(rcli --scan --pattern 'counter:*' | sort); do echo "$key $(rcli get "$key")"; done
  for key in $(rcli --scan --pattern 'cart:*' | sort); do
    echo "$key $(rcli hgetall "$key" | paste -d= - - | sort | paste -sd' ' -)"
  done
  for key in $(rcli --scan --pattern 'session:*' | grep -E '^session:[0-9a-f]{32}$'); do
    local ttl; ttl=$(rcli ttl "$key")
    echo "session of $(rcli hget "$key" user) ttl $([ "$ttl" -gt 0 ] && [ "$ttl" -le 1800 ] && echo ok || echo "bad: $ttl")"
  done | sort
  echo "session:seq $(rcli get session:seq)"
}

# compare NAME: one check per request against the single-process run, then a summary check.
compare() {
  local name=$1 i=0 diffs=0 bytes=0 ref got
  while IFS= read -r ref && IFS= read -r got <&3; do
    if [ "$ref" = "$got" ]; then pass "$name: ${ref%% |*}"
    else fail "$name: ${ref%% |*}" "A only: $ref" "$name: $got"; diffs=$((diffs + 1)); fi
    i=$((i + 1))
  done <"$WORK/single.rec" 3<"$WORK/$name.rec"
  check "$name: ${#SEQ[@]} records, all equal to the single-process run" \
    [ "$i:$(wc -l <"$WORK/$name.rec"):$diffs" = "${#SEQ[@]}:${#SEQ[@]}:0" ]
  if cmp -s "$WORK/single.state" "$WORK/$name.state"; then pass "$name: Redis contents equal"
  else fail "$name: Redis contents equal" "$(diff "$WORK/single.state" "$WORK/$name.state" | paste -sd'|' -)"; fi
  bytes=$(diff "$WORK/single.raw" "$WORK/$name.raw" | grep -c '^<')
  echo "# $name: $bytes of ${#SEQ[@]} records differ byte-wise before the JSON keys are sorted"
}

# 1. Everything to A; the sequence's expected statuses and a few bodies.
run single a
mapfile -t REC <"$WORK/single.rec"
for step in "${!SEQ[@]}"; do
  want=${SEQ[$step]%% *}
  got=$(cut -d'|' -f2 <<<"${REC[$step]}" | tr -d ' ')
  if [ "$got" = "$want" ]; then pass "single: ${REC[$step]%% |*} -> $want"
  else fail "single: ${REC[$step]%% |*} -> $want" "got: ${REC[$step]}"; fi
done
rec_has() { [[ "${REC[$1]}" == *"$2"* ]]; }
check "counter starts at 0"          rec_has 0 '{"name":"visits","value":0}'
check "counter counts"               rec_has 4 '{"name":"visits","value":2}'
check "bad JSON: 400 from req:json" rec_has 8 '"request body is not valid JSON'
check "login sets the cookie"        rec_has 13 '| {"user":"ann"} | set-cookie: sid=<id>; httponly; samesite=lax; path=/; max-age=1800'
check "/me reads the cookie"         rec_has 14 '| {"user":"ann"} |'
check "empty cart is an object"      rec_has 17 '{"items":{},"total_items":0}'
check "ann's cart"                   rec_has 27 '{"items":{"apple":5,"pear":1},"total_items":6}'
check "bob's cart is his own"        rec_has 28 '{"items":{"apple":5,"kiwi":1},"total_items":6}'
check "logout clears the cookie"     rec_has 33 'set-cookie: sid=; httponly; samesite=lax; path=/; max-age=0'
check "cart outlives the session"    rec_has 38 '{"items":{"apple":5},"total_items":5}'
check "405 for a wrong method"       rec_has 40 '| 405 |'
check "orders counted by everyone"   rec_has 43 '{"name":"orders","value":3}'
check "Redis after the single run" [ "$(paste -sd'|' "$WORK/single.state")" = \
  "counter:orders 3|counter:visits 2|cart:ann apple=5|cart:bob kiwi=1|session of ann ttl ok|session:seq 3" ]

# 2. Round-robin A, B, A, B, ...
a0=$(served "$A_LOG") b0=$(served "$B_LOG")
run alternate alt
check "alternate: A served $(( (${#SEQ[@]} + 1) / 2 ))" [ $(( $(served "$A_LOG") - a0 )) = $(( (${#SEQ[@]} + 1) / 2 )) ]
check "alternate: B served $(( ${#SEQ[@]} / 2 ))" [ $(( $(served "$B_LOG") - b0 )) = $(( ${#SEQ[@]} / 2 )) ]
compare alternate

# 3. A random process for each request (seeded, so the choice is the same every time).
a0=$(served "$A_LOG") b0=$(served "$B_LOG")
RANDOM=7
run random random
a1=$(( $(served "$A_LOG") - a0 )) b1=$(( $(served "$B_LOG") - b0 ))
echo "# random: A=0 B=1 per request: $PICKS"
check "random: each process served what it was sent ($a1 and $b1)" \
  [ "$a1:$b1" = "$(tr -cd 0 <<<"$PICKS" | wc -c):$(tr -cd 1 <<<"$PICKS" | wc -c)" -a "$a1" -gt 0 -a "$b1" -gt 0 ]
compare random

# 4. Round-robin, B killed with SIGKILL before step KILL_AT and a new process started in its
# place: sessions, carts and counters written through B are all still there.
run kill kill
check "kill: the new process served the rest" [ "$(served "$C_LOG")" = $(( (${#SEQ[@]} - KILL_AT) / 2 )) ]
compare kill

MF_PID=$A_PID; A_PID=; mf_stop
check "A: SIGTERM, exit 0" [ "$MF_EXIT" = 0 ]
MF_PID=$C_PID; C_PID=; mf_stop
check "B's replacement: SIGTERM, exit 0" [ "$MF_EXIT" = 0 ]
mf_finish
