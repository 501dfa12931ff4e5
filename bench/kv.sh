#!/usr/bin/env bash
# KV benchmark: the same KV workloads, from inside a worker over HTTP, on Brink
# (Workers KV binding, embedded redb store), on Brink with the replicated
# backend (runtime "nats": a 3-node NATS JetStream cluster, R3, on loopback)
# and on Deno KV (`Deno.openKv()` under `deno serve --unstable-kv`, embedded
# SQLite), in one run, with ratios.
#
#   bash bench/kv.sh
#   DURATION=10 RUNTIMES=brink bash bench/kv.sh
#
# Workloads (bench/kv/brink-worker.js, bench/kv/deno-worker.js):
#   base          a request that touches no KV (the baseline)
#   get-cached    get of an existing 100-byte value; Brink: cacheTtl 60 (read cache),
#                 Deno: consistency "eventual" (Deno KV has no read cache)
#   get-uncached  Brink: cacheTtl 0 (reads redb every time); Deno: strong get
#   put           put of a unique key, 1 KiB value; both fsync each commit
# Each is loaded twice with wrk: -c$CONNECTIONS for throughput, then -c1 for latency.
# "Added latency" of a workload = its -c1 latency minus the baseline's -c1 latency,
# in µs: both the p50 difference and the mean difference (1e6/rps at -c1, where
# one request is in flight at a time).
#
# Environment (all optional):
#   DURATION     seconds of measured load per run (default 5, 1-300)
#   RUNTIMES     subset of: brink nats deno (default: brink deno; nats needs
#                nats-server: scripts/install-nats.sh, or NATS_SERVER=path)
#   CONNECTIONS  wrk -c for the throughput runs (default 50)
#   BRINK_BIN    a brink binary; when set, no cargo build
#   BRINK_BUILD  0 skips `cargo build --release -p brink-gateway` (default 1)
# Raw results: bench/results/kv-latest.jsonl.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RESULTS_FILE="$BENCH_DIR/results/kv-latest.jsonl"

DURATION=${DURATION:-5}
RUNTIMES=${RUNTIMES:-brink deno}
CONNECTIONS=${CONNECTIONS:-50}
BRINK_BUILD=${BRINK_BUILD:-1}
WORKLOADS="base get-cached get-uncached put"
# Targets from the KV issue, in µs added to a request (Brink only).
declare -A TARGET_US=([get-cached]=50 [get-uncached]=300)

declare -A BIN=() VERSION=()
declare -A RPS=() P50=() P99=()   # key "runtime/workload/conc" (conc = many|one)

setup() {
  command -v wrk >/dev/null || die "wrk is required (apt-get install wrk, or run bench/run.sh once)"
  command -v curl >/dev/null || die "curl is required"
  local runtime
  for runtime in $RUNTIMES; do
    case $runtime in
      brink)
        local bin
        bin=$(brink_binary "") || die "not measuring brink: $bin"  # no extra cargo arguments
        BIN[brink]=$bin
        VERSION[brink]=$(version_of "$bin")
        VERSION[brink]=${VERSION[brink]:-dev}
        ;;
      nats)
        local bin
        bin=$(brink_binary "") || die "not measuring brink on NATS: $bin"
        BIN[nats]=$bin
        VERSION[nats]=$(version_of "$bin")
        VERSION[nats]=${VERSION[nats]:-dev}
        NATS_SERVER=${NATS_SERVER:-$REPO_DIR/third_party/nats-server/bin/nats-server}
        [[ -x $NATS_SERVER ]] || die "nats-server not found: bash scripts/install-nats.sh"
        ;;
      deno)
        BIN[deno]=$(find_peer_bin deno) ||
          die "deno not found in bench/node_modules: run bench/run.sh once (or: cd bench && npm install)"
        VERSION[deno]=$(version_of "${BIN[deno]}")
        ;;
      *) die "unknown runtime '$runtime' (known: brink nats deno)" ;;
    esac
    log "$runtime ${VERSION[$runtime]}: ${BIN[$runtime]#"$REPO_DIR/"}"
  done
}

start_brink() {
  local port=$1 data=$2 logfile=$3
  start_server "$logfile" "${BIN[brink]}" dev "$BENCH_DIR/kv/brink-worker.js" \
    --port "$port" --host 127.0.0.1 --kv KV --data-dir "$data"
}

# A port below the kernel's ephemeral range, so a NATS node dialling a route
# that is not listening yet cannot end up connected to itself.
nats_port() {
  python3 -c 'import random, socket
while True:
    p = random.randrange(20000, 32000); s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        s.close()'
}

# Brink with --kv-nats on a 3-node JetStream cluster; all in one process group,
# so stop_server stops the nodes too.
start_nats() {
  local port=$1 data=$2 logfile=$3 i routes servers
  local clients=($(nats_port) $(nats_port) $(nats_port)) cluster=($(nats_port) $(nats_port) $(nats_port))
  mkdir -p "$data"
  routes=$(printf '"nats-route://127.0.0.1:%s", ' "${cluster[@]}")
  servers=$(printf 'nats://127.0.0.1:%s,' "${clients[@]}")
  for i in 0 1 2; do
    mkdir -p "$data/n$i"
    printf 'server_name: n%s\nlisten: "127.0.0.1:%s"\nmax_payload: 32MB\njetstream { store_dir: "%s" }\ncluster { name: bench, listen: "127.0.0.1:%s", routes: [%s] }\n' \
      "$i" "${clients[$i]}" "$data/n$i" "${cluster[$i]}" "${routes%, }" >"$data/n$i.conf"
  done
  # The POP starts once a node listens; /setup (the first KV write, which
  # creates the namespace's stream) is retried while the cluster elects its leader.
  start_server "$logfile" bash -c '
    for i in 0 1 2; do "$0" -c "$1/n$i.conf" >>"$1/n$i.log" 2>&1 & done
    for _ in $(seq 1 100); do
      (exec 3<>"/dev/tcp/127.0.0.1/$6") 2>/dev/null && break
      sleep 0.1
    done
    exec "$2" dev "$3" --port "$4" --host 127.0.0.1 --kv KV --data-dir "$1/pop" --kv-nats "$5"
  ' "$NATS_SERVER" "$data" "${BIN[nats]}" "$BENCH_DIR/kv/brink-worker.js" "$port" "${servers%,}" "${clients[0]}"
}

start_deno() {
  local port=$1 data=$2 logfile=$3
  mkdir -p "$data"
  KV_PATH="$data/kv.sqlite" DENO_NO_UPDATE_CHECK=1 start_server "$logfile" "${BIN[deno]}" \
    serve --unstable-kv --allow-env=KV_PATH --allow-read="$data" --allow-write="$data" \
    --port "$port" --host 127.0.0.1 "$BENCH_DIR/kv/deno-worker.js"
}

# measure_one <runtime> <workload> <conc: many|one> <base url>
measure_one() {
  local runtime=$1 workload=$2 conc=$3 base=$4 connections report
  connections=$CONNECTIONS
  [[ $conc == one ]] && connections=1
  report="$WORK_DIR/wrk-$runtime-$workload-$conc.out"
  # Four decimals: the added latency is a difference of sub-millisecond p50s.
  load_with_wrk 1 "$connections" "$base/$workload" "$report" 4 ||
    die "$runtime $workload: cannot parse wrk output: $(cat "$report")"
  local rps=$WRK_RPS p50=$WRK_P50_MS p99=$WRK_P99_MS errors=$WRK_ERRORS
  ((errors == 0)) || warn "$runtime $workload -c$connections: $errors errors"
  local key="$runtime/$workload/$conc"
  RPS[$key]=$rps P50[$key]=$p50 P99[$key]=$p99
  printf '{"time":"%s","runtime":"%s","version":"%s","workload":"%s","connections":%s,"duration_s":%s,"rps":%s,"p50_ms":%s,"p99_ms":%s,"errors":%s,"cores":%s,"load1":%s}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$runtime" "${VERSION[$runtime]}" "$workload" "$connections" \
    "$DURATION" "$rps" "$p50" "$p99" "$errors" "$(nproc)" "$(load_average)" >>"$RESULTS_FILE"
  log "$runtime $workload -c$connections: $rps req/s, p50 ${p50} ms, p99 ${p99} ms"
}

measure_runtime() {
  local runtime=$1 port base data logfile reason workload body
  port=$(free_port)
  base="http://127.0.0.1:$port"
  data="$WORK_DIR/$runtime-data"
  logfile="$WORK_DIR/$runtime.log"
  log "$runtime on port $port (data in $data)"
  "start_$runtime" "$port" "$data" "$logfile"
  if ! reason=$(wait_until_ready "$base/base"); then
    tail -n 20 "$logfile" >&2 || true
    die "$runtime: $reason"
  fi
  local setup_ok=0
  for _ in $(seq 1 30); do
    if [[ $(curl -s --max-time 15 "$base/setup") == ok ]]; then setup_ok=1; break; fi
    sleep 1 # the replicated backend: a cluster still electing its leader
  done
  ((setup_ok)) || die "$runtime: /setup failed: $(tail -n 5 "$logfile")"
  # Every workload must answer correctly before it is timed.
  for workload in $WORKLOADS; do
    body=$(curl -s --max-time 5 "$base/$workload")
    case $workload in
      get-*) [[ $body == "$(printf 'v%.0s' {1..100})" ]] || die "$runtime $workload: wrong body '${body:0:80}'" ;;
      *) [[ $body == ok ]] || die "$runtime $workload: wrong body '${body:0:80}'" ;;
    esac
  done
  for workload in $WORKLOADS; do
    measure_one "$runtime" "$workload" many "$base"
    measure_one "$runtime" "$workload" one "$base"
  done
  stop_server
}

# µs a workload adds to a request at -c1: "<p50 diff> <mean diff>".
added_us() {
  local runtime=$1 workload=$2
  awk -v p="${P50[$runtime/$workload/one]}" -v pb="${P50[$runtime/base/one]}" \
    -v r="${RPS[$runtime/$workload/one]}" -v rb="${RPS[$runtime/base/one]}" \
    'BEGIN { printf "%.0f %.0f\n", (p - pb) * 1000, 1e6 / r - 1e6 / rb }'
}

report() {
  local runtime workload k1 kc added_p50 added_mean verdict
  echo
  echo "# Brink KV benchmark — $(nproc) cores, $(date -u +%Y-%m-%d), 1-min load now $(load_average)"
  echo "# wrk -t1, ${DURATION}s per run after ${WARMUP_SECONDS}s warm-up; throughput at -c$CONNECTIONS, latency at -c1"
  echo
  printf '%-6s %-13s %10s %9s %9s | %9s %9s %9s | %11s %12s  %s\n' runtime workload \
    "req/s" "p50 ms" "p99 ms" "c1 req/s" "c1 p50" "c1 p99" "+µs p50 c1" "+µs mean c1" "target"
  for runtime in $RUNTIMES; do
    for workload in $WORKLOADS; do
      kc="$runtime/$workload/many" k1="$runtime/$workload/one"
      added_p50="-" added_mean="-" verdict=""
      if [[ $workload != base ]]; then
        read -r added_p50 added_mean < <(added_us "$runtime" "$workload")
      fi
      if [[ $runtime == brink && -n ${TARGET_US[$workload]:-} ]]; then
        verdict="≤ ${TARGET_US[$workload]} µs: $(awk -v a="$added_p50" -v t="${TARGET_US[$workload]}" 'BEGIN { print (a <= t ? "met" : "MISSED") }')"
      fi
      printf '%-6s %-13s %10.0f %9.3f %9.3f | %9.0f %9.3f %9.3f | %11s %12s  %s\n' "$runtime" "$workload" \
        "${RPS[$kc]}" "${P50[$kc]}" "${P99[$kc]}" "${RPS[$k1]}" "${P50[$k1]}" "${P99[$k1]}" \
        "$added_p50" "$added_mean" "$verdict"
    done
  done
  if [[ -n ${RPS[brink/base/many]:-} && -n ${RPS[deno/base/many]:-} ]]; then
    echo
    echo "Brink ÷ Deno (req/s; above 1.00x Brink is faster):"
    printf '%-13s %12s %12s\n' workload "-c$CONNECTIONS" "-c1"
    for workload in $WORKLOADS; do
      printf '%-13s %12s %12s\n' "$workload" \
        "$(awk -v b="${RPS[brink/$workload/many]}" -v d="${RPS[deno/$workload/many]}" 'BEGIN { printf "%.2fx", b / d }')" \
        "$(awk -v b="${RPS[brink/$workload/one]}" -v d="${RPS[deno/$workload/one]}" 'BEGIN { printf "%.2fx", b / d }')"
    done
  fi
  echo
  echo "+µs = latency a workload adds to the baseline request at -c1 (p50 difference; mean = 1e6/req/s difference)."
  echo "Raw results: ${RESULTS_FILE#"$REPO_DIR/"}"
}

main() {
  require_int DURATION 1 300
  require_int CONNECTIONS 1 9999
  setup
  WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/brink-kv-bench.XXXXXX")
  mkdir -p "$(dirname "$RESULTS_FILE")"
  : >"$RESULTS_FILE"
  local load
  load=$(load_average)
  if is_busy "$load"; then
    warn "the machine is busy (1-min load $load on $(nproc) cores): absolute numbers will be low"
  fi
  local runtime
  for runtime in $RUNTIMES; do
    measure_runtime "$runtime"
  done
  report
}

main "$@"
