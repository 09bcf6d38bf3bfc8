#!/usr/bin/env bash
# Make sure Debian's Chromium is installed, for the browser tests (Playwright drives it
# through executable_path; no browser download). Installs with apt-get if missing.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [[ $(id -u) != 0 ]]; then
  echo "chromium.sh: chromium is missing; as root: apt-get install chromium" >&2
  exit 1
fi
echo "chromium.sh: installing chromium with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
