# mayfly test as a drop-in for busted 2.1.1, with real busted as the oracle: the same spec files
# (fixtures/busted_compat: curried forms, spies, stubs, mocks and matchers, environment rules,
# selection options, and a third-party project with src/, spec/ and a .busted file with tasks)
# and the same command lines give the same tests with the same results and exit status; where the
# messages are luassert's own, the whole plainTerminal report is compared too. Then what only
# mayfly has: the options it accepts without effect say so once on stderr.
source "$(dirname "$0")/lib.sh"
cd "$MAYFLY_SOURCE_DIR/tests/integration/fixtures/busted_compat" || exit 1

# busted --lua=luajit re-runs itself through the shell without quoting its arguments, which
# splits an --lpath at its ';': its script is run with the fork's luajit directly instead.
BUSTED_SCRIPT=$(command -v busted)
if [ -z "$BUSTED_SCRIPT" ] || ! command -v luajit >/dev/null; then
  fail "busted and luajit are installed (tools/deps.sh installs lua-busted and luajit2)"
  mf_finish
fi
busted_run() { luajit "$BUSTED_SCRIPT" "$@"; }

# rows FORMAT FILE: "name<TAB>status" lines, sorted, from a TAP report (every result, errors
# outside tests included, failure and error alike "failure") or a junit one (tests only, failure
# and error told apart). (busted's json handler writes nothing when a message holds a table.)
rows() {
  python3 - "$1" "$2" <<'PY'
import re, sys, xml.etree.ElementTree as ET
fmt, path = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8", errors="replace").read()
out = []
if fmt == "junit":
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        sys.exit(0)
    for tc in root.iter("testcase"):
        st = "success"
        for k, v in (("failure", "failure"), ("error", "error"), ("skipped", "pending")):
            if tc.find(k) is not None: st = v
        out.append(tc.get("name") + "\t" + st)
else:
    for line in text.splitlines():
        m = re.match(r"^(not )?ok \d+ - (.*)$", line)
        if m:
            desc = m.group(2)
            if desc.startswith("# SKIP "): out.append(desc[7:] + "\tpending")
            else: out.append(desc + ("\tfailure" if m.group(1) else "\tsuccess"))
for r in sorted(out): print(r)
PY
}

# same_results NAME ARGS...: the tests, their results and the exit status (zero or not) as
# busted's, in TAP and in junit.
same_results() {
  local name=$1; shift
  local fmt brc mrc ok=1 why=
  for fmt in TAP junit; do
    busted_run -o $fmt "$@" >"$WORK/b.out" 2>"$WORK/b.err"; brc=$?
    "$MAYFLY_BIN" test -o $fmt "$@" >"$WORK/m.out" 2>"$WORK/m.err"; mrc=$?
    rows $fmt "$WORK/b.out" >"$WORK/b.$fmt"
    rows $fmt "$WORK/m.out" >"$WORK/m.$fmt"
    if [ $fmt = TAP ] && ! [ -s "$WORK/b.$fmt" ]; then
      ok=0; why="busted ran no tests: $(head -3 "$WORK/b.err")"
    elif ! cmp -s "$WORK/b.$fmt" "$WORK/m.$fmt" || [ $((brc == 0)) -ne $((mrc == 0)) ]; then
      ok=0; why="$fmt (exit $brc vs $mrc): $(diff "$WORK/b.$fmt" "$WORK/m.$fmt" | head -6)"
    fi
  done
  if [ $ok = 1 ]; then pass "$name: $(wc -l <"$WORK/b.TAP") results as busted's"
  else fail "$name: results as busted's" "$why" "$(head -3 "$WORK/m.err")"; fi
}

# same_report NAME ARGS...: the whole plainTerminal report, but for addresses and the duration.
same_report() {
  local name=$1; shift
  # (addresses, the duration, who says an error ("busted: error:" or "mayfly test:"), and the
  # place of errors luassert raises in its own files)
  plain() {
    sed -E "s/0x[0-9a-f]+//g; s/ : [0-9.]+ seconds\$//; s/^(busted: error: |mayfly test: )//;
      s/^[^ ]+:[0-9]+: (stub\.new\(\)|attempt to index field 'arguments'|the '[a-z_]+' function requires|bad argument #)/\1/"
  }
  busted_run -o plainTerminal "$@" 2>&1 | plain >"$WORK/b.txt"
  "$MAYFLY_BIN" test -o plainTerminal "$@" 2>&1 | plain >"$WORK/m.txt"
  if cmp -s "$WORK/b.txt" "$WORK/m.txt"; then pass "$name: report as busted's"
  else fail "$name: report as busted's" "$(diff "$WORK/b.txt" "$WORK/m.txt" | head -10)"; fi
}

# same_gtest NAME ARGS...: the whole gtest report, but for addresses and durations.
same_gtest() {
  local name=$1; shift
  local gt='s/0x[0-9a-f]+//g; s/ \([0-9.]+ ms( total)?\)//'
  busted_run -o gtest "$@" 2>&1 | sed -E "$gt" >"$WORK/b.txt"
  "$MAYFLY_BIN" test -o gtest "$@" 2>&1 | sed -E "$gt" >"$WORK/m.txt"
  if cmp -s "$WORK/b.txt" "$WORK/m.txt"; then pass "$name: gtest report as busted's"
  else fail "$name: gtest report as busted's" "$(diff "$WORK/b.txt" "$WORK/m.txt" | head -10)"; fi
}

# ---- the busted API and luassert ----
same_results "curried it/describe/context/spec/test/insulate/expose" api/curried_spec.lua
same_report "curried forms" api/curried_spec.lua
same_results "spies, stubs, mocks, matchers" api/spies_spec.lua
same_results "finally, hooks, nested globals, require \"busted\"" api/misc_spec.lua
same_report "spies, stubs, mocks, matchers" api/spies_spec.lua
same_results "assertion messages" api/messages_spec.lua
same_report "assertion messages" api/messages_spec.lua
same_results "luassert's engine: chains, returns, checks, snapshots, registrations" api/luassert_spec.lua
same_report "luassert's engine" api/luassert_spec.lua
same_results "selection options: none" api/options_spec.lua
for flags in --sort-tests --lazy --no-keep-going --suppress-pending --tags=order --exclude-tags=fails \
  --filter-out=name "--filter=name --filter=fails" "--sort --no-sort-tests" "-k --defer-print"; do
  # shellcheck disable=SC2086
  same_report "$flags" $flags api/options_spec.lua
done

same_gtest "curried forms" api/curried_spec.lua
same_gtest "selection options" api/options_spec.lua
same_gtest "--defer-print" --defer-print api/options_spec.lua

# ---- environments: globals, hooks, insulate/expose, files ----
same_results "environment rules" --lpath=env/?.lua env
same_report "environment rules" --lpath=env/?.lua env
same_results "environment rules, files not insulated" --no-auto-insulate --lpath=env/?.lua env

# ---- a third-party project: src/ modules, spec/, a .busted file with tasks ----
same_results ".busted default task" -C project
same_results "--lpath=./src/?.lua;./src/?/init.lua --no-coverage spec" -C project \
  "--lpath=./src/?.lua;./src/?/init.lua" --no-coverage spec
same_results "-r unit (tags and output from the task)" -C project -r unit
same_results "-r other (ROOT, pattern, helper from the task)" -C project -r other
same_results "-r other -Xhelper a,b" -C project -r other -Xhelper a,b
same_results "--config-file" -C project -f project/ci.busted
same_results "--tags=slow over the task" -C project --tags=slow
same_results "--exclude-pattern" -C project --exclude-pattern=calc other spec
same_results "-p PATTERN" -C project -p _test other
same_results "--no-recursive" -C project --no-recursive . other
same_results "-e STATEMENT" -C project -e "x = 1" --filter=adds
same_report ".busted default task, -v from it" -C project
same_report "--repeat=2" -C project --repeat=2
same_gtest ".busted default task" -C project
same_report "-r nope" -C project -r nope
same_report "no spec file matches" -C project -p nomatch
same_report "a ROOT that does not exist" -C project nothere
(cd project && busted_run --list 2>/dev/null | sort) >"$WORK/b.list"
"$MAYFLY_BIN" test -C project --list 2>/dev/null | sort >"$WORK/m.list"
check "--list as busted's" cmp -s "$WORK/b.list" "$WORK/m.list"

# ---- accepted here without effect: said once, never refused ----
out=$WORK/out
"$MAYFLY_BIN" test -C project --coverage -c --lua=lua5.1 --lang=fr -o TAP >"$out" 2>"$WORK/err"
check "--coverage, --lua, --lang: the specs still run" test "$(grep -c "^ok\|^not ok" "$out")" -eq 4
check "--coverage is said once" test "$(grep -c -- "--coverage ignored" "$WORK/err")" -eq 1
check "--lua is said once" test "$(grep -c -- "--lua lua5.1 ignored" "$WORK/err")" -eq 1
"$MAYFLY_BIN" test -C project --ignore-lua --lua=lua5.1 -o TAP >"$out" 2>"$WORK/err"
check "--ignore-lua: nothing to say about --lua" bash -c "! grep -q -- --lua '$WORK/err'"
"$MAYFLY_BIN" test -C project --lua=/usr/bin/luajit -o TAP >"$out" 2>"$WORK/err"
check "--lua naming LuaJIT: nothing to say" bash -c "! grep -q -- --lua '$WORK/err'"
"$MAYFLY_BIN" test -C project --no-coverage --cpath=./csrc/?.so --loaders=lua,moonscript -o TAP >"$out" 2>"$WORK/err"
check "--no-coverage, --cpath, --loaders: nothing said" test ! -s "$WORK/err"
check "--version is busted's" test "$("$MAYFLY_BIN" test --version)" = 2.1.1
"$MAYFLY_BIN" test --no-such-option >"$out" 2>&1
check "an option busted does not have is refused" test $? -eq 2
check "--help names busted's options" grep -q -- "--lpath=PATH" <("$MAYFLY_BIN" test --help)

mf_finish
