#!/usr/bin/env bash
# Worker authoring, measured (docs/authoring.md):
#
# 1. `brink deploy` of a 50-module TypeScript project to a running `brink
#    serve`: time from the command to the first served request, and how much
#    of it is the TypeScript transform (in the CLI, which checks the graph,
#    and on the server, which strips the types it stores).
# 2. WebAssembly compute: req/s of a 64-bit FNV-1a hash over 1 MiB in
#    examples/wasm-hash/hash.wasm, on Brink, workerd and `deno serve`.
# 3. A ~1 MiB WebAssembly module: compiling it from bytes ("cold") vs
#    instantiating the module compiled at load ("cached"), in each runtime.
#
#   bash bench/authoring.sh
#   DEPLOYS=10 DURATION=10 RUNTIMES="brink workerd" bash bench/authoring.sh
#
# Environment (all optional):
#   DEPLOYS      deploys measured (default 5, 1..50); the median is printed
#   MODULES      modules in the TypeScript project (default 50, 2..900)
#   DURATION     seconds of wrk load per runtime (default 5, 1..300)
#   RUNTIMES     subset of: brink workerd deno (default: all three)
#   BRINK_BIN, BRINK_BUILD   as for bench/run.sh
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEPLOYS=${DEPLOYS:-5}
MODULES=${MODULES:-50}
DURATION=${DURATION:-5}
RUNTIMES=${RUNTIMES:-brink workerd deno}
require_int DEPLOYS 1 50
require_int MODULES 2 900
require_int DURATION 1 300
WORKERD_COMPAT_DATE=2025-01-01
WORK_DIR=$(mktemp -d)
TOKEN=bench-token-$RANDOM$RANDOM

BRINK=$(brink_binary "") || die "$BRINK"
load=$(load_average)
if is_busy "$load"; then
  warn "load average $load on $(nproc) cores: absolute numbers will be low; compare ratios only"
fi

# ---------------------------------------------------------------------------
# 1. Deploy a MODULES-module TypeScript project.
# ---------------------------------------------------------------------------

# A project shaped like real code: the entry imports every module; each
# module has interfaces, an enum, a generic class and a few functions.
project=$WORK_DIR/ts-project
mkdir -p "$project/lib"
{
  for ((i = 1; i < MODULES; i++)); do
    echo "import { handle$i, Kind$i } from \"./lib/m$i\";"
  done
  echo "export default {"
  echo "  async fetch(request: Request): Promise<Response> {"
  echo "    let total = 0;"
  for ((i = 1; i < MODULES; i++)); do
    echo "    total += handle$i(request.url.length, Kind$i.B);"
  done
  echo "    return new Response(\`ok \${total}\n\`);"
  echo "  },"
  echo "};"
} >"$project/worker.ts"
for ((i = 1; i < MODULES; i++)); do
  cat >"$project/lib/m$i.ts" <<EOF
// Module $i of the benchmark project.
export enum Kind$i { A = 1, B = 2, C = 3 }

export interface Options$i {
  scale: number;
  label?: string;
  kind: Kind$i;
}

export class Accumulator$i<T extends number> {
  private readonly values: T[] = [];
  constructor(private readonly options: Options$i) {}
  add(value: T): this {
    this.values.push(value);
    return this;
  }
  get total(): number {
    return this.values.reduce((sum: number, v: T) => sum + v * this.options.scale, 0);
  }
}

function weigh(kind: Kind$i): number {
  switch (kind) {
    case Kind$i.A: return 1;
    case Kind$i.B: return 2;
    default: return 3;
  }
}

export function handle$i(input: number, kind: Kind$i): number {
  const acc = new Accumulator$i<number>({ scale: $i, kind });
  for (let n = 0; n < 3; n++) acc.add(input + n);
  return acc.total * weigh(kind);
}
EOF
done
log "TypeScript project: $MODULES modules, $(cat "$project/worker.ts" "$project"/lib/*.ts | wc -c) bytes"

PORT=$(free_port)
ADMIN_PORT=$(free_port)
cat >"$WORK_DIR/brink.toml" <<EOF
listen = "127.0.0.1:$PORT"
admin_listen = "127.0.0.1:$ADMIN_PORT"
data_dir = "$WORK_DIR/data"
EOF
# The bundle's debug line carries the transform's time.
NO_COLOR=1 RUST_LOG=info,brink_runtime::bundle=debug start_brink_serve "$BRINK" "$WORK_DIR/brink.toml" "http://127.0.0.1:$ADMIN_PORT"

now_ms() { date +%s%3N; }
# Sum of transform_us over the "bundle made" lines of a log.
transform_us() { { grep -o 'transform_us=[0-9]*' "$1" || true; } | awk -F= '{ s += $2 } END { print s + 0 }'; }

for ((d = 1; d <= DEPLOYS; d++)); do
  name=ts$d
  before_server=$(transform_us "$WORK_DIR/serve.log")
  started=$(now_ms)
  NO_COLOR=1 RUST_LOG=brink_runtime::bundle=debug BRINK_ADMIN_URL="http://127.0.0.1:$ADMIN_PORT" BRINK_ADMIN_TOKEN=$TOKEN \
    "$BRINK" deploy "$project/worker.ts" --name "$name" --route "$name.bench" >"$WORK_DIR/deploy.out" 2>"$WORK_DIR/deploy.err" ||
    die "deploy failed: $(cat "$WORK_DIR/deploy.err")"
  deployed=$(now_ms)
  until curl -sf -o /dev/null -H "Host: $name.bench" "http://127.0.0.1:$PORT/"; do
    (($(now_ms) - started < 30000)) || die "$name never answered"
  done
  served=$(now_ms)
  sleep 0.2 # let the server's log line reach the file
  cli_us=$(transform_us "$WORK_DIR/deploy.err")
  server_us=$(($(transform_us "$WORK_DIR/serve.log") - before_server))
  total=$((served - started))
  printf 'deploy %d: command -> first request %d ms (deploy returned at %d ms); transform: CLI %.1f ms, server %.1f ms\n' \
    "$d" "$total" "$((deployed - started))" "$(awk -v u="$cli_us" 'BEGIN { print u / 1000 }')" \
    "$(awk -v u="$server_us" 'BEGIN { print u / 1000 }')"
  echo "$total $cli_us $server_us" >>"$WORK_DIR/deploys"
done
sort -n "$WORK_DIR/deploys" | awk -v n="$DEPLOYS" -v m="$MODULES" '
  { t[NR] = $1; c[NR] = $2; s[NR] = $3 }
  END {
    i = int((n + 1) / 2)
    printf "median deploy of %d TypeScript modules: %d ms command -> first request; transform %.1f ms (CLI) + %.1f ms (server) = %.1f%% of it\n",
      m, t[i], c[i] / 1000, s[i] / 1000, (c[i] + s[i]) / 10 / t[i]
  }'
stop_server

# ---------------------------------------------------------------------------
# 2 and 3. WebAssembly: hash req/s, and compile vs instantiate of ~1 MiB.
# ---------------------------------------------------------------------------

wasm=$WORK_DIR/wasm
mkdir -p "$wasm"
cp "$BENCH_DIR/authoring/"*.js "$wasm/"
cp "$REPO_DIR/examples/wasm-hash/hash.wasm" "$wasm/"
(cd "$REPO_DIR" && cargo run -q --release -p brink-tests --example big_wasm -- "$wasm/big.wasm") >&2 ||
  die "could not build the 1 MiB module"
cp "$wasm/big.wasm" "$wasm/big.bin"

start_runtime() {
  local port=$1
  case $2 in
    brink) start_server "$WORK_DIR/brink.log" "$BRINK" dev "$wasm/worker.js" --port "$port" --no-watch --data-dir "$WORK_DIR/dev" ;;
    workerd)
      cat >"$wasm/config.capnp" <<EOF
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .w)],
  sockets = [(name = "http", address = "127.0.0.1:$port", http = (), service = "main")],
);
const w :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "hash-core.js", esModule = embed "hash-core.js"),
    (name = "hash.wasm", wasm = embed "hash.wasm"),
    (name = "big.wasm", wasm = embed "big.wasm"),
    (name = "big.bin", data = embed "big.bin"),
  ],
  compatibilityDate = "$WORKERD_COMPAT_DATE",
);
EOF
      start_server "$WORK_DIR/workerd.log" "$(find_peer_bin workerd)" serve "$wasm/config.capnp"
      ;;
    deno)
      DENO_NO_UPDATE_CHECK=1 start_server "$WORK_DIR/deno.log" "$(find_peer_bin deno)" serve --allow-net \
        --allow-read="$wasm" --port "$port" --host 127.0.0.1 "$wasm/deno-worker.js"
      ;;
  esac
}

# Every runtime must hash the same 1 MiB to the same digest.
expected=""
declare -A HASH_RPS=()
for runtime in $RUNTIMES; do
  if [[ $runtime != brink ]] && ! find_peer_bin "$runtime" >/dev/null; then
    warn "$runtime not installed in bench/node_modules; skipped"
    continue
  fi
  port=$(free_port)
  start_runtime "$port" "$runtime"
  if ! why=$(wait_until_ready "http://127.0.0.1:$port/"); then
    warn "$runtime $why; skipped"
    stop_server
    continue
  fi
  digest=$(curl -s "http://127.0.0.1:$port/hash")
  if [[ -z $expected ]]; then expected=$digest; fi
  [[ $digest == "$expected" ]] || die "$runtime hashed to '$digest', expected '$expected'"
  cost=$(curl -s "http://127.0.0.1:$port/wasm-cost?n=5")
  load_with_wrk 1 8 "http://127.0.0.1:$port/hash" "$WORK_DIR/wrk-$runtime.txt" 1 || die "$runtime: wrk failed"
  HASH_RPS[$runtime]=$WRK_RPS
  printf '%-8s FNV-1a over 1 MiB: %8.1f req/s (p50 %s ms, errors %s); ~1 MiB module: %s\n' \
    "$runtime" "$WRK_RPS" "$WRK_P50_MS" "$WRK_ERRORS" "$cost"
  stop_server
done
if [[ -n ${HASH_RPS[brink]:-} ]]; then
  for peer in workerd deno; do
    [[ -n ${HASH_RPS[$peer]:-} ]] || continue
    awk -v b="${HASH_RPS[brink]}" -v p="${HASH_RPS[$peer]}" -v n="$peer" \
      'BEGIN { printf "brink / %s (wasm hash req/s): %.3fx\n", n, b / p }'
  done
fi
