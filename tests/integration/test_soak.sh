#!/usr/bin/env bash
# The soak (tests/soak/soak.sh) in a short bounded version: 40 s of mixed load with a reload
# every 2 s and a Redis restart halfway; RSS and fds must stop growing after a 15 s warm-up, no
# 5xx but Redis's 503s, a clean exit. Under the sanitizer build RSS says little (ASan keeps freed
# memory in quarantine): there a sanitizer report is what fails it.
. "$(dirname "$0")/lib.sh"

rss_bound=8192
ldd "$MAYFLY_BIN" | grep -q libasan && rss_bound=1000000
out=$(MAYFLY_BIN="$MAYFLY_BIN" SOAK_SECONDS=40 SOAK_WARMUP=15 SOAK_SAMPLE=5 SOAK_RELOAD=2 \
  SOAK_MAX_RSS_GROWTH_KB=$rss_bound bash "$MAYFLY_SOURCE_DIR/tests/soak/soak.sh" 2>&1); rc=$?
echo "$out" | tail -15
check "short soak: no growth after warm-up, no errors, clean exit" [ "$rc" = 0 ]
mf_finish
