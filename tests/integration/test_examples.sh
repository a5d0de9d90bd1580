#!/usr/bin/env bash
# examples/ served by the real binary and driven with curl: hello, crud on a real Redis,
# feature-flag through a kubelet-style ConfigMap swap. The others have tests of their own:
# login and ratelimit test_examples_redis.sh, singleton-job test_examples_singleton.sh, shop
# test_replicas.sh, gateway test_http_client.sh; every example's shape and specs are checked by
# test_example_specs.sh.
. "$(dirname "$0")/lib.sh"

EX="$MAYFLY_SOURCE_DIR/examples"
redis_start || exit 1
RURL="redis://127.0.0.1:$RPORT/0"

# ---- hello ----
mf_start "$EX/hello/scripts" || exit 1
expect "hello: default" GET /hello 200 'hello world'
expect "hello: query" GET '/hello?name=you' 200 'hello you'
expect "hello: JSON with the request id" GET /hello/ada 200 '"request_id":"r-1"' -- -H 'X-Request-Id: r-1'
mf_stop

# ---- crud ----
mf_start "$EX/crud/scripts" MAYFLY_REDIS_URL="$RURL" || exit 1
J=(-H 'Content-Type: application/json')
expect "crud: empty list is []" GET /items 200 '{"items":[]}'
expect "crud: create" POST /items 201 '"name":"tea"' -- "${J[@]}" -d '{"name":"tea","qty":3}'
check "crud: Location header" [ "$(header_of Location)" = /items/1 ]
expect "crud: create another" POST /items 201 '"id":2' -- "${J[@]}" -d '{"name":"jam"}'
expect "crud: read" GET /items/1 200 '"qty":3'
http GET /items
check "crud: list in order" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert [i["name"] for i in d["items"]] == ["tea","jam"], d' "$BODY"
expect "crud: update" PUT /items/1 200 '"name":"green tea"' -- "${J[@]}" -d '{"name":"green tea","qty":5}'
expect "crud: update unknown is 404" PUT /items/9 404 'no item 9' -- "${J[@]}" -d '{"name":"x"}'
check "crud: update of an unknown id creates nothing" [ "$(redis-cli -p "$RPORT" exists item:9)" = 0 ]
expect "crud: missing name is 400" POST /items 400 'name' -- "${J[@]}" -d '{"qty":1}'
expect "crud: negative qty is 400" POST /items 400 'qty' -- "${J[@]}" -d '{"name":"x","qty":-1}'
expect "crud: not JSON is 400" POST /items 400 'not valid JSON' -- -d 'tea'
expect "crud: delete" DELETE /items/1 204
expect "crud: delete again is 404" DELETE /items/1 404
expect "crud: read deleted is 404" GET /items/1 404
check "crud: state is in Redis" [ "$(redis-cli -p "$RPORT" hget item:2 name)" = jam ]
mf_stop
redis-cli -p "$RPORT" flushall >/dev/null

# ---- feature-flag: the kubelet's ConfigMap update, seen by a running server ----
C="$WORK/flags"
mkdir -p "$C/..2026_01_01_00_00_00.1"
echo false >"$C/..2026_01_01_00_00_00.1/new_greeting"
ln -s ..2026_01_01_00_00_00.1 "$C/..data"
ln -s ..data/new_greeting "$C/new_greeting"
# kubelet_swap VALUE N: a new timestamped folder, ..data_tmp renamed onto ..data, the old removed.
kubelet_swap() {
  local new="..2026_01_01_00_00_00.$2" old
  old=$(readlink "$C/..data")
  mkdir "$C/$new"
  echo "$1" >"$C/$new/new_greeting"
  ln -s "$new" "$C/..data_tmp"
  mv -T "$C/..data_tmp" "$C/..data"
  rm -rf "${C:?}/$old"
}
wait_greeting() {
  for _ in $(seq 1 100); do http GET /greeting; [[ "$BODY" == *"$1"* ]] && return 0; sleep 0.1; done
  return 1
}
mf_start "$EX/feature-flag/scripts" MAYFLY_CONFIG="$C" || exit 1
expect "feature-flag: off" GET '/greeting?name=ada' 200 '"greeting":"Hello ada"'
kubelet_swap true 2
check "feature-flag: flips on after the ConfigMap swap" wait_greeting '"new_greeting":true'
expect "feature-flag: new greeting" GET '/greeting?name=ada' 200 'Welcome back, ada!'
kubelet_swap ture 3
for _ in $(seq 1 100); do log_has 'config refused by on_config' && break; sleep 0.1; done
check "feature-flag: a value that is not a boolean is refused" log_has 'new_greeting must be true or false'
expect "feature-flag: the refused value leaves the flag as it was" GET /greeting 200 '"new_greeting":true'
kubelet_swap false 4
check "feature-flag: flips off again" wait_greeting '"new_greeting":false'
mf_stop
check "feature-flag: exit 0" [ "$MF_EXIT" = 0 ]

# ---- the spec files, once the binary has `mayfly test` ----
if "$MAYFLY_BIN" test --help >/dev/null 2>&1; then
  for d in hello crud feature-flag singleton-job; do
    redis-cli -p "$RPORT" flushall >/dev/null
    out=$(cd "$EX/$d" && MAYFLY_SCRIPTS=scripts MAYFLY_REDIS_URL="redis://127.0.0.1:$RPORT/15" \
      "$MAYFLY_BIN" test -o plainTerminal spec 2>&1)
    rc=$?
    check "$d: specs pass under mayfly test" [ $rc = 0 ]
    [ $rc = 0 ] || tail -20 <<<"$out"
  done
else
  echo "# mayfly test is not in this binary: spec files not run"
fi
mf_finish
