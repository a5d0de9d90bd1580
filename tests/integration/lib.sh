# Shared by the integration tests: start the real binary (and a real redis-server when a test
# needs one) on free loopback ports, drive it with curl and raw sockets, count results.
# Each test script sources this, calls mf_start ..., runs checks, and ends with mf_finish.
set -u

MAYFLY_BIN=${MAYFLY_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/mayfly}
MAYFLY_SOURCE_DIR=${MAYFLY_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TESTS_DIR="$MAYFLY_SOURCE_DIR/tests/integration"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mayfly-test.XXXXXX")
PASSED=0
FAILED=0
MF_PID=
MF_PORT=
MF_LOG=

REDIS_PID=
RPORT=
UP_PIDS=()
REDIS_PIDS=() # the servers of redis_server_start and the proxies of redis_proxy_start

cleanup() {
  local reported=0
  # A server still running is stopped with SIGTERM (SIGKILL only if it hangs), so that a
  # sanitizer build still runs its leak check at exit and a report fails the test.
  if [ -n "$MF_PID" ]; then
    kill -TERM "$MF_PID" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$MF_PID" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$MF_PID" 2>/dev/null
    wait "$MF_PID" 2>/dev/null
    sanitizer_check "$MF_LOG" || reported=1
  fi
  [ -n "$REDIS_PID" ] && kill -TERM "$REDIS_PID" 2>/dev/null
  for p in "${UP_PIDS[@]}" "${REDIS_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  # Waited for (a test may have left one stopped): one still writing its log into $WORK would
  # keep the folder from going.
  for p in "${REDIS_PIDS[@]}"; do
    kill -CONT "$p" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  rm -rf "$WORK"
  # Otherwise the script's own exit status stands (an EXIT trap that does not exit keeps it).
  [ "$reported" -eq 0 ] || exit 1
}
trap cleanup EXIT

# upstream_start NAME [CERT KEY]: an upstream for mayfly.http (fixtures/upstream.py) on a free
# loopback port, stopped by the EXIT trap; sets <NAME>_PORT.
upstream_start() {
  local name=$1; shift
  python3 "$TESTS_DIR/fixtures/upstream.py" "$WORK/$name.port" "$@" 2>"$WORK/$name.log" &
  UP_PIDS+=($!)
  for _ in $(seq 1 100); do
    [ -s "$WORK/$name.port" ] && { printf -v "${name}_PORT" '%s' "$(cat "$WORK/$name.port")"; return 0; }
    sleep 0.05
  done
  echo "upstream $name did not start"; cat "$WORK/$name.log"; return 1
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# redis_start: a redis-server of the test's own on a free loopback port (RPORT; the same port
# again when restarted), no persistence, stopped by the EXIT trap.
redis_start() {
  [ -n "$RPORT" ] || RPORT=$(free_port)
  redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning \
    >"$WORK/redis.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 1 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "redis-server did not start"; cat "$WORK/redis.log"; return 1
}

# ---- test certificates (openssl), more Redis servers, TLS ones, and a proxy in front ----

# tls_ca NAME: a self-signed test CA, $WORK/tls/NAME.crt and NAME.key (EC P-256, 2 days).
tls_ca() {
  mkdir -p "$WORK/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=mayfly test $1" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$WORK/tls/$1.key" -out "$WORK/tls/$1.crt" 2>"$WORK/tls/$1.err" ||
    { echo "tls_ca $1:"; cat "$WORK/tls/$1.err"; return 1; }
}

# tls_cert CA NAME SAN [serverAuth|clientAuth]: $WORK/tls/NAME.crt and NAME.key signed by the
# CA of tls_ca; SAN as openssl writes it ("IP:127.0.0.1,DNS:localhost"; empty for none).
tls_cert() {
  local ca=$1 name=$2 san=$3 usage=${4:-serverAuth} d=$WORK/tls
  { echo "extendedKeyUsage=$usage"; [ -z "$san" ] || echo "subjectAltName=$san"; } >"$d/$name.ext"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=mayfly test $name" -keyout "$d/$name.key" -out "$d/$name.csr" 2>"$d/$name.err" &&
    openssl x509 -req -in "$d/$name.csr" -CA "$d/$ca.crt" -CAkey "$d/$ca.key" -days 2 \
      -set_serial "0x$(openssl rand -hex 8)" -extfile "$d/$name.ext" -out "$d/$name.crt" \
      2>>"$d/$name.err" ||
    { echo "tls_cert $name:"; cat "$d/$name.err"; return 1; }
}

# redis_server_start NAME [redis-server args...]: one more plaintext redis-server, NAME, on a free
# loopback port with its own --dir (a replica writes the RDB it receives there), no persistence,
# a replica's first sync at once (Redis waits 5 s for more replicas by default, longer than a
# test waits), its log in $WORK/NAME.log; sets RS_PORT[NAME] and RS_PID[NAME]. redis_cli NAME
# talks to it.
declare -A RS_PORT RS_PID RS_TLS
redis_server_start() {
  local name=$1; shift
  RS_PORT[$name]=$(free_port)
  RS_TLS[$name]=
  redis_spawn "$name" --port "${RS_PORT[$name]}" "$@"
}

# redis_tls_start NAME CERT no|yes [redis-server args...]: a redis-server speaking only TLS
# (--port 0) on a free loopback port, with the certificate CERT of tls_cert and the CA "ca";
# "yes" requires a client certificate (--tls-auth-clients). redis_cli NAME speaks TLS to it
# with the certificate "client" (tls_cert ca client "" clientAuth).
redis_tls_start() {
  local name=$1 cert=$2 auth=$3 d=$WORK/tls; shift 3
  RS_PORT[$name]=$(free_port)
  RS_TLS[$name]=1
  redis_spawn "$name" --port 0 --tls-port "${RS_PORT[$name]}" --tls-cert-file "$d/$cert.crt" \
    --tls-key-file "$d/$cert.key" --tls-ca-cert-file "$d/ca.crt" --tls-auth-clients "$auth" "$@"
}

redis_spawn() {
  local name=$1; shift
  mkdir -p "$WORK/$name"
  redis-server --bind 127.0.0.1 --dir "$WORK/$name" --save "" --appendonly no \
    --repl-diskless-sync-delay 0 --loglevel notice --logfile "$WORK/$name.log" "$@" >>"$WORK/$name.log" 2>&1 &
  RS_PID[$name]=$!
  REDIS_PIDS+=($!)
  for _ in $(seq 1 100); do
    # A server with requirepass answers NOAUTH: up all the same.
    redis_cli "$name" ping 2>&1 | grep -qE 'PONG|NOAUTH' && return 0
    sleep 0.05
  done
  echo "redis-server $name did not start"; cat "$WORK/$name.log"; return 1
}

# redis_cli NAME ARGS...: redis-cli against the server NAME (REDISCLI_AUTH for a password).
redis_cli() {
  local name=$1 d=$WORK/tls; shift
  if [ -n "${RS_TLS[$name]}" ]; then
    redis-cli --tls --cacert "$d/ca.crt" --cert "$d/client.crt" --key "$d/client.key" \
      -p "${RS_PORT[$name]}" "$@"
  else
    redis-cli -p "${RS_PORT[$name]}" "$@"
  fi
}

# redis_proxy_start NAME TARGET-PORT: fixtures/redis_proxy.py, a fixed address (port in
# PX_PORT[NAME]) whose new connections go to the port of the latest redis_proxy_target; SIGUSR1
# to PX_PID[NAME] cuts its open connections; $WORK/NAME.conns logs each connection's first byte
# and TLS server name.
declare -A PX_PORT PX_PID
redis_proxy_start() {
  local name=$1
  redis_proxy_target "$name" "$2"
  python3 "$TESTS_DIR/fixtures/redis_proxy.py" "$WORK/$name.port" "$WORK/$name.target" \
    "$WORK/$name.conns" 2>"$WORK/$name.log" &
  PX_PID[$name]=$!
  REDIS_PIDS+=($!)
  for _ in $(seq 1 100); do
    [ -s "$WORK/$name.port" ] && { PX_PORT[$name]=$(cat "$WORK/$name.port"); return 0; }
    sleep 0.05
  done
  echo "proxy $name did not start"; cat "$WORK/$name.log"; return 1
}

# redis_proxy_target NAME PORT: where the proxy's next connections go (those open stay).
redis_proxy_target() { echo "$2" >"$WORK/$1.target.tmp" && mv "$WORK/$1.target.tmp" "$WORK/$1.target"; }

# answers_200 PATH [TRIES]: GETs PATH every 0.1 s until it answers 200 (TRIES at most, 30 by
# default); sets NOT_200 to how many did not. Fails if none did.
answers_200() {
  NOT_200=0
  for _ in $(seq 1 "${2:-30}"); do
    http GET "$1"
    [ "$STATUS" = 200 ] && return 0
    NOT_200=$((NOT_200 + 1))
    sleep 0.1
  done
  return 1
}

# metric NAME-WITH-LABELS: the value of one sample of /metrics (0 when absent).
metric() {
  curl -s --max-time 5 "$(url /metrics)" |
    awk -v m="$1" '$1 == m { v = $2 } END { print v == "" ? 0 : v }'
}

pass() { PASSED=$((PASSED + 1)); echo "ok - $1"; }
fail() {
  FAILED=$((FAILED + 1))
  echo "not ok - $1"
  local line
  for line in "${@:2}"; do printf '    %s\n' "${line:0:300}"; done
  return 0
}

# check NAME CONDITION-COMMAND...: passes when the command succeeds.
check() {
  local name=$1; shift
  if "$@"; then pass "$name"; else fail "$name" "failed: $*"; fi
}

# mf_start SCRIPTS_DIR [VAR=value ...]: starts mayfly on a free port, waits for "listening".
mf_start() {
  local dir=$1; shift
  MF_LOG="$WORK/mayfly.$RANDOM.log"
  env MAYFLY_LISTEN=127.0.0.1:0 MAYFLY_SCRIPTS="$dir" MAYFLY_DRAIN_DELAY=0 "$@" \
    "$MAYFLY_BIN" serve >"$MF_LOG" 2>&1 &
  MF_PID=$!
  for _ in $(seq 1 200); do
    # The comma after the number: a line caught half-written must not yield a partial port.
    MF_PORT=$(grep -o '"msg":"listening".*"port":[0-9]*,' "$MF_LOG" 2>/dev/null | grep -o '"port":[0-9]*' | cut -d: -f2)
    [ -n "$MF_PORT" ] && return 0
    kill -0 "$MF_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "mayfly did not start:"; cat "$MF_LOG"
  MF_PID=
  return 1
}

# mf_stop: SIGTERM, waits, sets MF_EXIT to the exit code.
mf_stop() {
  MF_EXIT=
  [ -n "$MF_PID" ] || return 0
  kill -TERM "$MF_PID" 2>/dev/null
  wait "$MF_PID"
  MF_EXIT=$?
  MF_PID=
  sanitizer_check "$MF_LOG"
}

# sanitizer_check LOG: fails the test when LOG holds a sanitizer's report (ASan, UBSan, or
# LeakSanitizer's at exit, which sets an exit code that not every test checks). Returns 1 then.
sanitizer_check() {
  grep -q -E '^SUMMARY: [A-Za-z]+Sanitizer' "$1" 2>/dev/null || return 0
  fail "no sanitizer report from the server ($(basename "$1"))" \
    "$(grep -m1 -E 'ERROR: [A-Za-z]+Sanitizer|runtime error' "$1")" \
    "$(grep -m1 -E '^SUMMARY: ' "$1")"
  # The report's stacks, which go with the log when the test's folder is removed.
  grep -A60 -m1 -E 'ERROR: [A-Za-z]+Sanitizer|runtime error' "$1" | grep -E '^ *#[0-9]+ |^[A-Za-z].* (by|of) thread' | head -40 | sed 's/^/    /'
  return 1
}

# cpu_ticks PID: the CPU time the process has used so far, in clock ticks.
cpu_ticks() { local f; read -ra f <<<"$(cut -d')' -f2- "/proc/$1/stat")"; echo $((f[11] + f[12])); }

mf_alive() { [ -n "$MF_PID" ] && kill -0 "$MF_PID" 2>/dev/null; }

url() { echo "http://127.0.0.1:$MF_PORT$1"; }

# http METHOD PATH [curl args...]: sets STATUS, BODY and HEADERS (file).
http() {
  local method=$1 path=$2; shift 2
  HEADERS="$WORK/headers"
  BODY=$(curl -s -S -X "$method" -D "$HEADERS" -o - -w '\n%{http_code}' --max-time 10 "$@" "$(url "$path")" 2>"$WORK/curl.err")
  STATUS=${BODY##*$'\n'}
  BODY=${BODY%$'\n'*}
}

# expect NAME METHOD PATH STATUS [BODY-SUBSTRING] [-- curl args...]
expect() {
  local name=$1 method=$2 path=$3 status=$4 want=${5:-}
  shift 4; [ $# -gt 0 ] && shift
  [ "${1:-}" = "--" ] && shift
  http "$method" "$path" "$@"
  if [ "$STATUS" != "$status" ]; then
    fail "$name" "expected status $status, got $STATUS" "body: ${BODY:0:300}"
  elif [ -n "$want" ] && [[ "$BODY" != *"$want"* ]]; then
    fail "$name" "body lacks '$want'" "body: ${BODY:0:300}"
  else
    pass "$name"
  fi
}

header_of() { grep -i "^$1:" "$HEADERS" | head -1 | cut -d: -f2- | tr -d '\r' | sed 's/^ //'; }

# raw BYTES [TIMEOUT]: sends bytes (printf format) over a fresh TCP connection and prints what
# comes back until the server closes or TIMEOUT seconds pass.
raw() {
  local data=$1 t=${2:-3}
  timeout "$t" bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$MF_PORT"'; printf "$1" >&3; cat <&3' _ "$data" 2>/dev/null
}

# log_has PATTERN: the log has a line matching it, waiting up to 2 s (a worker's access lines
# are written in batches, within MAYFLY's log buffer time).
log_has() {
  local i
  for i in $(seq 1 40); do grep -q -- "$1" "$MF_LOG" && return 0; sleep 0.05; done
  return 1
}

# checks_report FILE: counts the verdicts of a checker that printed one line per check,
# "ok<TAB>name<TAB>detail" or "not ok<TAB>name<TAB>detail"; an empty file or any other line fails.
checks_report() {
  [ -s "$1" ] || fail "the checks ran"
  while IFS=$'\t' read -r verdict name detail; do
    case $verdict in
      ok) pass "$name" ;;
      "not ok") fail "$name" "$detail" ;;
      *) fail "the checks ran" "$verdict $name $detail" ;;
    esac
  done <"$1"
}

mf_finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
  exit $?
}
