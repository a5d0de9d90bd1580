# A Redis Cluster of the test's own on loopback, for the cluster tests. Sourced after lib.sh:
#
#   source "$(dirname "$0")/lib.sh"
#   source "$(dirname "$0")/cluster.sh"
#   cluster_start [--tls] [redis-server args...] || exit 1
#
# Six `redis-server --cluster-enabled yes` (three primaries, one replica each) on free loopback
# ports, each with its own --dir and nodes file, no persistence; their PIDs join lib.sh's
# REDIS_PIDS, so the EXIT trap stops them. Sets:
#   CLUSTER_PORTS   the six ports, in the order given to `--cluster create`
#   CLUSTER_PIDS    their PIDs (CLUSTER_PID[port] for one port's)
#   CLUSTER_URL     redis+cluster://127.0.0.1:P1,127.0.0.1:P2 (two seeds; rediss+cluster://
#                   with --tls, whose CA is $WORK/tls/ca.crt: MAYFLY_REDIS_CA_FILE)
#   CLUSTER_TLS     1 with --tls, else empty
# Facts this leans on (redis-server 7.0): a node's cluster bus listens on its port + 10000, so a
# port is only taken below 55536 and with port + 10000 free too; a replica writes the RDB it
# receives into its working folder, and the next server started there would load it.
set -u

CLUSTER_PORTS=()
CLUSTER_PIDS=()
CLUSTER_URL=
CLUSTER_TLS=
CLUSTER_NODE_TIMEOUT=${CLUSTER_NODE_TIMEOUT:-1000} # ms: failure detection, and so failover
declare -A CLUSTER_PID

# cluster_free_ports N: N distinct loopback ports whose port + 10000 is free too
# (fixtures/cluster_ports.py).
cluster_free_ports() { python3 "$TESTS_DIR/fixtures/cluster_ports.py" "$1"; }

# cluster_cli PORT ARGS...: redis-cli against the node on PORT (over TLS for a --tls cluster).
# Add -c to follow MOVED and ASK.
cluster_cli() {
  local port=$1; shift
  if [ -n "$CLUSTER_TLS" ]; then
    redis-cli --tls --cacert "$WORK/tls/ca.crt" -p "$port" "$@"
  else
    redis-cli -p "$port" "$@"
  fi
}

# cluster_logs: the tail of every node's log, for a failure's report.
cluster_logs() {
  local port
  for port in "${CLUSTER_PORTS[@]}"; do
    echo "---- node $port (pid ${CLUSTER_PID[$port]:-?}) ----"
    tail -n 25 "$WORK/cluster/$port.log" 2>/dev/null
  done
}

# cluster_start [--tls] [redis-server args...]: starts the six servers, creates the cluster with
# `redis-cli --cluster create ... --cluster-replicas 1` and waits until it is whole (see
# cluster_wait_ok). Extra arguments go to every redis-server (e.g. --cluster-require-full-coverage
# no). Returns 1, with the servers' logs, when the cluster did not come up.
cluster_start() {
  local tls='' port ports i started
  if [ "${1:-}" = --tls ]; then tls=1; shift; fi
  started=$(date +%s%3N)
  ports=$(cluster_free_ports 6) || { echo "cluster_start: no six free port pairs"; return 1; }
  read -ra CLUSTER_PORTS <<<"$ports"
  CLUSTER_PIDS=()
  CLUSTER_PID=()
  CLUSTER_TLS=$tls
  local listen=() seeds=()
  if [ -n "$tls" ]; then
    [ -f "$WORK/tls/ca.crt" ] || tls_ca ca || return 1
    # The nodes present this certificate to each other on the bus and to their primaries.
    [ -f "$WORK/tls/cluster-node.crt" ] ||
      tls_cert ca cluster-node "IP:127.0.0.1,DNS:localhost" "serverAuth,clientAuth" || return 1
  fi
  mkdir -p "$WORK/cluster"
  for port in "${CLUSTER_PORTS[@]}"; do
    rm -rf "$WORK/cluster/$port"
    mkdir -p "$WORK/cluster/$port"
    if [ -n "$tls" ]; then
      listen=(--port 0 --tls-port "$port" --tls-cluster yes --tls-replication yes
        --tls-cert-file "$WORK/tls/cluster-node.crt" --tls-key-file "$WORK/tls/cluster-node.key"
        --tls-ca-cert-file "$WORK/tls/ca.crt" --tls-auth-clients no)
    else
      listen=(--port "$port")
    fi
    # --repl-diskless-sync-delay 0: a primary otherwise waits 5 s for more replicas before the
    # first sync, and the cluster is not whole (cluster_wait_ok) until its replica has synced.
    redis-server --bind 127.0.0.1 "${listen[@]}" --dir "$WORK/cluster/$port" \
      --cluster-enabled yes --cluster-config-file "$WORK/cluster/$port/nodes.conf" \
      --cluster-node-timeout "$CLUSTER_NODE_TIMEOUT" --repl-diskless-sync-delay 0 \
      --save '' --appendonly no \
      --loglevel notice --logfile "$WORK/cluster/$port.log" "$@" \
      >>"$WORK/cluster/$port.log" 2>&1 &
    CLUSTER_PID[$port]=$!
    CLUSTER_PIDS+=($!)
    REDIS_PIDS+=($!)
    seeds+=("127.0.0.1:$port")
  done
  for port in "${CLUSTER_PORTS[@]}"; do
    for i in $(seq 1 100); do
      cluster_cli "$port" ping 2>/dev/null | grep -q PONG && break
      kill -0 "${CLUSTER_PID[$port]}" 2>/dev/null || i=100
      [ "$i" = 100 ] && { echo "cluster_start: node $port did not start"; cluster_logs; return 1; }
      sleep 0.05
    done
  done
  # --cluster create polls the join once a second: about 1 s of the start-up is that.
  cluster_cli "${CLUSTER_PORTS[0]}" --cluster create "${seeds[@]}" --cluster-replicas 1 \
    --cluster-yes >"$WORK/cluster/create.log" 2>&1 ||
    { echo "cluster_start: --cluster create failed:"; cat "$WORK/cluster/create.log"; cluster_logs
      return 1; }
  # Whole with every replica in place: a node may still list the replicas-to-be as primaries
  # without slots, and its view then agrees with the others' on who serves what.
  cluster_wait_ok 20 && cluster_wait_replicas $((${#CLUSTER_PORTS[@]} / 2)) 20 ||
    { echo "cluster_start: the cluster did not become whole:"; cluster_state_report; cluster_logs
      return 1; }
  local scheme=redis+cluster
  [ -n "$tls" ] && scheme=rediss+cluster
  CLUSTER_URL="$scheme://127.0.0.1:${CLUSTER_PORTS[0]},127.0.0.1:${CLUSTER_PORTS[1]}"
  echo "# cluster${tls:+ (TLS)} up in $(($(date +%s%3N) - started)) ms:" \
    "primaries $(cluster_primaries | tr '\n' ' ')replicas $(cluster_replicas | tr '\n' ' ')"
}

# cluster_live: the ports of the nodes whose process is still running.
cluster_live() {
  local port
  for port in "${CLUSTER_PORTS[@]}"; do
    kill -0 "${CLUSTER_PID[$port]}" 2>/dev/null && echo "$port"
  done
}

# cluster_nodes: CLUSTER NODES as the first live node that answers sees it.
cluster_nodes() {
  local port out
  for port in $(cluster_live); do
    out=$(cluster_cli "$port" cluster nodes 2>/dev/null) || continue
    [[ "$out" == *myself* ]] || continue
    echo "$out"
    return 0
  done
  return 1
}

# cluster_primaries / cluster_replicas: the ports of the nodes in that role now (failed ones
# left out), ascending.
cluster_role_ports() {
  cluster_nodes | awk -v role="$1" '$3 ~ role && $3 !~ /fail|noaddr|handshake/ {
    split($2, a, "@"); n = split(a[1], b, ":"); print b[n] }' | sort -n
}
cluster_primaries() { cluster_role_ports master; }
cluster_replicas() { cluster_role_ports slave; }

# cluster_id PORT: the node id of the node on PORT.
cluster_id() { cluster_cli "$1" cluster myid | tr -d '\r'; }

# cluster_replica_of PORT: the port of a live replica of the primary on PORT.
cluster_replica_of() {
  local id
  id=$(cluster_id "$1") || return 1
  cluster_nodes | awk -v id="$id" '$4 == id && $3 ~ /slave/ && $3 !~ /fail/ {
    split($2, a, "@"); n = split(a[1], b, ":"); print b[n]; exit }'
}

# cluster_owners KEY...: one line "KEY PORT" per key: the port of the primary that serves the
# key's slot (CLUSTER KEYSLOT, then the slot ranges of CLUSTER NODES), in one redis-cli each.
# A slot being migrated is its source's until the move ends; no line for a key whose slot no
# live primary holds.
cluster_owners() {
  local port
  port=$(cluster_live | head -1)
  [ -n "$port" ] || return 1
  printf 'CLUSTER KEYSLOT "%s"\n' "$@" | cluster_cli "$port" >"$WORK/cluster/owners.slots"
  printf '%s\n' "$@" >"$WORK/cluster/owners.keys"
  cluster_nodes >"$WORK/cluster/owners.nodes" || return 1
  awk 'FILENAME ~ /nodes$/ {
         if ($3 !~ /master/ || $3 ~ /fail/) next
         split($2, a, "@"); n = split(a[1], b, ":")
         for (i = 9; i <= NF; i++) {
           if ($i ~ /^\[/) continue
           m = split($i, r, "-"); lo[++ranges] = r[1]; hi[ranges] = m > 1 ? r[2] : r[1]
           owner[ranges] = b[n] }
         next }
       FILENAME ~ /slots$/ { slot[FNR] = $1; next }
       { for (i = 1; i <= ranges; i++)
           if (slot[FNR] >= lo[i] && slot[FNR] <= hi[i]) { print $0, owner[i]; break } }' \
    "$WORK/cluster/owners.nodes" "$WORK/cluster/owners.slots" "$WORK/cluster/owners.keys"
}

# cluster_owner KEY: the port of the primary serving KEY's slot.
cluster_owner() { cluster_owners "$1" | awk '{ print $NF }'; }

# cluster_is_ok: every live node says cluster_state:ok, all of them give the same CLUSTER SLOTS
# (so they agree on who serves what, replicas included), every slot is served, and every replica
# has its link to its primary up (a failover needs a synced replica).
cluster_is_ok() {
  local port first='' slots
  for port in $(cluster_live); do
    cluster_cli "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
    slots=$(cluster_cli "$port" cluster slots 2>/dev/null) || return 1
    [ -n "$slots" ] || return 1
    if [ -z "$first" ]; then first=$slots; elif [ "$slots" != "$first" ]; then return 1; fi
  done
  [ -n "$first" ] || return 1
  cluster_cli "$(cluster_live | head -1)" cluster info | grep -q '^cluster_slots_ok:16384' ||
    return 1
  for port in $(cluster_replicas); do
    cluster_cli "$port" info replication 2>/dev/null | grep -q '^master_link_status:up' || return 1
  done
}

# cluster_wait_ok SECONDS: until cluster_is_ok, polling every 0.05 s; 1 when it never was.
cluster_wait_ok() {
  local until=$(($(date +%s%3N) + $1 * 1000))
  while [ "$(date +%s%3N)" -lt "$until" ]; do
    cluster_is_ok && return 0
    sleep 0.05
  done
  return 1
}

# cluster_wait_replicas N SECONDS: until N nodes are replicas and the cluster is whole.
cluster_wait_replicas() {
  local until=$(($(date +%s%3N) + $2 * 1000))
  while [ "$(date +%s%3N)" -lt "$until" ]; do
    [ "$(cluster_replicas | wc -l)" -eq "$1" ] && cluster_is_ok && return 0
    sleep 0.05
  done
  return 1
}

# cluster_state_report: each live node's state and view, for a failure's report.
cluster_state_report() {
  local port
  for port in $(cluster_live); do
    echo "---- node $port: $(cluster_cli "$port" cluster info 2>&1 | tr -d '\r' |
      grep -E '^cluster_(state|slots_ok|known_nodes)' | tr '\n' ' ')"
    cluster_cli "$port" cluster nodes 2>&1 | tr -d '\r'
  done
}

# A slot moved by hand, in the steps `redis-cli --cluster reshard` takes, so that a test can stop
# half-way (the slot MIGRATING on its source and IMPORTING on its target: ASK for the keys that
# left) and then finish (the slot's other keys moved, every primary told the new owner: MOVED
# from the old one).
# cluster_migrate_begin SLOT FROM-PORT TO-PORT; cluster_migrate_key KEY FROM-PORT TO-PORT;
# cluster_migrate_end SLOT FROM-PORT TO-PORT.
cluster_migrate_begin() {
  local from_id to_id
  from_id=$(cluster_id "$2") && to_id=$(cluster_id "$3") || return 1
  cluster_cli "$3" cluster setslot "$1" importing "$from_id" | grep -q OK &&
    cluster_cli "$2" cluster setslot "$1" migrating "$to_id" | grep -q OK
}
cluster_migrate_key() {
  cluster_cli "$2" migrate 127.0.0.1 "$3" "$1" 0 5000 | grep -q OK
}
cluster_migrate_end() {
  local slot=$1 from=$2 to=$3 to_id key port
  to_id=$(cluster_id "$to") || return 1
  while :; do
    key=$(cluster_cli "$from" cluster getkeysinslot "$slot" 1)
    [ -n "$key" ] || break
    cluster_migrate_key "$key" "$from" "$to" || return 1
  done
  # The target first, so that it owns the slot before anyone sends it there; replicas refuse
  # SETSLOT and learn it from their primaries.
  for port in "$to" $(cluster_primaries); do
    cluster_cli "$port" cluster setslot "$slot" node "$to_id" | grep -q OK || return 1
  done
}

# cluster_log_time PORT REGEX [AFTER-MS]: when (ms since the epoch) the node on PORT logged its
# first line matching REGEX at or after AFTER-MS; its log's clock is the one `date` reads (the
# same machine, the same time zone). 1 when there is none.
cluster_log_time() {
  local port=$1 pattern=$2 after=${3:-0} line t
  while read -r line; do
    # "12281:S 07 Dec 2026 04:17:46.136 # Failover election won: I'm the new master."
    t=$(date -d "$(awk '{ print $2, $3, $4, $5 }' <<<"$line")" +%s%3N 2>/dev/null) || continue
    [ "$t" -ge "$after" ] && { echo "$t"; return 0; }
  done < <(grep -E -- "$pattern" "$WORK/cluster/$port.log")
  return 1
}

# until_ok SECONDS COMMAND...: until the command succeeds, polling every 0.1 s; 1 when it never
# did.
until_ok() {
  local tries=$(($1 * 10)); shift
  for _ in $(seq 1 "$tries"); do "$@" && return 0; sleep 0.1; done
  return 1
}

# cluster_keys_total: the keys the live primaries hold, in all.
cluster_keys_total() {
  local port n=0
  for port in $(cluster_primaries); do n=$((n + $(cluster_cli "$port" dbsize | tr -d '\r'))); done
  echo "$n"
}

# cluster_flush: empties every primary (their replicas follow).
cluster_flush() {
  local port
  for port in $(cluster_primaries); do cluster_cli "$port" flushall >/dev/null || return 1; done
}

# cluster_stop: stops the six servers (SIGTERM, SIGKILL after 5 s) and forgets them.
cluster_stop() {
  local pid p kept=()
  for pid in "${CLUSTER_PIDS[@]}"; do kill -CONT "$pid" 2>/dev/null; kill -TERM "$pid" 2>/dev/null; done
  for pid in "${CLUSTER_PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  # Out of lib.sh's list: the trap must not signal a number the system may have given again.
  for p in "${REDIS_PIDS[@]}"; do
    [[ " ${CLUSTER_PIDS[*]} " == *" $p "* ]] || kept+=("$p")
  done
  REDIS_PIDS=("${kept[@]}")
  CLUSTER_PORTS=()
  CLUSTER_PIDS=()
  CLUSTER_PID=()
  CLUSTER_URL=
  CLUSTER_TLS=
}
