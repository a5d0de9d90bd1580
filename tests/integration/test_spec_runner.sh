# mayfly test: the runner's own behaviour on fixture spec files (every output format parsed,
# exit codes, tags and filters), the same results as Debian's busted on the same files, and the
# handler specs of scripts/ and examples/shop run against a real Redis.
source "$(dirname "$0")/lib.sh"
cd "$MAYFLY_SOURCE_DIR" || exit 1
FIX=tests/integration/fixtures/spec

# results FORMAT FILE: "name<TAB>status" lines, parsed from mayfly's or busted's output.
results() {
  python3 - "$1" "$2" <<'PY'
import json, re, sys, xml.etree.ElementTree as ET
fmt, path = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8").read()
rows = []
if fmt == "junit":
    for tc in ET.fromstring(text).iter("testcase"):
        st = "success"
        for k, v in (("failure", "failure"), ("error", "error"), ("skipped", "pending")):
            if tc.find(k) is not None: st = v
        rows.append((tc.get("name"), st))
elif fmt == "json":
    doc = json.loads(text)
    for key, st in (("successes", "success"), ("failures", "failure"), ("errors", "error"), ("pendings", "pending")):
        rows += [(e["name"], st) for e in doc[key]]
elif fmt == "tap":
    plan, n = None, 0
    for line in text.splitlines():
        m = re.match(r"^(not )?ok (\d+) - (.*)$", line)
        if m:
            n += 1
            assert int(m.group(2)) == n, "TAP test numbers out of order"
            desc = m.group(3)
            if desc.startswith("# SKIP "): rows.append((desc[7:], "pending"))
            else: rows.append((desc, "failure" if m.group(1) else "success"))
        elif re.match(r"^1\.\.(\d+)$", line): plan = int(line[3:])
        elif not line.startswith("#"): raise SystemExit("not TAP: " + line)
    assert plan == n, "TAP plan %s for %d tests" % (plan, n)
for name, st in sorted(rows): print(name + "\t" + st)
PY
}

out=$WORK/out
# ---- exit codes ----
"$MAYFLY_BIN" test -o plainTerminal $FIX/api_spec.lua >"$out" 2>&1
check "all passing: exit 0" test $? -eq 0
check "counts" grep -q "^18 successes / 0 failures / 0 errors / 1 pending" "$out"
"$MAYFLY_BIN" test -o plainTerminal $FIX/outcomes_spec.lua >"$out" 2>&1
check "failures: exit 1" test $? -eq 1
check "outcome counts as busted's" grep -q "^4 successes / 1 failure / 12 errors / 2 pending" "$out"
check "failure names the assertion's line" grep -q "outcomes_spec.lua:7: Expected objects to be equal." "$out"
check "hook error named after block and hook" grep -q "^outer bad before_each before_each$" "$out"
"$MAYFLY_BIN" test --no-such-flag >"$out" 2>&1
check "unknown flag: exit 2" test $? -eq 2

"$MAYFLY_BIN" test $FIX/api_spec.lua >"$out" 2>&1
check "plainTerminal is the default when not on a terminal (as busted)" \
  bash -c "grep -q '18 successes' '$out' && grep -q '^+++' '$out' && ! grep -q $'\e\\[' '$out'"
python3 - "$MAYFLY_BIN" $FIX/api_spec.lua >"$out" <<'PY'
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "test", sys.argv[2]])
data = b""
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
os.waitpid(pid, 0)
sys.stdout.write(data.decode("utf-8", "replace"))
PY
check "utfTerminal colours on a terminal" grep -q $'\e\[32m' "$out"

# ---- every format, parsed ----
for fmt in junit json tap; do
  "$MAYFLY_BIN" test -o "$fmt" $FIX >"$WORK/m.$fmt" 2>/dev/null
  if results "$fmt" "$WORK/m.$fmt" >"$WORK/m.$fmt.rows"; then pass "$fmt parses"; else fail "$fmt parses" "$(head -5 "$WORK/m.$fmt")"; fi
done
check "json: 38 results" test "$(wc -l <"$WORK/m.json.rows")" -eq 38
check "json: 12 errors" test "$(grep -c $'\terror$' "$WORK/m.json.rows")" -eq 12
check "junit: 30 testcases (no hook errors, as busted)" test "$(wc -l <"$WORK/m.junit.rows")" -eq 30
check "tap: 38 tests" test "$(wc -l <"$WORK/m.tap.rows")" -eq 38
check "tap: pending from inside a test" grep -q "outcomes_spec.lua:11: x" "$WORK/m.tap.rows"

# ---- tags, filters, list ----
"$MAYFLY_BIN" test -o json --tags slow $FIX >"$WORK/t.json"; results json "$WORK/t.json" >"$WORK/t.rows"
check "--tags runs only #slow (and the blocks' strict hooks)" grep -q $'^outer errors #slow\terror$' "$WORK/t.rows"
check "--tags leaves out untagged tests" test "$(grep -c $'\tsuccess$' "$WORK/t.rows")" -eq 0
"$MAYFLY_BIN" test --list $FIX/api_spec.lua >"$out"
check "--list names tests with their line" grep -q "api_spec.lua:10: hook order one" "$out"
"$MAYFLY_BIN" test -o json --shuffle --seed 7 $FIX/api_spec.lua >"$WORK/s1.json"
"$MAYFLY_BIN" test -o json --shuffle --seed 7 $FIX/api_spec.lua >"$WORK/s2.json"
check "--seed repeats a shuffle" cmp -s <(results json "$WORK/s1.json") <(results json "$WORK/s2.json")
check "--pattern" test "$("$MAYFLY_BIN" test --list --pattern '^api' $FIX | grep -c outcomes)" -eq 0

# ---- the same results as busted ----
if command -v busted >/dev/null; then
  for set in "$FIX" tests/spec tests/integration/fixtures/spec_more tests/integration/fixtures/spec_spies; do
    busted --lua=luajit -o junit "$set" >"$WORK/b.xml" 2>/dev/null
    "$MAYFLY_BIN" test -o junit "$set" >"$WORK/m.xml" 2>/dev/null
    busted --lua=luajit -o TAP "$set" >"$WORK/b.tap" 2>/dev/null
    "$MAYFLY_BIN" test -o TAP "$set" >"$WORK/m.tap" 2>/dev/null
    check "junit names and results as busted's: $set" cmp -s <(results junit "$WORK/b.xml") <(results junit "$WORK/m.xml")
    check "TAP names and results as busted's: $set" cmp -s <(results tap "$WORK/b.tap") <(results tap "$WORK/m.tap")
  done
  # The whole terminal report, byte for byte but for table addresses and the duration.
  plain() { sed -E 's/0x[0-9a-f]+//g; s/ : [0-9.]+ seconds$//'; }
  for fmt in plainTerminal utfTerminal; do
    for set in "$FIX" tests/integration/fixtures/spec_more tests/integration/fixtures/spec_bad; do
      busted --lua=luajit -o $fmt "$set" 2>/dev/null | plain >"$WORK/b.txt"
      "$MAYFLY_BIN" test -o $fmt "$set" 2>/dev/null | plain >"$WORK/m.txt"
      if cmp -s "$WORK/b.txt" "$WORK/m.txt"; then pass "$fmt report as busted's: $set"
      else fail "$fmt report as busted's: $set" "$(diff "$WORK/b.txt" "$WORK/m.txt" | head -8)"; fi
    done
  done
  for set in "$FIX" tests/integration/fixtures/spec_more; do
    # (busted also prints a progress mark for an error in a describe body, mayfly says it on
    # stderr; sorted, as randomize() shuffles its block in both)
    check "--list as busted's: $set" cmp -s <(busted --lua=luajit --list "$set" 2>/dev/null | grep -vx '[*]*' | sort) \
      <("$MAYFLY_BIN" test --list "$set" 2>/dev/null | sort)
  done
  # Filters and tags select what busted selects (describe blocks left out whole by --filter-out).
  for flags in "--tags=slow" "--exclude-tags=slow --filter=^spies" "--filter-out=^outer --filter-out=^errors" \
               "--filter=order --filter=insulate" "--exclude-tags=units"; do
    # shellcheck disable=SC2086
    busted --lua=luajit -o TAP $flags "$FIX" tests/spec >"$WORK/b.tap" 2>/dev/null
    # shellcheck disable=SC2086
    "$MAYFLY_BIN" test -o TAP $flags "$FIX" tests/spec >"$WORK/m.tap" 2>/dev/null
    check "selected as busted selects: $flags" cmp -s <(results tap "$WORK/b.tap") <(results tap "$WORK/m.tap")
  done
else
  fail "busted is installed (tools/deps.sh installs lua-busted)"
fi

# ---- handler specs, with a real Redis ----
mkdir -p "$WORK/broken"
cat >"$WORK/broken/req_spec.lua" <<'LUA'
it("asks for a route", function() require("mayfly.testing").request("GET", "/") end)
LUA
MAYFLY_SCRIPTS=tests/integration/fixtures/syntax "$MAYFLY_BIN" test -o plainTerminal "$WORK/broken" >"$out" 2>&1
check "a scripts folder that does not load: the test errors, naming file and line" \
  grep -q "cannot load the scripts folder tests/integration/fixtures/syntax: .*lua:[0-9]" "$out"
# (the scripts folder named: the repository's .busted would pick its own ROOT, as for busted)
MAYFLY_SCRIPTS=scripts "$MAYFLY_BIN" test -o plainTerminal scripts >"$out" 2>&1
check "scripts/ specs pass" test $? -eq 0
redis_start || exit 1
# (examples/shop: its scripts at the folder's root, or under scripts/ next to spec/)
SHOP_SCRIPTS=examples/shop
[ -d examples/shop/scripts ] && SHOP_SCRIPTS=examples/shop/scripts
MAYFLY_SCRIPTS=$SHOP_SCRIPTS MAYFLY_REDIS_URL=redis://127.0.0.1:$RPORT "$MAYFLY_BIN" test -o plainTerminal examples/shop >"$out" 2>&1
if [ $? -eq 0 ]; then pass "examples/shop specs pass on Redis"; else fail "examples/shop specs pass on Redis" "$(tail -20 "$out")"; fi
check "db 15 left empty" test "$(redis-cli -p "$RPORT" -n 15 dbsize)" -eq 0
MAYFLY_SCRIPTS=tests/integration/fixtures/testing MAYFLY_REDIS_URL=redis://127.0.0.1:$RPORT/3 MAYFLY_REQUEST_TIMEOUT=300ms \
  "$MAYFLY_BIN" test -o json tests/integration/fixtures/testing >"$WORK/h.json" 2>"$WORK/h.err"
if [ $? -eq 0 ]; then pass "mayfly.testing: config, Redis and requests"; else fail "mayfly.testing: config, Redis and requests" "$(head -c 600 "$WORK/h.json")"; fi
check "handler logs go to stderr, the report alone to stdout" grep -q '"request_id":"r-2"' "$WORK/h.err"
check "the URL's database is the one used and emptied" test "$(redis-cli -p "$RPORT" -n 3 dbsize)" -eq 0
# Neither MAYFLY_REDIS_URL nor a redis-server on the PATH (the binary's path is absolute).
MAYFLY_SCRIPTS=tests/integration/fixtures/testing MAYFLY_REQUEST_TIMEOUT=300ms PATH=/nonexistent \
  "$MAYFLY_BIN" test -o json tests/integration/fixtures/testing >"$WORK/h.json" 2>"$WORK/h.err"
results json "$WORK/h.json" >"$WORK/h.rows"
check "without Redis the Redis routes fail (503 as in production)" grep -q $'^Redis is the handlers\' Redis\tfailure$' "$WORK/h.rows"
check "without Redis, stderr says what to set" grep -q "set MAYFLY_REDIS_URL, or install redis-server" "$WORK/h.err"
# No MAYFLY_REDIS_URL, redis-server on the PATH: a throwaway server for the run, stopped after.
export TMPDIR="$WORK/tmp"
mkdir -p "$TMPDIR"
MAYFLY_SCRIPTS=tests/integration/fixtures/testing MAYFLY_REQUEST_TIMEOUT=300ms \
  "$MAYFLY_BIN" test -o plainTerminal tests/integration/fixtures/testing >"$out" 2>"$WORK/auto.err"
if [ $? -eq 0 ]; then pass "no MAYFLY_REDIS_URL: the Redis specs pass on a throwaway redis-server"
else fail "no MAYFLY_REDIS_URL: the Redis specs pass on a throwaway redis-server" "$(tail -5 "$out")" "$(cat "$WORK/auto.err")"; fi
check "the throwaway server is announced on stderr, once" \
  test "$(grep -c "MAYFLY_REDIS_URL is unset: started redis-server on 127.0.0.1:" "$WORK/auto.err")" -eq 1
aport=$(sed -n 's/.*started redis-server on 127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/auto.err")
check "the throwaway server is stopped after the run" bash -c "! redis-cli -p '$aport' ping >/dev/null 2>&1"
check "its folder is removed" test -z "$(ls "$TMPDIR")"
# Interrupted: the server goes with the runner.
mkdir -p "$WORK/slow"
cat >"$WORK/slow/slow_spec.lua" <<'LUA'
it("waits", function()
  require("mayfly.testing").redis("PING")
  local t = os.time() while os.time() - t < 20 do end
end)
LUA
MAYFLY_SCRIPTS=tests/integration/fixtures/testing "$MAYFLY_BIN" test "$WORK/slow" >/dev/null 2>"$WORK/int.err" &
tpid=$!
for _ in $(seq 1 100); do grep -q "started redis-server" "$WORK/int.err" && break; sleep 0.05; done
iport=$(sed -n 's/.*started redis-server on 127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/int.err")
kill -INT "$tpid"; wait "$tpid" 2>/dev/null
sleep 0.3
check "an interrupted run stops its throwaway server" bash -c "[ -n '$iport' ] && ! redis-cli -p '$iport' ping >/dev/null 2>&1"
unset TMPDIR
redis-cli -p "$RPORT" -n 15 set stray 1 >/dev/null
MAYFLY_SCRIPTS=$SHOP_SCRIPTS MAYFLY_REDIS_URL=redis://127.0.0.1:$RPORT "$MAYFLY_BIN" test -o plainTerminal examples/shop >"$out" 2>&1
check "a database holding keys is refused, not flushed" grep -q "must be empty" "$out"
check "the stray key is kept" test "$(redis-cli -p "$RPORT" -n 15 get stray)" = 1

mf_finish
