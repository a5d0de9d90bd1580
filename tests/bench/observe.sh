#!/usr/bin/env bash
# tests/bench/observe.sh — what observing a request costs: requests/s of the hello route with the
# access log and metrics on (mayfly-observed) and with metrics alone (mayfly-metrics) against both
# off (mayfly-unobserved), measured in the same run by run.sh's harness (alternating rounds,
# medians). The target is a ratio of at least 0.95. A report, never a pass/fail test.
#
#   bash tests/bench/observe.sh [--quick] [--keep]
exec bash "$(dirname "${BASH_SOURCE[0]}")/run.sh" --only mayfly-observed,mayfly-metrics,mayfly-unobserved "$@"
