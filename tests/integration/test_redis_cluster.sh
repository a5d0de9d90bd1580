# Redis Cluster through redis+cluster:// (cluster.sh: three primaries and their replicas on
# loopback), checked against the nodes themselves with redis-cli:
#   1. /readyz names the cluster and its 16384 slots;
#   2. 600 keys written through mayfly land on all three primaries, each on the node that serves
#      its slot (read there without redirection) and found by `redis-cli -c`; read back;
#   3. a pipeline over keys of every node answers in the caller's order; a script on keys that
#      share a hash tag runs; MSET across slots gives CROSSSLOT with a hint about hash tags;
#      KEYS is refused naming the command and the cluster; SCRIPT LOAD reaches every primary;
#      each primary sees at most the pool's connections;
#   4. a slot moved by hand: ASK followed while it migrates, MOVED once it has; TRYAGAIN for a
#      multi-key command while its keys are split; all counted;
#   5. the stdlib (session, ratelimit, cache, lease; test_redis_stdlib's routes) on keys all over
#      the cluster;
#   6. /metrics: the cluster's families, 16384 slots covered, 3 primaries;
#   7. one seed (a replica) is enough to find every primary; a slot no node serves: CLUSTERDOWN
#      is a 503 and /readyz fails on cluster_state, both recovering once the slot is back;
#   8. `mayfly test` on a cluster: keys written by the specs are gone after the run, and a
#      cluster that holds keys at the start is refused, its key kept;
#   9. rediss+cluster:// with MAYFLY_REDIS_CA_FILE: keys over every node.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"

FIX=$TESTS_DIR/fixtures/redis_cluster
# The scripts served: the cluster's routes and test_redis_stdlib's (fixtures/redis_stdlib).
SCRIPTS=$WORK/scripts
mkdir -p "$SCRIPTS"
cp "$FIX"/*.lua "$TESTS_DIR/fixtures/redis_stdlib/stdlib_routes.lua" "$SCRIPTS/"
ENVS=(MAYFLY_WORKERS=2 MAYFLY_REDIS_TIMEOUT=1000ms MAYFLY_ACCESS_LOG=off)
N=600

# cluster_serve URL [VAR=value...]: mayfly on SCRIPTS; fails the test (and ends it) when it
# does not start.
cluster_serve() {
  local url=$1; shift
  mf_start "$SCRIPTS" "${ENVS[@]}" MAYFLY_REDIS_URL="$url" "$@" ||
    { fail "mayfly serves $url" "$(tail -n 3 "$MF_LOG")"; mf_finish; }
}

readyz_has() { http GET /readyz; [ "$STATUS" = "$1" ] && [[ "$BODY" == *"$2"* ]]; }
readyz_until() {
  local name=$1; shift
  if until_ok 5 readyz_has "$@"; then pass "$name"; else fail "$name" "got $STATUS: ${BODY:0:300}"; fi
}

# many METHOD PATH FIRST LAST: PATH with {i} replaced by each of FIRST..LAST, over one keep-alive
# connection (one curl), in order; one line "<status> <body>" each.
many() {
  local method=$1 path=$2 i urls=()
  for i in $(seq "$3" "$4"); do urls+=("$(url "${path//\{i\}/$i}")"); done
  curl -s -X "$method" --max-time 60 -w ' %{http_code}\n' "${urls[@]}" |
    awk '{ s = $NF; $NF = ""; sub(/ $/, ""); print s, $0 }'
}

# get_c KEY...: their values as `redis-cli -c` finds them, one line each (empty for none).
get_c() {
  printf 'GET "%s"\n' "$@" | cluster_cli "${CLUSTER_PORTS[0]}" -c | grep -v '^-> Redirected'
}

# on_their_nodes KEY-VALUE-FILE: every key ("key value" lines) read without redirection from the
# primary cluster_owners names holds the value; prints how many do not.
on_their_nodes() {
  local keys port bad=0
  awk '{ print $1 }' "$1" >"$WORK/onn.keys"
  # shellcheck disable=SC2046
  cluster_owners $(cat "$WORK/onn.keys") >"$WORK/onn.owners"
  for port in $(awk '{ print $2 }' "$WORK/onn.owners" | sort -u); do
    keys=$(awk -v p="$port" '$2 == p { print $1 }' "$WORK/onn.owners")
    # shellcheck disable=SC2086
    paste -d ' ' <(echo "$keys") <(printf 'GET "%s"\n' $keys | cluster_cli "$port") >"$WORK/onn.$port"
  done
  bad=$(cat "$WORK"/onn.[0-9]* | awk 'NR == FNR { want[$1] = $2; next } want[$1] != $2 { n++ }
    END { print n + 0 }' "$1" -)
  bad=$((bad + $(wc -l <"$1") - $(wc -l <"$WORK/onn.owners")))
  rm -f "$WORK"/onn.[0-9]*
  echo "$bad"
}

# ---- the cluster ----
cluster_start || exit 1
read -ra PRIMARIES <<<"$(cluster_primaries | xargs)"
read -ra REPLICAS <<<"$(cluster_replicas | xargs)"
check "three primaries and three replicas" [ "${#PRIMARIES[@]} ${#REPLICAS[@]}" = "3 3" ]
cluster_serve "$CLUSTER_URL"

# ---- 1. readiness ----
readyz_until "readyz names the cluster and its slots" 200 "16384 of 16384 slots"
check "readyz says cluster" grep -q cluster <<<"$BODY"
echo "# readyz: $BODY"

# ---- 2. keys over every node ----
many POST "/set?k=k:{i}&v=k:{i}" 1 "$N" >"$WORK/sets"
check "$N SETs through mayfly answer 200 OK" [ "$(grep -c '^200 OK$' "$WORK/sets")" = "$N" ]
for i in $(seq 1 "$N"); do echo "k:$i k:$i"; done >"$WORK/kv" # each key's value is its name
# shellcheck disable=SC2046
cluster_owners $(awk '{ print $1 }' "$WORK/kv") >"$WORK/owners"
spread=$(awk '{ n[$2]++ } END { for (p in n) printf "%s:%d ", p, n[p] }' "$WORK/owners")
echo "# $N keys by primary: $spread"
check "the keys are spread over the three primaries ($spread)" \
  [ "$(awk '{ print $2 }' "$WORK/owners" | sort -nu | xargs)" = "${PRIMARIES[*]}" ]
check "the three primaries hold $N keys in all" [ "$(cluster_keys_total)" = "$N" ]
bad=$(on_their_nodes "$WORK/kv")
check "each key is on the primary that serves its slot ($bad not)" [ "$bad" = 0 ]
# shellcheck disable=SC2046
get_c $(awk '{ print $1 }' "$WORK/kv") >"$WORK/found"
check "redis-cli -c finds every key" \
  [ "$(paste -d ' ' <(awk '{ print $1 }' "$WORK/kv") "$WORK/found" | awk '$1 != $2' | wc -l)" = 0 ]
many GET "/get?k=k:{i}" 1 "$N" >"$WORK/gets"
check "read back through mayfly, in order" \
  [ "$(paste -d ' ' "$WORK/kv" "$WORK/gets" | awk '$3 != 200 || $4 != $2' | wc -l)" = 0 ]

# ---- 3. pipelines, scripts, cross-slot, refused commands ----
http POST "/pipeline?prefix=pl&n=60"
check "a pipeline over 60 keys answers 200" [ "$STATUS" = 200 ]
check "its 120 replies come in the caller's order" python3 -c '
import json, sys
r = json.loads(sys.argv[1])
want = [x for i in range(1, 61) for x in ("OK", "v-pl:%d" % i)]
sys.exit(r != want)' "$BODY"
# shellcheck disable=SC2046
check "the pipeline's keys' slots are on all three primaries" \
  [ "$(cluster_owners $(seq -f 'pl:%g' 1 60) | awk '{ print $2 }' | sort -u | wc -l)" = 3 ]
# Each worker keeps one connection to each primary it talks to: MAYFLY_REDIS_POOL_SIZE (8 by
# default) bounds what each node sees, not the process's total.
for p in $(cluster_primaries); do
  n=$(cluster_cli "$p" info clients | tr -d '\r' | awk -F: '$1 == "connected_clients" { print $2 - 1 }')
  check "the primary on $p has mayfly's connections, at most the pool's 8 ($n)" [ "$n" -ge 1 -a "$n" -le 8 ]
done
expect "EVAL on keys sharing a hash tag" GET "/eval-tag?u=user1" 200 '["alpha","2"]'
http GET /script-load
sha=${BODY%% *}
check "SCRIPT LOAD, then EVALSHA on keys of every node" \
  [ "$STATUS" = 200 -a "${BODY#* }" = "$(seq -s, 1 1 30 | sed 's/[0-9]*/1/g')" ]
for p in $(cluster_primaries); do
  check "SCRIPT LOAD reached the primary on $p" [ "$(cluster_cli "$p" script exists "$sha" | xargs)" = 1 ]
done
owner=$(cluster_owner '{user1}:a')
check "both keys of the script on the node of their slot" \
  [ "$(cluster_cli "$owner" mget '{user1}:a' '{user1}:b' | xargs)" = "alpha 2" ]
expect "MSET across slots through redis.pcall: CROSSSLOT" GET /crossslot 200 CROSSSLOT
check "the CROSSSLOT message mentions hash tags" grep -qi "hash tag" <<<"$BODY"
echo "# cross-slot MSET: $BODY"
check "the cross-slot MSET wrote nothing" [ "$(get_c a b | xargs)" = "" ]
expect "KEYS through redis.call: 500" GET /keys/call 500 '"request_id":"keys-call-1"' -- \
  -H "X-Request-Id: keys-call-1"
log_has '"request_id":"keys-call-1"'
err=$(grep '"request_id":"keys-call-1"' "$MF_LOG" | grep -o '"error":"[^"]*"')
echo "# KEYS through redis.call, the log line's $err"
check "its log line names KEYS and the cluster" \
  bash -c '[[ $1 == *KEYS* ]] && [[ $1 == *[Cc]luster* ]]' _ "$err"
expect "pcall(redis.call, 'KEYS', '*') catches the refusal" GET /keys/pcall-call 200 '"raised":true'
check "the refusal names KEYS and the cluster" \
  bash -c '[[ $1 == *KEYS* ]] && [[ $1 == *[Cc]luster* ]]' _ "$BODY"
echo "# pcall(redis.call, 'KEYS', '*'): $BODY"
http GET /keys/pcall
echo "# redis.pcall('KEYS', '*'): $STATUS $BODY"
check "redis.pcall('KEYS', '*') refused too, naming KEYS" \
  bash -c '[ "$1" = 200 ] && [[ $2 == *KEYS* ]] && [[ $2 != *\"n\":* ]]' _ "$STATUS" "$BODY"

# ---- 4. a slot moved by hand: ASK while it migrates, MOVED after ----
mv_key=mv:1
from=$(cluster_owner "$mv_key")
to=${PRIMARIES[0]}
[ "$to" = "$from" ] && to=${PRIMARIES[1]}
slot=$(cluster_cli "$from" cluster keyslot "$mv_key")
expect "a key to move written through mayfly" POST "/set?k=$mv_key&v=before" 200 OK
ask0=$(metric 'mayfly_redis_cluster_redirects_total{kind="ask"}')
moved0=$(metric 'mayfly_redis_cluster_redirects_total{kind="moved"}')
check "slot $slot MIGRATING from $from, IMPORTING on $to" cluster_migrate_begin "$slot" "$from" "$to"
check "the key migrated to $to" cluster_migrate_key "$mv_key" "$from" "$to"
expect "ASK followed: the key read from the importing node" GET "/get?k=$mv_key" 200 before
expect "ASK followed: a write to the migrated key" POST "/set?k=$mv_key&v=during" 200 OK
check "the write went to the importing node" \
  [ "$(printf 'ASKING\nGET %s\n' "$mv_key" | cluster_cli "$to" | tail -n 1)" = during ]
check "slot $slot moved to $to" cluster_migrate_end "$slot" "$from" "$to"
check "cluster_owner names the new node" [ "$(cluster_owner "$mv_key")" = "$to" ]
expect "MOVED followed: the key read from its new node" GET "/get?k=$mv_key" 200 during
ask=$(metric 'mayfly_redis_cluster_redirects_total{kind="ask"}')
moved=$(metric 'mayfly_redis_cluster_redirects_total{kind="moved"}')
echo "# redirects: ask $ask0 -> $ask, moved $moved0 -> $moved"
check "ASK counted ($ask0 -> $ask)" [ "${ask%.*}" -gt "${ask0%.*}" ]
check "MOVED counted ($moved0 -> $moved)" [ "${moved%.*}" -gt "${moved0%.*}" ]
expect "the key again, from the refreshed map" GET "/get?k=$mv_key" 200 during

# A multi-key command while its slot is half moved: the source answers TRYAGAIN (one key left,
# one not), mayfly sends it again every 25 ms within its deadline, and once the move ends the
# MOVED to the new owner answers it.
tr_a='{tr}:a' tr_b='{tr}:b'
from=$(cluster_owner "$tr_a")
to=${PRIMARIES[0]}
[ "$to" = "$from" ] && to=${PRIMARIES[1]}
slot=$(cluster_cli "$from" cluster keyslot "$tr_a")
expect "two keys of one slot written" POST "/set?k=%7Btr%7D:a&v=A" 200 OK
expect "two keys of one slot written (2)" POST "/set?k=%7Btr%7D:b&v=B" 200 OK
tryagain0=$(metric 'mayfly_redis_cluster_redirects_total{kind="tryagain"}')
check "slot $slot MIGRATING from $from to $to" cluster_migrate_begin "$slot" "$from" "$to"
check "one of its keys migrated" cluster_migrate_key "$tr_a" "$from" "$to"
curl -s -o "$WORK/mget.body" -w '%{http_code}' \
  "$(url '/mget?k=%7Btr%7D:a&k=%7Btr%7D:b')" >"$WORK/mget.status" &
mget_pid=$!
sleep 0.4
check "slot $slot moved to $to, the other key with it" cluster_migrate_end "$slot" "$from" "$to"
wait "$mget_pid"
check "the MGET answered once the slot moved ($(cat "$WORK/mget.status"): $(cat "$WORK/mget.body"))" \
  [ "$(cat "$WORK/mget.status")" = 200 -a "$(cat "$WORK/mget.body")" = '["A","B"]' ]
tryagain=$(metric 'mayfly_redis_cluster_redirects_total{kind="tryagain"}')
check "TRYAGAIN counted ($tryagain0 -> $tryagain)" [ "${tryagain%.*}" -gt "${tryagain0%.*}" ]

# ---- 5. the stdlib ----
JAR=$WORK/jar
expect "session: a write starts one" POST /session/count 200 1 -- -c "$JAR" -b "$JAR"
expect "session: the next request sees it" POST /session/count 200 2 -- -c "$JAR" -b "$JAR"
old=$(awk '$6 == "mayfly_session" { print $7 }' "$JAR")
expect "session: login" POST "/session/login?user=ada" 200 "\"before\":\"$old\"" -- -c "$JAR" -b "$JAR"
new=$(awk '$6 == "mayfly_session" { print $7 }' "$JAR")
check "session: login regenerates the id" bash -c '[ -n "$1" ] && [ "$1" != "$2" ]' _ "$new" "$old"
check "session: the old hash is gone" \
  [ "$(cluster_cli "$(cluster_owner "session:$old")" exists "session:$old")" = 0 ]
check "session: the new hash has the data, on its node" \
  [ "$(cluster_cli "$(cluster_owner "session:$new")" hget "session:$new" user)" = ada ]
expect "session: read back" GET /session/me 200 '"user":"ada"' -- -b "$JAR"
expect "session: logout" POST /session/logout 204 "" -- -b "$JAR"
expect "session: gone after logout" GET /session/me 401 "" -- -b "$JAR"
: >"$WORK/rl"
for _ in $(seq 1 8); do
  curl -s -o /dev/null -w '%{http_code}\n' "$(url "/limited?key=cl&limit=5")" >>"$WORK/rl"
done
check "ratelimit: 5 of 8 allowed" [ "$(grep -c '^200$' "$WORK/rl")" = 5 ]
check "ratelimit: the rest 429" [ "$(grep -c '^429$' "$WORK/rl")" = 3 ]
check "ratelimit: its counter on its node" \
  [ "$(cluster_cli "$(cluster_owner ratelimit:cl)" get ratelimit:cl)" = 8 ]
# A plain key, whose lock and wake-up list the cache names "{<key>}:lock" and "{<key>}:done" to
# keep them in the value's slot (the script that releases the lock touches both), and a key with
# a hash tag of its own, whose "<key>:lock" is in that slot already.
for key in hot '{tagged}'; do
  q=${key//\{/%7B}
  q=${q//\}/%7D}
  lock="{cache:$key}:lock"
  [ "$key" = hot ] || lock="cache:$key:lock"
  expect "cache ($key): a miss loads" GET "/cached/$q" 200 '"n":1'
  expect "cache ($key): a hit" GET "/cached/$q" 200 '"n":1'
  check "cache ($key): the loader ran once" [ "$(get_c "loads:$key")" = 1 ]
  check "cache ($key): the value stored, the lock gone" bash -c \
    '[[ $1 == *"\"n\":1"* ]] && [ -z "$2" ]' _ "$(get_c "cache:$key")" "$(get_c "$lock")"
  check "cache ($key): the lock's slot is the value's" \
    [ "$(cluster_cli "${PRIMARIES[0]}" cluster keyslot "$lock")" = \
      "$(cluster_cli "${PRIMARIES[0]}" cluster keyslot "cache:$key")" ]
done
lease() { http POST "/lease/$1?key=$2&owner=$3&ttl=5"; echo "$BODY"; }
check "lease: o1 acquires" [ "$(lease acquire job o1)" = '{"result":true}' ]
check "lease: o2 cannot" [ "$(lease acquire job o2)" = '{"result":false}' ]
check "lease: owner is o1" [ "$(lease owner job x)" = '{"result":"o1"}' ]
check "lease: on its node" [ "$(cluster_cli "$(cluster_owner lease:job)" get lease:job)" = o1 ]
check "lease: o1 releases" [ "$(lease release job o1)" = '{"result":true}' ]
check "lease: free" [ "$(lease owner job x)" = '{"result":false}' ]

# ---- 6. metrics ----
curl -s --max-time 5 "$(url /metrics)" >"$WORK/metrics"
for family in mayfly_redis_cluster_redirects_total mayfly_redis_cluster_refreshes_total \
  mayfly_redis_cluster_slots_covered mayfly_redis_cluster_primaries; do
  check "/metrics has $family" grep -q "^$family" "$WORK/metrics"
done
check "mayfly_redis_cluster_slots_covered is 16384" \
  [ "$(metric mayfly_redis_cluster_slots_covered)" = 16384 ]
check "mayfly_redis_cluster_primaries is 3" [ "$(metric mayfly_redis_cluster_primaries)" = 3 ]
refreshed=$(metric 'mayfly_redis_cluster_refreshes_total{result="ok"}')
check "the slot map refreshed ($refreshed)" [ "${refreshed%.*}" -ge 1 ]
grep '^mayfly_redis_cluster_' "$WORK/metrics" | sed 's/^/# /'
mf_stop
check "exit 0" [ "$MF_EXIT" = 0 ]

# ---- 7. one seed ----
seed=${REPLICAS[0]}
cluster_serve "redis+cluster://127.0.0.1:$seed"
readyz_until "one seed (a replica, $seed): readyz 200 with every slot" 200 "16384 of 16384 slots"
check "one seed: three primaries" [ "$(metric mayfly_redis_cluster_primaries)" = 3 ]
many GET "/get?k=k:{i}" 1 "$N" >"$WORK/gets1"
check "one seed: every key read, from every primary" \
  [ "$(paste -d ' ' "$WORK/kv" "$WORK/gets1" | awk '$3 != 200 || $4 != $2' | wc -l)" = 0 ]

# A slot no node serves: with cluster-require-full-coverage (the default) every node answers
# CLUSTERDOWN; mayfly answers 503 and /readyz fails, then both recover once the slot is back.
down_key=k:1
down_owner=$(cluster_owner "$down_key")
down_slot=$(cluster_cli "$down_owner" cluster keyslot "$down_key")
other_key=$(awk '{ print $1 }' "$WORK/kv" | while read -r k; do
  [ "$(cluster_owner "$k")" != "$down_owner" ] && { echo "$k"; break; }; done)
for p in $(cluster_live); do cluster_cli "$p" cluster delslots "$down_slot" >/dev/null; done
cluster_down() { [ "$(cluster_cli "$1" cluster info | tr -d '\r' | grep cluster_state)" = cluster_state:fail ]; }
check "slot $down_slot served by no node: the cluster is down" until_ok 10 cluster_down "$down_owner"
down_get() { http GET "/get?k=$1"; [ "$STATUS" = 503 ]; }
check "a key of a served slot ($other_key) answers 503 while the cluster is down" \
  until_ok 5 down_get "$other_key"
readyz_until "readyz 503 naming the cluster state" 503 "cluster_state:fail"
cluster_cli "$down_owner" cluster addslots "$down_slot" >/dev/null
check "the slot served again" cluster_wait_ok 20
up_get() { http GET "/get?k=$1"; [ "$STATUS" = 200 ]; }
check "the key answers again, with no restart" until_ok 5 up_get "$other_key"
readyz_until "readyz 200 again" 200 "16384 of 16384 slots"
mf_stop

# ---- 8. mayfly test ----
cluster_flush
check "the cluster is empty before mayfly test" [ "$(cluster_keys_total)" = 0 ]
out=$WORK/spec.out
(cd "$MAYFLY_SOURCE_DIR" && MAYFLY_SCRIPTS=$SCRIPTS MAYFLY_REDIS_URL=$CLUSTER_URL \
  "$MAYFLY_BIN" test -o plainTerminal "$FIX/spec" >"$out" 2>&1)
rc=$?
if [ "$rc" = 0 ] && grep -q '^4 successes / 0 failures / 0 errors' "$out"; then
  pass "mayfly test on the cluster: the specs pass"
else fail "mayfly test on the cluster: the specs pass" "exit $rc" "$(tail -n 12 "$out")"; fi
check "mayfly test: the keys it wrote are gone ($(cluster_keys_total) left)" \
  [ "$(cluster_keys_total)" = 0 ]
cluster_cli "${CLUSTER_PORTS[0]}" -c set stray 1 >/dev/null
(cd "$MAYFLY_SOURCE_DIR" && MAYFLY_SCRIPTS=$SCRIPTS MAYFLY_REDIS_URL=$CLUSTER_URL \
  "$MAYFLY_BIN" test -o plainTerminal "$FIX/spec" >"$out" 2>&1)
rc=$?
echo "# mayfly test on a cluster holding a key: exit $rc: $(grep -m1 -E '\b1 keys?\b' "$out")"
check "mayfly test refuses a cluster that holds keys (exit $rc)" [ "$rc" != 0 ]
check "its message names the key count" grep -qE '\b1 keys?\b' "$out"
check "the cluster's key is kept" [ "$(get_c stray)" = 1 ]
cluster_cli "${CLUSTER_PORTS[0]}" -c del stray >/dev/null
cluster_stop

# ---- 9. TLS ----
cluster_start --tls || { fail "a TLS cluster starts"; mf_finish; }
read -ra PRIMARIES <<<"$(cluster_primaries | xargs)"
cluster_serve "$CLUSTER_URL" MAYFLY_REDIS_CA_FILE="$WORK/tls/ca.crt"
readyz_until "TLS: readyz 200 with every slot" 200 "16384 of 16384 slots"
check "TLS: 60 SETs through mayfly" \
  [ "$(many POST "/set?k=t:{i}&v=t:{i}" 1 60 | grep -c '^200 OK$')" = 60 ]
for i in $(seq 1 60); do echo "t:$i t:$i"; done >"$WORK/tkv"
# shellcheck disable=SC2046
tls_owners=$(cluster_owners $(seq -f 't:%g' 1 60) | awk '{ print $2 }' | sort -nu | xargs)
check "TLS: the 60 keys' slots are on all three primaries" [ "$tls_owners" = "${PRIMARIES[*]}" ]
bad=$(on_their_nodes "$WORK/tkv")
check "TLS: each key on the primary of its slot ($bad not)" [ "$bad" = 0 ]
many GET "/get?k=t:{i}" 1 60 >"$WORK/tgets"
check "TLS: read back through mayfly" \
  [ "$(paste -d ' ' "$WORK/tkv" "$WORK/tgets" | awk '$3 != 200 || $4 != $2' | wc -l)" = 0 ]
expect "TLS: a pipeline over every node" POST "/pipeline?prefix=tp&n=30" 200 '"v-tp:30"'
mf_stop
check "TLS: exit 0" [ "$MF_EXIT" = 0 ]
cluster_stop
mf_finish
