#!/usr/bin/env bash
# A short zero-downtime rolling restart behind haproxy (tests/rolling/rolling_restart.sh): every
# request through the load balancer succeeds while both replicas are replaced, and each old
# replica exits 0.
. "$(dirname "$0")/lib.sh"

out=$(MAYFLY_BIN="$MAYFLY_BIN" bash "$MAYFLY_SOURCE_DIR/tests/rolling/rolling_restart.sh" 1 16 2>&1); rc=$?
echo "$out" | tail -3
check "rolling restart: zero failed requests, clean exits" [ "$rc" = 0 ]
check "rolling restart: load went through" grep -q "[1-9][0-9]* requests, 0 failed" <<<"$out"
mf_finish
