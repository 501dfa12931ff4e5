#!/usr/bin/env bash
# Brink's benchmark harness: runs the same worker scripts on Brink and on its peers
# (workerd, `deno serve`, Bun) in one run, loads each with wrk over loopback for a
# fixed duration, and prints req/s, p50/p99 latency and Brink's ratio to each peer.
#
#   bash bench/run.sh                      # everything
#   DURATION=10 WORKLOADS=json RUNTIMES="brink deno" bash bench/run.sh
#
# Environment (all optional):
#   DURATION     seconds of measured load per runtime and workload (default 5, max 300)
#   WORKLOADS    space-separated subset of: hello json        (default: both)
#   RUNTIMES     space-separated subset of: brink workerd deno bun (default: all)
#   BRINK_BIN    path to a brink binary; when set, the cargo build is skipped
#   BRINK_BUILD  0 to skip `cargo build --release -p brink-gateway` (default 1)
#   BRINK_CARGO_ARGS  extra cargo build arguments, e.g. "--no-default-features --features v8"
#   ROUNDS       how many times to cycle through the runtimes (default 1); with more,
#                each runtime's median round (by req/s) is reported, and background
#                load that comes and goes hits every runtime alike
#   THREADS, CONNECTIONS   wrk -t / -c (default 1 / 50)
#
# Raw results go to bench/results/latest.jsonl, one JSON object per measurement.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RESULTS_FILE="$BENCH_DIR/results/latest.jsonl"

DURATION=${DURATION:-5}
WORKLOADS=${WORKLOADS:-hello json}
RUNTIMES=${RUNTIMES:-brink workerd deno bun}
ROUNDS=${ROUNDS:-1}
THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-50}
BRINK_BUILD=${BRINK_BUILD:-1}
BRINK_CARGO_ARGS=${BRINK_CARGO_ARGS:-}
WORKERD_COMPAT_DATE=2025-01-01

# Workload name -> worker file, request path, and a string the response must contain
# (so a runtime that answers fast with an error page is caught, not celebrated).
declare -A WORKLOAD_FILE=(
  [hello]="$REPO_DIR/examples/hello/worker.js"
  [json]="$REPO_DIR/examples/json-api/worker.js"
)
declare -A WORKLOAD_PATH=([hello]="/" [json]="/api/users/42")
declare -A WORKLOAD_EXPECT=([hello]="Hello from Brink!" [json]='"id":42')

declare -A RUNTIME_BIN=()      # runtime -> binary that passed `--version`
declare -A RUNTIME_VERSION=()  # runtime -> version string
declare -A RUNTIME_SKIPPED=()  # runtime -> why it is not measured
declare -A SAMPLES=()  # "workload/runtime" -> lines of "rps p50_ms p99_ms errors", one per round
declare -A RPS=() P50=() P99=() ERRORS=() FAILED=()  # keyed "workload/runtime"; the median round

LOAD_AT_START=""

# ---------------------------------------------------------------------------
# Setup: apt packages, peers from npm, Brink from cargo (finding the binaries is in lib.sh).
# ---------------------------------------------------------------------------

APT_UPDATED=0
apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if ((${#missing[@]} == 0)); then return 0; fi
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    warn "missing Debian packages (${missing[*]}); install them as root: apt-get install -y ${missing[*]}"
    return 1
  fi
  log "installing Debian packages: ${missing[*]}"
  if ((APT_UPDATED == 0)); then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || return 1
}

wants_runtime() { [[ " $RUNTIMES " == *" $1 "* ]]; }

setup_peers() {
  local peers=() peer
  for peer in workerd deno bun; do
    if wants_runtime "$peer"; then peers+=("$peer"); fi
  done
  if ((${#peers[@]} == 0)); then return 0; fi

  if wants_runtime workerd; then
    apt_install libc++1 || warn "libc++1 is missing; workerd will probably not start"
  fi

  # npm only when something is missing or package.json changed since the last install.
  local need_install=0
  if [[ $BENCH_DIR/package.json -nt $BENCH_DIR/node_modules/.package-lock.json ]]; then
    need_install=1
  fi
  for peer in "${peers[@]}"; do
    find_peer_bin "$peer" >/dev/null || need_install=1
  done
  if ((need_install)); then
    if command -v npm >/dev/null; then
      log "installing peers into bench/node_modules (npm install)"
      (cd "$BENCH_DIR" && npm install --no-audit --no-fund --loglevel=error) ||
        warn "npm install failed; peers that did not install are skipped"
    else
      warn "npm not found; peers are skipped unless already in bench/node_modules"
    fi
  fi

  for peer in "${peers[@]}"; do
    if RUNTIME_BIN[$peer]=$(find_peer_bin "$peer"); then
      RUNTIME_VERSION[$peer]=$(version_of "${RUNTIME_BIN[$peer]}")
      log "$peer ${RUNTIME_VERSION[$peer]}: ${RUNTIME_BIN[$peer]#"$REPO_DIR/"}"
    else
      unset "RUNTIME_BIN[$peer]"
      RUNTIME_SKIPPED[$peer]="not installed or does not run (see bench/node_modules; try: cd bench && npm install)"
      warn "skipping $peer: ${RUNTIME_SKIPPED[$peer]}"
    fi
  done
}

setup_brink() {
  wants_runtime brink || return 0
  local bin
  if ! bin=$(brink_binary "$BRINK_CARGO_ARGS"); then
    RUNTIME_SKIPPED[brink]=$bin
    warn "skipping brink: ${RUNTIME_SKIPPED[brink]}"
    return 0
  fi
  RUNTIME_BIN[brink]=$bin
  RUNTIME_VERSION[brink]=$(version_of "$bin")
  RUNTIME_VERSION[brink]=${RUNTIME_VERSION[brink]:-dev}
  log "brink ${RUNTIME_VERSION[brink]}: ${bin#"$REPO_DIR/"}"
}

# ---------------------------------------------------------------------------
# One start function per runtime: start_<runtime> <worker.js> <port> <log file>.
# Each starts the server with start_server, which sets SERVER_PID.
# ---------------------------------------------------------------------------

start_brink() {
  local worker=$1 port=$2 logfile=$3
  start_server "$logfile" "${RUNTIME_BIN[brink]}" dev "$worker" --port "$port" --host 127.0.0.1
}

start_workerd() {
  local worker=$1 port=$2 logfile=$3
  local dir
  dir=$(mktemp -d "$WORK_DIR/workerd.XXXXXX")
  cp "$worker" "$dir/worker.js"
  cat >"$dir/config.capnp" <<EOF
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .benchWorker)],
  sockets = [(name = "http", address = "127.0.0.1:$port", http = (), service = "main")],
);

const benchWorker :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = "$WORKERD_COMPAT_DATE",
);
EOF
  start_server "$logfile" "${RUNTIME_BIN[workerd]}" serve "$dir/config.capnp"
}

start_deno() {
  local worker=$1 port=$2 logfile=$3
  DENO_NO_UPDATE_CHECK=1 start_server "$logfile" "${RUNTIME_BIN[deno]}" serve --allow-net \
    --port "$port" --host 127.0.0.1 "$worker"
}

start_bun() {
  local worker=$1 port=$2 logfile=$3
  DO_NOT_TRACK=1 start_server "$logfile" "${RUNTIME_BIN[bun]}" "$BENCH_DIR/peer-serve.mjs" "$worker" "$port"
}

# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------

json_escape() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  printf '%s' "$s"
}

# record_jsonl <workload> <runtime> <round> <rps> <p50_ms> <p99_ms> <errors>
record_jsonl() {
  local workload=$1 runtime=$2
  printf '{"time":"%s","workload":"%s","runtime":"%s","version":"%s","path":"%s","round":%s,"duration_s":%s,"threads":%s,"connections":%s,"rps":%s,"p50_ms":%s,"p99_ms":%s,"errors":%s,"cores":%s,"load1_at_start":%s}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$workload" "$runtime" \
    "$(json_escape "${RUNTIME_VERSION[$runtime]}")" "$(json_escape "${WORKLOAD_PATH[$workload]}")" \
    "$3" "$DURATION" "$THREADS" "$CONNECTIONS" "$4" "$5" "$6" "$7" "$(nproc)" "$LOAD_AT_START" \
    >>"$RESULTS_FILE"
}

# measure <workload> <runtime> <round>: start, check, warm up, load, stop.
measure() {
  local workload=$1 runtime=$2 round=$3 key="$1/$2"
  local worker=${WORKLOAD_FILE[$workload]} path=${WORKLOAD_PATH[$workload]}
  local port logfile url body
  port=$(free_port)
  logfile="$WORK_DIR/$runtime-$workload.log"
  url="http://127.0.0.1:$port$path"

  log "$workload on $runtime (round $round/$ROUNDS, port $port)"
  "start_$runtime" "$worker" "$port" "$logfile"

  local not_ready
  if ! not_ready=$(wait_until_ready "$url"); then
    FAILED[$key]=$not_ready
    warn "$runtime: ${FAILED[$key]}; its log:"
    tail -n 20 "$logfile" >&2 || true
    stop_server
    return 0
  fi

  body=$(curl -s --max-time 5 -w '\n%{http_code}' "$url" || true)
  if [[ ${body##*$'\n'} != 200 || $body != *"${WORKLOAD_EXPECT[$workload]}"* ]]; then
    FAILED[$key]="wrong response (status ${body##*$'\n'})"
    warn "$runtime: ${FAILED[$key]}: ${body:0:300}"
    tail -n 20 "$logfile" >&2 || true
    stop_server
    return 0
  fi

  local report="$WORK_DIR/wrk-$runtime-$workload.out" loaded=1
  load_with_wrk "$THREADS" "$CONNECTIONS" "$url" "$report" 3 || loaded=0
  stop_server
  if ((!loaded)); then
    FAILED[$key]="could not parse wrk output"
    warn "$runtime: ${FAILED[$key]}:"$'\n'"$(<"$report")"
    return 0
  fi
  local rps=$WRK_RPS p50=$WRK_P50_MS p99=$WRK_P99_MS errors=$WRK_ERRORS
  if ((errors > 0)); then
    warn "$runtime: $errors non-2xx responses or socket errors during the $workload run"
  fi
  SAMPLES[$key]+="$rps $p50 $p99 $errors"$'\n'
  record_jsonl "$workload" "$runtime" "$round" "$rps" "$p50" "$p99" "$errors"
}

# Reports the round with the median req/s (for an even count, the lower middle one),
# keeping its latencies together with its throughput.
pick_median_round() {
  local key=$1 rps p50 p99 errors
  [[ -n ${SAMPLES[$key]:-} ]] || return 0
  read -r rps p50 p99 errors < <(sort -g -k1,1 <<<"${SAMPLES[$key]%$'\n'}" |
    awk '{ line[NR] = $0 } END { print line[int((NR + 1) / 2)] }')
  RPS[$key]=$rps P50[$key]=$p50 P99[$key]=$p99 ERRORS[$key]=$errors
}

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

print_table() {
  local workload=$1 runtime key brink_rps ratio
  brink_rps=${RPS[$workload/brink]:-}
  echo
  echo "## $workload — ${WORKLOAD_FILE[$workload]#"$REPO_DIR/"}, GET ${WORKLOAD_PATH[$workload]}" \
    "(wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, median of $ROUNDS round(s))"
  printf '%-8s %-12s %11s %10s %10s %8s  %s\n' runtime version req/s p50_ms p99_ms errors "brink/peer"
  for runtime in $RUNTIMES; do
    key="$workload/$runtime"
    if [[ -n ${RPS[$key]:-} ]]; then
      ratio="-"
      if [[ -n $brink_rps && $runtime != brink ]]; then
        ratio=$(awk -v b="$brink_rps" -v p="${RPS[$key]}" 'BEGIN { printf "%.2fx", b / p }')
      fi
      printf '%-8s %-12s %11.0f %10.2f %10.2f %8d  %s\n' "$runtime" "${RUNTIME_VERSION[$runtime]}" \
        "${RPS[$key]}" "${P50[$key]}" "${P99[$key]}" "${ERRORS[$key]}" "$ratio"
    else
      printf '%-8s %s\n' "$runtime" "not measured: ${FAILED[$key]:-${RUNTIME_SKIPPED[$runtime]:-unknown}}"
    fi
  done
}

main() {
  require_int DURATION 1 300
  require_int ROUNDS 1 10
  require_int THREADS 1 64
  require_int CONNECTIONS 1 10000
  local workload runtime
  for workload in $WORKLOADS; do
    [[ -n ${WORKLOAD_FILE[$workload]:-} ]] || die "unknown workload '$workload' (known: ${!WORKLOAD_FILE[*]})"
  done
  for runtime in $RUNTIMES; do
    [[ $runtime =~ ^(brink|workerd|deno|bun)$ ]] || die "unknown runtime '$runtime' (known: brink workerd deno bun)"
  done

  apt_install wrk curl || die "wrk and curl are required"
  setup_peers
  setup_brink
  ((${#RUNTIME_BIN[@]} > 0)) || die "no runtime to measure"

  WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/brink-bench.XXXXXX")
  mkdir -p "$(dirname "$RESULTS_FILE")"
  : >"$RESULTS_FILE"

  LOAD_AT_START=$(load_average)
  if is_busy "$LOAD_AT_START"; then
    warn "the machine is busy (1-min load $LOAD_AT_START on $(nproc) cores): absolute numbers" \
      "will be low; ratios hold up better, more so with ROUNDS=3"
  fi

  local round
  for workload in $WORKLOADS; do
    for ((round = 1; round <= ROUNDS; round++)); do
      for runtime in $RUNTIMES; do
        if [[ -n ${RUNTIME_BIN[$runtime]:-} && -z ${FAILED[$workload/$runtime]:-} ]]; then
          measure "$workload" "$runtime" "$round"
        fi
      done
    done
    for runtime in $RUNTIMES; do pick_median_round "$workload/$runtime"; done
  done

  echo
  echo "# Brink benchmark — $(nproc) cores, $(date -u +%Y-%m-%d), 1-min load at start $LOAD_AT_START"
  for workload in $WORKLOADS; do
    print_table "$workload"
  done
  echo
  echo "brink/peer = Brink's req/s divided by the peer's (above 1.00x: Brink is faster)."
  echo "Raw results: ${RESULTS_FILE#"$REPO_DIR/"}"

  # A runtime that is installed but fails to serve the workload is an error;
  # one that is not installed was already reported as skipped.
  if ((${#FAILED[@]} > 0)); then
    warn "${#FAILED[@]} measurement(s) failed: ${!FAILED[*]}"
    exit 1
  fi
}

main "$@"
