# Failover-correct errors on a plain redis:// URL, with real redis-servers A and B on loopback and
# mayfly reaching them through a fixed address (fixtures/redis_proxy.py) whose new connections go
# where the test says, as a Kubernetes Service's or a managed service's name follows the primary
# while connections already open stay with the old one.
#   1. A turned into a replica (REPLICAOF), the address still on A: every write gets READONLY;
#      each is sent exactly twice (the call and one retry on a new connection: counted by A's
#      own rejected_calls), then reported, within the timeout; mayfly_redis_reconnects_total
#      {reason="readonly"} counts them; REPLICAOF NO ONE on A and requests succeed again,
#      without restarting mayfly.
#   2. The same with MASTERDOWN: a read on a replica that lost its primary and serves no stale
#      data.
#   3. A planned failover under steady load (A's writes paused, B caught up and promoted, the
#      address moved to B, A demoted, A unpaused, as Sentinel and Redis's FAILOVER do): no
#      request fails, every INCR answer is unique, and B's counter equals the answers given (no
#      acknowledged write lost, none applied twice).
#   4. A connection lost after a write was sent (the proxy cuts it while Redis runs a 400 ms
#      script that has already applied an INCR): 503, and the command is not sent again (the
#      counter is 1, not 2).
#   5. The primary killed (SIGKILL) under load, the replica promoted and the address moved
#      500 ms later: only 200s and 503s, the failures within the outage, recovery without a
#      restart.
# Not testable here: a host name whose address changes (loopback offers no name to re-point;
# the proxy stands for it, the re-resolution itself is not observed), LOADING (it needs a
# dataset large enough to catch a server still loading it), Sentinel (redis+sentinel://).
source "$(dirname "$0")/lib.sh"

redis_server_start a || exit 1
redis_server_start b || exit 1
redis_proxy_start px "${RS_PORT[a]}" || exit 1
mf_start "$TESTS_DIR/fixtures/redis_failover" MAYFLY_WORKERS=2 MAYFLY_REDIS_TIMEOUT=2s \
  MAYFLY_ACCESS_LOG=off MAYFLY_REDIS_URL="redis://127.0.0.1:${PX_PORT[px]}" || exit 1

# rejected NAME CMD: how many CMD calls the server NAME refused (READONLY, MASTERDOWN...).
rejected() {
  redis_cli "$1" info commandstats | tr -d '\r' |
    awk -F'[:,=]' -v c="cmdstat_$2" '$1 == c { for (i = 2; i < NF; i += 2) if ($i == "rejected_calls") print $(i + 1) }' |
    grep . || echo 0
}
# replica_of NAME PRIMARY: NAME replicates PRIMARY, synced.
replica_of() {
  redis_cli "$1" replicaof 127.0.0.1 "${RS_PORT[$2]}" >/dev/null
  for _ in $(seq 1 200); do
    redis_cli "$1" info replication | grep -q '^master_link_status:up' && return 0
    sleep 0.05
  done
  echo "$1 did not sync with $2"
  return 1
}
# offset NAME FIELD: a replication offset from INFO replication.
offset() { redis_cli "$1" info replication | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'; }
reconnects() { metric "mayfly_redis_reconnects_total{reason=\"$1\"}"; }
# refused_each NAME PATH N CMD SERVER REASON ERROR: N requests to PATH that the server refuses;
# each is answered (not 200) within the timeout, CMD reaches SERVER exactly twice per request,
# and reconnects{reason=REASON} grows by at least N.
refused_each() {
  local name=$1 path=$2 n=$3 cmd=$4 server=$5 reason=$6 error=$7 r0 c0 statuses="" i start
  r0=$(rejected "$server" "$cmd")
  c0=$(reconnects "$reason")
  start=$SECONDS
  for ((i = 0; i < n; i++)); do
    http GET "$path"
    statuses+="$STATUS "
  done
  check "$name: no request answered 200 ($statuses)" bash -c '! grep -q 200 <<<"$1"' _ "$statuses"
  check "$name: each answered within the timeout" [ $((SECONDS - start)) -le $((n * 2)) ]
  check "$name: $cmd sent exactly twice per request (one retry), $((2 * n)) in all" \
    [ "$(($(rejected "$server" "$cmd") - r0))" = $((2 * n)) ]
  check "$name: mayfly_redis_reconnects_total{reason=\"$reason\"} grew by $n or more" \
    awk -v a="$(reconnects "$reason")" -v b="$c0" -v n="$n" 'BEGIN { exit !(a - b >= n) }'
  check "$name: the log names the refusal" log_has "$error"
}
# first_200 NAME PATH: the next request to PATH answers 200 (at most 1 s of retries).
first_200() {
  if answers_200 "$2" 10; then pass "$1"; else fail "$1" "last: $STATUS $BODY"; fi
}

expect "A primary: INCR answers" GET /incr 200 1

# ---- 1. READONLY ----
replica_of a b || exit 1
check "A is a replica: it refuses writes" grep -q READONLY <<<"$(redis_cli a incr x)"
refused_each "READONLY" /incr 5 incr a readonly READONLY
check "READONLY: B got no write from mayfly (the address is A's)" [ "$(redis_cli b get load)" = "" ]
redis_cli a replicaof no one >/dev/null
first_200 "A primary again: INCR answers without restarting mayfly" /incr

# ---- 2. MASTERDOWN ----
DEAD=$(free_port)
redis_cli a config set replica-serve-stale-data no >/dev/null
redis_cli a replicaof 127.0.0.1 "$DEAD" >/dev/null
check "A replicates a dead primary: it refuses reads" grep -q MASTERDOWN <<<"$(redis_cli a get load)"
refused_each "MASTERDOWN" /get 5 get a masterdown MASTERDOWN
redis_cli a replicaof no one >/dev/null
redis_cli a config set replica-serve-stale-data yes >/dev/null
first_200 "A primary again: GET answers" /get

# ---- load: N clients hitting /incr for SECONDS; "<ms since the epoch> <status> <body>" lines ----
LOAD_PIDS=()
load() {
  local n=$1 secs=$2 out=$3 i
  LOAD_PIDS=()
  for ((i = 0; i < n; i++)); do
    (
      end=$((SECONDS + secs))
      while ((SECONDS < end)); do
        r=$(curl -s -w ' %{http_code}' --max-time 5 "$(url /incr)")
        echo "$(date +%s%3N) ${r##* } ${r% *}"
      done >"$out.$i"
    ) &
    LOAD_PIDS+=($!)
  done
}
load_wait() { wait "${LOAD_PIDS[@]}"; cat "$1".* >"$1"; }
now_ms() { date +%s%3N; }

# ---- 3. a planned failover behind the address ----
replica_of b a || exit 1
before=$(redis_cli a get load)
c0=$(reconnects readonly)
load 4 4 "$WORK/planned"
sleep 1.5
redis_cli a client pause 5000 write >/dev/null
for _ in $(seq 1 100); do
  [ "$(offset a master_repl_offset)" = "$(offset b slave_repl_offset)" ] && break
  sleep 0.01
done
redis_cli b replicaof no one >/dev/null
redis_proxy_target px "${RS_PORT[b]}"
redis_cli a replicaof 127.0.0.1 "${RS_PORT[b]}" >/dev/null
redis_cli a client unpause >/dev/null
load_wait "$WORK/planned"
total=$(wc -l <"$WORK/planned")
ok=$(awk '$2 == 200' "$WORK/planned" | wc -l)
check "planned failover: requests ran across it ($total)" [ "$total" -gt 20 ]
check "planned failover: none failed ($ok of $total answered 200)" [ "$ok" = "$total" ]
check "planned failover: every INCR answer is unique (no write applied twice)" \
  [ -z "$(awk '$2 == 200 { print $3 }' "$WORK/planned" | sort | uniq -d)" ]
check "planned failover: B's counter = the answers given (no acknowledged write lost)" \
  [ "$(redis_cli b get load)" = $((before + ok)) ]
check "planned failover: mayfly left A at its READONLY" \
  awk -v a="$(reconnects readonly)" -v b="$c0" 'BEGIN { exit !(a > b) }'

# ---- 4. the connection lost after a write: not sent again ----
curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST "$(url /slow-incr)" >"$WORK/slow.status" &
slow=$!
sleep 0.15
kill -USR1 "${PX_PID[px]}"
wait "$slow"
sleep 0.5
check "connection cut after the write: 503 (got $(cat "$WORK/slow.status"))" [ "$(cat "$WORK/slow.status")" = 503 ]
check "connection cut after the write: applied once, not sent again" [ "$(redis_cli b get slow)" = 1 ]
first_200 "connection cut: the next request answers" /incr

# ---- 5. the primary killed under load, the replica promoted ----
replica_of a b || exit 1
load 4 5 "$WORK/crash"
sleep 1
{ kill -KILL "${RS_PID[b]}"; wait "${RS_PID[b]}"; } 2>/dev/null
killed=$(now_ms)
sleep 0.5
redis_cli a replicaof no one >/dev/null
redis_proxy_target px "${RS_PORT[a]}"
moved=$(now_ms)
load_wait "$WORK/crash"
check "crash: only 200 and 503 (no hang, no other error)" \
  bash -c '! awk "\$2 != 200 && \$2 != 503" "$1" | grep -q .' _ "$WORK/crash"
last_fail=$(awk '$2 != 200 && $1 > t { t = $1 } END { printf "%.0f\n", t }' "$WORK/crash")
failed=$(awk '$2 != 200' "$WORK/crash" | wc -l)
check "crash: $failed failed, the last $((last_fail - killed)) ms after the kill, $((last_fail - moved)) ms after the switch (at most 3 s)" \
  [ $((last_fail - moved)) -le 3000 ]
check "crash: 200s after the switch, without restarting mayfly" \
  bash -c 'tail -n 5 <(sort -n "$1") | grep -q " 200 "' _ "$WORK/crash"
expect "crash: /readyz 200 again" GET /readyz 200
check "no crash in the log" bash -c '! grep -qiE "fatal|abort|sanitizer" "$1"' _ "$MF_LOG"
mf_stop
check "exit 0" [ "$MF_EXIT" = 0 ]
mf_finish
