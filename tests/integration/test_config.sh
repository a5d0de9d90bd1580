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

# A change to the folder is picked up without a restart.
wait_greeting() {
  for _ in $(seq 1 100); do
    http GET "${2:-/cfg}"
    grep -qF "\"greeting\":\"$1\"" <<<"$BODY" && return 0
    sleep 0.05
  done
  return 1
}
printf 'changed\n' > "$cfg/greeting.tmp" && mv "$cfg/greeting.tmp" "$cfg/greeting"
check "config change picked up" wait_greeting changed
check "config reload logged" log_has '"msg":"config reloaded"'
printf '{"broken": ' > "$cfg/config.json.tmp" && mv "$cfg/config.json.tmp" "$cfg/config.json"
printf 'ignored\n' > "$cfg/greeting.tmp" && mv "$cfg/greeting.tmp" "$cfg/greeting"
sleep 1
expect "bad config.json keeps the old config" GET /cfg 200 '"greeting":"changed"'
check "config failure logged" log_has "config reload failed: the old config stays"
printf '{"nested":{"inner":"again"}}' > "$cfg/config.json.tmp" && mv "$cfg/config.json.tmp" "$cfg/config.json"
check "fixed config.json picked up" wait_greeting ignored
check "its values too" grep -qF '"nested":"again"' <<<"$BODY"
mf_stop

# The kubelet's update of a ConfigMap mounted as the config folder.
cm="$WORK/cm"
mkdir -p "$cm/..v1"
printf 'one' > "$cm/..v1/greeting"
ln -s ..v1 "$cm/..data"
ln -s ..data/greeting "$cm/greeting"
mf_start "$TESTS_DIR/fixtures/config_scripts" MAYFLY_CONFIG="$cm" || exit 1
expect "ConfigMap config" GET /greeting 200 '"greeting":"one"'
mkdir "$cm/..v2" && printf 'two' > "$cm/..v2/greeting"
ln -s ..v2 "$cm/..data_tmp" && mv -T "$cm/..data_tmp" "$cm/..data" && rm -rf "$cm/..v1"
check "ConfigMap config swap picked up" wait_greeting two /greeting
mf_stop
mkdir -p "$WORK/badcfg" && printf '[oops' > "$WORK/badcfg/config.json"
out=$(MAYFLY_LISTEN=127.0.0.1:0 MAYFLY_SCRIPTS="$TESTS_DIR/fixtures/config_scripts" \
  MAYFLY_CONFIG="$WORK/badcfg" timeout 10 "$MAYFLY_BIN" serve 2>&1); rc=$?
check "bad config.json at start: exit 1 naming it" bash -c '[ "$1" = 1 ] && grep -q "config.json" <<<"$2"' _ "$rc" "$out"

mf_finish
