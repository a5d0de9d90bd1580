# mayfly.constant: data computed once per script version and worker, shared read-only.
source "$(dirname "$0")/lib.sh"

mf_start "$TESTS_DIR/fixtures/constant" MAYFLY_WORKERS=1 || exit 1
expect "constant value readable" GET /code/two 200 '"code":2'
check "arrays read by index" grep -q '"second":"one"' <<<"$BODY"
check "computed in the first request" grep -q '"computed_here":1' <<<"$BODY"
expect "not computed again" GET /code/zero 200 '"computed_here":0'
check "value from the shared copy" grep -q '"code":0' <<<"$BODY"
expect "writes refused" GET /write 200 '"ok":false'
check "refusal names the value" grep -q "mayfly.constant value.by_code refused" <<<"$BODY"
expect "the refused write left nothing" GET /code/three 200 '"computed_here":0'
check "no key three" bash -c '! grep -q "\"code\"" <<<"$1"' _ "$BODY"
expect "functions are not data: 500" GET /function 500
check "the error says why" log_has "only tables, strings, numbers and booleans"
mf_stop
mf_finish
