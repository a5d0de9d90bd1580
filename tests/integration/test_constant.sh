# mayfly.constant: data computed once per script version and worker as the version loads, shared
# read-only; its function runs detached from any request, and a call the load did not reach
# keeps nothing.
source "$(dirname "$0")/lib.sh"

mf_start "$TESTS_DIR/fixtures/constant" MAYFLY_WORKERS=1 || exit 1
expect "constant value readable" GET /code/two 200 '"code":2'
check "arrays read by index" grep -q '"second":"one"' <<<"$BODY"
drawn=$(sed -n 's/.*"drawn":\([0-9]*\).*/\1/p' <<<"$BODY")
check "the value has its random draw" [ -n "$drawn" ]
expect "not computed again" GET /code/zero 200 "\"drawn\":$drawn"
check "value from the shared copy" grep -q '"code":0' <<<"$BODY"
expect "writes refused" GET /write 200 '"ok":false'
check "refusal names the value" grep -q "mayfly.constant value.by_code refused" <<<"$BODY"
expect "the refused write left nothing" GET /code/three 200 "\"drawn\":$drawn"
check "no key three" bash -c '! grep -q "\"code\"" <<<"$1"' _ "$BODY"
expect "functions are not data: 500" GET /function 500
check "the error says why" log_has "only tables, strings, numbers and booleans"
expect "a constant in a handler sees its upvalue" GET '/in-handler?name=ada' 200 '"name":"ada"'
first=$(sed -n 's/.*"drawn":\([0-9]*\).*/\1/p' <<<"$BODY")
expect "and is computed again for the next call" GET '/in-handler?name=bob' 200 '"name":"bob"'
check "a value of its own" [ "$(sed -n 's/.*"drawn":\([0-9]*\).*/\1/p' <<<"$BODY")" != "$first" ]
expect "the request's globals are not seen" GET '/sees-no-request?v=first' 200 '"v":"none"'
check "nor through load" grep -q '"g":"none"' <<<"$BODY"
expect "the next request gets the same" GET '/sees-no-request?v=second' 200 '"v":"none"'
mf_stop
mf_finish
