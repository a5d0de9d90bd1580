#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, ASan + UBSan) and runs each for SECONDS [10], starting
# from its committed corpus (tests/fuzz/corpus/<harness>/: hand-made seeds and the inputs of
# crashes fixed since). New inputs go to a scratch copy; a crash, leak, timeout or sanitizer
# report fails the run and leaves the input in BUILD/fuzz-artifacts/. Usage:
#   tests/fuzz/run.sh [SECONDS] [HARNESS...]      (harness names without fuzz_)
# BUILD defaults to build-fuzz; JOBS parallel fuzzing processes per harness [1].
set -uo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
shift || true
build=${BUILD:-build-fuzz}
jobs=${JOBS:-1}

command -v clang >/dev/null || { echo "fuzz: clang is missing (tools/deps.sh installs it)"; exit 1; }
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMAYFLY_FUZZ=ON \
  >/dev/null || exit 1
cmake --build "$build" -j2 >/dev/null || { cmake --build "$build" 2>&1 | tail -30; exit 1; }

if [ $# -gt 0 ]; then names=("$@"); else
  names=()
  for src in tests/fuzz/fuzz_*.c; do n=${src##*/fuzz_}; names+=("${n%.c}"); done
fi
artifacts="$PWD/$build/fuzz-artifacts"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/mayfly-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$artifacts"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/fuzz/lsan.supp}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for n in "${names[@]}"; do
  bin="$build/fuzz_$n"
  [ -x "$bin" ] || { echo "fuzz: no harness $n"; failed+=("$n"); continue; }
  mkdir -p "$scratch/$n"
  cp tests/fuzz/corpus/"$n"/* "$scratch/$n/" 2>/dev/null
  log="$build/fuzz-$n.log"
  parallel=()
  [ "$jobs" -gt 1 ] && parallel=(-fork="$jobs")
  "$bin" "$scratch/$n" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
    "${parallel[@]}" -print_final_stats=1 -artifact_prefix="$artifacts/$n-" >"$log" 2>&1
  rc=$?
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{s += $2} END {print s + 0}')
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
  if [ $rc -eq 0 ]; then
    printf 'ok   %-14s %9s runs  %s\n' "$n" "$execs" "$cov"
  else
    printf 'FAIL %-14s exit %d; the input is in %s\n' "$n" "$rc" "$artifacts"
    grep -E -m3 'ERROR: |runtime error|SUMMARY' "$log" | sed 's/^/     /'
    failed+=("$n")
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz: ${#failed[@]} failed: ${failed[*]} (logs: $build/fuzz-*.log)"; exit 1; }
echo "fuzz: ${#names[@]} harnesses, ${seconds}s each, no crash"
