# A Redis Cluster (cluster.sh: three primaries, one replica each, --cluster-node-timeout 1000)
# changing under steady load through redis+cluster:// (fixtures/http_load.py: keep-alive
# clients, each request an INCR of one of 200 keys spread over every node, every request's
# times, status, key and answer recorded), with the numbers printed for the docs:
#   a. 1500 slots resharded from one primary to another (`redis-cli --cluster reshard`, keys
#      moving with MIGRATE): no request fails (ASK and MOVED followed), the redirects counted;
#   b. a planned failover (CLUSTER FAILOVER sent to a replica): failures, if any, within a short
#      burst, no INCR answer handed out twice (an acknowledged write lost would repeat its
#      value), every answer at most the key's value in the cluster afterwards;
#   c. a primary killed (SIGKILL): requests for its slots succeed again within the node timeout
#      + 4 s of the kill (or within 1.5 s of its replica's promotion, when Redis itself took longer:
#      an election that fails is tried again 2 s later), without restarting mayfly, while
#      requests for the other primaries' keys never fail.
# The servers run with --cluster-require-full-coverage no: with the default (yes), every node
# answers CLUSTERDOWN for every key between a primary's FAIL and its replica's promotion (about
# 1 s here), so no client could keep the other primaries' keys served.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"

RATE=300         # requests a second, in all
CLIENTS=4        # keep-alive connections
KEYS=200         # key:0 .. key:199
TIMEOUT_MS=1000  # MAYFLY_REDIS_TIMEOUT
BURST_MS=2000    # the longest run of failures a planned failover may cause
RECOVER_MS=$((CLUSTER_NODE_TIMEOUT + 4000)) # after a kill, the killed primary's keys answer again
PROMOTED_MS=1500 # ... or this long after the promotion, when that came later (a breaker open
                 # on the dead node refuses calls for 1 s before its probe finds the new map)
FIX=$TESTS_DIR/fixtures/redis_cluster

now_ms() { date +%s%3N; }

LOAD_PID=
load_start() {
  python3 "$TESTS_DIR/fixtures/http_load.py" "$MF_PORT" POST '/incr?k={key}' "$RATE" \
    "$CLIENTS" "$1" "$KEYS" &
  LOAD_PID=$!
}
load_stop() { kill -TERM "$LOAD_PID"; wait "$LOAD_PID"; LOAD_PID=; }

# load_report NAME FILE T0 T0-NAME [KEYS-FILE [in|out]]: prints what the load saw, and sets
# LOAD_TOTAL, LOAD_FAILED, LOAD_FAIL_FROM and LOAD_FAIL_TO (the failures' first send and last end,
# ms relative to T0, the time of T0-NAME), LOAD_BURST (their span), LOAD_OK_AFTER (200s sent
# after the last failure) and LOAD_STATUSES. With KEYS-FILE, only the requests for the keys it
# lists (in), or for the others (out).
load_report() {
  local name=$1 file=$2 t=$3 t_name=$4 keys=${5:-/dev/null} side=${6:-all}
  awk -v side="$side" -v keys="$keys" 'FILENAME == keys { listed[$1] = 1; next }
    side == "all" || (side == "in") == ($5 in listed)' "$keys" "$file" >"$file.sel"
  read -r LOAD_TOTAL _ LOAD_FAILED LOAD_FAIL_FROM LOAD_FAIL_TO LOAD_OK_AFTER < <(
    awk -v t="$t" '
      { sent[NR] = $2; status[NR] = $4 }
      $4 != 200 { f++; if (from == "" || $2 < from) from = $2; if ($3 > to) to = $3 }
      END {
        for (i = 1; i <= NR; i++) if (status[i] == 200 && (f == 0 || sent[i] > to)) after++
        printf "%d %d %d %d %d %d\n", NR, NR - f, f, f ? from - t : 0, f ? to - t : 0, after
      }' "$file.sel")
  LOAD_BURST=$((LOAD_FAIL_TO - LOAD_FAIL_FROM))
  LOAD_STATUSES=$(awk '{ print $4 }' "$file.sel" | sort | uniq -c |
    awk '{ printf "%s%s x%s", s, $2, $1; s = ", " }')
  echo "# $name: $LOAD_TOTAL requests ($LOAD_STATUSES); $LOAD_FAILED failed" "$(
    [ "$LOAD_FAILED" -gt 0 ] && echo "(sent from $LOAD_FAIL_FROM ms, ended by $LOAD_FAIL_TO ms" \
      "relative to $t_name, a burst of $LOAD_BURST ms): $(awk '$4 != 200 {
        sub(/,"request_id".*/, "", $6); n[$4 " " $6]++ }
        END { for (e in n) printf "%d x %s; ", n[e], e }' "$file.sel")")"
}

# repeats FILE...: how many (key, answer) pairs were answered 200 more than once.
repeats() { awk '$4 == 200 { print $5, $6 }' "$@" | sort | uniq -d | wc -l; }

# lost FILE...: how many keys hold less in the cluster than the highest answer the load got
# for them (an acknowledged INCR lost).
lost() {
  awk '$4 == 200 && $6 + 0 > max[$5] { max[$5] = $6 + 0 } END { for (k in max) print k, max[k] }' \
    "$@" | sort >"$WORK/acked"
  # shellcheck disable=SC2046
  printf 'GET "%s"\n' $(awk '{ print $1 }' "$WORK/acked") |
    cluster_cli "$(cluster_primaries | head -1)" -c | grep -v '^-> Redirected' >"$WORK/held"
  paste -d ' ' "$WORK/acked" "$WORK/held" | awk '$3 + 0 < $2 { n++ } END { print n + 0 }'
}

redirects() {
  echo "moved $(metric 'mayfly_redis_cluster_redirects_total{kind="moved"}')," \
    "ask $(metric 'mayfly_redis_cluster_redirects_total{kind="ask"}')," \
    "tryagain $(metric 'mayfly_redis_cluster_redirects_total{kind="tryagain"}');" \
    "refreshes ok $(metric 'mayfly_redis_cluster_refreshes_total{result="ok"}')," \
    "failed $(metric 'mayfly_redis_cluster_refreshes_total{result="failed"}')"
}

readyz_whole() { http GET /readyz; [ "$STATUS" = 200 ] && [[ "$BODY" == *"16384 of 16384 slots"* ]]; }

# ---- the cluster and mayfly ----
cluster_start --cluster-require-full-coverage no || exit 1
read -ra P <<<"$(cluster_primaries | xargs)"
A=${P[0]} B=${P[1]} C=${P[2]}
mf_start "$FIX" MAYFLY_WORKERS=2 MAYFLY_REDIS_TIMEOUT=${TIMEOUT_MS}ms MAYFLY_ACCESS_LOG=off \
  MAYFLY_REDIS_URL="$CLUSTER_URL" ||
  { fail "mayfly serves $CLUSTER_URL" "$(tail -n 3 "$MF_LOG")"; mf_finish; }
if until_ok 5 readyz_whole; then pass "readyz: the whole cluster"; else
  fail "readyz: the whole cluster" "got $STATUS: ${BODY:0:300}"; mf_finish; fi
expect "an INCR through the cluster" POST "/incr?k=key:0" 200 1

# ---- a. reshard under load ----
# shellcheck disable=SC2046
cluster_owners $(seq -f 'key:%g' 0 $((KEYS - 1))) >"$WORK/owners.before"
redirects0=$(redirects)
load_start "$WORK/reshard"
sleep 1
t0=$(now_ms)
cluster_cli "$A" --cluster reshard "127.0.0.1:$A" --cluster-from "$(cluster_id "$A")" \
  --cluster-to "$(cluster_id "$B")" --cluster-slots 1500 --cluster-yes >"$WORK/reshard.log" 2>&1
rc=$?
took=$(($(now_ms) - t0))
sleep 1
load_stop
check "reshard: redis-cli --cluster reshard moved 1500 slots from $A to $B (exit $rc, $took ms)" \
  [ "$rc" = 0 ]
[ "$rc" = 0 ] || tail -n 5 "$WORK/reshard.log"
# shellcheck disable=SC2046
cluster_owners $(seq -f 'key:%g' 0 $((KEYS - 1))) >"$WORK/owners.after"
moved_keys=$(paste -d ' ' "$WORK/owners.before" "$WORK/owners.after" | awk '$2 != $4' | wc -l)
echo "# reshard: 1500 slots in $took ms; $moved_keys of the $KEYS keys changed node"
check "reshard: some of the load's keys moved ($moved_keys)" [ "$moved_keys" -gt 0 ]
load_report "reshard" "$WORK/reshard" "$t0" "the reshard's start"
check "reshard: no request failed ($LOAD_FAILED of $LOAD_TOTAL)" [ "$LOAD_FAILED" = 0 ]
check "reshard: requests ran across it ($LOAD_TOTAL)" [ "$LOAD_TOTAL" -gt $((RATE * 2)) ]
echo "# reshard: redirects before: $redirects0; after: $(redirects)"
moved=$(metric 'mayfly_redis_cluster_redirects_total{kind="moved"}')
ask=$(metric 'mayfly_redis_cluster_redirects_total{kind="ask"}')
check "reshard: redirects counted (moved $moved, ask $ask)" [ $((${moved%.*} + ${ask%.*})) -gt 0 ]
check "reshard: no INCR answer repeated" [ "$(repeats "$WORK/reshard")" = 0 ]
check "reshard: the cluster agrees on the new map" cluster_wait_ok 10

# ---- b. a planned failover under load ----
R=$(cluster_replica_of "$C")
load_start "$WORK/planned"
sleep 1
t0=$(now_ms)
check "CLUSTER FAILOVER accepted by $R (replica of $C)" [ "$(cluster_cli "$R" cluster failover)" = OK ]
promoted=
for _ in $(seq 1 200); do
  [ "$(cluster_cli "$R" role | head -1)" = master ] && { promoted=$(now_ms); break; }
  sleep 0.05
done
sleep 2
load_stop
check "planned failover: $R took over" [ -n "$promoted" ]
won=$(cluster_log_time "$R" "Failover election won" "$t0") || won=${promoted:-$t0}
echo "# planned failover: $R won its election $((won - t0)) ms after CLUSTER FAILOVER"
load_report "planned failover" "$WORK/planned" "$t0" "CLUSTER FAILOVER"
check "planned failover: requests ran across it ($LOAD_TOTAL)" [ "$LOAD_TOTAL" -gt $((RATE * 2)) ]
check "planned failover: failures within a burst of $BURST_MS ms ($LOAD_FAILED, $LOAD_BURST ms)" \
  [ "$LOAD_BURST" -le "$BURST_MS" ]
check "planned failover: no INCR answer repeated (no acknowledged write lost)" \
  [ "$(repeats "$WORK/reshard" "$WORK/planned")" = 0 ]
check "planned failover: every answer counted in the cluster" \
  [ "$(lost "$WORK/reshard" "$WORK/planned")" = 0 ]
echo "# planned failover: redirects: $(redirects)"
# The old primary resyncs as a replica of the new one: the crash below needs a whole cluster.
check "the cluster whole again after the failover" cluster_wait_ok 15

# ---- c. a primary killed under load ----
victim=$B
heir=$(cluster_replica_of "$victim")
# shellcheck disable=SC2046
cluster_owners $(seq -f 'key:%g' 0 $((KEYS - 1))) | awk -v v="$victim" '$2 == v { print $1 }' \
  >"$WORK/victim.keys"
echo "# crash: $victim (replica $heir) serves $(wc -l <"$WORK/victim.keys") of the $KEYS keys"
load_start "$WORK/crash"
sleep 1.5
{ kill -KILL "${CLUSTER_PID[$victim]}"; wait "${CLUSTER_PID[$victim]}"; } 2>/dev/null
killed=$(now_ms)
promoted=
for _ in $(seq 1 200); do
  [ "$(cluster_cli "$heir" role 2>/dev/null | head -1)" = master ] && { promoted=$(now_ms); break; }
  sleep 0.05
done
left=$((killed + RECOVER_MS + 1500 - $(now_ms)))
[ "$left" -gt 0 ] && sleep "$(awk -v ms="$left" 'BEGIN { printf "%.3f", ms / 1000 }')"
load_stop
check "crash: $heir took over" [ -n "$promoted" ]
failed_at=$(cluster_log_time "$heir" "FAIL message received|Marking node .* as failing" "$killed") ||
  failed_at=$killed
won=$(cluster_log_time "$heir" "Failover election won" "$killed") || won=${promoted:-$killed}
echo "# crash: $heir saw its primary FAIL $((failed_at - killed)) ms after SIGKILL and won its" \
  "election at $((won - killed)) ms ($(grep -c 'Starting a failover election' \
  "$WORK/cluster/$heir.log") election(s))"
load_report "crash, the killed primary's keys" "$WORK/crash" "$killed" "the kill" "$WORK/victim.keys" in
limit=$RECOVER_MS
[ $((won - killed + PROMOTED_MS)) -gt "$limit" ] && limit=$((won - killed + PROMOTED_MS))
echo "# crash: the killed primary's keys answered again $((LOAD_FAIL_TO - (won - killed))) ms" \
  "after the promotion"
check "crash: its keys answer again within $limit ms of the kill (the last failure: $LOAD_FAIL_TO ms)" \
  [ "$LOAD_FAIL_TO" -le "$limit" ]
check "crash: its keys succeed after the last failure ($LOAD_OK_AFTER answered 200)" \
  [ "$LOAD_OK_AFTER" -gt 0 ]
check "crash: its keys fail with 503 only ($LOAD_STATUSES)" \
  bash -c '! awk "\$4 != 200 && \$4 != 503" "$1" | grep -q .' _ "$WORK/crash.sel"
load_report "crash, the other primaries' keys" "$WORK/crash" "$killed" "the kill" "$WORK/victim.keys" out
check "crash: the other primaries' keys never failed ($LOAD_FAILED of $LOAD_TOTAL)" \
  [ "$LOAD_FAILED" = 0 ]
echo "# crash: $(repeats "$WORK/crash") INCR answers repeated (an acknowledged write the replica" \
  "had not received is lost with the primary: Redis replicates asynchronously)"
echo "# crash: redirects: $(redirects)"
check "crash: the same mayfly process, never restarted" mf_alive
if until_ok 5 readyz_whole; then pass "crash: readyz 200, every slot served"; else
  fail "crash: readyz 200, every slot served" "got $STATUS: ${BODY:0:300}"; fi
check "crash: mayfly_redis_cluster_primaries is 3" [ "$(metric mayfly_redis_cluster_primaries)" = 3 ]
errors=$(metric "mayfly_redis_node_errors_total{node=\"127.0.0.1:$victim\"}")
check "crash: the killed node's errors counted ($errors)" [ "${errors%.*}" -gt 0 ]
mf_stop
check "exit 0" [ "$MF_EXIT" = 0 ]
mf_finish
