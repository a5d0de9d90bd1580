#!/usr/bin/env bash
# mayfly new NAME: the folder it writes, its refusal to touch an existing path, and the
# scaffold served as it is by mayfly serve (and its spec run by mayfly test when present).
. "$(dirname "$0")/lib.sh"

cd "$WORK" || exit 1
out=$("$MAYFLY_BIN" new myapp 2>&1); rc=$?
check "new: exit 0" [ "$rc" = 0 ]
for f in scripts/app.lua spec/app_spec.lua config/greeting README.md; do
  check "new: writes $f" [ -s "myapp/$f" ]
done
check "new: README names the app and how to serve it" \
  bash -c 'head -1 myapp/README.md | grep -qx "# myapp" && grep -q "mayfly serve --scripts scripts --config config" myapp/README.md'
check "new: says what it created" grep -q 'created myapp/' <<<"$out"
check "new: the scripts pass mayfly check" bash -c '"$1" check myapp/scripts >/dev/null' _ "$MAYFLY_BIN"

sum=$(find myapp -type f -exec md5sum {} + | sort)
echo changed >myapp/scripts/app.lua.mine
out=$("$MAYFLY_BIN" new myapp 2>&1); rc=$?
check "new on an existing folder: exit 1" [ "$rc" = 1 ]
check "new on an existing folder: says so" grep -q 'myapp already exists; nothing was written' <<<"$out"
rm myapp/scripts/app.lua.mine
check "new on an existing folder: nothing changed" [ "$sum" = "$(find myapp -type f -exec md5sum {} + | sort)" ]
ln -s nowhere dangling
"$MAYFLY_BIN" new dangling >/dev/null 2>&1; rc=$?
check "new on a dangling link: refused" bash -c '[ "$1" = 1 ] && [ -L dangling ] && [ ! -e nowhere ]' _ "$rc"
"$MAYFLY_BIN" new >/dev/null 2>&1; rc=$?
check "new without a name: usage, exit 2" [ "$rc" = 2 ]
"$MAYFLY_BIN" new "$WORK/no/such/parent" >/dev/null 2>&1; rc=$?
check "new under a missing parent: exit 1, nothing left" bash -c '[ "$1" = 1 ] && [ ! -e "$2/no" ]' _ "$rc" "$WORK"

# ---- served as it is ----
mf_start "$WORK/myapp/scripts" MAYFLY_CONFIG="$WORK/myapp/config" || exit 1
expect "served: the handler answers with the config's greeting" GET /hello/you 200 'hello you'
http GET /hello/you
check "served: exactly the handler's response" [ "$BODY" = "hello you" ]
expect "served: JSON echo" POST /echo 200 '"got":{"a":1}' -- -H 'Content-Type: application/json' -d '{"a":1}'
expect "served: bad JSON is 400" POST /echo 400 'not valid JSON' -- -d 'a'
mf_stop
check "served: drains to exit 0" [ "$MF_EXIT" = 0 ]

if "$MAYFLY_BIN" test --help >/dev/null 2>&1; then
  out=$(cd myapp && MAYFLY_CONFIG=config "$MAYFLY_BIN" test -o plainTerminal spec 2>&1); rc=$?
  check "the scaffold's spec passes under mayfly test" [ "$rc" = 0 ]
  [ "$rc" = 0 ] || tail -20 <<<"$out"
else
  echo "# mayfly test is not in this binary: the scaffold's spec not run"
fi
mf_finish
