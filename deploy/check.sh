#!/usr/bin/env bash
# Checks the deployment files without Docker or a cluster:
#   - the Kubernetes manifests parse as YAML and hold what deploy/README.md
#     promises (non-root, read-only root FS, probes, limits, a PVC, matching
#     labels, the worker script valid JS);
#   - the systemd unit passes `systemd-analyze verify` (skipped if absent);
#   - the Dockerfile copies only files that exist and are not dockerignored;
#   - if target/release/brink is built: the brink command line of the systemd
#     unit, the Dockerfile and the StatefulSet each really serve the counter
#     worker with KV and exit cleanly on SIGTERM (ports and paths swapped for
#     local ones).
set -euo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
skipped=0
pass() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }
skip() { echo "skip: $*"; skipped=$((skipped + 1)); }

if ! python3 -c 'import yaml' 2>/dev/null; then
  python3 -m pip install --quiet pyyaml
fi

# --- Kubernetes manifests -------------------------------------------------
if python3 - <<'PY'
import glob, os, sys, yaml

docs = {}
for path in sorted(glob.glob("deploy/kubernetes/*.yaml")):
    with open(path) as f:
        for doc in yaml.safe_load_all(f):
            if doc:
                docs.setdefault(doc["kind"], []).append((path, doc))

problems = []
def need(cond, what):
    if not cond:
        problems.append(what)

kust = docs["Kustomization"][0][1]
for res in kust["resources"]:
    need(os.path.exists(os.path.join("deploy/kubernetes", res)), f"kustomization lists missing {res}")

sts = docs["StatefulSet"][0][1]
pod = sts["spec"]["template"]["spec"]
labels = sts["spec"]["template"]["metadata"]["labels"]
need(sts["spec"]["selector"]["matchLabels"].items() <= labels.items(), "selector does not match pod labels")
need(sts["spec"]["replicas"] == 1, "replicas must be 1: the embedded KV store is single-process")
need(pod["securityContext"].get("runAsNonRoot") is True, "runAsNonRoot")
need(pod["terminationGracePeriodSeconds"] > 30, "terminationGracePeriodSeconds must exceed Brink's 30 s drain")
(c,) = pod["containers"]
need(c["securityContext"].get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem")
need(c["securityContext"].get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation: false")
for probe in ("livenessProbe", "readinessProbe"):
    need(probe in c, probe)
for kind in ("requests", "limits"):
    need({"cpu", "memory"} <= c["resources"].get(kind, {}).keys(), f"resources.{kind}")
mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
args = c["args"]
need(mounts.get("data") == args[args.index("--data-dir") + 1], "the data volume is not mounted at --data-dir")
need(args[1].startswith(mounts.get("worker", "?") + "/"), "the worker ConfigMap is not mounted where args[1] points")
need(any(t["metadata"]["name"] == "data" for t in sts["spec"]["volumeClaimTemplates"]), "no PVC template named data")
port = c["ports"][0]["containerPort"]
need(str(port) == args[args.index("--port") + 1], "containerPort differs from --port")

cms = {d["metadata"]["name"]: d for _, d in docs["ConfigMap"]}
vol = next(v for v in pod["volumes"] if v["name"] == "worker")
cm = cms.get(vol["configMap"]["name"])
need(cm is not None and "worker.js" in cm["data"], "the worker ConfigMap has no worker.js")
for _, svc in docs["Service"]:
    need(svc["spec"]["selector"].items() <= labels.items(), f"Service {svc['metadata']['name']} selects no pod")
need(sts["spec"]["serviceName"] in {s["metadata"]["name"] for _, s in docs["Service"]}, "serviceName has no Service")

if cm is not None:
    os.makedirs("target/deploy-check", exist_ok=True)
    with open("target/deploy-check/configmap-worker.mjs", "w") as f:
        f.write(cm["data"]["worker.js"])
for p in problems:
    print(f"  {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY
then pass "kubernetes manifests parse and are consistent"; else fail "kubernetes manifests"; fi

if command -v node >/dev/null 2>&1; then
  if node --check target/deploy-check/configmap-worker.mjs; then
    pass "the ConfigMap's worker.js is valid JavaScript"
  else
    fail "the ConfigMap's worker.js does not parse"
  fi
else
  skip "node not installed: ConfigMap worker.js syntax"
fi

# --- systemd unit ------------------------------------------------------------
binary=$PWD/target/release/brink
if command -v systemd-analyze >/dev/null 2>&1; then
  # verify also checks that ExecStart's binary exists: point it at a local one.
  mkdir -p target/deploy-check
  stand_in=$binary
  [[ -x $stand_in ]] || stand_in=$(command -v true)
  sed "s#/usr/local/bin/brink#$stand_in#" deploy/systemd/brink.service > target/deploy-check/brink.service
  if output=$(systemd-analyze verify target/deploy-check/brink.service 2>&1) && [[ -z $output ]]; then
    pass "systemd-analyze verify brink.service"
  else
    fail "systemd-analyze verify brink.service: $output"
  fi
else
  skip "systemd-analyze not installed"
fi

# --- Dockerfile --------------------------------------------------------------
if python3 - <<'PY'
import fnmatch, os, re, sys
text = open("deploy/container/Dockerfile").read().replace("\\\n", " ")
ignored = [l.strip().rstrip("/") for l in open("deploy/container/Dockerfile.dockerignore")
           if l.strip() and not l.startswith("#")]
problems = []
for line in text.splitlines():
    m = re.match(r"\s*COPY\s+(?!--from)(.*)", line)
    if not m:
        continue
    *sources, _dest = m.group(1).split()
    for src in sources:
        if src == ".":
            continue
        if not os.path.exists(src):
            problems.append(f"COPY source {src} does not exist")
        if any(src == p or src.startswith(p + "/") or fnmatch.fnmatch(src, p) for p in ignored):
            problems.append(f"COPY source {src} is dockerignored")
# The build needs these from the context.
for needed in ("Cargo.toml", "Cargo.lock", ".cargo/config.toml", "cmake", "runtime", "gateway", "kv-store", "tests"):
    if any(needed == p or needed.startswith(p + "/") for p in ignored):
        problems.append(f"{needed} is dockerignored but the build needs it")
for p in problems:
    print(f"  {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY
then pass "Dockerfile COPY sources exist and are in the build context"; else fail "Dockerfile build context"; fi

# --- the three command lines, for real ---------------------------------------
# Prints the brink argv (one per line, binary excluded) of each deployment.
argv_of() {
  python3 - "$1" <<'PY'
import json, re, shlex, sys, yaml
which = sys.argv[1]
if which == "systemd":
    text = open("deploy/systemd/brink.service").read().replace("\\\n", " ")
    argv = shlex.split(re.search(r"^ExecStart=(.*)$", text, re.M).group(1))[1:]
elif which == "container":
    text = open("deploy/container/Dockerfile").read()
    argv = json.loads(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))
else:
    docs = yaml.safe_load_all(open("deploy/kubernetes/statefulset.yaml"))
    sts = next(d for d in docs if d and d["kind"] == "StatefulSet")
    argv = sts["spec"]["template"]["spec"]["containers"][0]["args"]
print("\n".join(argv))
PY
}

smoke() {
  local name=$1 dir port pid out status
  dir=$(mktemp -d)
  # Laid out like the ConfigMap volume: worker.js is a symlink into ..data/.
  mkdir -p "$dir/etc/..data" "$dir/data"
  cp examples/counter/worker.js "$dir/etc/..data/worker.js"
  ln -s ..data/worker.js "$dir/etc/worker.js"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  local args=()
  while IFS= read -r arg; do
    case $arg in
      /etc/brink/worker.js) arg=$dir/etc/worker.js ;;
      /var/lib/brink) arg=$dir/data ;;
      0.0.0.0) arg=127.0.0.1 ;;
      8787) arg=$port ;;
    esac
    args+=("$arg")
  done < <(argv_of "$name")
  "$binary" "${args[@]}" 2>"$dir/log" &
  pid=$!
  out=""
  for _ in $(seq 1 100); do
    if out=$(curl -fsS "http://127.0.0.1:$port/" 2>/dev/null); then break; fi
    sleep 0.1
  done
  # The counter stores its new count in ctx.waitUntil, after the response;
  # let that background write commit before asking again.
  sleep 0.5
  out+=" / $(curl -fsS "http://127.0.0.1:$port/" 2>/dev/null || true)"
  kill -TERM "$pid" 2>/dev/null || true
  status=0
  wait "$pid" || status=$?
  if [[ $out == "hello #1 / hello #2" && $status -eq 0 && -f $dir/data/kv.redb ]]; then
    pass "$name command line serves the counter worker with KV and stops on SIGTERM"
  else
    fail "$name command line: got '$out', exit $status; log:"
    sed 's/^/  /' "$dir/log" >&2
  fi
  rm -rf "$dir"
}

if [[ -x $binary ]] && command -v curl >/dev/null 2>&1; then
  for name in systemd container kubernetes; do smoke "$name"; done
else
  skip "target/release/brink not built (or no curl): command-line smoke tests"
fi

# --- replicated KV: NATS StatefulSet + Brink POPs ----------------------------
if python3 - <<'PY'
import glob, os, re, sys, yaml

base = "deploy/kubernetes-replicated"
docs = {}
for path in sorted(glob.glob(f"{base}/*.yaml")):
    with open(path) as f:
        for doc in yaml.safe_load_all(f):
            if doc:
                docs.setdefault(doc["kind"], []).append(doc)
problems = []
def need(cond, what):
    if not cond:
        problems.append(what)

kust = docs["Kustomization"][0]
for res in kust["resources"]:
    need(os.path.exists(os.path.join(base, res)), f"kustomization lists missing {res}")
nats = next(d for d in docs["StatefulSet"] if d["metadata"]["name"] == "nats")
replicas = nats["spec"]["replicas"]
need(replicas == 3, "the NATS StatefulSet must have 3 nodes (R3 streams)")
service = nats["spec"]["serviceName"]
cms = {d["metadata"]["name"]: d for d in docs["ConfigMap"]}
conf = cms["nats-config"]["data"]["nats.conf"]
routes = set(re.findall(r"nats-route://([\w.-]+):6222", conf))
need(routes == {f"nats-{i}.{service}" for i in range(replicas)}, f"cluster routes {routes} do not name every node")
need(re.search(r"max_payload:\s*(\d+)MB", conf) and int(re.search(r"max_payload:\s*(\d+)MB", conf).group(1)) >= 32,
     "max_payload must be at least 32MB for 25 MiB values")
need("jetstream" in conf, "JetStream is not enabled")
(nc,) = nats["spec"]["template"]["spec"]["containers"]
tag = nc["image"].split(":")[1]
major, minor = (int(x) for x in re.match(r"(\d+)\.(\d+)", tag).groups())
need((major, minor) >= (2, 12), f"nats image {tag}: Brink needs nats-server 2.12 or newer")
need(any(t["metadata"]["name"] == "data" for t in nats["spec"]["volumeClaimTemplates"]), "NATS has no data PVC")
need({"livenessProbe", "readinessProbe"} <= nc.keys(), "NATS probes")

pops = docs["Deployment"][0]
pod = pops["spec"]["template"]["spec"]
(c,) = pod["containers"]
args = c["args"]
urls = args[args.index("--kv-nats") + 1].split(",")
need(sorted(urls) == [f"nats://nats-{i}.{service}:4222" for i in range(replicas)], f"--kv-nats {urls} does not list every NATS node")
need(pod["securityContext"].get("runAsNonRoot") is True, "POP runAsNonRoot")
need(c["securityContext"].get("readOnlyRootFilesystem") is True, "POP readOnlyRootFilesystem")
need(pod["terminationGracePeriodSeconds"] > 30, "POP terminationGracePeriodSeconds must exceed Brink's 30 s drain")
for kind in ("requests", "limits"):
    need({"cpu", "memory"} <= c["resources"].get(kind, {}).keys(), f"POP resources.{kind}")
mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
need(mounts.get("index") == args[args.index("--data-dir") + 1], "the index volume is not mounted at --data-dir")
vol = next(v for v in pod["volumes"] if v["name"] == "worker")
worker = cms[vol["configMap"]["name"]]["data"]["worker.js"]
need(worker == open("examples/counter/worker.js").read(), "the POPs' worker.js differs from examples/counter/worker.js")
labels = pops["spec"]["template"]["metadata"]["labels"]
need(pops["spec"]["selector"]["matchLabels"].items() <= labels.items(), "POP selector does not match its pods")
for svc in docs["Service"]:
    selected = svc["spec"]["selector"].items()
    need(selected <= labels.items() or selected <= nats["spec"]["template"]["metadata"]["labels"].items(),
         f"Service {svc['metadata']['name']} selects no pod")
for p in problems:
    print(f"  {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY
then pass "replicated manifests (NATS StatefulSet + Brink POPs) parse and are consistent"; else fail "replicated manifests"; fi

if [[ -x $binary ]] && command -v curl >/dev/null 2>&1; then
  if output=$(bash deploy/local-cluster.sh --check 2>&1); then
    pass "deploy/local-cluster.sh: 3 NATS nodes + 2 POPs agree, also after kill -9 of a node"
  else
    fail "deploy/local-cluster.sh --check:"
    sed 's/^/  /' <<<"$output" >&2
  fi
else
  skip "target/release/brink not built (or no curl): local NATS cluster smoke test"
fi

echo "deploy: $passed passed, $failed failed, $skipped skipped"
((failed == 0))
