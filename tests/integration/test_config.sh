# config.* from a ConfigMap-style folder (one file per key, config.json underneath) with
# MAYFLY_CFG_<NAME> overrides.
source "$(dirname "$0")/lib.sh"

cfg="$WORK/config"
mkdir -p "$cfg/..2026_01_01_00_00_00.000000000"
printf 'hello there\n' > "$cfg/greeting"
printf '42' > "$cfg/limit"
printf 'yes\n' > "$cfg/enabled"
printf '250ms' > "$cfg/ttl"
printf 'from file' > "$cfg/feature-x"
printf '{"nested":{"inner":"deep"},"json_only":[1,2],"limit":7}' > "$cfg/config.json"
printf 'plumbing' > "$cfg/..data_tmp"

mf_start "$TESTS_DIR/fixtures/config_scripts" MAYFLY_CONFIG="$cfg" MAYFLY_CFG_FEATURE_X=from-env || exit 1
expect "config values" GET /cfg 200 '"greeting":"hello there"'
for want in '"missing":"fallback"' '"limit":42' '"enabled":true' '"ttl":0.25' '"nested":"deep"' '"from_json":[1,2]' '"override":"from-env"'; do
  check "config $want" grep -qF "$want" <<<"$BODY"
done
expect "config.all() is a copy" GET /cfg 200 '"greeting":"hello there"'
expect "typed helper on a bad value raises" GET /cfg/bad 500
check "error names the key" log_has "config 'greeting': expected a number"
mf_stop
mf_finish
