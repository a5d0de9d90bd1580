#!/usr/bin/env bash
# Soak: sustained mixed load on the real binary while the scripts reload every few seconds and
# Redis restarts halfway; samples the server's RSS and open fds and fails when they keep
# growing after the warm-up. The test command runs a 40-second version
# (tests/integration/test_soak.sh). Usage:
#   tests/soak/soak.sh [MINUTES]          (default 5; SOAK_SECONDS overrides it)
# Settings (environment): MAYFLY_BIN [build/mayfly, built when missing], SOAK_SAMPLE [10] seconds
# between samples, SOAK_RELOAD [5] seconds between reloads, SOAK_WARMUP [60] seconds excluded
# from the verdict, SOAK_MAX_RSS_GROWTH_KB [8192], SOAK_MAX_FD_GROWTH [4], SOAK_CONNECTIONS [16],
# SOAK_WORKERS [2].
set -uo pipefail
cd "$(dirname "$0")/../.."
minutes=${1:-5}
sample=${SOAK_SAMPLE:-10}
reload_every=${SOAK_RELOAD:-5}
warmup=${SOAK_WARMUP:-60}
max_rss=${SOAK_MAX_RSS_GROWTH_KB:-8192}
max_fd=${SOAK_MAX_FD_GROWTH:-4}
conns=${SOAK_CONNECTIONS:-16}
bin=${MAYFLY_BIN:-$PWD/build/mayfly}
duration=${SOAK_SECONDS:-$((minutes * 60))}
[ "$warmup" -lt "$duration" ] || { echo "soak: the run must be longer than the warm-up (${warmup}s)"; exit 2; }

if [ ! -x "$bin" ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j2 >/dev/null || exit 1
fi
for tool in wrk redis-server redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "soak: $tool is missing (tools/deps.sh installs it)"; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/mayfly-soak.XXXXXX")
mf_pid= redis_pid= wrk_pid=
stop_all() {
  [ -n "$wrk_pid" ] && kill "$wrk_pid" 2>/dev/null
  [ -n "$mf_pid" ] && kill -TERM "$mf_pid" 2>/dev/null && wait "$mf_pid" 2>/dev/null
  [ -n "$redis_pid" ] && kill -TERM "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
  rm -rf "$work"
}
trap stop_all EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

rport=$(free_port)
redis_up() {
  redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning \
    >>"$work/redis.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 1 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "soak: redis-server did not start"; exit 1
}
redis_down() { kill -TERM "$redis_pid"; wait "$redis_pid" 2>/dev/null; redis_pid=; }

# install_version TAG: the fixture with its version tag, swapped in with a rename (a reload).
install_version() {
  sed "s/local version = \"v1\"/local version = \"$1\"/" tests/soak/scripts/soak.lua >"$work/scripts/.soak.lua.tmp"
  mv "$work/scripts/.soak.lua.tmp" "$work/scripts/soak.lua"
}

mkdir -p "$work/scripts"
install_version v1
redis_up
MAYFLY_LISTEN=127.0.0.1:0 MAYFLY_SCRIPTS="$work/scripts" MAYFLY_REDIS_URL="redis://127.0.0.1:$rport" \
  MAYFLY_WORKERS=${SOAK_WORKERS:-2} MAYFLY_ACCESS_LOG=off MAYFLY_DRAIN_DELAY=0 \
  "$bin" serve >"$work/mayfly.log" 2>&1 &
mf_pid=$!
port=
for _ in $(seq 1 200); do
  port=$(grep -o '"msg":"listening".*"port":[0-9]*' "$work/mayfly.log" | grep -o '"port":[0-9]*' | head -1 | cut -d: -f2)
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "soak: mayfly did not start"; cat "$work/mayfly.log"; exit 1; }

echo "soak: ${duration}s, $conns connections, reload every ${reload_every}s, Redis restart at $((duration / 2))s, sample every ${sample}s"
wrk -t2 -c"$conns" -d"${duration}s" --timeout 5s -s tests/soak/mix.lua "http://127.0.0.1:$port" \
  >"$work/wrk.out" 2>&1 &
wrk_pid=$!

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$mf_pid/status"; }
fds() { ls "/proc/$mf_pid/fd" | wc -l; }
printf '%6s  %10s  %5s  %7s  %s\n' "t(s)" "rss(KiB)" "fds" "reloads" "redis"
start=$(date +%s)
next_sample=0 next_reload=$reload_every reloads=0 restarted=0 tag=v1
declare -a t_col rss_col fd_col
while kill -0 "$wrk_pid" 2>/dev/null; do
  now=$(($(date +%s) - start))
  if [ "$now" -ge "$next_reload" ]; then
    tag=$([ "$tag" = v1 ] && echo v2 || echo v1)
    install_version "$tag"
    reloads=$((reloads + 1))
    next_reload=$((next_reload + reload_every))
  fi
  if [ "$restarted" = 0 ] && [ "$now" -ge $((duration / 2)) ]; then
    redis_down
    sleep 2 # an outage: the Redis route answers 503 meanwhile
    redis_up
    restarted=1
  fi
  if [ "$now" -ge "$next_sample" ]; then
    kill -0 "$mf_pid" 2>/dev/null || { echo "soak: mayfly died"; tail -20 "$work/mayfly.log"; exit 1; }
    r=$(rss) f=$(fds)
    t_col+=("$now") rss_col+=("$r") fd_col+=("$f")
    printf '%6d  %10d  %5d  %7d  %s\n' "$now" "$r" "$f" "$reloads" \
      "$([ "$restarted" = 1 ] && echo restarted || echo up)"
    next_sample=$((next_sample + sample))
  fi
  sleep 0.5
done
wait "$wrk_pid"
wrk_pid=

echo
grep -E 'Requests/sec|Latency|requests in' "$work/wrk.out"
grep -E '^(status|errors) ' "$work/wrk.out"
served_reloads=$(grep -c '"msg":"reloaded"' "$work/mayfly.log")
echo "reloads: $reloads swaps, $served_reloads reloaded by the server"

# The verdict: growth from the first sample after the warm-up to the last one.
base=-1
for i in "${!t_col[@]}"; do
  [ "${t_col[$i]}" -ge "$warmup" ] && { base=$i; break; }
done
last=$((${#t_col[@]} - 1))
fail=0
if [ "$base" -lt 0 ] || [ "$base" -ge "$last" ]; then
  echo "soak: too few samples after the warm-up for a verdict"; fail=1
else
  drss=$((rss_col[last] - rss_col[base]))
  dfd=$((fd_col[last] - fd_col[base]))
  echo "after the warm-up (t=${t_col[$base]}s to t=${t_col[$last]}s): RSS ${drss} KiB (limit ${max_rss}), fds ${dfd} (limit ${max_fd})"
  [ "$drss" -le "$max_rss" ] || { echo "soak: RSS kept growing"; fail=1; }
  [ "$dfd" -le "$max_fd" ] || { echo "soak: open fds kept growing"; fail=1; }
fi
bad=$(awk '$1 == "status" && $2 >= 500 && $2 != 503 {s += $3} END {print s + 0}' "$work/wrk.out")
[ "$bad" -eq 0 ] || { echo "soak: $bad responses with a 5xx other than 503"; fail=1; }
[ "$served_reloads" -gt 0 ] || { echo "soak: the server never reloaded"; fail=1; }
grep -q '"level":"error"' "$work/mayfly.log" &&
  { echo "soak: errors in the server log:"; grep '"level":"error"' "$work/mayfly.log" | sort | uniq -c | sort -rn | head -5; }
kill -TERM "$mf_pid"
wait "$mf_pid"
code=$?
mf_pid=
[ "$code" -eq 0 ] || { echo "soak: mayfly exited $code after SIGTERM"; fail=1; }
# A sanitizer build (MAYFLY_BIN=build-asan/mayfly) reports leaks at exit.
if grep -q -E '^SUMMARY: [A-Za-z]+Sanitizer' "$work/mayfly.log"; then
  grep -E -A12 'ERROR: [A-Za-z]+Sanitizer|runtime error' "$work/mayfly.log" | head -40
  fail=1
fi
if [ "$fail" -eq 0 ]; then echo "soak: PASS"; else echo "soak: FAIL"; fi
exit "$fail"
