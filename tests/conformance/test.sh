#!/usr/bin/env bash
# Runs the differential conformance suite (`make test` does): installs the
# pinned workerd and Deno from npm when the lockfile changed since the last
# install, then runs every case under Brink, workerd and `deno serve`.
# Extra arguments go to run.mjs (--only SUBSTRING, --write-docs FILE, ...).
# Expects target/release/brink to be built (make test builds it first).
set -euo pipefail
cd "$(dirname "$0")"

bash ../../scripts/npm-install-pinned.sh .

# The runner's own judgement first: a runner that let differences through
# would make every run below meaningless.
node --test compare.test.mjs
exec node run.mjs "$@"
