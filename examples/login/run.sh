#!/usr/bin/env bash
# Serves this example on :8080 (any MAYFLY_* setting applies; flags go to mayfly serve). The
# session cookie is sent without Secure unless MAYFLY_CFG_COOKIE_SECURE says otherwise: this is
# for trying it over plain HTTP.
here=$(cd "$(dirname "$0")" && pwd)
MAYFLY_CFG_COOKIE_SECURE=${MAYFLY_CFG_COOKIE_SECURE:-false} MAYFLY_SCRIPTS="$here/scripts" \
  exec "$here/../../tools/run.sh" "$@"
