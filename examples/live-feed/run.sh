#!/usr/bin/env bash
# Serves this example on :8080 (any MAYFLY_* setting applies; flags go to mayfly serve), with a
# local redis-server when MAYFLY_REDIS_URL is unset.
here=$(cd "$(dirname "$0")" && pwd)
MAYFLY_SCRIPTS="$here/scripts" exec "$here/../../tools/run.sh" "$@"
