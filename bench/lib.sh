# shellcheck shell=bash
# What the benchmark scripts (bench/run.sh, bench/kv.sh) share: logging, one server
# at a time that is always stopped, free loopback ports, finding the peers in
# bench/node_modules and the brink binary, and loading a server with wrk.
#
# Sourced, never run. Sourcing it sets BENCH_DIR and REPO_DIR and installs the
# traps that stop the server and wrk on exit, failure, Ctrl-C or SIGTERM. The
# sourcing script sets DURATION (seconds of measured load) before it calls
# load_with_wrk, and may set WORK_DIR, a scratch directory removed on exit.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)

WARMUP_SECONDS=1
READY_TIMEOUT_SECONDS=30

WORK_DIR=""
SERVER_PID=""
WRK_PID=""

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# require_int <variable name> <min> <max>: the bounds keep every load finite.
require_int() {
  local value=${!1}
  if [[ ! $value =~ ^[0-9]{1,6}$ ]] || ((10#$value < $2 || 10#$value > $3)); then
    die "$1 must be a whole number between $2 and $3 (got '$value')"
  fi
}

# The 1-minute load average.
load_average() { cut -d' ' -f1 /proc/loadavg; }

# is_busy <load>: true when the load is above a quarter of the cores, where
# absolute numbers start to drop.
is_busy() { awk -v l="$1" -v c="$(nproc)" 'BEGIN { exit !(l > c / 4) }'; }

# ---------------------------------------------------------------------------
# Process lifecycle: one server at a time, always stopped, even on Ctrl-C.
# ---------------------------------------------------------------------------

# start_server <log file> <command> [args...]: starts the server in the background
# and sets SERVER_PID. Environment for the server goes before the call
# (`VAR=value start_server ...`); bash passes it on to the command.
#
# Servers run under setsid in their own process group, so stopping the group also
# stops anything a runtime may have spawned, and Ctrl-C in the terminal reaches
# only the script (whose trap then stops the server).
start_server() {
  local logfile=$1
  shift
  setsid "$@" >"$logfile" 2>&1 </dev/null &
  SERVER_PID=$!
}

stop_server() {
  local pid=$SERVER_PID i
  [[ -n $pid ]] || return 0
  SERVER_PID=""
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
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

# start_brink_serve <brink binary> <config file> <admin URL>: starts `brink
# serve` (admin token $TOKEN, log $WORK_DIR/serve.log) and waits until its
# admin API answers /healthz.
start_brink_serve() {
  local deadline=$((SECONDS + READY_TIMEOUT_SECONDS))
  BRINK_ADMIN_TOKEN=$TOKEN start_server "$WORK_DIR/serve.log" "$1" serve --config "$2"
  until curl -s -o /dev/null "$3/healthz"; do
    ((SECONDS < deadline)) || die "brink serve did not start (log: $WORK_DIR/serve.log)"
    sleep 0.1
  done
}

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

# ---------------------------------------------------------------------------
# Binaries: peers from bench/node_modules, Brink from cargo.
# ---------------------------------------------------------------------------

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

# find_peer_bin <workerd|deno|bun>: the peer's binary in bench/node_modules.
find_peer_bin() {
  local nm="$BENCH_DIR/node_modules"
  case $1 in
    workerd) first_working_bin "$nm"/@cloudflare/workerd-linux-*/bin/workerd "$nm/.bin/workerd" ;;
    deno) first_working_bin "$nm"/@deno/linux-*/deno "$nm/deno/deno" "$nm/.bin/deno" ;;
    bun) first_working_bin "$nm/bun/bin/bun.exe" "$nm"/@oven/bun-linux-*/bin/bun "$nm/.bin/bun" ;;
    *) return 1 ;;
  esac
}

# The first version-looking word of the first line:
# "deno 2.9.6 (stable, ...)" -> "2.9.6"; "1.4.5" -> "1.4.5"; "workerd 2026-11-17" -> "2026-11-17"
version_of() {
  { "$1" --version 2>/dev/null || true; } |
    awk 'NR == 1 { for (i = 1; i <= NF; i++) if ($i ~ /^v?[0-9]/) { print $i; exit } }'
}

# brink_binary [extra cargo build arguments]: prints the brink binary to measure,
# $BRINK_BIN or else target/release/brink, built first unless BRINK_BUILD=0.
# Otherwise prints why there is none and returns 1.
brink_binary() {
  local cargo_extra=${1:-} bin=${BRINK_BIN:-}
  if [[ -z $bin ]]; then
    bin="$REPO_DIR/target/release/brink"
    if [[ ${BRINK_BUILD:-1} == 1 ]]; then
      local -a cargo_args
      read -ra cargo_args <<<"$cargo_extra"
      log "building brink (cargo build --release -p brink-gateway${cargo_extra:+ $cargo_extra})"
      if ! (cd "$REPO_DIR" && cargo build --release -p brink-gateway "${cargo_args[@]}" >&2); then
        # Never measure a stale binary left over from an earlier build.
        echo "cargo build --release -p brink-gateway${cargo_extra:+ $cargo_extra} failed"
        return 1
      fi
    fi
  fi
  if [[ ! -x $bin ]]; then
    echo "no binary at $bin (build it or set BRINK_BIN)"
    return 1
  fi
  echo "$bin"
}

# ---------------------------------------------------------------------------
# Load with wrk
# ---------------------------------------------------------------------------

# run_wrk <threads> <connections> <seconds> <url> <report file>
# wrk catches SIGINT, stops early and exits 0; bash, seeing its child exit normally,
# would then carry on with a truncated measurement. So wrk runs in its own session,
# out of reach of the terminal's Ctrl-C, while the script waits for it: the SIGINT
# goes to the script alone, whose trap stops wrk and the server.
run_wrk() {
  setsid wrk -t"$1" -c"$2" -d"$3s" --latency "$4" >"$5" 2>&1 </dev/null &
  WRK_PID=$!
  wait "$WRK_PID" || true
  WRK_PID=""
}

# to_ms <latency> [decimals]: wrk prints latencies as e.g. "812.00us", "1.59ms",
# "2.01s"; normalise to ms, with 3 decimals unless told.
to_ms() {
  awk -v v="$1" -v f="%.${2:-3}f" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf f, n
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

# load_with_wrk <threads> <connections> <url> <report file> <ms decimals>
# Warms up for WARMUP_SECONDS, then loads for DURATION seconds, and sets WRK_RPS,
# WRK_P50_MS, WRK_P99_MS and WRK_ERRORS (non-2xx responses plus socket errors)
# from the measured run. Returns 1 if wrk's report has no numbers in it.
# Called directly, never in $(...): the trap must see WRK_PID.
# shellcheck disable=SC2034  # the WRK_* results are read by the sourcing script
load_with_wrk() {
  local threads=$1 connections=$2 url=$3 report=$4 decimals=$5 rps p50 p99 errors
  run_wrk "$threads" "$connections" "$WARMUP_SECONDS" "$url" "$report"
  run_wrk "$threads" "$connections" "$DURATION" "$url" "$report"
  read -r rps p50 p99 errors < <(parse_wrk <"$report")
  [[ -n $rps && -n $p50 && -n $p99 ]] || return 1
  WRK_RPS=$rps
  WRK_P50_MS=$(to_ms "$p50" "$decimals")
  WRK_P99_MS=$(to_ms "$p99" "$decimals")
  WRK_ERRORS=$errors
}
