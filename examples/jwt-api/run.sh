#!/usr/bin/env bash
# Serves this example on :8080 (any MAYFLY_* setting applies; flags go to mayfly serve). Tokens
# are signed with a secret made for this session unless MAYFLY_CFG_JWT_SECRET (or another key
# source: see README.md) says otherwise.
here=$(cd "$(dirname "$0")" && pwd)
MAYFLY_CFG_JWT_SECRET=${MAYFLY_CFG_JWT_SECRET:-$(openssl rand -hex 32)} MAYFLY_SCRIPTS="$here/scripts" \
  exec "$here/../../tools/run.sh" "$@"
