#!/usr/bin/env bash
# /metrics with Redis and mayfly.http in use: their families are exported, valid for promtool,
# with the counts of a known sequence; the admin listener serves /metrics too.
. "$(dirname "$0")/lib.sh"

redis_start || exit 1
upstream_start UP || exit 1
APORT=$(free_port)
mf_start "$TESTS_DIR/fixtures/deps_metrics" MAYFLY_REDIS_URL="redis://127.0.0.1:$RPORT/0" \
  MAYFLY_ADMIN_LISTEN=127.0.0.1:$APORT MAYFLY_CFG_UPSTREAM="http://127.0.0.1:$UP_PORT/hello" || exit 1
for _ in 1 2 3; do expect "redis route" GET /incr 200; done
for _ in 1 2; do expect "outbound call" GET /call 200 200; done
m=$(curl -s "http://127.0.0.1:$APORT/metrics")
check "admin port serves /metrics" grep -q '^http_requests_total' <<<"$m"
check "promtool accepts it" bash -c 'promtool check metrics <<<"$1"' _ "$m"
val() { awk -v k="$1" 'index($0, k" ") == 1 {print $NF}' <<<"$m"; }
check "redis commands counted" [ "$(val mayfly_redis_commands_total)" = 3 ]
check "redis round trips in the histogram" [ "$(val mayfly_redis_round_trip_seconds_count)" = 3 ]
check "redis pool gauge" [ "$(val 'mayfly_redis_pool_connections{state="max"}')" = 8 ]
check "outbound calls counted by upstream and class" \
  [ "$(val "mayfly_http_client_requests_total{upstream=\"127.0.0.1:$UP_PORT\",class=\"2xx\"}")" = 2 ]
check "redis breaker closed" [ "$(val 'mayfly_circuit_breaker_state{name="redis"}')" = 0 ]
mf_stop
mf_finish
