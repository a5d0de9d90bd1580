#!/usr/bin/env bash
# mayfly test drives streamed responses: testing.request reads a streamed body to its end (a
# stream that does not end is cut after its timeout with a clear error, and the run goes on),
# testing.stream reads each write as it comes, parses Server-Sent Events strictly, reads
# comments, drains, closes (the stream's function sees its client gone), and the runner closes
# what a test left open. Handlers' waits (mayfly.sleep, Redis) happen on the runner's loop.
source "$(dirname "$0")/lib.sh"
cd "$MAYFLY_SOURCE_DIR" || exit 1
FIX=tests/integration/fixtures/spec_streams
export MAYFLY_SCRIPTS=$FIX/scripts

redis_start || exit 1
export MAYFLY_REDIS_URL=redis://127.0.0.1:$RPORT/4

# rows FILE: "name<TAB>status<TAB>message" from a JSON report
rows() {
  python3 - "$1" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
for key, st in (("successes", "success"), ("failures", "failure"), ("errors", "error"), ("pendings", "pending")):
    for e in doc[key]:
        msg = (e.get("message") or "").replace("\n", " ")
        print(e["name"] + "\t" + st + "\t" + msg)
PY
}

# ---- what passes ----
timeout 120 "$MAYFLY_BIN" test -o json $FIX/spec >"$WORK/pass.json" 2>"$WORK/pass.err"
rc=$?
rows "$WORK/pass.json" >"$WORK/pass.rows" 2>/dev/null
if [ "$rc" = 0 ] && ! grep -qv $'\tsuccess\t' "$WORK/pass.rows"; then
  pass "the streaming specs pass ($(wc -l <"$WORK/pass.rows") tests)"
else
  fail "the streaming specs pass (exit $rc)" "$(grep -v $'\tsuccess\t' "$WORK/pass.rows")" "$(tail -5 "$WORK/pass.err")"
fi
check "every test ran (17)" test "$(wc -l <"$WORK/pass.rows")" -eq 17
check "a stream left open was closed by the runner: its function saw write return nil, \"closed\"" \
  bash -c "grep '\"msg\":\"stream saw its client leave\"' '$WORK/pass.err' | grep '\"key\":\"left-open\"' | grep -q '\"write\":\"nil, closed\"'"
closed_at=$(grep -n '"key":"left-open"' "$WORK/pass.err" | head -1 | cut -d: -f1)
next_at=$(grep -n '"msg":"note".*"text":"next test"' "$WORK/pass.err" | head -1 | cut -d: -f1)
check "... when its test ended, before the next test ran" test "${closed_at:-99999}" -lt "${next_at:-0}"
check "the stream whose function raised is logged, with its error" grep -q '"while":"streaming".*kaput' "$WORK/pass.err"
check "no run was left waiting at the end" bash -c "! grep -q 'still waited at the end' '$WORK/pass.err'"
check "the tests' database is left empty" test "$(redis-cli -p "$RPORT" -n 4 dbsize)" -eq 0

# ---- what fails, and how ----
timeout 120 "$MAYFLY_BIN" test -o json $FIX/fail >"$WORK/fail.json" 2>"$WORK/fail.err"
rc=$?
check "failing streaming specs: exit 1" test "$rc" -eq 1
rows "$WORK/fail.json" >"$WORK/fail.rows" 2>/dev/null
row() { grep "^streams that fail $1"$'\t' "$WORK/fail.rows"; }
check_row() { # NAME STATUS TEXT
  local r; r=$(row "$1")
  if [[ "$r" == *$'\t'"$2"$'\t'*"$3"* ]]; then pass "$1: $2"; else fail "$1: $2 saying '$3'" "$r"; fi
}
check_row "a stream that never ends" error \
  "fail_spec.lua:9: testing.request: GET /forever: the stream did not end within 0.5 s (timeout=); it was ended as if its client left"
check_row "runs after the stream that never ended" success ""
check_row "an event assertion that does not hold" failure "Expected objects to be the same"
check_row "a read past its timeout" error "fail_spec.lua:24: testing.stream: s:read: GET /drain: nothing was written within 0.2 s"
check_row "a stream of another test" error \
  "fail_spec.lua:28: testing.stream: s:read: GET /drain was made by another test"
check_row "events past their timeout" error "testing.stream: s:events: GET /ticks: 0 of the 1 events asked for came within 0.2 s"
check_row "runs last, after all of them" success ""
check "7 results" test "$(wc -l <"$WORK/fail.rows")" -eq 7

# ---- the guide's example (docs/testing.md, "Streamed responses"): an SSE feed on mayfly.sse ----
mkdir -p "$WORK/feed/scripts" "$WORK/feed/spec"
python3 - docs/testing.md "$WORK/feed" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
for block in re.findall(r"```lua\n(.*?)```", text, re.S):
    for name in ("scripts/feed.lua", "spec/feed_spec.lua"):
        if block.split("\n", 1)[0] == "-- " + name:
            open(sys.argv[2] + "/" + name, "w", encoding="utf-8").write(block)
PY
check "the guide has the example's route and spec" test -s "$WORK/feed/scripts/feed.lua" -a -s "$WORK/feed/spec/feed_spec.lua"
(cd "$WORK/feed" && env -u MAYFLY_SCRIPTS timeout 60 "$MAYFLY_BIN" test -o json >"$WORK/feed.json" 2>"$WORK/feed.err")
rc=$?
rows "$WORK/feed.json" >"$WORK/feed.rows" 2>/dev/null
if [ "$rc" = 0 ] && [ "$(grep -c $'\tsuccess\t' "$WORK/feed.rows")" -eq 5 ]; then
  pass "the guide's live feed example passes its spec (5 tests)"
else
  fail "the guide's live feed example passes its spec (exit $rc)" "$(grep -v $'\tsuccess\t' "$WORK/feed.rows")" "$(tail -5 "$WORK/feed.err")"
fi

mf_finish
