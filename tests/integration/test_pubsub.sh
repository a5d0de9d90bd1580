# mayfly.subscribe / mayfly.psubscribe against real redis-servers (fixtures/pubsub), with
# MAYFLY_WORKERS=1 so that Redis's own count of subscribers is exact:
#   1. one server: a PUBLISH reaches a waiting sub:next (binary-safe), a pattern subscription
#      gets channel and pattern, a subscription to several channels gets the one published to,
#      next(t) returns nil once t passed; misuse raises clear errors; three requests waiting on
#      one channel are ONE subscriber for Redis (PUBSUB NUMSUB) and each gets the one PUBLISH;
#      the channel is unsubscribed when the runs end: a long-poll's timeout, a stream whose
#      client leaves mid-wait, a handler that raises; a stream relays messages; the queue's
#      bound drops the oldest, counted; a Redis restart under a waiting subscription: the next
#      PUBLISH reaches it with no new request; a subscription made while Redis is down is
#      subscribed once it is back; the drain ends a stream waiting in sub:next, exit 0;
#   2. no Redis configured: mayfly.subscribe raises naming MAYFLY_REDIS_URL; over TLS with an ACL
#      user from the URL, the subscriber connection is that user's and messages arrive;
#   3. Sentinel: the subscriber follows the primary through a failover;
#   4. Cluster: a PUBLISH to another node than the subscriber's reaches it; the subscriber's node
#      killed, it subscribes again on another.
# A subscription carried into another request's run cannot be made from a script (an
# environment is per run, mayfly.constant holds data only): not tested here.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"

FIX=$TESTS_DIR/fixtures/pubsub
COMMON=(MAYFLY_WORKERS=1 MAYFLY_ACCESS_LOG=off MAYFLY_REQUEST_TIMEOUT=60s)

# await SECONDS COMMAND...: until the command succeeds, polling every 0.1 s; 1 when it never did.
await() {
  local tries=$(($1 * 10)); shift
  for _ in $(seq 1 "$tries"); do "$@" && return 0; sleep 0.1; done
  return 1
}

# numsub_is CHANNEL N [PORT]: Redis on PORT ($RPORT) counts N subscribers of CHANNEL.
numsub_is() {
  [ "$(redis-cli -p "${3:-$RPORT}" pubsub numsub "$1" 2>/dev/null | sed -n 2p)" = "$2" ]
}
numpat_is() { [ "$(redis-cli -p "${2:-$RPORT}" pubsub numpat 2>/dev/null)" = "$1" ]; }
metric_is() { [ "$(metric "$1")" = "$2" ]; }

# bg_get NAME PATH [curl args...]: GET in the background, the body into $WORK/NAME.out.
declare -A BG
bg_get() {
  local name=$1 path=$2; shift 2
  curl -s --max-time 60 "$@" "$(url "$path")" >"$WORK/$name.out" 2>&1 &
  BG[$name]=$!
}
# bg_wait NAME: waits for it; sets BODY.
bg_wait() { wait "${BG[$1]}"; BODY=$(cat "$WORK/$1.out"); }
# hex: stdin as lowercase hex, as the routes answer messages.
hex() { od -An -v -tx1 | tr -d ' \n'; }
# field KEY: a field of the JSON object in BODY as jq -r prints it (null when absent, true or
# false, a number, a string as it is).
field() {
  python3 -c '
import json, sys
try:
    v = json.loads(sys.argv[1]).get(sys.argv[2])
except ValueError:
    v = None
if v is None: v = "null"
elif v is True: v = "true"
elif v is False: v = "false"
elif isinstance(v, float) and v.is_integer(): v = int(v)
print(v)' "$BODY" "$1"
}

# raw_publish PORT CHANNEL PAYLOAD: PUBLISH with a payload given as printf escapes (NUL too).
raw_publish() {
  local payload
  payload=$(printf "$3" | wc -c)
  printf "*3\r\n\$7\r\nPUBLISH\r\n\$${#2}\r\n%s\r\n\$%d\r\n$3\r\n" "$2" "$payload" |
    timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1; cat >&3; head -c 4 <&3" >/dev/null
}

# ---- 1. one server ----

redis_start || exit 1
mf_start "$FIX" "${COMMON[@]}" MAYFLY_REDIS_URL="redis://127.0.0.1:$RPORT" || exit 1

expect "misuse answers" GET /misuse 200
check "at load time: only in a request's run" \
  [ "$(field at_load)" = "mayfly.subscribe: only in a request's run" ]
check "in mayfly.constant's function: only in a request's run" \
  [ "$(field detached)" = "mayfly.subscribe: only in a request's run" ]
check "next cannot wait inside a C function's callback" grep -qF "sub:next: cannot wait here" <<<"$(field in_callback)"
check "no channel" [ "$(field no_args)" = "mayfly.subscribe: a channel is needed" ]
check "a channel that is not a string" \
  [ "$(field not_string)" = "mayfly.subscribe: channel 2 must be a string, not table" ]
check "an empty pattern" [ "$(field empty)" = "mayfly.psubscribe: pattern 1 is empty" ]
check "65 channels at once" [ "$(field too_many)" = "mayfly.subscribe: at most 64 channels at once" ]
check "64 channels at once" [ "$(field sixty_four)" = true ]
check "a negative timeout" grep -qF "sub:next: the timeout must be" <<<"$(field bad_timeout)"
check "next after close" grep -qF "this subscription is closed" <<<"$(field after_close)"
check "the metatable is protected" [ "$(field metatable)" = "mayfly: subscription" ]
check "nothing of /misuse stays subscribed" await 5 numsub_is misuse 0

bg_get one "/next?ch=news&t=20"
check "a waiting subscription is subscribed" await 5 numsub_is news 1
redis-cli -p "$RPORT" publish news hello >/dev/null
bg_wait one
check "next returns the message published" [ "$(field message)" = "$(printf hello | hex)" ]
check "next returns its channel, no pattern" [ "$(field channel) $(field pattern)" = "news null" ]
check "unsubscribed once the run ended" await 5 numsub_is news 0

bg_get bin "/next?ch=bin&t=20"
await 5 numsub_is bin 1
raw_publish "$RPORT" bin 'a\0b\r\n\377'
bg_wait bin
check "a binary payload arrives byte for byte" [ "$(field message)" = 6100620d0aff ]

bg_get pat "/pnext?p=feed.*&t=20"
check "a pattern subscription is subscribed" await 5 numpat_is 1
redis-cli -p "$RPORT" publish feed.sport goal >/dev/null
bg_wait pat
check "a pattern's message comes with channel and pattern" \
  [ "$(field message) $(field channel) $(field pattern)" = "$(printf goal | hex) feed.sport feed.*" ]
check "the pattern is unsubscribed once the run ended" await 5 numpat_is 0

bg_get multi "/next?ch=a1,b1&t=20"
await 5 numsub_is b1 1
check "one subscription to two channels subscribes both" numsub_is a1 1
redis-cli -p "$RPORT" publish b1 bee >/dev/null
bg_wait multi
check "it gets the message of the channel published to" [ "$(field channel)" = b1 ]
both_gone() { numsub_is a1 0 && numsub_is b1 0; }
check "both channels unsubscribed after" await 5 both_gone

expect "next(t) with nothing published" GET "/timeout?t=0.3" 200
check "next(t) returns nil once t passed, with no reason" [ "$(field is_nil) $(field why)" = "true null" ]
check "next(0) returns nil at once" [ "$(field poll_nil)" = true ]

# Fan-out: three runs of one worker on one channel.
for i in 1 2 3; do bg_get "fan$i" "/next?ch=fan&t=20"; done
check "three subscriptions: subscriptions gauge 3" await 5 metric_is mayfly_redis_subscriptions 3
check "three runs on one channel are one subscriber for Redis" numsub_is fan 1
check "the subscriber connection holds one channel" metric_is mayfly_redis_pubsub_channels 1
before=$(metric mayfly_redis_pubsub_messages_total)
redis-cli -p "$RPORT" publish fan all >/dev/null
got=0
for i in 1 2 3; do bg_wait "fan$i"; [ "$(field message)" = "$(printf all | hex)" ] && got=$((got + 1)); done
check "one PUBLISH reaches each of the three" [ "$got" = 3 ]
check "three deliveries counted" [ $(($(metric mayfly_redis_pubsub_messages_total) - before)) = 3 ]
check "the channel is unsubscribed when the last run ends" await 5 numsub_is fan 0
check "no subscription left" await 5 metric_is mayfly_redis_subscriptions 0
check "no channel held" await 5 metric_is mayfly_redis_pubsub_channels 0

# A stream relays messages as they come.
curl -sN --max-time 20 "$(url "/stream?ch=st&n=2")" >"$WORK/st.out" 2>&1 &
st=$!
await 5 numsub_is st 1
redis-cli -p "$RPORT" publish st m1 >/dev/null
redis-cli -p "$RPORT" publish st m2 >/dev/null
wait "$st"
check "a stream relays each message" [ "$(cat "$WORK/st.out")" = "$(printf 'subscribed\nm1\nm2')" ]
check "the stream's channel is unsubscribed" await 5 numsub_is st 0

# Runs that end otherwise: the client of a stream leaves mid-wait; a long-poll's client leaves
# (its run goes on to its timeout); a handler raises.
curl -sN --max-time 20 "$(url "/stream?ch=gone&n=5")" >/dev/null 2>&1 &
gone=$!
await 5 numsub_is gone 1
kill "$gone"; wait "$gone" 2>/dev/null
check "a stream whose client left mid-wait is unsubscribed" await 5 numsub_is gone 0
curl -s --max-time 0.5 "$(url "/next?ch=lp&t=2")" >/dev/null 2>&1
check "a long-poll's run goes on after its client left" numsub_is lp 1
check "a long-poll whose client left is unsubscribed at its timeout" await 5 numsub_is lp 0
expect "a handler that raises while subscribed" GET "/raise?ch=raised&t=0.2" 500
check "its channel is unsubscribed" await 5 numsub_is raised 0
check "no subscription left after those" await 5 metric_is mayfly_redis_subscriptions 0

# The queue's bound: 1100 messages while the run sleeps; it keeps the newest 1024.
bg_get q "/queue?ch=q&t=3"
await 5 numsub_is q 1
dropped_before=$(metric mayfly_redis_pubsub_dropped_total)
for i in $(seq 1 1100); do echo "PUBLISH q $i"; done | redis-cli -p "$RPORT" >/dev/null
bg_wait q
check "a full queue keeps the newest 1024" \
  [ "$(field count) $(field first) $(field last)" = "1024 77 1100" ]
check "sub:dropped() counts the 76 dropped" [ "$(field dropped)" = 76 ]
check "mayfly_redis_pubsub_dropped_total counts them" \
  [ $(($(metric mayfly_redis_pubsub_dropped_total) - dropped_before)) = 76 ]

# A Redis restart under a waiting subscription.
bg_get restart "/next?ch=restart&t=30"
await 5 numsub_is restart 1
reconnects=$(metric mayfly_redis_pubsub_reconnects_total)
kill -KILL "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null
sleep 0.5
check "the waiting request is not woken by the outage" kill -0 "${BG[restart]}"
redis_start || exit 1
check "after a restart, the channel is subscribed again" await 10 numsub_is restart 1
redis-cli -p "$RPORT" publish restart back >/dev/null
bg_wait restart
check "a PUBLISH after the restart reaches the waiting subscription" \
  [ "$(field message)" = "$(printf back | hex)" ]
check "the reconnect is counted" [ "$(metric mayfly_redis_pubsub_reconnects_total)" -gt "$reconnects" ]

# Subscribing while Redis is down.
kill -KILL "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null
bg_get down "/next?ch=down&t=30"
sleep 0.5
check "a subscription made while Redis is down waits" kill -0 "${BG[down]}"
redis_start || exit 1
check "it is subscribed once Redis is back" await 10 numsub_is down 1
redis-cli -p "$RPORT" publish down up >/dev/null
bg_wait down
check "and gets what is published then" [ "$(field message)" = "$(printf up | hex)" ]

# The drain: a stream waiting in sub:next ends (nil, "draining"), and the process exits 0.
curl -sN --max-time 20 "$(url "/stream?ch=drain&n=5")" >"$WORK/drain.out" 2>&1 &
drain=$!
await 5 numsub_is drain 1
mf_stop
wait "$drain"
rc=$?
check "the drain ends a stream waiting in sub:next (curl saw a whole body)" [ "$rc" = 0 ]
check "the drain exits 0" [ "$MF_EXIT" = 0 ]

# ---- 2. no Redis ----

mf_start "$FIX" "${COMMON[@]}" || exit 1
expect "no Redis: subscribe raises" GET "/next?ch=x&t=1" 500
check "the error names MAYFLY_REDIS_URL" log_has "mayfly.subscribe: no Redis configured (MAYFLY_REDIS_URL)"
mf_stop

# ---- 2b. TLS and an ACL user from the URL ----

{ tls_ca ca && tls_cert ca server "IP:127.0.0.1,DNS:localhost" &&
  tls_cert ca client "" clientAuth; } || exit 1
redis_tls_start tls server no || exit 1
redis_cli tls acl setuser psub on '>ps-Secret-1' '~*' '&*' '+@all' >/dev/null
mf_start "$FIX" "${COMMON[@]}" MAYFLY_REDIS_URL="rediss://psub:ps-Secret-1@127.0.0.1:${RS_PORT[tls]}" \
  MAYFLY_REDIS_CA_FILE="$WORK/tls/ca.crt" || exit 1
bg_get tls "/next?ch=sealed&t=20"
tls_subscribed() { [ "$(redis_cli tls pubsub numsub sealed 2>/dev/null | sed -n 2p)" = 1 ]; }
check "TLS: subscribed" await 5 tls_subscribed
check "TLS: the subscriber connection is the URL's ACL user's" \
  grep -q "user=psub" <<<"$(redis_cli tls client list | grep ' sub=1 ')"
redis_cli tls publish sealed secretly >/dev/null
bg_wait tls
check "TLS: the message arrives" [ "$(field message)" = "$(printf secretly | hex)" ]
mf_stop

# ---- 3. Sentinel ----

MASTER=mymaster
declare -A SN_PORT
sentinel_start() {
  local name=$1 conf
  SN_PORT[$name]=$(free_port)
  mkdir -p "$WORK/$name"
  conf=$WORK/$name/sentinel.conf
  cat >"$conf" <<EOF
port ${SN_PORT[$name]}
bind 127.0.0.1
dir $WORK/$name
logfile $WORK/$name.log
sentinel monitor $MASTER 127.0.0.1 $2 2
sentinel down-after-milliseconds $MASTER 1000
sentinel failover-timeout $MASTER 5000
EOF
  redis-server "$conf" --sentinel >>"$WORK/$name.log" 2>&1 &
  REDIS_PIDS+=($!)
  await 5 bash -c "redis-cli -p ${SN_PORT[$name]} ping 2>/dev/null | grep -q PONG"
}
# sentinels_ready REPLICA: the three sentinels know each other and the replica's link is up.
sentinels_ready() {
  local s
  for s in s1 s2 s3; do
    redis-cli -p "${SN_PORT[$s]}" sentinel ckquorum "$MASTER" 2>/dev/null | grep -q '^OK 3 usable' ||
      return 1
    redis-cli -p "${SN_PORT[$s]}" sentinel replicas "$MASTER" 2>/dev/null | tr -d '\r' |
      awk -v p="${RS_PORT[$1]}" '$0 == "name" { getline; n = $0 } $0 == "master-link-status" {
        getline; if (n == "127.0.0.1:" p && $0 == "ok") found = 1 } END { exit !found }' ||
      return 1
  done
  redis_cli "$1" info replication | grep -q '^master_link_status:up'
}

redis_server_start r1 || exit 1
redis_server_start r2 --replicaof 127.0.0.1 "${RS_PORT[r1]}" || exit 1
for s in s1 s2 s3; do sentinel_start "$s" "${RS_PORT[r1]}" || exit 1; done
if await 30 sentinels_ready r2; then
  mf_start "$FIX" "${COMMON[@]}" \
    MAYFLY_REDIS_URL="redis+sentinel://127.0.0.1:${SN_PORT[s1]},127.0.0.1:${SN_PORT[s2]},127.0.0.1:${SN_PORT[s3]}/$MASTER" ||
    exit 1
  bg_get sn "/next?ch=sn&t=40"
  check "sentinel: subscribed on the primary" await 10 numsub_is sn 1 "${RS_PORT[r1]}"
  redis-cli -p "${SN_PORT[s1]}" sentinel failover "$MASTER" >/dev/null
  check "sentinel: after a failover, subscribed on the new primary" \
    await 20 numsub_is sn 1 "${RS_PORT[r2]}"
  check "sentinel: and no longer on the old one" await 5 numsub_is sn 0 "${RS_PORT[r1]}"
  redis_cli r2 publish sn promoted >/dev/null
  bg_wait sn
  check "sentinel: a PUBLISH on the new primary reaches the waiting subscription" \
    [ "$(field message)" = "$(printf promoted | hex)" ]
  mf_stop
else
  fail "sentinel: the sentinels see each other and the replica"
fi

# ---- 4. Cluster ----

# subscribed_on CHANNEL: the port of the live node that counts one subscriber of CHANNEL (and
# no other node counts any); fails otherwise.
subscribed_on() {
  local port n total=0 on=
  for port in $(cluster_live); do
    n=$(cluster_cli "$port" pubsub numsub "$1" 2>/dev/null | sed -n 2p)
    total=$((total + ${n:-0}))
    [ "${n:-0}" = 1 ] && on=$port
  done
  [ "$total" = 1 ] && [ -n "$on" ] && echo "$on"
}

held() { subscribed_on "$1" >/dev/null; }

if cluster_start; then
  mf_start "$FIX" "${COMMON[@]}" MAYFLY_REDIS_URL="$CLUSTER_URL" || exit 1
  bg_get cl "/next?ch=cl&t=40"
  await 10 held cl
  on=$(subscribed_on cl)
  check "cluster: one node holds the subscription" [ -n "$on" ]
  other=$(cluster_live | grep -vx "$on" | head -1)
  cluster_cli "$other" publish cl "via $other" >/dev/null
  bg_wait cl
  check "cluster: a PUBLISH to another node reaches the subscriber" \
    [ "$(field message)" = "$(printf "via %s" "$other" | hex)" ]

  bg_get cl2 "/next?ch=cl2&t=40"
  await 10 held cl2
  on=$(subscribed_on cl2)
  kill -KILL "${CLUSTER_PID[$on]}"
  wait "${CLUSTER_PID[$on]}" 2>/dev/null
  check "cluster: the subscriber's node killed, another holds the subscription" \
    await 15 held cl2
  other=$(cluster_live | head -1)
  cluster_cli "$other" publish cl2 survived >/dev/null
  bg_wait cl2
  check "cluster: a PUBLISH then reaches it" [ "$(field message)" = "$(printf survived | hex)" ]
  mf_stop
else
  fail "cluster: the cluster starts"
fi

mf_finish
