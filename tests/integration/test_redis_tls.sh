# Redis over TLS (rediss://) against real redis-servers that speak only TLS, with a test CA and
# certificates made here by openssl: verified with MAYFLY_REDIS_CA_FILE (and SNI sent for a
# name); refused for an unknown CA (also the system's CAs by default), for a certificate naming
# another host (by address and by name), for a missing client certificate when the server wants
# one; mutual TLS given; the same 503s and recovery as plaintext for a stopped server; the
# password from a file that rotates as a kubelet rotates a Secret, and a percent-encoded ACL
# user in the URL; no password anywhere in the log, /metrics, /readyz, error responses or
# `mayfly version`; TLS settings that cannot work refused at start-up. A refusal is a 503,
# /readyz 503 and a log line naming the reason, counted, and no retry loop (the breaker: a few
# connections for 20 requests). mayfly always reaches Redis through fixtures/redis_proxy.py,
# which logs the first byte and the TLS server name of every connection: "never plaintext" is
# checked on the wire (a TLS connection starts with 0x16), not taken from mayfly's own account.
# Not testable here: a server whose certificate chains to a public CA of the system's store
# verifying (there is none on loopback; only the refusal of the test CA by that store is).
source "$(dirname "$0")/lib.sh"

T=$WORK/tls
{ tls_ca ca && tls_ca other &&
  tls_cert ca server "IP:127.0.0.1,DNS:localhost" &&
  tls_cert ca client "" clientAuth &&
  tls_cert ca names_only "DNS:localhost" &&
  tls_cert ca address_only "IP:127.0.0.1"; } || exit 1
redis_tls_start main server no || exit 1
redis_tls_start names names_only no || exit 1
redis_tls_start address address_only no || exit 1
redis_tls_start mutual server yes || exit 1
redis_tls_start secret server no --requirepass pw-one || exit 1
redis_proxy_start px "${RS_PORT[main]}" || exit 1
PX=${PX_PORT[px]}
SCRIPTS=$TESTS_DIR/fixtures/redis
# A timeout with room for a sanitizer build; two workers, so that the workers' connections and
# the pool are both used.
COMMON=(MAYFLY_WORKERS=2 MAYFLY_REDIS_TIMEOUT=1s MAYFLY_ACCESS_LOG=off)

# ---- the wire, as the proxy saw it ----
CONNS=$WORK/px.conns
touch "$CONNS"
conns_mark() { MARK=$(wc -l <"$CONNS"); }
conns_since() { tail -n +"$((MARK + 1))" "$CONNS"; }
# wire_tls NAME: since the mark, mayfly opened connections and each began with a TLS record.
wire_tls() {
  local seen
  seen=$(conns_since)
  if [ -z "$seen" ]; then
    fail "$1: mayfly connected (the proxy saw no connection)"
  elif grep -qv ' first=16 ' <<<"$seen"; then
    fail "$1: never plaintext: every connection began with a TLS record" "$(grep -v ' first=16 ' <<<"$seen" | head -3)"
  else
    pass "$1: never plaintext: all $(wc -l <<<"$seen") connections began with a TLS record"
  fi
}

# redis_check: GET /readyz (STATUS, BODY) and its "redis" check as JSON in CHECK (empty if none).
redis_check() {
  http GET /readyz
  CHECK=$(python3 -c 'import json, sys
try: print(json.dumps(json.loads(sys.argv[1])["checks"]["redis"]))
except Exception: pass' "$BODY")
}

# refused NAME REASON-REGEX URL [VAR=value...]: mayfly started with URL refuses the server:
# a Redis route answers 503 naming the request id, other routes are unaffected, /readyz is 503
# with REASON in its redis check, a warn/error log line says REASON, the handshake failure is
# counted, nothing went in plaintext; then it stops cleanly.
refused() {
  local name=$1 reason=$2 u=$3
  shift 3
  conns_mark
  mf_start "$SCRIPTS" "${COMMON[@]}" MAYFLY_REDIS_URL="$u" "$@" || { fail "$name: mayfly starts"; return; }
  expect "$name: a Redis route answers 503" GET /incr 503 '"request_id"'
  expect "$name: a route without Redis answers" GET /plain 200 "no redis here"
  redis_check
  if [ "$STATUS" = 503 ] && grep -qiE "$reason" <<<"$CHECK" && grep -q '"ok": false' <<<"$CHECK"; then
    pass "$name: /readyz 503 naming the reason"
  else
    fail "$name: /readyz 503 naming the reason ($reason)" "status $STATUS" "redis check: $CHECK"
  fi
  if grep -E '"level":"(warn|error)"' "$MF_LOG" | grep -qiE "$reason"; then
    pass "$name: a log line names the reason"
  else
    fail "$name: a log line names the reason ($reason)" "$(grep -i redis "$MF_LOG" | tail -3)"
  fi
  check "$name: mayfly_redis_tls_handshake_failures_total counts it" \
    awk -v v="$(metric mayfly_redis_tls_handshake_failures_total)" 'BEGIN { exit !(v >= 1) }'
  # No retry loop: the breaker fails calls at once after 3 failures, for 1 s at a time.
  for _ in $(seq 1 20); do http GET /incr; done
  local n lines
  n=$(conns_since | wc -l)
  lines=$(grep -ciE "$reason" "$MF_LOG")
  check "$name: 20 more requests: 503 at once, $n connection(s) in all, not one per request" [ "$n" -le 8 ]
  check "$name: $lines log line(s) with the reason, not one per request" [ "$lines" -le 4 ]
  wire_tls "$name"
  mf_stop
  check "$name: exit 0" [ "$MF_EXIT" = 0 ]
}

# ---- settings refused at start-up ----
# refused_at_start NAME MESSAGE VAR=value...: mayfly serve exits 1 saying MESSAGE.
refused_at_start() {
  local name=$1 message=$2 out code
  shift 2
  out=$(env MAYFLY_LISTEN=127.0.0.1:0 MAYFLY_SCRIPTS="$SCRIPTS" "$@" timeout 10 "$MAYFLY_BIN" serve 2>&1)
  code=$?
  if [ "$code" = 1 ] && grep -qF -- "$message" <<<"$out"; then pass "$name"; else fail "$name" "exit $code" "$out"; fi
}
refused_at_start "a TLS setting with redis://: refused at start-up, never plaintext by mistake" \
  "MAYFLY_REDIS_URL must be rediss://" MAYFLY_REDIS_URL="redis://127.0.0.1:$PX" MAYFLY_REDIS_CA_FILE="$T/ca.crt"
refused_at_start "a client certificate without its key: refused at start-up" \
  "MAYFLY_REDIS_KEY_FILE" MAYFLY_REDIS_URL="rediss://127.0.0.1:$PX" MAYFLY_REDIS_CERT_FILE="$T/client.crt"
refused_at_start "a CA file that does not exist: refused at start-up, naming it" \
  "$T/missing.crt" MAYFLY_REDIS_URL="rediss://127.0.0.1:$PX" MAYFLY_REDIS_CA_FILE="$T/missing.crt"
refused_at_start "a key that is not the certificate's: refused at start-up" \
  "MAYFLY_REDIS_KEY_FILE" MAYFLY_REDIS_URL="rediss://127.0.0.1:$PX" \
  MAYFLY_REDIS_CERT_FILE="$T/client.crt" MAYFLY_REDIS_KEY_FILE="$T/server.key"

# ---- verified by the test CA ----
conns_mark
mf_start "$SCRIPTS" "${COMMON[@]}" MAYFLY_REDIS_URL="rediss://127.0.0.1:$PX" \
  MAYFLY_REDIS_CA_FILE="$T/ca.crt" || exit 1
expect "verified (CA file): INCR answers" GET /incr 200 1
expect "verified: again, on the same connections" GET /incr 200 2
check "verified: Redis counted both" [ "$(redis_cli main get load)" = 2 ]
expect "verified: pipelines work over TLS" POST /pipeline 200
redis_check
check "verified: /readyz 200" [ "$STATUS" = 200 ]
check "verified: /readyz's redis check names the topology, the server and TLS ($CHECK)" \
  grep -q "single 127.0.0.1:$PX (TLS)" <<<"$CHECK"
check "verified: no handshake failure counted" [ "$(metric mayfly_redis_tls_handshake_failures_total)" = 0 ]
wire_tls "verified"
check "verified: no SNI for an address" bash -c '! grep -q " sni=[^-]" <<<"$1"' _ "$(conns_since)"

# The same TLS server stopped: calls time out (503), then recover, as with plaintext.
kill -STOP "${RS_PID[main]}"
start=$SECONDS
expect "TLS server stopped: 503" GET /incr 503
check "TLS server stopped: answered within the timeout" [ $((SECONDS - start)) -le 3 ]
expect "TLS server stopped: /readyz 503" GET /readyz 503 '"redis"'
kill -CONT "${RS_PID[main]}"
check "TLS server resumed: recovers without a restart" answers_200 /incr 50
mf_stop
check "verified: exit 0" [ "$MF_EXIT" = 0 ]

# By name: the host name is verified and sent as SNI.
conns_mark
mf_start "$SCRIPTS" "${COMMON[@]}" MAYFLY_REDIS_URL="rediss://localhost:$PX" \
  MAYFLY_REDIS_CA_FILE="$T/ca.crt" || exit 1
expect "verified by name: INCR answers" GET /incr 200
check "verified by name: SNI localhost sent" grep -q ' sni=localhost$' <(conns_since)
mf_stop

# ---- refused ----
refused "unknown CA (MAYFLY_REDIS_CA_FILE another CA)" 'certificate|issuer' "rediss://127.0.0.1:$PX" \
  MAYFLY_REDIS_CA_FILE="$T/other.crt"
refused "unknown CA (the system's CAs, the default)" 'certificate|issuer' "rediss://127.0.0.1:$PX"

# A plaintext URL to a TLS-only port fails too (Redis closes it): the scheme decides, nothing else.
mf_start "$SCRIPTS" "${COMMON[@]}" MAYFLY_REDIS_URL="redis://127.0.0.1:$PX" || exit 1
expect "redis:// to a TLS port: 503, no crash" GET /incr 503
mf_stop

redis_proxy_target px "${RS_PORT[names]}"
refused "certificate for localhost only, reached by 127.0.0.1" 'mismatch|host|name|address' \
  "rediss://127.0.0.1:$PX" MAYFLY_REDIS_CA_FILE="$T/ca.crt"
mf_start "$SCRIPTS" "${COMMON[@]}" MAYFLY_REDIS_URL="rediss://localhost:$PX" \
  MAYFLY_REDIS_CA_FILE="$T/ca.crt" || exit 1
expect "certificate for localhost, reached by localhost: INCR answers" GET /incr 200
mf_stop

redis_proxy_target px "${RS_PORT[address]}"
refused "certificate for 127.0.0.1 only, reached by localhost" 'mismatch|host|name|address' \
  "rediss://localhost:$PX" MAYFLY_REDIS_CA_FILE="$T/ca.crt"

# ---- mutual TLS ----
redis_proxy_target px "${RS_PORT[mutual]}"
refused "mutual TLS required, no client certificate" 'certificate required' \
  "rediss://127.0.0.1:$PX" MAYFLY_REDIS_CA_FILE="$T/ca.crt"
mf_start "$SCRIPTS" "${COMMON[@]}" MAYFLY_REDIS_URL="rediss://127.0.0.1:$PX" \
  MAYFLY_REDIS_CA_FILE="$T/ca.crt" MAYFLY_REDIS_CERT_FILE="$T/client.crt" \
  MAYFLY_REDIS_KEY_FILE="$T/client.key" || exit 1
expect "mutual TLS, client certificate given: INCR answers" GET /incr 200
expect "mutual TLS: /readyz 200" GET /readyz 200
mf_stop

# ---- the password from a file, rotated as the kubelet rotates a mounted Secret ----
# The volume's layout: password -> ..data/password, ..data -> ..<version>; an update writes a
# new version folder, points ..data_tmp at it and renames ..data_tmp over ..data.
S=$WORK/secret
mkdir -p "$S/..v1"
printf 'pw-one\n' >"$S/..v1/password"
ln -s ..v1 "$S/..data"
ln -s ..data/password "$S/password"
VERSION=1
secret_rotate() {
  local old=$VERSION
  VERSION=$((VERSION + 1))
  mkdir "$S/..v$VERSION"
  printf '%s\n' "$1" >"$S/..v$VERSION/password"
  ln -s "..v$VERSION" "$S/..data_tmp"
  mv -T "$S/..data_tmp" "$S/..data"
  rm -rf "${S:?}/..v$old"
}
secret_cli() { REDISCLI_AUTH=$1 redis_cli secret "${@:2}"; }

# until_200 NAME: requests until one answers 200 (3 s at most: the breaker may be open for 1 s
# after the refusals), then 10 more that must all be 200.
until_200() {
  answers_200 /incr || { fail "$1" "no 200 within 3 s; last: $STATUS $BODY"; return; }
  for _ in $(seq 1 10); do
    http GET /incr
    [ "$STATUS" = 200 ] || { fail "$1" "a later request answered $STATUS: $BODY"; return; }
  done
  pass "$1 ($NOT_200 request(s) failed before)"
}

redis_proxy_target px "${RS_PORT[secret]}"
# A wrong password in the URL: the file's overrides it. Debug level: even those lines must not
# hold a password. One worker: the second request rides the connection the first one opened.
SECRET_ENV=(MAYFLY_REDIS_URL="rediss://:url-pw-wrong@127.0.0.1:$PX" MAYFLY_REDIS_CA_FILE="$T/ca.crt"
  MAYFLY_REDIS_PASSWORD_FILE="$S/password" MAYFLY_LOG_LEVEL=debug)
mf_start "$SCRIPTS" "${COMMON[@]}" MAYFLY_WORKERS=1 "${SECRET_ENV[@]}" || exit 1
expect "password file: INCR answers (the file's password, not the URL's)" GET /incr 200
# Redis changes its password; open connections stay authenticated.
secret_cli pw-one config set requirepass pw-two >/dev/null
expect "password changed in Redis: open connections still answer" GET /incr 200
secret_rotate pw-two
secret_cli pw-two client kill type normal >/dev/null
until_200 "password rotated (the kubelet's swap), connections killed: new ones use the new one"

# A rewrite that looks unchanged (same file, size and modification time): Redis refuses the
# cached password, and the file is read again after the refusal.
secret_cli pw-two config set requirepass pw-333 >/dev/null
touch -r "$S/..v$VERSION/password" "$WORK/mtime"
printf 'pw-333\n' >"$S/..v$VERSION/password"
touch -r "$WORK/mtime" "$S/..v$VERSION/password"
secret_cli pw-333 client kill type normal >/dev/null
http GET /incr
RESPONSES=$BODY # a refusal's 503, when this request met it: checked for passwords below
until_200 "file rewritten in place, same size and time: read again after WRONGPASS"
check "the refusal was logged" log_has 'WRONGPASS\|NOAUTH\|invalid username-password'

# A file that cannot be read: no connection without a password, a log line naming the file.
mv "$S/password" "$S/password.away"
secret_cli pw-333 client kill type normal >/dev/null
http GET /incr
RESPONSES+=$BODY
check "password file missing: 503" [ "$STATUS" = 503 ]
check "password file missing: the log names the file" log_has "$S/password"
mv "$S/password.away" "$S/password"
until_200 "password file back: recovers"

# Secrets nowhere: the log, /metrics, /readyz, error responses, mayfly version.
http GET /metrics
METRICS=$BODY
http GET /readyz
READYZ=$BODY
VERSION_OUT=$(env "${SECRET_ENV[@]}" "$MAYFLY_BIN" version "$SCRIPTS" 2>&1)
mf_stop
check "password file: exit 0" [ "$MF_EXIT" = 0 ]

# A percent-encoded ACL user and password in the URL, decoded before AUTH.
redis_cli main acl setuser app on '>s@c:r/t%' '~*' '+@all' >/dev/null
redis_proxy_target px "${RS_PORT[main]}"
mf_start "$SCRIPTS" "${COMMON[@]}" MAYFLY_LOG_LEVEL=debug MAYFLY_REDIS_CA_FILE="$T/ca.crt" \
  MAYFLY_REDIS_URL="rediss://app:s%40c%3Ar%2Ft%25@127.0.0.1:$PX" || exit 1
expect "ACL user, escaped password in the URL: INCR answers" GET /incr 200
check "ACL user: mayfly's connections are app's" grep -q "user=app" <<<"$(redis_cli main client list)"
http GET /metrics
METRICS+=$BODY
http GET /readyz
READYZ+=$BODY
mf_stop

for pw in url-pw-wrong pw-one pw-two pw-333 's@c:r/t%' 's%40c%3Ar%2Ft%25'; do
  hits=()
  grep -qF -- "$pw" "$WORK"/mayfly.*.log && hits+=(log)
  grep -qF -- "$pw" <<<"$METRICS" && hits+=(/metrics)
  grep -qF -- "$pw" <<<"$READYZ" && hits+=(/readyz)
  grep -qF -- "$pw" <<<"$RESPONSES" && hits+=("error responses")
  grep -qF -- "$pw" <<<"$VERSION_OUT" && hits+=("mayfly version")
  check "the password '$pw' appears nowhere${hits:+ (found in ${hits[*]})}" [ ${#hits[@]} = 0 ]
done
check "no crash in any log" bash -c '! grep -qiE "fatal|abort|sanitizer" "$@"' _ "$WORK"/mayfly.*.log
mf_finish
