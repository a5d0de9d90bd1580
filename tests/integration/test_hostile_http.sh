#!/usr/bin/env bash
# Hostile HTTP over raw sockets (tests/integration/hostile_http.py): smuggling shapes, malformed
# heads and bodies, oversized everything, pipelined floods, slow and half-closed clients. Each
# is refused cleanly or served; the process never dies and serves normal requests throughout.
. "$(dirname "$0")/lib.sh"

mf_start "$TESTS_DIR/fixtures/http" MAYFLY_WORKERS=2 MAYFLY_IDLE_TIMEOUT=30s || exit 1
python3 "$TESTS_DIR/hostile_http.py" "$MF_PORT" >"$WORK/hostile.out" 2>&1; rc=$?
grep "^not ok" -A1 "$WORK/hostile.out"
tail -1 "$WORK/hostile.out"
check "hostile corpus: every case refused cleanly, normal requests served" [ "$rc" = 0 ]
check "process alive after the corpus" mf_alive
expect "still serving" GET /hello 200
mf_stop
check "clean exit after the corpus" [ "$MF_EXIT" = 0 ]
mf_finish
