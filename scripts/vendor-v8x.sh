#!/usr/bin/env bash
# Kept for older instructions: the patched crates (v8x, deno_fetch) are now
# made by one script.
exec bash "$(dirname "$0")/vendor-patched-crates.sh" "$@"
