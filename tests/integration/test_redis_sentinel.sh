# A Sentinel-managed Redis on loopback (a primary, a replica, three sentinels) reached through
# redis+sentinel://, under steady load (fixtures/http_load.py: keep-alive clients, every
# request's times, status and INCR answer recorded), with every sentinel event timed
# (fixtures/sentinel_events.py), and the numbers printed for the docs:
#   1. a sentinel with requirepass: MAYFLY_REDIS_SENTINEL_PASSWORD finds the primary; without
#      it, or with a wrong one, /readyz is 503 naming the refusal; the password is never shown;
#   2. SENTINEL FAILOVER (planned): no INCR answer repeats (an acknowledged write lost would hand
#      its value out again), the failed requests (if any) end within 2 s of the announcement of
#      +switch-master, /readyz names the new primary, mayfly_redis_failovers_total is 1;
#   3. the new primary killed (SIGKILL): the sentinels promote the other server, and mayfly
#      answers again within a few seconds of the announcement, without a restart; failovers 2.
source "$(dirname "$0")/lib.sh"

MASTER=mymaster
RATE=300        # requests a second, in all
CLIENTS=4       # keep-alive connections
TIMEOUT_MS=1000 # MAYFLY_REDIS_TIMEOUT
LATE_MS=2000    # no request may fail later than this after a planned failover's announcement
RECOVER_MS=4000 # nor after a crash's

# sentinel_start NAME MASTER PRIMARY-PORT [PASSWORD]: a sentinel on a free loopback port,
# following PRIMARY-PORT as MASTER, with a config file of its own (a sentinel rewrites it); sets
# SN_PORT[NAME] and SN_PID[NAME]. PASSWORD: its requirepass (which it also presents to other
# sentinels).
declare -A SN_PORT SN_PASS SN_PID
sentinel_start() {
  local name=$1 master=$2 primary=$3 conf
  SN_PORT[$name]=$(free_port)
  SN_PASS[$name]=${4:-}
  mkdir -p "$WORK/$name"
  conf=$WORK/$name/sentinel.conf
  cat >"$conf" <<EOF
port ${SN_PORT[$name]}
bind 127.0.0.1
dir $WORK/$name
logfile $WORK/$name.log
sentinel monitor $master 127.0.0.1 $primary 2
sentinel down-after-milliseconds $master 1000
sentinel failover-timeout $master 5000
sentinel parallel-syncs $master 1
EOF
  [ -z "${SN_PASS[$name]}" ] || echo "requirepass ${SN_PASS[$name]}" >>"$conf"
  redis-server "$conf" --sentinel >>"$WORK/$name.log" 2>&1 &
  SN_PID[$name]=$!
  REDIS_PIDS+=($!)
  for _ in $(seq 1 100); do
    sentinel_cli "$name" ping 2>&1 | grep -q PONG && return 0
    sleep 0.05
  done
  echo "sentinel $name did not start"; cat "$WORK/$name.log"; return 1
}

# sentinel_cli NAME ARGS...: redis-cli against the sentinel NAME, with its password if it has one.
sentinel_cli() {
  local name=$1; shift
  if [ -n "${SN_PASS[$name]}" ]; then
    REDISCLI_AUTH=${SN_PASS[$name]} redis-cli -p "${SN_PORT[$name]}" "$@"
  else
    redis-cli -p "${SN_PORT[$name]}" "$@"
  fi
}

# await SECONDS COMMAND...: until the command succeeds, polling every 0.1 s; 1 when it never did.
await() {
  local tries=$(($1 * 10)); shift
  for _ in $(seq 1 "$tries"); do "$@" && return 0; sleep 0.1; done
  return 1
}

# sentinels_ready SERVER...: every sentinel knows the others, and knows each SERVER as a
# replica of $MASTER whose link to its primary is up.
sentinels_ready() {
  local s r
  for s in s1 s2 s3; do
    sentinel_cli "$s" sentinel ckquorum "$MASTER" 2>/dev/null | grep -q '^OK 3 usable' || return 1
    for r in "$@"; do
      sentinel_cli "$s" sentinel replicas "$MASTER" 2>/dev/null | tr -d '\r' |
        awk -v p="${RS_PORT[$r]}" '$0 == "name" { getline; n = $0 } $0 == "master-link-status" {
          getline; if (n == "127.0.0.1:" p && $0 == "ok") found = 1 } END { exit !found }' ||
        return 1
    done
  done
}

# ---- load and the sentinels' events ----

LOAD_PID=
load_start() {
  python3 "$TESTS_DIR/fixtures/http_load.py" "$MF_PORT" POST /incr "$RATE" "$CLIENTS" "$1" &
  LOAD_PID=$!
}
load_stop() { kill -TERM "$LOAD_PID"; wait "$LOAD_PID"; LOAD_PID=; }

now_ms() { date +%s%3N; }

# switch_after MS: the time (ms) of the first +switch-master any sentinel announced after MS;
# waits up to 15 s for it. Empty when none came.
switch_after() {
  local t
  for _ in $(seq 1 150); do
    t=$(awk -v after="$1" '$3 == "+switch-master" && $1 > after { printf "%.0f\n", $1; exit }' \
      "$WORK/events")
    [ -n "$t" ] && { echo "$t"; return 0; }
    sleep 0.1
  done
  return 1
}

# timeline FROM-MS ANNOUNCED-MS: the sentinels' events from FROM-MS on, each kind at its first
# appearance, in ms relative to the announcement.
timeline() {
  awk -v from="$1" -v t="$2" '$1 >= from && $3 != "subscribed" && !seen[$3]++ {
    printf "%s %+d ms, ", $3, $1 - t }' "$WORK/events" | sed 's/, $//'
}

# load_report NAME FILE ANNOUNCED-MS: prints what the load saw around the announcement, and sets
# LOAD_TOTAL, LOAD_OK, LOAD_FAILED, LOAD_FAIL_FROM and LOAD_FAIL_TO (the failures' first send and
# last end, ms relative to the announcement), LOAD_AT_ONCE (failures that did not wait 90% of the
# Redis timeout), LOAD_OK_AFTER (200s sent after the last failure) and LOAD_STATUSES.
load_report() {
  local name=$1 file=$2 t=$3 waits
  read -r LOAD_TOTAL LOAD_OK LOAD_FAILED LOAD_FAIL_FROM LOAD_FAIL_TO LOAD_AT_ONCE LOAD_OK_AFTER < <(
    awk -v t="$t" -v quick=$((TIMEOUT_MS * 9 / 10)) '
      { sent[NR] = $2; status[NR] = $4 }
      $4 != 200 {
        f++
        if (from == "" || $2 < from) from = $2
        if ($3 > to) to = $3
        if ($3 - $2 < quick) at_once++ }
      END {
        for (i = 1; i <= NR; i++) if (status[i] == 200 && (f == 0 || sent[i] > to)) after++
        printf "%d %d %d %d %d %d %d\n", NR, NR - f, f, f ? from - t : 0, f ? to - t : 0, at_once,
          after
      }' "$file")
  LOAD_STATUSES=$(awk '{ print $4 }' "$file" | sort | uniq -c |
    awk '{ printf "%s%s x%s", s, $2, $1; s = ", " }')
  # How long the 200s sent within 1 s of the announcement took: their wait for the new primary.
  waits=$(awk -v t="$t" '$2 >= t - 1000 && $2 <= t + 1000 && $4 == 200 { print $3 - $2 }' "$file" |
    sort -n | awk '{ v[NR] = $1 } END {
      if (NR) printf "median %d ms, max %d ms", v[int((NR + 1) / 2)], v[NR]; else printf "none" }')
  echo "# $name: $LOAD_TOTAL requests ($LOAD_STATUSES); $LOAD_FAILED failed" "$(
    [ "$LOAD_FAILED" -gt 0 ] && echo "($LOAD_AT_ONCE at once, without waiting the Redis timeout)," \
      "sent from $LOAD_FAIL_FROM ms, ended by $LOAD_FAIL_TO ms relative to the announcement")"
  echo "# $name: the 200s sent within 1 s of the announcement took $waits"
}

# repeats FILE ANNOUNCED-MS: the INCR answers that FILE's load got more than once, and when
# their first and second answers ended, relative to the announcement; nothing when none.
repeats() {
  awk '$4 == 200 { print $5 }' "$1" | sort -n | uniq -d >"$1.repeats"
  [ -s "$1.repeats" ] || return 0
  awk -v t="$2" 'NR == FNR { r[$1] = 1; n++; if (lo_v == "") lo_v = $1; hi_v = $1; next }
    $4 == 200 && ($5 in r) {
      k = seen[$5]++ ? 2 : 1
      if (!(k in lo) || $3 < lo[k]) lo[k] = $3
      if ($3 > hi[k]) hi[k] = $3 }
    END {
      printf "%d values answered twice (%s..%s): first from %+d to %+d ms, again from %+d to %+d ms",
        n, lo_v, hi_v, lo[1] - t, hi[1] - t, lo[2] - t, hi[2] - t }' "$1.repeats" "$1"
}

# at_once FILE: how many of FILE's failures that did not wait the Redis timeout gave each error.
at_once() {
  awk -v quick=$((TIMEOUT_MS * 9 / 10)) '$4 != 200 && $3 - $2 < quick {
      sub(/,"request_id".*/, "", $5); n[$5]++ }
    END { for (e in n) print n[e] " x " e }' "$1"
}

# readyz_until NAME STATUS TEXT: passes when /readyz answers STATUS with TEXT in its body within
# 5 s.
readyz_has() { http GET /readyz; [ "$STATUS" = "$1" ] && [[ "$BODY" == *"$2"* ]]; }
readyz_until() {
  local name=$1
  shift
  if await 5 readyz_has "$@"; then pass "$name"; else fail "$name" "got $STATUS: ${BODY:0:300}"; fi
}

# ---- the servers ----

redis_server_start r1 || exit 1
redis_server_start r2 --replicaof 127.0.0.1 "${RS_PORT[r1]}" || exit 1
started=$(now_ms)
for s in s1 s2 s3; do sentinel_start "$s" "$MASTER" "${RS_PORT[r1]}" || exit 1; done
python3 "$TESTS_DIR/fixtures/sentinel_events.py" "$WORK/events" - \
  "${SN_PORT[s1]}" "${SN_PORT[s2]}" "${SN_PORT[s3]}" 2>"$WORK/events.log" &
REDIS_PIDS+=($!)

# ---- 1. a sentinel that requires a password (while the three others find each other) ----
# It follows the same primary under another name: the three others ignore its hellos.
SECRET=sentinel-Pw-7d1e
sentinel_start s4 authmaster "${RS_PORT[r1]}" "$SECRET" || exit 1
URL="redis+sentinel://127.0.0.1:${SN_PORT[s4]}/authmaster"
mf_start "$TESTS_DIR/fixtures/redis_sentinel" MAYFLY_WORKERS=1 \
  MAYFLY_REDIS_TIMEOUT=${TIMEOUT_MS}ms MAYFLY_REDIS_URL="$URL" \
  MAYFLY_REDIS_SENTINEL_PASSWORD="$SECRET" || exit 1
readyz_until "sentinel password: readyz names the primary" 200 \
  "sentinel authmaster: 127.0.0.1:${RS_PORT[r1]}"
expect "sentinel password: INCR answers" POST /incr 200
check "sentinel password: not in /metrics" \
  bash -c '! curl -s "$1" | grep -qF "$2"' _ "$(url /metrics)" "$SECRET"
mf_stop
check "sentinel password: not in the log" bash -c '! grep -qF "$1" "$2"' _ "$SECRET" "$MF_LOG"
for given in "" wrong-password; do
  what=${given:+a wrong password}
  what=${what:-no password}
  mf_start "$TESTS_DIR/fixtures/redis_sentinel" MAYFLY_WORKERS=1 \
    MAYFLY_REDIS_TIMEOUT=${TIMEOUT_MS}ms MAYFLY_REDIS_URL="$URL" \
    ${given:+MAYFLY_REDIS_SENTINEL_PASSWORD=$given} || exit 1
  refusal=$([ -n "$given" ] && echo WRONGPASS || echo NOAUTH)
  readyz_until "sentinel with $what: readyz 503 naming the refusal ($refusal)" 503 "$refusal"
  expect "sentinel with $what: a Redis route answers 503" POST /incr 503
  mf_stop
done
kill -TERM "${SN_PID[s4]}"

await 20 sentinels_ready r2 || { fail "the sentinels see each other and the replica"; mf_finish; }
await 5 bash -c '[ "$(grep -c " subscribed$" "$1")" = 3 ]' _ "$WORK/events" ||
  { fail "subscribed to the sentinels' events"; mf_finish; }
echo "# the sentinels saw each other and the replica after $(($(now_ms) - started)) ms"

SENTINELS="127.0.0.1:${SN_PORT[s1]},127.0.0.1:${SN_PORT[s2]},127.0.0.1:${SN_PORT[s3]}"
mf_start "$TESTS_DIR/fixtures/redis_sentinel" MAYFLY_WORKERS=2 \
  MAYFLY_REDIS_TIMEOUT=${TIMEOUT_MS}ms MAYFLY_ACCESS_LOG=off \
  MAYFLY_REDIS_URL="redis+sentinel://$SENTINELS/$MASTER" || exit 1

readyz_until "readyz names the primary the sentinels give" 200 \
  "sentinel $MASTER: 127.0.0.1:${RS_PORT[r1]}"
expect "INCR through the sentinels' primary" POST /incr 200
check "the write is on the primary" [ "$(redis_cli r1 get counter)" = "$BODY" ]
check "mayfly_redis_failovers_total is 0 at start" [ "$(metric mayfly_redis_failovers_total)" = 0 ]

# ---- 2. a planned failover under load ----
before=$(redis_cli r1 get counter)
load_start "$WORK/planned"
sleep 2
asked=$(now_ms)
check "SENTINEL FAILOVER accepted" [ "$(sentinel_cli s1 sentinel failover "$MASTER")" = OK ]
announced=$(switch_after "$asked") ||
  { fail "the sentinels announced +switch-master"; load_stop; mf_finish; }
sleep 2.5
load_stop
old_counter=$(redis_cli r1 get counter) # before the sentinels make it a replica
echo "# planned failover: +switch-master $((announced - asked)) ms after SENTINEL FAILOVER;" \
  "timeline: $(timeline "$asked" "$announced")"
load_report "planned failover" "$WORK/planned" "$announced"
check "planned failover: requests ran across it ($LOAD_TOTAL)" [ "$LOAD_TOTAL" -gt $((RATE * 2)) ]
repeated=$(repeats "$WORK/planned" "$announced")
check "planned failover: no INCR answer repeats (no acknowledged write lost)" [ -z "$repeated" ]
counter=$(redis_cli r2 get counter)
check "planned failover: every acknowledged write counted ($before + $LOAD_OK <= $counter)" \
  [ $((before + LOAD_OK)) -le "$counter" ]
[ -z "$repeated" ] || echo "# planned failover: $repeated relative to the announcement;" \
  "the old primary's counter $old_counter, the new primary's $counter"
waits="planned failover: a request during the switch waits for the new primary (Redis timeout)"
if [ "$LOAD_AT_ONCE" = 0 ]; then pass "$waits"; else
  fail "$waits" "$LOAD_AT_ONCE failed at once:" "$(at_once "$WORK/planned")"
fi
check "planned failover: none failed $LATE_MS ms after the announcement (the last: $LOAD_FAIL_TO)" \
  [ "$LOAD_FAIL_TO" -le "$LATE_MS" ]
readyz_until "planned failover: readyz names the new primary" 200 \
  "sentinel $MASTER: 127.0.0.1:${RS_PORT[r2]}"
check "planned failover: mayfly_redis_failovers_total is 1" \
  [ "$(metric mayfly_redis_failovers_total)" = 1 ]

# The sentinels turn the old primary into a replica of the new one (some seconds after the
# switch, as Sentinel waits for a stale configuration to be corrected); the crash needs it.
converting=$(now_ms)
await 25 sentinels_ready r1 ||
  { fail "the old primary became a replica the sentinels know"; mf_finish; }
echo "# the old primary was a synced replica $(($(now_ms) - announced)) ms after the announcement" \
  "(waited $(($(now_ms) - converting)) ms)"

# ---- 3. the new primary killed under load ----
load_start "$WORK/crash"
sleep 1.5
{ kill -KILL "${RS_PID[r2]}"; wait "${RS_PID[r2]}"; } 2>/dev/null
killed=$(now_ms)
announced=$(switch_after "$killed") ||
  { fail "the sentinels announced the crash's +switch-master"; load_stop; mf_finish; }
sleep 3
load_stop
echo "# crash: +switch-master $((announced - killed)) ms after SIGKILL;" \
  "timeline: $(timeline "$killed" "$announced")"
load_report "crash" "$WORK/crash" "$announced"
check "crash: only 200s and 503s ($LOAD_STATUSES)" \
  bash -c '! awk "\$4 != 200 && \$4 != 503" "$1" | grep -q .' _ "$WORK/crash"
check "crash: none failed $RECOVER_MS ms after the announcement (the last: $LOAD_FAIL_TO)" \
  [ "$LOAD_FAIL_TO" -le "$RECOVER_MS" ]
check "crash: requests succeed again after the last failure ($LOAD_OK_AFTER answered 200)" \
  [ "$LOAD_OK_AFTER" -gt 0 ]
check "crash: the same mayfly process, never restarted" mf_alive
readyz_until "crash: readyz names the promoted server" 200 \
  "sentinel $MASTER: 127.0.0.1:${RS_PORT[r1]}"
check "crash: mayfly_redis_failovers_total is 2" [ "$(metric mayfly_redis_failovers_total)" = 2 ]
mf_stop
check "exit 0" [ "$MF_EXIT" = 0 ]
mf_finish
