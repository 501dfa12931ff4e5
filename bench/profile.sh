#!/usr/bin/env bash
# Where a request's time goes on the isolate thread, in instructions (callgrind),
# which unlike req/s do not move with the machine's load. Runs `brink dev` with one
# isolate under valgrind, loads it with wrk for a few seconds, and prints per
# request: the dispatch (build the Request, run the handler), the microtask
# checkpoint after it, the answer (take the settled Response and hand it back,
# runtime/src/handoff.rs), and the response op within them.
#
#   bash bench/profile.sh                       # hello and json
#   WORKLOADS=json DURATION=10 bash bench/profile.sh
#   BRINK_BIN=/tmp/old-brink bash bench/profile.sh   # compare two builds
#
# Environment: WORKLOADS (hello json), DURATION (seconds of load, default 8),
# BRINK_BIN / BRINK_BUILD as for bench/run.sh. Needs valgrind
# (`bash scripts/install-deps.sh --bench`). The callgrind files stay in
# bench/results/callgrind/ for `callgrind_annotate --inclusive=yes`.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WORKLOADS=${WORKLOADS:-hello json}
DURATION=${DURATION:-8}
require_int DURATION 1 120
command -v valgrind >/dev/null || die "valgrind not found (bash scripts/install-deps.sh --bench)"
command -v wrk >/dev/null || die "wrk not found (bash scripts/install-deps.sh --bench)"

bin=$(brink_binary) || die "$bin"
out_dir="$BENCH_DIR/results/callgrind"
mkdir -p "$out_dir"
WORK_DIR=$(mktemp -d)

# Prints "<inclusive instructions> <calls>" of the first function whose name
# ends in $2, from the calling tree $1 (calls: how often its caller called it).
inclusive() {
  python3 - "$1" "$2" <<'PY'
import re, sys
tree = open(sys.argv[1]).read()
name = re.escape(sys.argv[2])
# The object file (" [...]") is not named on every line: callgrind names
# it once per file, and an inlined caller's lines carry none.
total = re.search(r"^\s*([\d,]+) \([^)]*\)\s+\*\s+\S*" + name + r"(?: \[|$)", tree, re.M)
calls = re.search(r">\s+\S*" + name + r" \(([\d,]+)x\)", tree)
value = lambda m: int(m.group(1).replace(",", "")) if m else 0
print(value(total), value(calls))
PY
}

printf '%-8s %10s %12s %12s %12s %12s %12s\n' workload requests dispatch microtasks answer "respond op" total
for workload in $WORKLOADS; do
  case $workload in
    hello) worker=examples/hello/worker.js path=/ ;;
    json) worker=examples/json-api/worker.js path=/api/users/42 ;;
    *) die "unknown workload $workload (hello, json)" ;;
  esac
  port=$(free_port)
  file="$out_dir/$workload.out"
  rm -f "$file"*
  start_server "$WORK_DIR/$workload.log" valgrind --tool=callgrind --separate-threads=yes \
    --callgrind-out-file="$file" "$bin" dev "$REPO_DIR/$worker" --port "$port" --isolates 1 --no-watch
  READY_TIMEOUT_SECONDS=120 wait_until_ready "http://127.0.0.1:$port$path" >/dev/null ||
    die "brink did not start under valgrind (log: $WORK_DIR/$workload.log)"
  run_wrk 1 4 "$DURATION" "http://127.0.0.1:$port$path" "$WORK_DIR/$workload.wrk"
  stop_server
  # The isolate thread is the one that ran the dispatch: the largest file.
  thread=$(ls -S "$file"-* | head -1)
  callgrind_annotate --tree=calling --inclusive=yes "$thread" >"$WORK_DIR/$workload.tree" 2>/dev/null
  read -r dispatch requests < <(inclusive "$WORK_DIR/$workload.tree" "brink_runtime::handoff::Handoff::dispatch")
  read -r microtasks _ < <(inclusive "$WORK_DIR/$workload.tree" "v8__Isolate__PerformMicrotaskCheckpoint")
  read -r answer _ < <(inclusive "$WORK_DIR/$workload.tree" "brink_runtime::handoff::Handoff::answer_settled")
  read -r respond _ < <(inclusive "$WORK_DIR/$workload.tree" "op_brink_respond::op_brink_respond::call")
  ((requests > 0)) || die "no dispatch found in $thread"
  printf '%-8s %10d %12d %12d %12d %12d %12d\n' "$workload" "$requests" $((dispatch / requests)) \
    $((microtasks / requests)) $((answer / requests)) $((respond / requests)) \
    $(((dispatch + microtasks + answer) / requests))
done
