#!/usr/bin/env bash
# The Binance client libraries the compatibility tests drive, unmodified, each in a virtual
# environment of its own (python-binance and binance-connector both install a package named
# `binance`): .venv-clients/<name>. Pinned: the tests prove what these versions do.
# ccxt has no clash and is in the dev extra of pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(.venv/bin/python -c 'import sys; print(sys.executable)')
for pinned in python-binance==1.0.37 binance-sdk-spot==13.3.0; do
  name=${pinned%%==*}
  venv=.venv-clients/$name
  if [ ! -x "$venv/bin/python" ] || ! grep -qx "$pinned" "$venv/.pinned" 2>/dev/null; then
    echo "clients: installing $pinned into $venv" >&2
    rm -rf "$venv"
    uv venv -q --python "$python" "$venv"
    uv pip install -q --python "$venv/bin/python" "$pinned"
    echo "$pinned" > "$venv/.pinned"
  fi
done
