#!/usr/bin/env bash
# Hostile HTTP over raw sockets (tests/integration/hostile_http.py): smuggling shapes, malformed
# heads and bodies, framing libmicrohttpd cannot read (Transfer-Encoding lists, long chunk
# lines), oversized everything, pipelined floods, slow clients and clients that half-close in
# every phase of a request. Each is refused cleanly (or served, when well-formed) within
# seconds; the process never dies and serves normal requests throughout.
. "$(dirname "$0")/lib.sh"

# The idle timeout is far past the 3 s each case has to be answered in: a server waiting for
# bytes that cannot come shows as a hang, not as a timely close.
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
