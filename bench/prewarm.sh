#!/usr/bin/env bash
# Pre-warm on SNI: what a cold worker's first request on a new TLS 1.3
# connection waits for, with `tls.prewarm_on_sni` on and off.
#
# W workers are deployed to `brink serve --tls-listen`, left idle until their
# isolates are evicted (scale to zero), then each gets one new connection:
# a TLS handshake naming its host, a pause of DELAY ms (standing in for the
# network: a real client's request reaches the server about one round trip
# after its ClientHello did), and one request. Reported: the time from
# sending the request to its first response byte (the part pre-warming can
# hide), p50 and p99, for each combination of pre-warm (on, off), the pool
# of blank isolates (WARM, and empty: every cold start then also builds an
# isolate) and DELAY (0 and RTT_MS).
#
#   bash bench/prewarm.sh
#   WORKERS=30 RTT_MS=50 bash bench/prewarm.sh
#
# Environment (all optional):
#   WORKERS   workers (cold starts per measurement), default 16, 2..200
#   RTT_MS    emulated round trip, default 25, 1..500
#   WARM      blank isolates the pool keeps warm, default 2
#   BRINK_BIN, BRINK_BUILD, BRINK_CARGO_ARGS   as for bench/run.sh
#
# No peer: workerd, Deno and Bun have no per-tenant scale to zero that a
# handshake could warm. HTTP/3 is not measured here (Node has no client).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WORKERS=${WORKERS:-16}
RTT_MS=${RTT_MS:-25}
WARM=${WARM:-2}
require_int WORKERS 2 200
require_int RTT_MS 1 500
require_int WARM 0 64
WORK_DIR=$(mktemp -d)
TOKEN=bench-token-$RANDOM$RANDOM
BRINK=$(brink_binary "${BRINK_CARGO_ARGS:-}") || die "$BRINK"

# One wildcard certificate for every bench host, trusted by the client.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=brink bench" -addext "subjectAltName=DNS:*.bench.test" \
  -keyout "$WORK_DIR/key.pem" -out "$WORK_DIR/cert.pem" 2>/dev/null

percentile() { sort -n | awk -v p="$1" '{ a[NR] = $1 } END { i = int(NR * p / 100 + 0.5); if (i < 1) i = 1; printf "%.2f", a[i] }'; }

# measure <prewarm true|false> <warm isolates>: prints one table row per delay.
measure() {
  local prewarm=$1 warm=$2 port tls_port admin_port admin hosts=() i delay
  port=$(free_port)
  tls_port=$(free_port)
  admin_port=$(free_port)
  admin="http://127.0.0.1:$admin_port"
  rm -rf "$WORK_DIR/data"
  cat >"$WORK_DIR/brink.toml" <<CONFIG
listen = "127.0.0.1:$port"
tls_listen = "127.0.0.1:$tls_port"
admin_listen = "127.0.0.1:$admin_port"
data_dir = "$WORK_DIR/data"

[pool]
warm_isolates = $warm

[scaling]
idle_timeout_secs = 1

[tls]
prewarm_on_sni = $prewarm
CONFIG
  start_brink_serve "$BRINK" "$WORK_DIR/brink.toml" "$admin"
  BRINK_ADMIN_TOKEN=$TOKEN "$BRINK" certs put '*.bench.test' --cert "$WORK_DIR/cert.pem" --key "$WORK_DIR/key.pem" \
    --admin "$admin" >/dev/null
  for ((i = 0; i < WORKERS; i++)); do
    BRINK_ADMIN_TOKEN=$TOKEN "$BRINK" deploy "$REPO_DIR/examples/hello/worker.js" --name "w$i" --route "w$i.bench.test" \
      --admin "$admin" --json >/dev/null
    hosts+=("w$i.bench.test")
  done
  local deadline
  for delay in 0 "$RTT_MS"; do
    # Every worker scaled to zero (and the pool refilled) before measuring.
    deadline=$((SECONDS + 30))
    until BRINK_ADMIN_TOKEN=$TOKEN "$BRINK" workers list --json --admin "$admin" |
      node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.exit(JSON.parse(s).every(w=>w.live_isolates===0)?0:1))'; do
      ((SECONDS < deadline)) || die "isolates were not evicted"
      sleep 0.5
    done
    sleep 1
    node "$REPO_DIR/bench/prewarm-client.mjs" "$tls_port" "$WORK_DIR/cert.pem" "$delay" "${hosts[@]}" >"$WORK_DIR/samples"
    local waits handshakes
    waits=$(node -e 'for (const l of require("fs").readFileSync(process.argv[1],"utf8").trim().split("\n")) console.log(JSON.parse(l).wait_ms)' "$WORK_DIR/samples")
    handshakes=$(node -e 'for (const l of require("fs").readFileSync(process.argv[1],"utf8").trim().split("\n")) console.log(JSON.parse(l).handshake_ms)' "$WORK_DIR/samples")
    echo "| $prewarm | $warm | $delay ms | $(percentile 50 <<<"$handshakes") ms | $(percentile 50 <<<"$waits") ms | $(percentile 99 <<<"$waits") ms |"
  done
  stop_server
}

log "brink: $BRINK, $WORKERS workers, RTT_MS=$RTT_MS"
echo
echo "## Pre-warm on SNI ($(date -u +%Y-%m-%d), $(nproc) cores, $WORKERS cold workers per row, TLS 1.3 over loopback)"
echo
echo "Request sent → first response byte, for a worker scaled to zero, on a new TLS connection."
echo
echo "| prewarm_on_sni | warm blank isolates | delay after handshake | handshake p50 | wait p50 | wait p99 |"
echo "|---|---:|---:|---:|---:|---:|"
for warm in "$WARM" 0; do
  for prewarm in false true; do
    measure "$prewarm" "$warm"
  done
done
