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

# rows FILE: "name<TAB>status" lines of a TAP report, sorted.
rows() {
  python3 - "$1" <<'PY'
import re, sys
out = []
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    m = re.match(r"^(not )?ok \d+ - (.*)$", line.rstrip("\n"))
    if m:
        desc = m.group(2)
        if desc.startswith("# SKIP "): out.append(desc[7:] + "\tpending")
        else: out.append(desc + ("\tfailure" if m.group(1) else "\tsuccess"))
for r in sorted(out): print(r)
PY
}

# same_results NAME ARGS...: the TAP tests, results and exit status (zero or not) as busted's.
same_results() {
  local name=$1; shift
  busted_run -o TAP "$@" >"$WORK/b.tap" 2>"$WORK/b.err"; local brc=$?
  "$MAYFLY_BIN" test -o TAP "$@" >"$WORK/m.tap" 2>"$WORK/m.err"; local mrc=$?
  rows "$WORK/b.tap" >"$WORK/b.rows"
  rows "$WORK/m.tap" >"$WORK/m.rows"
  if ! [ -s "$WORK/b.rows" ]; then
    fail "$name: busted ran tests" "$(head -5 "$WORK/b.tap" "$WORK/b.err")"
  elif cmp -s "$WORK/b.rows" "$WORK/m.rows" && [ $((brc == 0)) -eq $((mrc == 0)) ]; then
    pass "$name: $(wc -l <"$WORK/b.rows") results as busted's"
  else
    fail "$name: results as busted's (exit $brc vs $mrc)" "$(diff "$WORK/b.rows" "$WORK/m.rows" | head -8)" \
      "$(head -3 "$WORK/m.err")"
  fi
}

# same_report NAME ARGS...: the whole plainTerminal report, but for addresses and the duration.
same_report() {
  local name=$1; shift
  # (addresses, the duration, and who says an error: "busted: error:" or "mayfly test:")
  plain() { sed -E 's/0x[0-9a-f]+//g; s/ : [0-9.]+ seconds$//; s/^(busted: error: |mayfly test: )//'; }
  busted_run -o plainTerminal "$@" 2>&1 | plain >"$WORK/b.txt"
  "$MAYFLY_BIN" test -o plainTerminal "$@" 2>&1 | plain >"$WORK/m.txt"
  if cmp -s "$WORK/b.txt" "$WORK/m.txt"; then pass "$name: report as busted's"
  else fail "$name: report as busted's" "$(diff "$WORK/b.txt" "$WORK/m.txt" | head -10)"; fi
}

# ---- the busted API and luassert ----
same_results "curried it/describe/context/spec/test/insulate/expose" api/curried_spec.lua
same_report "curried forms" api/curried_spec.lua
same_results "spies, stubs, mocks, matchers" api/spies_spec.lua
same_results "finally, hooks, nested globals, require \"busted\"" api/misc_spec.lua
same_results "selection options: none" api/options_spec.lua
for flags in --sort-tests --lazy --no-keep-going --suppress-pending --tags=order --exclude-tags=fails \
  --filter-out=name "--filter=name --filter=fails" "--sort --no-sort-tests" "-k --defer-print"; do
  # shellcheck disable=SC2086
  same_report "$flags" $flags api/options_spec.lua
done

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
same_report "-r nope" -C project -r nope
same_report "no spec file matches" -C project -p nomatch
same_report "a ROOT that does not exist" -C project nothere
(cd project && busted_run --list 2>/dev/null | sort) >"$WORK/b.list"
"$MAYFLY_BIN" test -C project --list 2>/dev/null | sort >"$WORK/m.list"
check "--list as busted's" cmp -s "$WORK/b.list" "$WORK/m.list"

# ---- accepted here without effect: said once, never refused ----
out=$WORK/out
"$MAYFLY_BIN" test -C project --coverage -c --lua=lua5.1 --lang=fr -o TAP >"$out" 2>"$WORK/err"
check "--coverage, --lua, --lang: the specs still run" test "$(rows "$out" | wc -l)" -eq 4
check "--coverage is said once" test "$(grep -c -- "--coverage ignored" "$WORK/err")" -eq 1
check "--lua is said once" test "$(grep -c -- "--lua lua5.1 ignored" "$WORK/err")" -eq 1
"$MAYFLY_BIN" test -C project --ignore-lua --lua=luajit -o TAP >"$out" 2>"$WORK/err"
check "--ignore-lua: nothing to say about --lua" bash -c "! grep -q -- --lua '$WORK/err'"
"$MAYFLY_BIN" test -C project --no-coverage --cpath=./csrc/?.so --loaders=lua,moonscript -o TAP >"$out" 2>"$WORK/err"
check "--no-coverage, --cpath, --loaders: nothing said" test ! -s "$WORK/err"
check "--version is busted's" test "$("$MAYFLY_BIN" test --version)" = 2.1.1
"$MAYFLY_BIN" test --no-such-option >"$out" 2>&1
check "an option busted does not have is refused" test $? -eq 2
check "--help names busted's options" grep -q -- "--lpath=PATH" <("$MAYFLY_BIN" test --help)

mf_finish
