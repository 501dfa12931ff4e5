#!/usr/bin/env bash
# CDN workloads: HTMLRewriter throughput on a 1 MiB page with five handlers
# (MB/s, Brink and workerd on the same worker), and a Cache API hit next to
# the same response built in place (req/s, p50; Brink only: workerd without
# a cache service behind it never hits), and the same hit from the Cache
# API's disk tier next to one from memory (`brink serve`, req/s, p50:
# round 1000 entries of 4 KiB; the disk tier's memory is 64 KiB, so nearly
# every hit reads its file, which is in the OS page cache, as a hot entry's
# is at a POP).
#
#   bash bench/cdn.sh
#   DURATION=10 bash bench/cdn.sh
#
# Environment (all optional): DURATION (seconds per measurement, default 5),
# RUNTIMES ("brink workerd" by default), BRINK_BIN, BRINK_BUILD,
# BRINK_CARGO_ARGS as for bench/run.sh.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=${DURATION:-5}
require_int DURATION 1 300
RUNTIMES=${RUNTIMES:-brink workerd}
WORK_DIR=$(mktemp -d)
HTML_WORKER="$BENCH_DIR/cdn/html-rewriter.js"
CACHE_WORKER="$BENCH_DIR/cdn/cache-hit.js"

BRINK=$(brink_binary "${BRINK_CARGO_ARGS:-}") || die "$BRINK"
WORKERD=""
if [[ " $RUNTIMES " == *" workerd "* ]]; then
  WORKERD=$(find_peer_bin workerd) || { warn "workerd not installed (bash bench/run.sh installs it); Brink only"; WORKERD=""; }
fi

start_runtime() {
  local runtime=$1 worker=$2 port=$3
  case $runtime in
    brink) start_server "$WORK_DIR/brink.log" "$BRINK" dev "$worker" --port "$port" --host 127.0.0.1 --data-dir "$WORK_DIR/data" ;;
    workerd)
      mkdir -p "$WORK_DIR/workerd"
      cp "$worker" "$WORK_DIR/workerd/worker.js"
      cat >"$WORK_DIR/workerd/config.capnp" <<CAPNP
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .w)],
  sockets = [(name = "http", address = "127.0.0.1:$port", http = (), service = "main")],
);
const w :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = "2025-01-01",
);
CAPNP
      start_server "$WORK_DIR/workerd.log" "$WORKERD" serve "$WORK_DIR/workerd/config.capnp"
      ;;
  esac
}

page_mib=""
declare -A MBPS
for runtime in brink workerd; do
  [[ $runtime == workerd && -z $WORKERD ]] && continue
  port=$(free_port)
  start_runtime "$runtime" "$HTML_WORKER" "$port"
  why=$(wait_until_ready "http://127.0.0.1:$port/") || die "$runtime: $why"
  bytes=$(curl -s "http://127.0.0.1:$port/" | wc -c)
  page_mib=$(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1048576 }')
  load_with_wrk 1 2 "http://127.0.0.1:$port/" "$WORK_DIR/wrk-$runtime.txt" 1 || die "$runtime: no wrk numbers"
  MBPS[$runtime]=$(awk -v r="$WRK_RPS" -v b="$bytes" 'BEGIN { printf "%.1f", r * b / 1000000 }')
  log "html $runtime: $WRK_RPS pages/s, ${MBPS[$runtime]} MB/s out, p50 ${WRK_P50_MS} ms, errors $WRK_ERRORS (load $(load_average))"
  stop_server
done

port=$(free_port)
start_runtime brink "$CACHE_WORKER" "$port"
why=$(wait_until_ready "http://127.0.0.1:$port/hello") || die "brink: $why"
curl -s -o /dev/null "http://127.0.0.1:$port/hit"
load_with_wrk 1 50 "http://127.0.0.1:$port/hello" "$WORK_DIR/wrk-hello.txt" 3 || die "no wrk numbers"
hello_rps=$WRK_RPS hello_p50=$WRK_P50_MS
load_with_wrk 1 50 "http://127.0.0.1:$port/hit" "$WORK_DIR/wrk-hit.txt" 3 || die "no wrk numbers"
hit_rps=$WRK_RPS hit_p50=$WRK_P50_MS
stop_server

# The same hit through `brink serve`, from memory and then from disk only.
TOKEN=bench-token-$RANDOM$RANDOM
declare -A TIER_RPS TIER_P50
for tier in memory disk; do
  port=$(free_port) admin_port=$(free_port)
  rm -rf "$WORK_DIR/data"
  {
    echo "listen = \"127.0.0.1:$port\""
    echo "admin_listen = \"127.0.0.1:$admin_port\""
    echo "data_dir = \"$WORK_DIR/data\""
    echo "[cache]"
    # 64 KiB of memory: 16 of the 1000 entries fit, the rest are read from disk.
    if [[ $tier == disk ]]; then printf 'memory_bytes = 65536\ndisk_dir = "cache"\ndisk_bytes = 67108864\n'; fi
    echo "[[workers]]"
    echo "name = \"cachemany\""
    echo "entry = \"$BENCH_DIR/cdn/cache-many.js\""
    echo "routes = [\"127.0.0.1\"]"
  } >"$WORK_DIR/brink.toml"
  start_brink_serve "$BRINK" "$WORK_DIR/brink.toml" "http://127.0.0.1:$admin_port"
  why=$(wait_until_ready "http://127.0.0.1:$port/many") || die "brink serve: $why"
  # Store all 1000 entries (one isolate at first, so its counter covers them).
  for ((i = 0; i < 1000; i++)); do curl -s -o /dev/null "http://127.0.0.1:$port/many"; done
  sleep 1 # the entries' files are written in the background
  [[ $(curl -s -D - -o /dev/null "http://127.0.0.1:$port/many") == *"cf-cache-status: HIT"* ]] || die "$tier: /many does not hit"
  load_with_wrk 1 50 "http://127.0.0.1:$port/many" "$WORK_DIR/wrk-$tier.txt" 3 || die "$tier: no wrk numbers"
  TIER_RPS[$tier]=$WRK_RPS TIER_P50[$tier]=$WRK_P50_MS
  log "cache $tier tier: $WRK_RPS req/s, p50 $WRK_P50_MS ms, errors $WRK_ERRORS (load $(load_average))"
  stop_server
done

echo
echo "HTMLRewriter, ${page_mib} MiB page, 5 handlers (wrk -t1 -c2, ${DURATION}s):"
echo "  brink    ${MBPS[brink]} MB/s"
if [[ -n ${MBPS[workerd]:-} ]]; then
  echo "  workerd  ${MBPS[workerd]} MB/s"
  echo "  brink / workerd = $(awk -v a="${MBPS[brink]}" -v b="${MBPS[workerd]}" 'BEGIN { printf "%.2f", a / b }')"
fi
echo "Cache API hit vs the same response built in place (brink, wrk -t1 -c50):"
echo "  hello  $hello_rps req/s, p50 $hello_p50 ms"
echo "  hit    $hit_rps req/s, p50 $hit_p50 ms"
echo "  added per request: $(awk -v a="$hello_rps" -v b="$hit_rps" 'BEGIN { printf "%.1f", (1e6 / b - 1e6 / a) }') us of isolate time"
echo "Cache API hits round 1000 entries of 4 KiB, disk tier vs memory (brink serve, wrk -t1 -c50):"
echo "  memory  ${TIER_RPS[memory]} req/s, p50 ${TIER_P50[memory]} ms"
echo "  disk    ${TIER_RPS[disk]} req/s, p50 ${TIER_P50[disk]} ms"
echo "  disk / memory = $(awk -v a="${TIER_RPS[disk]}" -v b="${TIER_RPS[memory]}" 'BEGIN { printf "%.2f", a / b }')"
echo "load average at the end: $(load_average) on $(nproc) cores"
