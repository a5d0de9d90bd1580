#!/usr/bin/env bash
# CORS answered by the host (docs/cors.md): preflights never reach a handler; every response but
# the probes' carries the headers its Origin calls for, and nothing for an origin not allowed;
# bad settings stop the start with exit 2; with CORS off nothing changes.
. "$(dirname "$0")/lib.sh"

SCRIPTS="$TESTS_DIR/fixtures/cors"
PREFLIGHT_VARY="vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers"

# cors_lines: the last response's Access-Control-* and Vary fields, "name: value" a line, names
# lower-cased, sorted.
cors_lines() {
  tr -d '\r' <"$HEADERS" | grep -iE '^(access-control-[a-z-]+|vary):' |
    awk '{ i = index($0, ":"); printf "%s:%s\n", tolower(substr($0, 1, i - 1)), substr($0, i + 1) }' |
    sort
}

# expect_cors NAME [LINE...]: the last response's CORS fields are exactly these lines.
expect_cors() {
  local name=$1 want got; shift
  want=$(printf '%s\n' "$@" | sed '/^$/d' | sort)
  got=$(cors_lines)
  if [ "$got" = "$want" ]; then
    pass "$name"
  else
    fail "$name" "expected: ${want//$'\n'/ | }" "got:      ${got//$'\n'/ | }"
  fi
}

# preflight PATH ORIGIN METHOD [REQUEST-HEADERS]
preflight() {
  local args=(-H "Origin: $2" -H "Access-Control-Request-Method: $3")
  [ -n "${4:-}" ] && args+=(-H "Access-Control-Request-Headers: $4")
  http OPTIONS "$1" "${args[@]}"
}

# ---- a list of origins, with credentials ----
mf_start "$SCRIPTS" MAYFLY_WORKERS=2 MAYFLY_MAX_BODY=1KiB \
  MAYFLY_CORS_ORIGINS="https://app.example.com http://localhost:5173, https://*.example.org" \
  MAYFLY_CORS_HEADERS="Content-Type,Authorization" MAYFLY_CORS_EXPOSE_HEADERS="X-Request-Id, ETag" \
  MAYFLY_CORS_CREDENTIALS=on MAYFLY_CORS_MAX_AGE=10m || exit 1

ALLOWED_PREFLIGHT=(
  "access-control-allow-credentials: true"
  "access-control-allow-headers: Content-Type, Authorization"
  "access-control-allow-methods: GET, HEAD, POST, PUT, PATCH, DELETE"
  "access-control-max-age: 600"
  "$PREFLIGHT_VARY")

preflight /items/7 https://app.example.com PUT "content-type, authorization"
check "preflight from an allowed origin: 204" [ "$STATUS" = 204 ]
check "preflight: no body" [ -z "$BODY" ]
expect_cors "preflight from an allowed origin: the allow headers" \
  "access-control-allow-origin: https://app.example.com" "${ALLOWED_PREFLIGHT[@]}"

preflight /opt http://localhost:5173 DELETE
check "preflight on a route with an OPTIONS handler: answered by the host" \
  [ "$STATUS" = 204 -a -z "$(header_of X-Handler)" ]
expect_cors "preflight from the second origin (a port)" \
  "access-control-allow-origin: http://localhost:5173" "${ALLOWED_PREFLIGHT[@]}"

preflight /nowhere https://app.example.com POST
check "preflight on a path without a route: 204, before routing" [ "$STATUS" = 204 ]

preflight /items/7 https://api.example.org PUT
check "preflight from a subdomain of the wildcard: 204" [ "$STATUS" = 204 ]
expect_cors "preflight from a subdomain of the wildcard: the allow headers" \
  "access-control-allow-origin: https://api.example.org" "${ALLOWED_PREFLIGHT[@]}"

for origin in https://evil.example.com https://evil-example.org https://example.org \
  http://app.example.com https://app.example.com.evil.net null; do
  preflight /items/7 "$origin" PUT "content-type"
  check "preflight from $origin (not allowed): 204" [ "$STATUS" = 204 ]
  expect_cors "preflight from $origin: no Access-Control-* header" "$PREFLIGHT_VARY"
done

ACTUAL=("access-control-allow-credentials: true"
  "access-control-expose-headers: X-Request-Id, ETag" "vary: Origin")
expect "simple GET from an allowed origin" GET /items 200 '"items"' -- -H "Origin: https://app.example.com"
expect_cors "simple GET: allow origin, expose, credentials, Vary" \
  "access-control-allow-origin: https://app.example.com" "${ACTUAL[@]}"
expect "PUT from a wildcard subdomain" PUT /items/3 200 '"id":"3"' -- \
  -H "Origin: https://a.b.example.org" -H "Content-Type: application/json" -d '{}'
expect_cors "PUT from a wildcard subdomain: its origin echoed" \
  "access-control-allow-origin: https://a.b.example.org" "${ACTUAL[@]}"
expect "GET from an origin not allowed is served" GET /items 200 '"items"' -- \
  -H "Origin: https://evil-example.org"
expect_cors "GET from an origin not allowed: only Vary" "vary: Origin"
expect "GET without Origin" GET /items 200
expect_cors "GET without Origin: only Vary" "vary: Origin"

expect "404 from an allowed origin" GET /nope 404 "not found" -- -H "Origin: https://app.example.com"
expect_cors "404 carries the CORS headers" \
  "access-control-allow-origin: https://app.example.com" "${ACTUAL[@]}"
expect "500 from an allowed origin" GET /boom 500 "request_id" -- -H "Origin: https://app.example.com"
expect_cors "500 carries the CORS headers" \
  "access-control-allow-origin: https://app.example.com" "${ACTUAL[@]}"
expect "405 from an allowed origin" DELETE /items 405 "" -- -H "Origin: https://app.example.com"
expect_cors "405 carries the CORS headers" \
  "access-control-allow-origin: https://app.example.com" "${ACTUAL[@]}"
head -c 4096 /dev/zero >"$WORK/big"
expect "413 from an allowed origin" POST /upload 413 "" -- -H "Origin: https://app.example.com" \
  --data-binary @"$WORK/big"
expect_cors "413 carries the CORS headers" \
  "access-control-allow-origin: https://app.example.com" "${ACTUAL[@]}"

expect "OPTIONS without Access-Control-Request-Method reaches its route" OPTIONS /opt 200 \
  "options route" -- -H "Origin: https://app.example.com"
expect_cors "that OPTIONS is an actual request: its CORS headers" \
  "access-control-allow-origin: https://app.example.com" "${ACTUAL[@]}"
expect "a handler's own Access-Control-Allow-Origin" GET /own 200 own -- \
  -H "Origin: https://app.example.com"
expect_cors "a handler's own Access-Control-Allow-Origin is left alone" \
  "access-control-allow-origin: https://own.example.net"

for probe in /livez /readyz /metrics; do
  http GET "$probe" -H "Origin: https://app.example.com"
  check "probe $probe answers" [ "$STATUS" = 200 ]
  expect_cors "probe $probe: no CORS headers" ""
done
check "the preflight is in the access log as a 204" log_has '"method":"OPTIONS".*"status":204'
mf_stop
check "stops cleanly" [ "$MF_EXIT" = 0 ]

# ---- any origin, methods and headers echoed ----
mf_start "$SCRIPTS" MAYFLY_WORKERS=1 MAYFLY_CORS_ORIGINS='*' MAYFLY_CORS_METHODS='*' \
  MAYFLY_CORS_HEADERS='*' MAYFLY_CORS_EXPOSE_HEADERS='*' || exit 1
preflight /items/1 https://anyone.example PURGE "x-api-key, content-type"
check "any origin: preflight 204" [ "$STATUS" = 204 ]
expect_cors "any origin: *, the method and headers asked echoed, no credentials" \
  "access-control-allow-origin: *" "access-control-allow-methods: PURGE" \
  "access-control-allow-headers: x-api-key, content-type" "$PREFLIGHT_VARY"
preflight /items/1 https://anyone.example PUT
expect_cors "any origin: a preflight asking no headers gets no Allow-Headers" \
  "access-control-allow-origin: *" "access-control-allow-methods: PUT" "$PREFLIGHT_VARY"
expect "any origin: simple GET" GET /items 200 "" -- -H "Origin: https://anyone.example"
expect_cors "any origin: * and expose, no Vary (the same for everyone)" \
  "access-control-allow-origin: *" "access-control-expose-headers: *"
expect "any origin: GET without Origin" GET /items 200
expect_cors "any origin: * without Origin too, so a cache may share it" \
  "access-control-allow-origin: *" "access-control-expose-headers: *"
mf_stop

# ---- CORS off: nothing changes ----
mf_start "$SCRIPTS" MAYFLY_WORKERS=1 || exit 1
preflight /opt https://app.example.com PUT content-type
check "CORS off: a preflight reaches the OPTIONS route" \
  [ "$STATUS" = 200 -a "$BODY" = "options route" -a "$(header_of X-Handler)" = options ]
expect_cors "CORS off: no CORS header on it" ""
preflight /items/1 https://app.example.com PUT
check "CORS off: a preflight without an OPTIONS route is a 405" [ "$STATUS" = 405 ]
expect "CORS off: GET with Origin" GET /items 200 "" -- -H "Origin: https://app.example.com"
expect_cors "CORS off: no CORS header, no Vary" ""
mf_stop

# ---- refused at start ----
# refused NAME MESSAGE-PART [VAR=value ...] [-- FLAGS...]: serve exits 2 at once saying MESSAGE.
refused() {
  local name=$1 want=$2 vars=() out code; shift 2
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do vars+=("$1"); shift; done
  [ "${1:-}" = "--" ] && shift
  out=$(env MAYFLY_LISTEN=127.0.0.1:0 MAYFLY_SCRIPTS="$SCRIPTS" "${vars[@]}" \
    timeout 10 "$MAYFLY_BIN" serve "$@" 2>&1)
  code=$?
  if [ "$code" = 2 ] && [[ "$out" == *"$want"* ]] && [[ "$out" != *listening* ]]; then
    pass "$name"
  else
    fail "$name" "exit $code, expected 2 with '$want'" "${out:0:300}"
  fi
}
refused "refused: * with credentials" \
  "MAYFLY_CORS_ORIGINS=* with MAYFLY_CORS_CREDENTIALS=on" MAYFLY_CORS_ORIGINS='*' \
  MAYFLY_CORS_CREDENTIALS=on
refused "refused: * with credentials, by flags" \
  "MAYFLY_CORS_ORIGINS=* with MAYFLY_CORS_CREDENTIALS=on" -- --cors-origins='*' \
  --cors-credentials=on
refused "refused: an origin with a path" \
  "MAYFLY_CORS_ORIGINS: 'https://app.example.com/' is not an origin" \
  MAYFLY_CORS_ORIGINS="https://ok.example.com, https://app.example.com/"
refused "refused: an origin without a scheme, by flag" \
  "--cors-origins: 'app.example.com' is not an origin" -- --cors-origins app.example.com
refused "refused: a wildcard over a top-level domain" "'https://*.com' is not an origin" \
  MAYFLY_CORS_ORIGINS='https://*.com'
refused "refused: * among origins" "'*' is not an origin" \
  MAYFLY_CORS_ORIGINS='https://app.example.com *'
refused "refused: the null origin" "'null' is not an origin" MAYFLY_CORS_ORIGINS=null
refused "refused: a method that is not a token" "MAYFLY_CORS_METHODS: 'GET;' is not" \
  MAYFLY_CORS_ORIGINS=https://app.example.com MAYFLY_CORS_METHODS='GET; POST'
refused "refused: expose * with credentials" \
  "MAYFLY_CORS_EXPOSE_HEADERS=* with MAYFLY_CORS_CREDENTIALS=on" \
  MAYFLY_CORS_ORIGINS=https://app.example.com MAYFLY_CORS_EXPOSE_HEADERS='*' \
  MAYFLY_CORS_CREDENTIALS=on
refused "refused: a max age that is not a duration" "MAYFLY_CORS_MAX_AGE" \
  MAYFLY_CORS_ORIGINS=https://app.example.com MAYFLY_CORS_MAX_AGE=forever

mf_finish
