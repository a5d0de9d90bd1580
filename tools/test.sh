#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: once on a release build and once on a
# build with AddressSanitizer and UndefinedBehaviorSanitizer, then a short run of every fuzzing
# harness (tests/fuzz/run.sh). Ends with CTest's summary and a "N passed, N failed" line over
# all of it.
set -uo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh || exit 1

passed=0
failed=0
run_suite() {
  local dir=$1; shift
  cmake -S . -B "$dir" "$@" >/dev/null || return 1
  cmake --build "$dir" -j"$(nproc)" >/dev/null || { cmake --build "$dir" 2>&1 | tail -30; return 1; }
  ctest --test-dir "$dir" --output-on-failure -j2 2>&1 | tee "$dir/ctest.log"
  local summary p t
  summary=$(grep -E "tests passed, [0-9]+ tests failed out of" "$dir/ctest.log" | tail -1)
  t=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$summary")
  p=$(sed -E 's/.*[^0-9]([0-9]+) tests failed.*/\1/' <<<"$summary")
  [ -n "$t" ] || { failed=$((failed + 1)); return 1; }
  passed=$((passed + t - p))
  failed=$((failed + p))
}

echo "== release build"
run_suite build -DCMAKE_BUILD_TYPE=Release || true
echo "== sanitizers (ASan + UBSan)"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DMAYFLY_SANITIZE=ON || true

echo "== fuzzing (libFuzzer, ${MAYFLY_FUZZ_SECONDS:-5} s per harness; counted as one test)"
if tests/fuzz/run.sh "${MAYFLY_FUZZ_SECONDS:-5}"; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
