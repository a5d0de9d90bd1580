#!/usr/bin/env bash
# Installs, with apt-get, whatever of mayfly's build and test dependencies is missing.
# Usage: tools/deps.sh [extra-package ...]. Needs root (or sudo) when something is missing.
set -euo pipefail

packages=(build-essential cmake pkg-config libmicrohttpd-dev libhiredis-dev lua-cjson-dev
          libcurl4-openssl-dev libhttp-parser-dev libssl-dev zlib1g-dev ca-certificates redis-server curl openssl python3 python3-yaml
          haproxy wrk lua-busted prometheus python3-prometheus-client clang libclang-rt-14-dev
          llvm mount iproute2 protobuf-compiler python3-protobuf "$@")
# llvm: llvm-symbolizer, which sanitizer reports need for function names (and
# tests/fuzz/lsan.supp for its suppressions to match). mount and iproute2 (ss): tests use them;
# a full install has them, a bare root or a slim container does not.
# LuaJIT: OpenResty's fork by default; Debian's LuaJIT works too, and the two conflict package
# by package, so an installed one of either family is kept, with the interpreter of the same
# family (busted runs the specs on it). `luajit` would remove libluajit2-5.1-dev.
if dpkg-query -W -f='${Status}' libluajit-5.1-dev 2>/dev/null | grep -q "ok installed"; then
  packages+=(luajit)
else
  packages+=(libluajit2-5.1-dev luajit2)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
