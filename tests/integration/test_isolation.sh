# Statelessness of the sandbox: every vector in leaks/ (one <vector>.lua each) has a plant route
# that tries to leave state behind in the process and a probe route that answers exactly "clean"
# when nothing of any earlier request is visible. Each vector is planted over fresh connections
# and over one keep-alive connection (to reach every worker), then probed the same ways; every
# probe must be clean, every plant a 200 (a refused write inside pcall is still a 200), and the
# process must survive. One line per vector.
#
# A redis-server (when installed) backs redis.call, so the redis_* vectors can try to leave
# state in the connection each worker keeps; without one they have nothing to probe.
#
# Usage: test_isolation.sh [VECTOR...]   (no argument: every vector of the folder)
#        LEAKS_VERBOSE=1 prints what each plant reported.
source "$(dirname "$0")/lib.sh"

LEAKS_DIR="$TESTS_DIR/leaks"
WORKERS=3
PLANTS_FRESH=12    # fresh connections are spread over the workers by SO_REUSEPORT
PLANTS_KEEPALIVE=9 # one connection, one worker
PROBES_FRESH=12
PROBES_KEEPALIVE=12
MIN_VECTORS=40

# A config folder for the config vectors (they also work without one).
CFG="$WORK/config"
mkdir -p "$CFG"
printf 'hello\n' >"$CFG/greeting"
printf 'from-file\n' >"$CFG/overridden"
cat >"$CFG/config.json" <<'EOF'
{"obj": {"a": 1, "list": [1, 2, 3]}, "arr": [1, 2], "leak_duration": "5s", "leak_bool": "yes"}
EOF
# Plants that try to create files are given paths in here (?tmp=): it must stay empty.
FS="$WORK/fs"
mkdir -p "$FS"

# Redis, on a free port, database 2 (the redis_select probe checks the connection is still on it).
REDIS_ENV=()
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
  if redis_start; then
    REDIS_ENV=(MAYFLY_REDIS_URL="redis://127.0.0.1:$RPORT/2" MAYFLY_CFG_EXPECTED_REDIS_DB=2)
  else
    echo "# redis-server did not start: the redis_* vectors run without Redis"
  fi
else
  echo "# no redis-server: the redis_* vectors run without Redis"
fi

# Runs that wait while the vectors plant and probe (leaks/suspend.lua): on a slow upstream and on
# Redis, kept going in the background until the suite ends.
UPSTREAM_ENV=()
if upstream_start SLOW; then
  UPSTREAM_ENV=(MAYFLY_CFG_SUSPEND_UPSTREAM="http://127.0.0.1:$SLOW_PORT")
fi

start() {
  mf_start "$LEAKS_DIR" MAYFLY_WORKERS=$WORKERS MAYFLY_CONFIG="$CFG" MAYFLY_CFG_OVERRIDDEN=from-env \
    MAYFLY_ACCESS_LOG=off "${REDIS_ENV[@]}" "${UPSTREAM_ENV[@]}"
}

SUSPEND_PID=
suspenders() {
  local end=$((SECONDS + 600))
  while [ ! -e "$WORK/suspend.stop" ] && [ $SECONDS -lt $end ]; do
    curl -s -o /dev/null -o /dev/null --max-time 5 "$(url /suspend/http)" "$(url /suspend/redis)" &
    curl -s -o /dev/null -o /dev/null --max-time 5 "$(url /suspend/http)" "$(url /suspend/redis)"
    wait
  done
}

# ---- discovery ----
if ! routes=$("$MAYFLY_BIN" check "$LEAKS_DIR" 2>&1); then
  fail "leaks folder passes mayfly check" "$routes"
  mf_finish
fi
mapfile -t all_vectors < <(sed -n 's|^  GET /\([A-Za-z0-9_-]*\)/plant  *\([^ ]*\)$|\1 \2|p' <<<"$routes" | sort)
if [ $# -gt 0 ]; then
  selected=" $* "
else
  selected=
  check "at least $MIN_VECTORS vectors" [ "${#all_vectors[@]}" -ge $MIN_VECTORS ]
fi

start || exit 1
suspenders &
SUSPEND_PID=$!

SEP=$'\x1e' # between a body and its status
END=$'\x1f' # after each transfer

# batch MODE N PATH: N requests for PATH in one curl, over fresh connections (MODE fresh:
# "Connection: close" makes curl open a new one for each) or over one kept-alive connection.
# Sets CODES and BODIES.
batch() {
  local mode=$1 n=$2 path=$3 urls=() out rec i
  for ((i = 0; i < n; i++)); do urls+=("$(url "$path")"); done
  local args=(-s --max-time 20 -w "${SEP}%{http_code}${END}")
  [ "$mode" = fresh ] && args+=(-H "Connection: close")
  out=$(curl "${args[@]}" "${urls[@]}" 2>/dev/null)
  CODES=()
  BODIES=()
  while [[ $out == *"$END"* ]]; do
    rec=${out%%"$END"*}
    out=${out#*"$END"}
    CODES+=("${rec##*"$SEP"}")
    BODIES+=("${rec%"$SEP"*}")
  done
  while [ ${#CODES[@]} -lt "$n" ]; do CODES+=("none"); BODIES+=(""); done
}

# The server answers (a crash is not always a dead PID yet: also ask it).
alive() {
  mf_alive && curl -s -o /dev/null --max-time 5 "$(url /livez)"
}

# restart after a crash or a leak, so the vectors that follow run on a clean process.
restart() {
  [ -n "$MF_PID" ] && kill -KILL "$MF_PID" 2>/dev/null && wait "$MF_PID" 2>/dev/null
  MF_PID=
  start || { echo "mayfly did not restart"; mf_finish; }
}

run_vector() {
  local v=$1 file=$2 problems=() i first_plant=
  if [ "$file" != "$v.lua" ]; then
    fail "$v" "the route GET /$v/plant is in $file, not in $v.lua"
    return
  fi
  if ! grep -q "^  GET /$v/probe  *$v.lua\$" <<<"$routes"; then
    fail "$v" "$v.lua has no GET /$v/probe route"
    return
  fi
  local plant="/$v/plant?tmp=$FS/$v"

  # Plant, to reach every worker.
  local codes=() bodies=()
  batch fresh $PLANTS_FRESH "$plant"
  codes+=("${CODES[@]}"); bodies+=("${BODIES[@]}")
  batch keepalive $PLANTS_KEEPALIVE "$plant"
  codes+=("${CODES[@]}"); bodies+=("${BODIES[@]}")
  for i in "${!codes[@]}"; do
    if [ "${codes[$i]}" != 200 ]; then
      problems+=("plant $((i + 1)) answered ${codes[$i]}: ${bodies[$i]:0:200}")
      break
    fi
  done
  first_plant=${bodies[0]}
  if [ -n "${LEAKS_VERBOSE:-}" ]; then
    printf '# %s plant:\n' "$v"
    printf '%s\n' "$first_plant" | sed 's/^/#   /'
  fi
  if ! alive; then
    fail "$v" "mayfly crashed while planting (plant answers: ${codes[*]:0:6})" \
      "$(tail -n 3 "$MF_LOG" | tr '\n' ' ')"
    restart
    return
  fi

  # Probe, everywhere again.
  codes=() bodies=()
  batch fresh $PROBES_FRESH "/$v/probe"
  codes+=("${CODES[@]}"); bodies+=("${BODIES[@]}")
  batch keepalive $PROBES_KEEPALIVE "/$v/probe"
  codes+=("${CODES[@]}"); bodies+=("${BODIES[@]}")
  local bad=0 first_bad=
  for i in "${!codes[@]}"; do
    if [ "${codes[$i]}" != 200 ] || [ "${bodies[$i]}" != clean ]; then
      bad=$((bad + 1))
      [ -z "$first_bad" ] && first_bad="probe $((i + 1)) (${codes[$i]}): ${bodies[$i]}"
    fi
  done
  [ $bad -gt 0 ] && problems+=("$bad of ${#codes[@]} probes not clean; first: $first_bad")

  local created
  created=$(cd "$FS" && ls -A)
  if [ -n "$created" ]; then
    problems+=("the plant created files: $created")
    rm -rf "${FS:?}"/* "$FS"/.[!.]* 2>/dev/null
  fi

  if ! alive; then
    problems+=("mayfly crashed while probing: $(tail -n 3 "$MF_LOG" | tr '\n' ' ')")
    restart
  fi

  if [ ${#problems[@]} -eq 0 ]; then
    pass "$v"
  else
    fail "$v" "${problems[@]}"
    # A fresh process, so that this leak does not show in the next vectors' probes.
    mf_alive && restart
  fi
}

for entry in "${all_vectors[@]}"; do
  v=${entry%% *}
  if [ -n "$selected" ] && [[ $selected != *" $v "* ]]; then continue; fi
  run_vector "$v" "${entry#* }"
done

# The guide's statelessness table names exactly the vectors of this suite.
guide="$MAYFLY_SOURCE_DIR/docs/statelessness.md"
table=$(grep -o '^| `[a-z0-9_]*` |' "$guide" | tr -d '|` ' | sort)
suite=$(for entry in "${all_vectors[@]}"; do echo "${entry%% *}"; done | sort)
check "docs/statelessness.md lists every vector of the suite" [ "$table" = "$suite" ]

touch "$WORK/suspend.stop"
wait "$SUSPEND_PID" 2>/dev/null
mf_stop
mf_finish
