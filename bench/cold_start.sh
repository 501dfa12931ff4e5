#!/usr/bin/env bash
# Cold starts in `brink serve`: W workers are deployed, left idle until their
# isolates are evicted (scale to zero), then each gets a first request and a
# second one, W / RATE seconds apart in total. Prints the latency the first
# request adds over the second (p50, p99), and how soon a deployed version
# answers after `brink deploy` returns.
#
#   bash bench/cold_start.sh
#   WORKERS=300 RATE=10 bash bench/cold_start.sh
#
# Environment (all optional):
#   WORKERS      workers to deploy (default 100, 2..2000)
#   RATE         new workers hit per second (default 10, 1..100)
#   WARM         blank isolates the pool keeps warm (default 2, brink serve's default)
#   KEEP_LOG     a file to copy brink serve's log to (run with
#                RUST_LOG=info,brink_runtime::worker=debug for each cold
#                start's `isolate loaded` timings)
#   BRINK_BIN, BRINK_BUILD, BRINK_CARGO_ARGS   as for bench/run.sh
#
# No peer runs here: workerd has no per-tenant deploy or scale to zero to
# compare with; bench/isolates.sh compares the cost of an isolate.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WORKERS=${WORKERS:-100}
RATE=${RATE:-10}
require_int WORKERS 2 2000
WARM=${WARM:-2}
require_int RATE 1 100
require_int WARM 0 64
WORK_DIR=$(mktemp -d)
TOKEN=bench-token-$RANDOM$RANDOM

BRINK=$(brink_binary "${BRINK_CARGO_ARGS:-}") || die "$BRINK"
PORT=$(free_port)
ADMIN_PORT=$(free_port)
cat >"$WORK_DIR/brink.toml" <<EOF
listen = "127.0.0.1:$PORT"
admin_listen = "127.0.0.1:$ADMIN_PORT"
data_dir = "$WORK_DIR/data"

[pool]
warm_isolates = $WARM

[scaling]
idle_timeout_secs = 1
EOF
start_brink_serve "$BRINK" "$WORK_DIR/brink.toml" "http://127.0.0.1:$ADMIN_PORT"

# Seconds → milliseconds with three decimals.
ms() { awk -v s="$1" 'BEGIN { printf "%.3f", s * 1000 }'; }
# percentile <p> < numbers: the p-th percentile of a sorted list.
percentile() { sort -n | awk -v p="$1" '{ a[NR] = $1 } END { i = int(NR * p / 100 + 0.5); if (i < 1) i = 1; print a[i] }'; }

log "deploying $WORKERS workers"
: >"$WORK_DIR/after-deploy"
for ((i = 0; i < WORKERS; i++)); do
  BRINK_ADMIN_TOKEN=$TOKEN "$BRINK" deploy "$REPO_DIR/examples/hello/worker.js" --name "w$i" \
    --route "w$i.bench" --admin "http://127.0.0.1:$ADMIN_PORT" --json >/dev/null
  # The first request right after the deploy is acknowledged.
  t=$(curl -s -o /dev/null -w '%{time_total}' -H "host: w$i.bench" "http://127.0.0.1:$PORT/")
  ms "$t" >>"$WORK_DIR/after-deploy"
  echo >>"$WORK_DIR/after-deploy"
done

log "waiting for every isolate to be evicted"
sleep 4

log "first and second requests, $RATE new workers per second"
: >"$WORK_DIR/added"
interval=$(awk -v r="$RATE" 'BEGIN { printf "%.4f", 1 / r }')
for ((i = 0; i < WORKERS; i++)); do
  first=$(curl -s -o /dev/null -w '%{time_total}' -H "host: w$i.bench" "http://127.0.0.1:$PORT/")
  second=$(curl -s -o /dev/null -w '%{time_total}' -H "host: w$i.bench" "http://127.0.0.1:$PORT/")
  awk -v a="$first" -v b="$second" 'BEGIN { printf "%.3f\n", (a - b) * 1000 }' >>"$WORK_DIR/added"
  sleep "$interval"
done

log "burst: every worker's first request at once"
sleep 4
start=$(date +%s.%N)
pids=()
for ((i = 0; i < WORKERS; i++)); do
  curl -s -o /dev/null -w '%{time_total}\n' -H "host: w$i.bench" "http://127.0.0.1:$PORT/" >>"$WORK_DIR/burst" &
  pids+=($!)
done
wait "${pids[@]}"
burst_wall=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.0f", (e - s) * 1000 }')

echo
echo "## Cold starts ($(date -u +%Y-%m-%d), $(nproc) cores, $WORKERS workers, $RATE new per second, $WARM warm in the pool)"
echo
echo "| measure | p50 | p99 |"
echo "|---|---:|---:|"
echo "| first request after \`brink deploy\` returns | $(grep -v '^$' "$WORK_DIR/after-deploy" | percentile 50) ms | $(grep -v '^$' "$WORK_DIR/after-deploy" | percentile 99) ms |"
echo "| added latency of a worker's first request over its second (scaled to zero) | $(percentile 50 <"$WORK_DIR/added") ms | $(percentile 99 <"$WORK_DIR/added") ms |"
echo "| burst: all $WORKERS first requests at once, each | $(awk '{ printf "%.3f\n", $1 * 1000 }' "$WORK_DIR/burst" | percentile 50) ms | $(awk '{ printf "%.3f\n", $1 * 1000 }' "$WORK_DIR/burst" | percentile 99) ms |"
echo
echo "Burst wall time: $burst_wall ms for $WORKERS cold workers."
# The cores are shared: results move with the machine's load.
echo "Load average at the end (1, 5, 15 min): $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -n ${KEEP_LOG:-} ]]; then cp "$WORK_DIR/serve.log" "$KEEP_LOG"; fi
