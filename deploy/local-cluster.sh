#!/usr/bin/env bash
# A replicated Brink on one machine: 3 NATS JetStream nodes (R3) and 2 brink
# POPs serving examples/counter with its KV namespace on NATS.
#
#   deploy/local-cluster.sh            start, print the URLs, run until Ctrl-C
#   deploy/local-cluster.sh --check    start, check, stop (deploy/check.sh runs this):
#       count through POP A, read the count through POP B, kill -9 one NATS
#       node and keep counting through A, then see B agree
#
# Everything listens on 127.0.0.1. The interactive mode uses NATS 4222-4224
# (routes 6222-6224) and POPs 8787/8788; --check picks free ports. State lives
# in a temporary directory (or --dir DIR), removed on exit unless --dir.
# Needs target/release/brink (make build) and nats-server
# (scripts/install-nats.sh, or NATS_SERVER=/path/to/nats-server).
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
dir=""
while (($#)); do
  case $1 in
    --check) check=1 ;;
    --dir) dir=$2; shift ;;
    *) echo "usage: $0 [--check] [--dir DIR]" >&2; exit 2 ;;
  esac
  shift
done

brink=${BRINK:-$PWD/target/release/brink}
nats=${NATS_SERVER:-$PWD/third_party/nats-server/bin/nats-server}
[[ -x $brink ]] || { echo "error: $brink not built (make build)" >&2; exit 1; }
[[ -x $nats ]] || nats=$(command -v nats-server || true)
[[ -n $nats && -x $nats ]] || { echo "error: nats-server not found: bash scripts/install-nats.sh" >&2; exit 1; }

keep=1
if [[ -z $dir ]]; then dir=$(mktemp -d); keep=0; fi
mkdir -p "$dir"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if ((keep == 0)); then rm -rf "$dir"; fi
}
trap cleanup EXIT

# Below the kernel's ephemeral range (32768+): a port from bind(0) can become
# the source port of a node dialling a route that is not listening yet. All
# eight are picked in one go, so no two of them are the same port.
free_ports() {
  python3 - "$1" <<'PY'
import random, socket, sys
picked = set()
while len(picked) < int(sys.argv[1]):
    port = random.randrange(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        picked.add(port)
    except OSError:
        pass
    finally:
        s.close()
print(" ".join(map(str, picked)))
PY
}
if ((check)); then
  ports=($(free_ports 8))
  client_ports=("${ports[@]:0:3}")
  route_ports=("${ports[@]:3:3}")
  pop_ports=("${ports[@]:6:2}")
else
  client_ports=(4222 4223 4224)
  route_ports=(6222 6223 6224)
  pop_ports=(8787 8788)
fi
routes=$(printf '"nats-route://127.0.0.1:%s", ' "${route_ports[@]}")

declare -A nats_pid
start_nats() {
  local i=$1
  "$nats" -c "$dir/n$i.conf" >>"$dir/n$i.log" 2>&1 &
  nats_pid[$i]=$!
  pids+=($!)
}
for i in 0 1 2; do
  mkdir -p "$dir/n$i"
  cat >"$dir/n$i.conf" <<EOF
server_name: n$i
listen: "127.0.0.1:${client_ports[$i]}"
# Values up to Workers KV's 25 MiB travel in one message.
max_payload: 32MB
max_pending: 128MB
jetstream { store_dir: "$dir/n$i", max_memory_store: 64MB, max_file_store: 4GB }
cluster { name: brink-local, listen: "127.0.0.1:${route_ports[$i]}", routes: [${routes%, }] }
EOF
  start_nats "$i"
done
servers=$(printf 'nats://127.0.0.1:%s,' "${client_ports[@]}")
servers=${servers%,}

# JetStream answers once the cluster has a meta leader; a POP connects then.
wait_port() {
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}
for port in "${client_ports[@]}"; do wait_port "$port" || { echo "error: NATS on $port did not start" >&2; exit 1; }; done

start_pop() {
  local name=$1 port=$2 tries
  for tries in $(seq 1 30); do
    BRINK_POP=$name RUST_LOG=${RUST_LOG:-info} "$brink" dev examples/counter/worker.js --host 127.0.0.1 --port "$port" \
      --kv COUNTS --data-dir "$dir/pop-$name" --kv-nats "$servers" >>"$dir/pop-$name.log" 2>&1 &
    local pid=$!
    if wait_port "$port"; then pids+=($pid); return 0; fi
    # Refused at start (the cluster was still electing its leader): try again.
    kill -9 "$pid" 2>/dev/null || true
    sleep 1
  done
  echo "error: POP $name did not start; log:" >&2
  tail -20 "$dir/pop-$name.log" >&2
  return 1
}
start_pop a "${pop_ports[0]}"
start_pop b "${pop_ports[1]}"

a=http://127.0.0.1:${pop_ports[0]}
b=http://127.0.0.1:${pop_ports[1]}
if ((check == 0)); then
  echo "NATS:  $servers   (state and logs in $dir)"
  echo "POP a: $a"
  echo "POP b: $b"
  echo "try:   curl $a/ ; curl $b/     (Ctrl-C stops everything)"
  wait
  exit 0
fi

fail() { echo "FAIL: $*" >&2; tail -n 5 "$dir"/*.log >&2; exit 1; }
# One visit through a POP, returned once that POP reads its own write back.
# The counter writes its new count in ctx.waitUntil, after the response. The
# next visit must not start before the write is acknowledged. During a NATS
# failover a write can wait seconds for a stream leader. Visits that overlap
# then race their writes (every one of them writes the count it read), and
# the stream ends up holding whichever write landed last, not the highest
# count. A write that failed (no leader within its deadline) is made again by
# the next visit, which reads the same count.
count_via() {
  local url=$1 out n
  for _ in $(seq 1 20); do
    out=$(curl -fsS --max-time 15 "$url/" 2>/dev/null) || { sleep 0.2; continue; }
    [[ $out =~ ^hello\ \#([0-9]+)$ ]] || { echo "$out"; return 0; }
    n=${BASH_REMATCH[1]}
    for _ in $(seq 1 100); do
      [[ $(curl -fsS --max-time 15 "$url/?peek" 2>/dev/null) == "seen $n" ]] && { echo "$out"; return 0; }
      sleep 0.2
    done
  done
  return 1
}
# POP b sees a count written through POP a (milliseconds on loopback; after
# a NATS node dies, once its watch has moved to another node). Peeking does
# not count a visit, so waiting here never writes a stale count.
wait_until_b_sees() {
  local want=$1 got=""
  for _ in $(seq 1 100); do
    got=$(curl -fsS --max-time 15 "$b/?peek" 2>/dev/null) && [[ $got == "seen $want" ]] && return 0
    sleep 0.2
  done
  fail "POP b still says '$got', expected 'seen $want'"
}
for n in 1 2 3; do
  got=$(count_via "$a") || fail "POP a does not answer"
  [[ $got == "hello #$n" ]] || fail "POP a said '$got', expected 'hello #$n'"
done
wait_until_b_sees 3
got=$(count_via "$b") || fail "POP b does not answer"
[[ $got == "hello #4" ]] || fail "POP b said '$got' after three visits through POP a"

kill -9 "${nats_pid[0]}"
wait "${nats_pid[0]}" 2>/dev/null || true
# Writes go on through the two remaining nodes (possibly after a leader election).
for n in 5 6 7; do
  got=$(count_via "$a") || fail "POP a stopped counting after kill -9 of a NATS node"
  [[ $got == "hello #$n" ]] || fail "POP a said '$got' after kill -9 of a NATS node, expected 'hello #$n'"
done
wait_until_b_sees 7
got=$(count_via "$b") || fail "POP b does not answer"
[[ $got == "hello #8" ]] || fail "POP b said '$got', expected 'hello #8'"
echo "ok: 3 NATS nodes + 2 POPs; counts agree across POPs, also after kill -9 of a NATS node"
