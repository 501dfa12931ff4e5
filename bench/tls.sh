#!/usr/bin/env bash
# Hello-world throughput of one `brink serve` over plain HTTP/1.1, h2c,
# TLS 1.3 with HTTP/1.1 and h2 (all loaded by h2load), and HTTP/3 (loaded by
# tests/examples/h3load.rs, as Debian's h2load has no HTTP/3), in the same
# run, so the ratios to plain HTTP/1.1 are what counts.
#
#   bash bench/tls.sh
#   DURATION=10 CONNECTIONS=100 bash bench/tls.sh
#
# Environment (all optional):
#   DURATION      seconds per protocol (default 5, 1..300)
#   CONNECTIONS   concurrent connections (default 50), one request in flight each
#   BRINK_BIN, BRINK_BUILD, BRINK_CARGO_ARGS   as for bench/run.sh
#
# Then Deno and Bun (from bench/node_modules, when installed) serve the same
# worker file over plain HTTP/1.1 and TLS (bench/peer-serve.mjs), loaded the
# same way: Deno.serve speaks HTTP/1.1 and h2 over TLS, Bun.serve HTTP/1.1
# only; neither serves HTTP/3.
#
# Needs h2load (Debian nghttp2-client; `scripts/install-deps.sh --bench`).
# The HTTP/3 row comes from a different load generator (quinn + h3, the
# same crates as the server): compare it with care.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-50}
require_int DURATION 1 300
require_int CONNECTIONS 1 1000
command -v h2load >/dev/null || die "h2load not found (apt-get install nghttp2-client)"
WORK_DIR=$(mktemp -d)
TOKEN=bench-token-$RANDOM$RANDOM
BRINK=$(brink_binary "${BRINK_CARGO_ARGS:-}") || die "$BRINK"

# Built before the server starts, so the build does not share the machine
# with the measurements.
(cd "$REPO_DIR" && cargo build --release -p brink-tests --example h3load >&2) || die "cannot build tests/examples/h3load.rs"
PORT=$(free_port)
TLS_PORT=$(free_port)
ADMIN_PORT=$(free_port)
ADMIN="http://127.0.0.1:$ADMIN_PORT"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=brink bench" -addext "subjectAltName=DNS:hello.bench.test" -addext "basicConstraints=critical,CA:FALSE" \
  -keyout "$WORK_DIR/key.pem" -out "$WORK_DIR/cert.pem" 2>/dev/null
# h2load connects to an IP address and sends no SNI: the default
# certificate answers it.
cat >"$WORK_DIR/brink.toml" <<CONFIG
listen = "127.0.0.1:$PORT"
tls_listen = "127.0.0.1:$TLS_PORT"
admin_listen = "127.0.0.1:$ADMIN_PORT"
data_dir = "$WORK_DIR/data"

[tls]
default_certificate = "hello.bench.test"
CONFIG
start_brink_serve "$BRINK" "$WORK_DIR/brink.toml" "$ADMIN"
BRINK_ADMIN_TOKEN=$TOKEN "$BRINK" certs put hello.bench.test --cert "$WORK_DIR/cert.pem" --key "$WORK_DIR/key.pem" \
  --admin "$ADMIN" >/dev/null
# h2load names the server by its IP address (in Host and :authority), so
# that is the route.
BRINK_ADMIN_TOKEN=$TOKEN "$BRINK" deploy "$REPO_DIR/examples/hello/worker.js" --name hello --route 127.0.0.1 --route hello.bench.test \
  --admin "$ADMIN" --json >/dev/null

# load <label> <h2load args...>: prints a table row; sets REQS.
load() {
  local label=$1 out
  shift
  out=$(h2load -c "$CONNECTIONS" -m 1 -D "$DURATION" --warm-up-time 1 "$@" 2>&1) ||
    die "h2load failed for $label: $out"
  # Only 2xx answers count: a routing mistake would measure error pages.
  awk '/^status codes:/ { gsub(",", ""); if ($5 + $7 + $9 > 0) exit 1 }' <<<"$out" ||
    die "$label: not every answer was 2xx: $(grep '^status codes' <<<"$out")"
  REQS=$(awk '/^finished in/ { gsub(",", "", $4); print $4 }' <<<"$out")
  local failed mean
  failed=$(awk '/^requests:/ { print $10 }' <<<"$out")
  mean=$(awk '/^time for request:/ { print $6 }' <<<"$out")
  printf '| %s | %s | %s | %s |' "$label" "$REQS" "$mean" "$failed"
}

echo
echo "## TLS and h2 throughput ($(date -u +%Y-%m-%d), $(nproc) cores, h2load -c$CONNECTIONS -m1 -D${DURATION}s, loopback, load $(load_average))"
echo
echo "| protocol | req/s | mean latency | failed | ÷ plain HTTP/1.1 |"
echo "|---|---:|---:|---:|---:|"
declare -A BRINK_REQS
load "plain HTTP/1.1" --h1 "http://127.0.0.1:$PORT/"
base=$REQS
BRINK_REQS["plain HTTP/1.1"]=$REQS
echo " 1.00 |"
for spec in "plain h2c|http://127.0.0.1:$PORT/" "TLS 1.3 HTTP/1.1|--h1 https://127.0.0.1:$TLS_PORT/" "TLS 1.3 h2|https://127.0.0.1:$TLS_PORT/"; do
  label=${spec%%|*}
  read -ra args <<<"${spec#*|}"
  load "$label" "${args[@]}"
  BRINK_REQS[$label]=$REQS
  awk -v r="$REQS" -v b="$base" 'BEGIN { printf " %.2f |\n", r / b }'
done
h3=$("$REPO_DIR/target/release/examples/h3load" "127.0.0.1:$TLS_PORT" hello.bench.test "$WORK_DIR/cert.pem" "$CONNECTIONS" "$DURATION") ||
  die "h3load failed: $h3"
REQS=$(node -e 'console.log(JSON.parse(process.argv[1]).req_per_sec)' "$h3")
printf '| HTTP/3 (h3load) | %s | — | %s |' "$REQS" "$(node -e 'console.log(JSON.parse(process.argv[1]).failed)' "$h3")"
awk -v r="$REQS" -v b="$base" 'BEGIN { printf " %.2f |\n", r / b }' 

# Each peer that is installed: the same worker over plain HTTP/1.1 and TLS.
stop_server
PEER_PORT=$(free_port)
for peer in deno bun; do
  bin=$(find_peer_bin "$peer") || { log "$peer is not installed in bench/node_modules; skipped"; continue; }
  case $peer in
    deno) serve=("$bin" run --allow-net --allow-read "$BENCH_DIR/peer-serve.mjs") ;;
    bun) serve=("$bin" "$BENCH_DIR/peer-serve.mjs") ;;
  esac
  echo
  echo "### $peer $(version_of "$bin"), the same worker"
  echo
  echo "| protocol | req/s | mean latency | failed | ÷ its plain HTTP/1.1 | Brink ÷ $peer |"
  echo "|---|---:|---:|---:|---:|---:|"
  protocols=("plain HTTP/1.1|--h1|http" "TLS 1.3 HTTP/1.1|--h1|https")
  [[ $peer == deno ]] && protocols+=("TLS 1.3 h2||https")
  peer_base=""
  for spec in "${protocols[@]}"; do
    IFS='|' read -r label flag scheme <<<"$spec"
    tls=()
    [[ $scheme == https ]] && tls=("$WORK_DIR/cert.pem" "$WORK_DIR/key.pem")
    DENO_NO_UPDATE_CHECK=1 DO_NOT_TRACK=1 start_server "$WORK_DIR/$peer.log" "${serve[@]}" \
      "$REPO_DIR/examples/hello/worker.js" "$PEER_PORT" "${tls[@]}"
    # Ready when it accepts connections (curl would refuse the test
    # certificate for an IP address).
    deadline=$((SECONDS + READY_TIMEOUT_SECONDS))
    until (exec 3<>"/dev/tcp/127.0.0.1/$PEER_PORT") 2>/dev/null; do
      ((SECONDS < deadline)) && kill -0 "$SERVER_PID" 2>/dev/null ||
        { stop_server; die "$peer did not start: $(tail -5 "$WORK_DIR/$peer.log")"; }
      sleep 0.1
    done
    load "$label" ${flag:+"$flag"} "${scheme}://127.0.0.1:$PEER_PORT/"
    peer_base=${peer_base:-$REQS}
    awk -v r="$REQS" -v b="$peer_base" -v brink="${BRINK_REQS[$label]}" 'BEGIN { printf " %.2f | %.2f |\n", r / b, brink / r }'
    stop_server
  done
done

