#!/usr/bin/env bash
# Serves this example on :8080 with its config folder; edit config/new_greeting (true/false)
# while it runs and the next request sees the new value.
here=$(cd "$(dirname "$0")" && pwd)
MAYFLY_SCRIPTS="$here/scripts" MAYFLY_CONFIG=${MAYFLY_CONFIG:-$here/config} \
  exec "$here/../../tools/run.sh" "$@"
