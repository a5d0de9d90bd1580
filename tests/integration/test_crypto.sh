# mayfly.crypto: the checks that need no oracle (RFC 4231's HMAC vectors, round trips of every
# byte value, malformed base64 and hex refused, uuid and uuid7 formats and order, equal, misuse)
# run in a handler (fixtures/crypto/crypto.lua, GET /checks); digests, HMAC, encodings and
# signatures against the openssl command line, with keys it makes (fixtures/crypto/interop.py).
source "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { fail "openssl is installed"; mf_finish; }

mf_start "$TESTS_DIR/fixtures/crypto" MAYFLY_WORKERS=2 || exit 1
http GET /checks
check "GET /checks answers" [ "$STATUS" = 200 ]
printf '%s' "$BODY" >"$WORK/checks"
checks_report "$WORK/checks"

mkdir -p "$WORK/keys"
if python3 "$TESTS_DIR/fixtures/crypto/interop.py" "$(url '')" "$WORK/keys" >"$WORK/interop" 2>"$WORK/interop.err"; then
  pass "interop.py ran to its end"
else
  fail "interop.py ran to its end" "$(tail -3 "$WORK/interop.err")"
fi
checks_report "$WORK/interop"
check "no handler failed" bash -c "! grep -q '\"status\":500' '$MF_LOG'"
mf_stop
check "mayfly stopped cleanly" [ "$MF_EXIT" = 0 ]
mf_finish
