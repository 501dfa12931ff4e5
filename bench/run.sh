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

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
RESULTS_FILE="$BENCH_DIR/results/latest.jsonl"

DURATION=${DURATION:-5}
WORKLOADS=${WORKLOADS:-hello json}
RUNTIMES=${RUNTIMES:-brink workerd deno bun}
ROUNDS=${ROUNDS:-1}
THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-50}
BRINK_BUILD=${BRINK_BUILD:-1}
BRINK_CARGO_ARGS=${BRINK_CARGO_ARGS:-}
WARMUP_SECONDS=1
READY_TIMEOUT_SECONDS=30
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

WORK_DIR=""
SERVER_PID=""
WRK_PID=""
LOAD_AT_START=""

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# Process lifecycle: one server at a time, always stopped, even on Ctrl-C.
# ---------------------------------------------------------------------------

# Servers run under setsid in their own process group, so stopping the group also
# stops anything a runtime may have spawned, and Ctrl-C in the terminal reaches
# only this script (whose trap then stops the server).
stop_server() {
  local pid=$SERVER_PID
  [[ -n $pid ]] || return 0
  SERVER_PID=""
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  if [[ -n $WRK_PID ]]; then kill "$WRK_PID" 2>/dev/null || true; fi
  stop_server
  if [[ -n $WORK_DIR ]]; then rm -rf "$WORK_DIR"; fi
}
trap cleanup EXIT
trap 'echo >&2; warn "interrupted"; exit 130' INT
trap 'warn "terminated"; exit 143' TERM

# A port nobody listens on. Random rather than sequential so that a run right
# after another does not land on a port still in TIME_WAIT.
free_port() {
  local port i
  for ((i = 0; i < 100; i++)); do
    port=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  die "found no free port on 127.0.0.1"
}

# ---------------------------------------------------------------------------
# Setup: apt packages, peers from npm, Brink from cargo.
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

# First candidate binary that answers `--version`. The platform packages hold the
# native binaries; the .bin entries come last because, when npm did not run the
# packages' install scripts, they are Node launchers that would sit between the
# harness and the server process.
first_working_bin() {
  local candidate
  for candidate in "$@"; do
    if [[ -x $candidate ]] && "$candidate" --version >/dev/null 2>&1; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

find_peer_bin() {
  local nm="$BENCH_DIR/node_modules"
  case $1 in
    workerd) first_working_bin "$nm"/@cloudflare/workerd-linux-*/bin/workerd "$nm/.bin/workerd" ;;
    deno) first_working_bin "$nm"/@deno/linux-*/deno "$nm/deno/deno" "$nm/.bin/deno" ;;
    bun) first_working_bin "$nm/bun/bin/bun.exe" "$nm"/@oven/bun-linux-*/bin/bun "$nm/.bin/bun" ;;
  esac
}

# The first version-looking word of the first line:
# "deno 2.9.6 (stable, ...)" -> "2.9.6"; "1.4.5" -> "1.4.5"; "workerd 2026-11-17" -> "2026-11-17"
version_of() {
  { "$1" --version 2>/dev/null || true; } |
    awk 'NR == 1 { for (i = 1; i <= NF; i++) if ($i ~ /^v?[0-9]/) { print $i; exit } }'
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
  local bin=${BRINK_BIN:-}
  if [[ -z $bin ]]; then
    bin="$REPO_DIR/target/release/brink"
    if [[ $BRINK_BUILD == 1 ]]; then
      local -a cargo_args
      read -ra cargo_args <<<"$BRINK_CARGO_ARGS"
      log "building brink (cargo build --release -p brink-gateway${BRINK_CARGO_ARGS:+ $BRINK_CARGO_ARGS})"
      if ! (cd "$REPO_DIR" && cargo build --release -p brink-gateway "${cargo_args[@]}"); then
        # Never measure a stale binary left over from an earlier build.
        RUNTIME_SKIPPED[brink]="cargo build --release -p brink-gateway${BRINK_CARGO_ARGS:+ $BRINK_CARGO_ARGS} failed"
        warn "skipping brink: ${RUNTIME_SKIPPED[brink]}"
        return 0
      fi
    fi
  fi
  if [[ ! -x $bin ]]; then
    RUNTIME_SKIPPED[brink]="no binary at $bin (build it or set BRINK_BIN)"
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
# Each starts the server in the background and sets SERVER_PID.
# ---------------------------------------------------------------------------

start_brink() {
  local worker=$1 port=$2 logfile=$3
  setsid "${RUNTIME_BIN[brink]}" dev "$worker" --port "$port" --host 127.0.0.1 \
    >"$logfile" 2>&1 </dev/null &
  SERVER_PID=$!
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
  setsid "${RUNTIME_BIN[workerd]}" serve "$dir/config.capnp" >"$logfile" 2>&1 </dev/null &
  SERVER_PID=$!
}

start_deno() {
  local worker=$1 port=$2 logfile=$3
  DENO_NO_UPDATE_CHECK=1 setsid "${RUNTIME_BIN[deno]}" serve --allow-net \
    --port "$port" --host 127.0.0.1 "$worker" >"$logfile" 2>&1 </dev/null &
  SERVER_PID=$!
}

start_bun() {
  local worker=$1 port=$2 logfile=$3
  DO_NOT_TRACK=1 setsid "${RUNTIME_BIN[bun]}" "$BENCH_DIR/bun-serve.mjs" "$worker" "$port" \
    >"$logfile" 2>&1 </dev/null &
  SERVER_PID=$!
}

# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------

# Prints why the server is not ready, if it is not.
wait_until_ready() {
  local url=$1 deadline=$((SECONDS + READY_TIMEOUT_SECONDS))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "exited before answering"
      return 1
    fi
    curl -s -o /dev/null --max-time 1 "$url" && return 0
    sleep 0.1
  done
  echo "did not answer within ${READY_TIMEOUT_SECONDS}s"
  return 1
}

# run_wrk <seconds> <url> <report file>
# wrk catches SIGINT, stops early and exits 0; bash, seeing its child exit normally,
# would then carry on with a truncated measurement. So wrk runs in its own session,
# out of reach of the terminal's Ctrl-C, while the script waits for it: the SIGINT
# goes to the script alone, whose trap stops wrk and the server.
run_wrk() {
  setsid wrk -t"$THREADS" -c"$CONNECTIONS" -d"$1s" --latency "$2" >"$3" 2>&1 </dev/null &
  WRK_PID=$!
  wait "$WRK_PID" || true
  WRK_PID=""
}

# wrk prints latencies as e.g. "812.00us", "1.59ms", "2.01s"; normalise to ms.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.3f", n
  }'
}

# Prints "<req/s> <p50> <p99> <errors>" parsed from wrk's output on stdin.
parse_wrk() {
  awk '
    /Requests\/sec:/ { rps = $2 }
    $1 == "50%" { p50 = $2 }
    $1 == "99%" { p99 = $2 }
    /Non-2xx or 3xx responses:/ { errors += $NF }
    /Socket errors:/ { for (i = 4; i <= NF; i += 2) { v = $i; gsub(/,/, "", v); errors += v } }
    END { printf "%s %s %s %d\n", rps, p50, p99, errors }
  '
}

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

  local report="$WORK_DIR/wrk-$runtime-$workload.out" output rps p50 p99 errors
  run_wrk "$WARMUP_SECONDS" "$url" "$report"
  run_wrk "$DURATION" "$url" "$report"
  output=$(<"$report")
  stop_server

  read -r rps p50 p99 errors < <(parse_wrk <<<"$output")
  if [[ -z $rps || -z $p50 || -z $p99 ]]; then
    FAILED[$key]="could not parse wrk output"
    warn "$runtime: ${FAILED[$key]}:"$'\n'"$output"
    return 0
  fi
  p50=$(to_ms "$p50")
  p99=$(to_ms "$p99")
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

# require_int <variable name> <min> <max>: the bounds keep every load finite.
require_int() {
  local value=${!1}
  if [[ ! $value =~ ^[0-9]{1,6}$ ]] || ((10#$value < $2 || 10#$value > $3)); then
    die "$1 must be a whole number between $2 and $3 (got '$value')"
  fi
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

  LOAD_AT_START=$(cut -d' ' -f1 /proc/loadavg)
  if awk -v l="$LOAD_AT_START" -v c="$(nproc)" 'BEGIN { exit !(l > c / 4) }'; then
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
