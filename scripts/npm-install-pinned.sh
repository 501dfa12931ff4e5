#!/usr/bin/env bash
# Installs a package directory's pinned npm dependencies (`npm ci`), but only
# when its package-lock.json changed since the last install: npm ci always
# starts from an empty node_modules. Used by js-sdk/test.sh and
# tests/conformance/test.sh.
#
#   bash scripts/npm-install-pinned.sh DIR
set -euo pipefail
cd "$1"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "error: $tool not found; install Node.js 18 or newer (Debian: apt-get install nodejs npm)" >&2
    exit 1
  fi
done

stamp=node_modules/.brink-installed-lock.json
if ! cmp -s package-lock.json "$stamp" 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
