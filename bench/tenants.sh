#!/usr/bin/env bash
# Many tenants in one `brink serve`: throughput over W warm workers hit
# round-robin against one worker alone, and a well-behaved tenant's latency
# alone against next to N neighbours whose every request loops until the CPU
# limit stops it. Prints both ratios and the server's RSS per live worker.
#
#   bash bench/tenants.sh
#   WORKERS=1000 DURATION=10 NEIGHBOURS=10 bash bench/tenants.sh
#
# Environment (all optional):
#   WORKERS      warm workers for the round-robin run (default 1000, 2..3000)
#   DURATION     seconds of measured load per run (default 10, 1..120)
#   CONNECTIONS  wrk connections (default 50, 1..500)
#   NEIGHBOURS   looping neighbours (default 10, 1..100)
#   LOOP_CPU_MS  the neighbours' CPU limit per request (default 50)
#   PEER_ROUND_ROBIN  1 (default) also runs the round-robin on workerd, 0 skips it
#   BRINK_BIN, BRINK_BUILD, BRINK_CARGO_ARGS   as for bench/run.sh
#
# The round-robin ratio is also measured on workerd when it is installed
# (`bash scripts/install-deps.sh --bench`): WORKERS services in one workerd
# process, each its own isolate, behind one router worker that picks the
# service from the Host header by service binding; "one worker" is the same
# router sending every request to w0. The router hop costs both runs alike,
# so the ratio says how far one process's throughput falls when its requests
# spread over many isolates' heaps. workerd and Deno have no per-tenant
# limits to compare the noisy-neighbour run with.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WORKERS=${WORKERS:-1000}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-50}
NEIGHBOURS=${NEIGHBOURS:-10}
LOOP_CPU_MS=${LOOP_CPU_MS:-50}
PEER_ROUND_ROBIN=${PEER_ROUND_ROBIN:-1}
require_int WORKERS 2 3000
require_int DURATION 1 120
require_int CONNECTIONS 1 500
require_int NEIGHBOURS 1 100
require_int LOOP_CPU_MS 1 10000
command -v wrk >/dev/null || die "wrk is missing (make bench installs it)"
WORK_DIR=$(mktemp -d)
TOKEN=bench-token-$RANDOM$RANDOM

BRINK=$(brink_binary "${BRINK_CARGO_ARGS:-}") || die "$BRINK"
PORT=$(free_port)
ADMIN_PORT=$(free_port)
ADMIN="http://127.0.0.1:$ADMIN_PORT"
cat >"$WORK_DIR/brink.toml" <<TOML
listen = "127.0.0.1:$PORT"
admin_listen = "127.0.0.1:$ADMIN_PORT"
data_dir = "$WORK_DIR/data"

[scaling]
idle_timeout_secs = 3600
max_live_isolates = $((WORKERS + NEIGHBOURS + 64))
TOML
start_brink_serve "$BRINK" "$WORK_DIR/brink.toml" "$ADMIN"

deploy() { # deploy <entry> <name> [flags...]
  local entry=$1 name=$2
  shift 2
  BRINK_ADMIN_TOKEN=$TOKEN "$BRINK" deploy "$entry" --name "$name" --route "$name.bench" --admin "$ADMIN" --json "$@" >/dev/null
}
rss_mib() { awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$SERVER_PID/status"; }
# wrk_script <lua script> <report>: load on $PORT from the script; WRK_* as
# load_with_wrk sets them.
wrk_script() {
  setsid wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$1" "http://127.0.0.1:$PORT/" >"$2" 2>&1 </dev/null &
  WRK_PID=$!
  wait "$WRK_PID" || true
  WRK_PID=""
  read -r WRK_RPS WRK_P50 WRK_P99 WRK_ERRORS < <(parse_wrk <"$2")
}
# wrk_host <host> <report>: one host under load.
wrk_host() {
  printf 'wrk.headers["Host"] = "%s"\n' "$1" >"$WORK_DIR/host.lua"
  wrk_script "$WORK_DIR/host.lua" "$2"
}
# warm_workers: one request to each of w0.bench ... on $PORT.
warm_workers() {
  local i
  for ((i = 0; i < WORKERS; i++)); do
    curl -s -o /dev/null -H "host: w$i.bench" "http://127.0.0.1:$PORT/"
  done
}

# round_robin_lua <name prefix> <count> <file>: a wrk script whose requests
# go to hosts <prefix>0.bench ... <prefix><count-1>.bench in turn.
round_robin_lua() {
  cat >"$3" <<LUA
local i = 0
request = function()
  i = i % $2
  local host = "$1" .. i .. ".bench"
  i = i + 1
  return wrk.format("GET", "/", { ["Host"] = host })
end
LUA
}

log "deploying and warming $WORKERS hello workers"
for ((i = 0; i < WORKERS; i++)); do
  deploy "$REPO_DIR/examples/hello/worker.js" "w$i"
done
started=$SECONDS
warm_workers
log "warmed in $((SECONDS - started)) s; RSS $(rss_mib) MiB"

log "one worker, $DURATION s"
wrk_host w0.bench "$WORK_DIR/one.txt"
one_rps=$WRK_RPS one_errors=$WRK_ERRORS

log "$WORKERS workers round-robin, $DURATION s"
round_robin_lua w "$WORKERS" "$WORK_DIR/round-robin.lua"
wrk_script "$WORK_DIR/round-robin.lua" "$WORK_DIR/many.txt"
many_rps=$WRK_RPS many_errors=$WRK_ERRORS
rss=$(rss_mib)
live=$(curl -s -H "authorization: Bearer $TOKEN" "$ADMIN/metrics" | awk '$1 == "brink_live_isolates" { print $2 }')

log "noisy neighbours: $NEIGHBOURS workers that loop until their ${LOOP_CPU_MS} ms CPU limit"
cat >"$WORK_DIR/loop.js" <<'JS'
export default { fetch() { for (;;) {} } };
JS
for ((i = 0; i < NEIGHBOURS; i++)); do
  deploy "$WORK_DIR/loop.js" "loop$i" --cpu-ms "$LOOP_CPU_MS"
done
deploy "$REPO_DIR/examples/hello/worker.js" good
curl -s -o /dev/null -H "host: good.bench" "http://127.0.0.1:$PORT/"
log "the good tenant alone"
wrk_host good.bench "$WORK_DIR/alone.txt"
alone_rps=$WRK_RPS alone_p50=$(to_ms "$WRK_P50") alone_p99=$(to_ms "$WRK_P99")
log "the good tenant next to the loops"
# One wrk connection per neighbour, each sending its next looping request
# as soon as the last one was stopped (a shell loop of curl processes would
# itself compete for the cores it is meant to measure).
round_robin_lua loop "$NEIGHBOURS" "$WORK_DIR/loops.lua"
setsid wrk -t1 -c"$NEIGHBOURS" -d"$((DURATION + 3))s" --timeout 30s -s "$WORK_DIR/loops.lua" "http://127.0.0.1:$PORT/" >"$WORK_DIR/loops.txt" 2>&1 </dev/null &
looping=$!
sleep 1
wrk_host good.bench "$WORK_DIR/noisy.txt"
kill "$looping" 2>/dev/null || true
wait "$looping" 2>/dev/null || true
noisy_rps=$WRK_RPS noisy_p50=$(to_ms "$WRK_P50") noisy_p99=$(to_ms "$WRK_P99") noisy_errors=$WRK_ERRORS
terminations=$(curl -s -H "authorization: Bearer $TOKEN" "$ADMIN/metrics" |
  awk '/^brink_limit_terminations_total\{worker="loop/ && /limit="cpu"/ { n += $2 } END { print n + 0 }')
stop_server

# workerd_round_robin: the same two runs on workerd (see the header); sets
# peer_one_rps, peer_many_rps and peer_rss, or leaves them empty.
peer_one_rps="" peer_many_rps="" peer_rss=""
workerd_round_robin() {
  local workerd dir="$WORK_DIR/workerd" i
  workerd=$(find_peer_bin workerd) || { warn "workerd not installed (bash scripts/install-deps.sh --bench); Brink alone"; return 0; }
  mkdir -p "$dir"
  cp "$REPO_DIR/examples/hello/worker.js" "$dir/worker.js"
  cat >"$dir/router.js" <<'JS'
export default {
  fetch(request, env) {
    const host = request.headers.get("host") ?? "";
    const service = env[host.slice(0, host.indexOf("."))];
    return service ? service.fetch(request) : new Response("no such worker\n", { status: 404 });
  },
};
JS
  PORT=$(free_port)
  {
    echo 'using Workerd = import "/workerd/workerd.capnp";'
    echo 'const config :Workerd.Config = ('
    echo '  services = ['
    echo '    (name = "router", worker = (modules = [(name = "router.js", esModule = embed "router.js")], compatibilityDate = "2025-01-01", bindings = ['
    for ((i = 0; i < WORKERS; i++)); do echo "      (name = \"w$i\", service = \"w$i\"),"; done
    echo '    ])),'
    for ((i = 0; i < WORKERS; i++)); do
      echo "    (name = \"w$i\", worker = (modules = [(name = \"worker.js\", esModule = embed \"worker.js\")], compatibilityDate = \"2025-01-01\")),"
    done
    echo '  ],'
    echo "  sockets = [(name = \"http\", address = \"127.0.0.1:$PORT\", http = (), service = \"router\")],"
    echo ');'
  } >"$dir/config.capnp"
  start_server "$WORK_DIR/workerd.log" "$workerd" serve "$dir/config.capnp"
  local why
  why=$(wait_until_ready "http://127.0.0.1:$PORT/") || { warn "workerd: $why (log: $WORK_DIR/workerd.log)"; stop_server; return 0; }
  log "workerd: warming $WORKERS workers"
  warm_workers
  log "workerd: one worker, $DURATION s"
  wrk_host w0.bench "$WORK_DIR/peer-one.txt"
  peer_one_rps=$WRK_RPS
  log "workerd: $WORKERS workers round-robin, $DURATION s"
  wrk_script "$WORK_DIR/round-robin.lua" "$WORK_DIR/peer-many.txt"
  peer_many_rps=$WRK_RPS
  peer_rss=$(rss_mib)
  stop_server
}
if [[ $PEER_ROUND_ROBIN == 1 ]]; then
  workerd_round_robin
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "## Many tenants ($(date -u +%Y-%m-%d), $(nproc) cores, load $(load_average), wrk -t1 -c$CONNECTIONS, $DURATION s per run)"
echo
echo "| run | req/s | errors |"
echo "|---|---:|---:|"
echo "| one worker | $one_rps | $one_errors |"
echo "| $WORKERS workers round-robin | $many_rps | $many_errors |"
echo
echo "Round-robin over $WORKERS warm workers / one worker: **$(ratio "$many_rps" "$one_rps")x**."
echo "RSS after the round-robin run: $rss MiB for $live live isolates ($(ratio "$rss" "$live") MiB each)."
if [[ -n $peer_many_rps ]]; then
  echo
  echo "| workerd (router worker + $WORKERS services, one process) | req/s |"
  echo "|---|---:|"
  echo "| one worker | $peer_one_rps |"
  echo "| $WORKERS workers round-robin | $peer_many_rps |"
  echo
  echo "workerd round-robin / one worker: **$(ratio "$peer_many_rps" "$peer_one_rps")x** (RSS $peer_rss MiB)."
fi
echo
echo "| good tenant | req/s | p50 | p99 |"
echo "|---|---:|---:|---:|"
echo "| alone | $alone_rps | $alone_p50 ms | $alone_p99 ms |"
echo "| next to $NEIGHBOURS looping neighbours | $noisy_rps | $noisy_p50 ms | $noisy_p99 ms |"
echo
echo "p99 next to the loops / alone: **$(ratio "$noisy_p99" "$alone_p99")x** ($noisy_errors errors; $terminations neighbour requests stopped by the CPU limit)."
