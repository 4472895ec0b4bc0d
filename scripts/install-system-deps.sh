#!/usr/bin/env bash
# Installs what the tests need from Debian's packages, once: Chromium and
# Firefox ESR for the browser tests, redis-server for the multi-process
# (Redis backplane) tests, coturn's turnserver for the TURN tests, and
# nftables and iproute2 for the tests that build NATs out of network
# namespaces.
# Idempotent; a machine that already has them spends no time here.
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/firefox-esr ] || missing+=(firefox-esr)
[ -x /usr/bin/redis-server ] || command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v turnserver >/dev/null 2>&1 || missing+=(coturn)
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || missing+=(nftables)
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || missing+=(iproute2)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-deps: need root to apt-get install ${missing[*]}" >&2
  exit 1
fi

echo "install-system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
