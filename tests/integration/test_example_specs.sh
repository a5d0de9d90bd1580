#!/usr/bin/env bash
# Every example's specs, run by `mayfly test` against a real Redis: the scripts folder is the
# example's scripts/ when it has one, else the example's folder itself.
. "$(dirname "$0")/lib.sh"

redis_start || exit 1
cd "$MAYFLY_SOURCE_DIR" || exit 1
for ex in examples/*/; do
  ex=${ex%/}
  [ -n "$(find "$ex" -name '*_spec.lua' -print -quit)" ] || continue
  scripts=$ex; [ -d "$ex/scripts" ] && scripts=$ex/scripts
  cfg=(); [ -d "$ex/config" ] && cfg=(MAYFLY_CONFIG="$ex/config")
  out=$(env MAYFLY_SCRIPTS="$scripts" "${cfg[@]}" MAYFLY_REDIS_URL="redis://127.0.0.1:$RPORT/15" \
    "$MAYFLY_BIN" test -o TAP "$ex" 2>&1); rc=$?
  n=$(grep -c '^ok ' <<<"$out")
  if [ "$rc" = 0 ] && [ "$n" -gt 0 ]; then
    pass "$ex: $n specs pass"
  else
    fail "$ex: specs" "$(grep -A3 '^not ok' <<<"$out" | head -20)"
  fi
done
mf_finish
