#!/usr/bin/env bash
# Every example (each folder of examples/ but the Kubernetes manifests) has one shape —
# scripts/, spec/, README.md and run.sh — and passes a bare `mayfly test` run in its folder, as
# its README says: with MAYFLY_REDIS_URL unset (mayfly test starts a throwaway redis-server),
# and again against a Redis the test names.
. "$(dirname "$0")/lib.sh"

redis_start || exit 1
n_examples=0
for ex in "$MAYFLY_SOURCE_DIR"/examples/*/; do
  ex=${ex%/}
  name=examples/$(basename "$ex")
  [ "$name" = examples/kubernetes ] && continue
  n_examples=$((n_examples + 1))
  for part in scripts spec; do
    check "$name: has $part/" [ -d "$ex/$part" ]
  done
  for part in README.md run.sh; do
    check "$name: has $part" [ -f "$ex/$part" ]
  done
  check "$name: run.sh is executable and parses" bash -c '[ -x "$1" ] && bash -n "$1"' _ "$ex/run.sh"
  check "$name: no Lua beside scripts/ and spec/" \
    bash -c '[ -z "$(find "$1" -maxdepth 1 -name "*.lua")" ]' _ "$ex"
  check "$name: has specs" bash -c 'ls "$1"/spec/*_spec.lua >/dev/null 2>&1' _ "$ex"
  check "$name: mayfly check passes" bash -c 'cd "$2" && "$1" check >/dev/null' _ "$MAYFLY_BIN" "$ex"

  # A bare run, as a user types it: no MAYFLY_* setting at all.
  out=$(cd "$ex" && env $(env | grep -o '^MAYFLY_[A-Z_]*' | sed 's/^/-u /') \
    "$MAYFLY_BIN" test -o TAP 2>&1); rc=$?
  n=$(grep -c '^ok ' <<<"$out")
  if [ "$rc" = 0 ] && [ "$n" -gt 0 ]; then
    pass "$name: cd $name && mayfly test: $n specs pass"
  else
    fail "$name: cd $name && mayfly test" "exit $rc" "$(grep -A3 '^not ok' <<<"$out" | head -20)" \
      "$(tail -5 <<<"$out")"
  fi
  # The same against a Redis named by MAYFLY_REDIS_URL.
  out=$(cd "$ex" && MAYFLY_REDIS_URL="redis://127.0.0.1:$RPORT/15" "$MAYFLY_BIN" test -o TAP 2>&1); rc=$?
  n=$(grep -c '^ok ' <<<"$out")
  if [ "$rc" = 0 ] && [ "$n" -gt 0 ]; then
    pass "$name: mayfly test with MAYFLY_REDIS_URL: $n specs pass"
  else
    fail "$name: mayfly test with MAYFLY_REDIS_URL" "exit $rc" "$(grep -A3 '^not ok' <<<"$out" | head -20)"
  fi
done
check "every example was tested (8 or more)" [ "$n_examples" -ge 8 ]
check "the tests' database is left empty" [ "$(redis-cli -p "$RPORT" -n 15 dbsize)" = 0 ]
mf_finish
