#!/usr/bin/env bash
# Runs the differential conformance suite (`make test` does): installs the
# pinned workerd and Deno from npm when the lockfile changed since the last
# install, then runs every case under Brink, workerd and `deno serve`.
# Extra arguments go to run.mjs (--only SUBSTRING, --write-docs FILE, ...).
# Expects target/release/brink to be built (make test builds it first).
set -euo pipefail
cd "$(dirname "$0")"

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

# The runner's own judgement first: a runner that let differences through
# would make every run below meaningless.
node --test compare.test.mjs
exec node run.mjs "$@"
