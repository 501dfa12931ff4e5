#!/usr/bin/env bash
# Tests @brink/workers-types: type-checks the example workers and the
# must-fail cases in test/ with the pinned TypeScript, then runs the package
# checks with node's test runner. Run from anywhere; `make test` runs it.
set -euo pipefail
cd "$(dirname "$0")"

bash ../scripts/npm-install-pinned.sh .

# The tests use the package by name, as a worker project would after
# `npm install @brink/workers-types`: link it into its own node_modules.
mkdir -p node_modules/@brink
ln -sfn ../.. node_modules/@brink/workers-types

# test/types/mistakes.ts holds `@ts-expect-error` lines: tsc fails if any of
# them stops being an error, so a clean run proves the types reject them.
files=$(find test/workers test/types -name '*.ts' | wc -l)
expected=$(grep -cE '^\s*// @ts-expect-error' test/types/mistakes.ts)
echo "tsc $(node_modules/.bin/tsc --version | cut -d' ' -f2): type-checking $files files in test/"
node_modules/.bin/tsc -p test/tsconfig.json
echo "tsc: passed ($expected mistakes rejected as expected)"

node --test test/package.test.mjs

# The test helper and `brink init`'s project test run against a live
# `brink dev`: the workspace's release build unless BRINK names one.
if [ -z "${BRINK:-}" ]; then
  BRINK="$(cd .. && pwd)/target/release/brink"
fi
if [ ! -x "$BRINK" ]; then
  echo "error: $BRINK not found: build it first (cargo build --release -p brink-gateway; make test does)" >&2
  exit 1
fi
export BRINK
BRINK="$BRINK" node --test test/dev.test.mjs
echo "js-sdk: tsc passed; node --test passed"
