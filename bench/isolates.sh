#!/usr/bin/env bash
# Isolate cost: how long Brink takes to build a blank isolate, and how much
# resident memory each live worker isolate costs, side by side with workerd
# running the same number of workers in one process (RSS / N).
#
#   bash bench/isolates.sh
#   N=100 bash bench/isolates.sh
#
# Environment (all optional):
#   N            live workers to measure (default 60, 2..500)
#   BRINK_BIN, BRINK_BUILD, BRINK_CARGO_ARGS   as for bench/run.sh
#
# Memory per isolate is the difference between a process serving N workers
# and the same process serving one, divided by N - 1, measured after every
# worker has answered a request. For Brink that is `brink dev --isolates N`
# (one isolate each, each with its own globals, like N tenants); for workerd
# it is N services, each its own worker with its own socket.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=${N:-60}
require_int N 2 500
WORKER="$REPO_DIR/examples/hello/worker.js"
WORKERD_COMPAT_DATE=2025-01-01
WORK_DIR=$(mktemp -d)

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# rss_after_requests <url>...: requests every URL at once, then prints the
# running server's RSS (KiB) once they are answered, and stops the server.
# Waits for the requests by pid: a bare `wait` would wait for the server too.
rss_after_requests() {
  local pids=() url
  for url in "$@"; do
    curl -s -o /dev/null "$url" &
    pids+=($!)
  done
  wait "${pids[@]}"
  sleep 1
  rss_kib "$SERVER_PID"
  stop_server
}

# ---------------------------------------------------------------------------
# Brink
# ---------------------------------------------------------------------------

brink_rss_with() {
  local isolates=$1 port logfile
  port=$(free_port)
  logfile="$WORK_DIR/brink-$isolates.log"
  NO_COLOR=1 RUST_LOG=info,brink_runtime::isolate=debug \
    start_server "$logfile" "$BRINK" dev "$WORKER" --port "$port" --host 127.0.0.1 --isolates "$isolates"
  local why urls=()
  why=$(wait_until_ready "http://127.0.0.1:$port/") || die "brink: $why (log: $logfile)"
  # Every isolate serves: more requests than isolates, in parallel.
  for ((i = 0; i < isolates * 2; i++)); do urls+=("http://127.0.0.1:$port/"); done
  rss_after_requests "${urls[@]}"
}

# Blank isolate build times (µs) logged by the isolates built for N workers.
blank_isolate_times() {
  grep -o 'elapsed_us=[0-9]*' "$WORK_DIR/brink-$N.log" | cut -d= -f2 | sort -n
}

# ---------------------------------------------------------------------------
# workerd
# ---------------------------------------------------------------------------

workerd_rss_with() {
  local workers=$1 dir ports=() i
  dir=$(mktemp -d "$WORK_DIR/workerd.XXXXXX")
  cp "$WORKER" "$dir/worker.js"
  {
    echo 'using Workerd = import "/workerd/workerd.capnp";'
    echo 'const config :Workerd.Config = ('
    echo '  services = ['
    for ((i = 0; i < workers; i++)); do
      echo "    (name = \"w$i\", worker = (modules = [(name = \"worker.js\", esModule = embed \"worker.js\")], compatibilityDate = \"$WORKERD_COMPAT_DATE\")),"
    done
    echo '  ],'
    echo '  sockets = ['
    for ((i = 0; i < workers; i++)); do
      ports+=("$(free_port)")
      echo "    (name = \"s$i\", address = \"127.0.0.1:${ports[$i]}\", http = (), service = \"w$i\"),"
    done
    echo '  ],'
    echo ');'
  } >"$dir/config.capnp"
  start_server "$WORK_DIR/workerd-$workers.log" "$WORKERD" serve "$dir/config.capnp"
  local why urls=()
  why=$(wait_until_ready "http://127.0.0.1:${ports[0]}/") || die "workerd: $why"
  for port in "${ports[@]}"; do urls+=("http://127.0.0.1:$port/"); done
  rss_after_requests "${urls[@]}"
}

# ---------------------------------------------------------------------------

BRINK=$(brink_binary "${BRINK_CARGO_ARGS:-}") || die "$BRINK"
log "brink: ${BRINK#"$REPO_DIR/"}, N = $N"

brink_one=$(brink_rss_with 1)
brink_n=$(brink_rss_with "$N")
brink_per=$(((brink_n - brink_one) / (N - 1)))
mapfile -t times < <(blank_isolate_times)
count=${#times[@]}

workerd_per=""
if WORKERD=$(find_peer_bin workerd); then
  workerd_one=$(workerd_rss_with 1)
  workerd_n=$(workerd_rss_with "$N")
  workerd_per=$(((workerd_n - workerd_one) / (N - 1)))
else
  warn "workerd not installed (cd bench && npm install); measuring Brink alone"
fi

echo
echo "## Isolates ($(date -u +%Y-%m-%d), $(nproc) cores, N = $N)"
echo
printf '| | RSS with 1 worker | RSS with %d | per extra worker |\n|---|---:|---:|---:|\n' "$N"
printf '| Brink | %d MiB | %d MiB | %.2f MiB |\n' $((brink_one / 1024)) $((brink_n / 1024)) "$(echo "$brink_per / 1024" | bc -l)"
if [[ -n $workerd_per ]]; then
  printf '| workerd | %d MiB | %d MiB | %.2f MiB |\n' $((workerd_one / 1024)) $((workerd_n / 1024)) "$(echo "$workerd_per / 1024" | bc -l)"
  printf '\nBrink per worker / workerd per worker: %.2fx\n' "$(echo "$brink_per / $workerd_per" | bc -l)"
fi
if ((count > 0)); then
  printf '\nBlank isolate build (%d isolates, µs): p10 %d, median %d, p90 %d\n' "$count" \
    "${times[$((count / 10))]}" "${times[$((count / 2))]}" "${times[$((count * 9 / 10))]}"
fi
