#!/usr/bin/env node
// The differential conformance suite's runner: runs every case under Brink,
// workerd and `deno serve`, compares their responses and fails on a
// difference between Brink and workerd that expectations.json does not list
// (or on a listed one that no longer differs).
//
//   node run.mjs [--brink PATH] [--only SUBSTRING] [--write-docs FILE] [--remove-fixed] [--keep] [--verbose]
//
// Cases live in cases/<area>/*.js (see README.md). Each runtime is started
// once for the whole suite except Brink, which runs `brink dev` per case
// (about 0.1 s each, a few at a time): workerd gets one config with a socket
// per case, Deno one dispatcher that picks the case by the Host header. Every
// request carries the same Host header everywhere, so `request.url` matches.

import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { IGNORED_HEADERS, clip, describe, judge, same } from "./compare.mjs";
import { startOrigin, startResetServer } from "./origin.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "../..");
const HOST_SUFFIX = "conformance.test";
const EXPECTATIONS_FILE = path.join(HERE, "expectations.json");
const COMPATIBILITY_DATE = "2026-11-01";
// Generous: on a loaded machine workerd once took over 10 s to answer a case.
const REQUEST_TIMEOUT_MS = 30000;
const PEER_START_TIMEOUT_MS = 180000;
const BRINK_PARALLEL = Number(process.env.CONFORMANCE_BRINK_PARALLEL ?? 3);

// ---------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------

function parseArgs(argv) {
  const args = {
    brink: path.join(REPO, "target/release/brink"),
    only: [],
    docs: null,
    keep: false,
    verbose: false,
    removeFixed: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${a} needs a value`);
      return argv[++i];
    };
    if (a === "--brink") args.brink = path.resolve(value());
    else if (a === "--only") args.only.push(value());
    else if (a === "--write-docs") args.docs = path.resolve(value());
    else if (a === "--keep") args.keep = true;
    else if (a === "--remove-fixed") args.removeFixed = true;
    else if (a === "--verbose") args.verbose = true;
    else fail(`unknown argument ${a} (see the comment at the top of run.mjs)`);
  }
  return args;
}

function fail(message) {
  console.error(`conformance: ${message}`);
  process.exit(2);
}

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

// A case: { id, area, host, kind: "module" | "service-worker", file (relative
// to cases/), name (module cases), requests }.
async function loadCases(only) {
  const casesDir = path.join(HERE, "cases");
  const cases = [];
  for (const area of fs.readdirSync(casesDir).sort()) {
    const areaDir = path.join(casesDir, area);
    if (!fs.statSync(areaDir).isDirectory()) continue;
    for (const file of fs.readdirSync(areaDir).sort()) {
      if (!file.endsWith(".js")) continue;
      const rel = `${area}/${file}`;
      if (file.endsWith(".sw.js")) {
        const stem = file.slice(0, -".sw.js".length);
        const text = fs.readFileSync(path.join(areaDir, file), "utf8");
        const m = /^\/\/ requests: (.*)$/m.exec(text);
        let requests = [{}];
        if (m) {
          try {
            requests = JSON.parse(m[1]);
          } catch (e) {
            fail(`${rel}: the '// requests:' line is not JSON (${e.message})`);
          }
        }
        cases.push(makeCase(area, stem, null, rel, "service-worker", requests));
        continue;
      }
      const stem = file.slice(0, -".js".length);
      // Node reads the requests: a case file's top level must only define.
      let mod;
      try {
        mod = await import(pathToFileURL(path.join(areaDir, file)).href);
      } catch (e) {
        fail(`${rel} does not load in Node.js to list its cases (keep its top level to definitions): ${e.message}`);
      }
      if (!mod.cases || typeof mod.cases !== "object") fail(`${rel} exports no 'cases' object`);
      for (const [name, c] of Object.entries(mod.cases)) {
        const requests = typeof c === "function" ? [{}] : c.requests ?? [{}];
        if (typeof c !== "function" && typeof c?.fetch !== "function") {
          fail(`${rel}: case '${name}' is neither a function nor a worker with fetch()`);
        }
        cases.push(makeCase(area, stem, name, rel, "module", requests));
      }
    }
  }
  const seenHosts = new Map();
  for (const c of cases) {
    if (seenHosts.has(c.host)) fail(`cases ${seenHosts.get(c.host)} and ${c.id} map to the same host ${c.host}`);
    seenHosts.set(c.host, c.id);
  }
  return only.length ? cases.filter((c) => only.some((o) => c.id.includes(o))) : cases;
}

function makeCase(area, stem, name, file, kind, requests) {
  const id = name === null ? `${area}/${stem}` : `${area}/${stem}/${name}`;
  const labels = id.split("/").map((part) => part.toLowerCase().replace(/[^a-z0-9-]/g, "-"));
  for (const label of labels) {
    if (label.length === 0 || label.length > 63 || label.startsWith("-") || label.endsWith("-")) {
      fail(`case ${id}: '${label}' is not a host name label (1-63 of [a-z0-9-], no leading or trailing -)`);
    }
  }
  const host = `${labels.reverse().join(".")}.${HOST_SUFFIX}`;
  if (!Array.isArray(requests) || requests.length === 0) fail(`case ${id}: requests must be a non-empty array`);
  return { id, area, host, kind, file, name, requests: requests.map((r) => normaliseRequest(id, r)) };
}

function normaliseRequest(id, r) {
  const known = new Set(["method", "path", "headers", "body", "bodyBase64"]);
  for (const key of Object.keys(r)) if (!known.has(key)) fail(`case ${id}: unknown request field '${key}'`);
  let body = null;
  if (typeof r.body === "string") body = Buffer.from(r.body, "utf8");
  if (typeof r.bodyBase64 === "string") body = Buffer.from(r.bodyBase64, "base64");
  return { method: r.method ?? "GET", path: r.path ?? "/", headers: r.headers ?? {}, body };
}

// ---------------------------------------------------------------------------
// The build directory: what every runtime loads
// ---------------------------------------------------------------------------

const entryName = (c) => `entry-${c.host.slice(0, -HOST_SUFFIX.length - 1)}.js`;

function writeBuild(dir, cases, vars) {
  fs.cpSync(path.join(HERE, "cases"), path.join(dir, "cases"), { recursive: true });
  fs.copyFileSync(path.join(HERE, "harness.js"), path.join(dir, "harness.js"));
  for (const c of cases) {
    if (c.kind !== "module") continue;
    fs.writeFileSync(
      path.join(dir, entryName(c)),
      `import { cases } from "./cases/${c.file}";\nimport { worker } from "./harness.js";\n` +
        `export default worker(cases[${JSON.stringify(c.name)}]);\n`,
    );
  }
  // Deno: one module that picks the case by host name. Deno has no
  // service-worker format; those cases answer 501 there.
  const groups = [...new Set(cases.filter((c) => c.kind === "module").map((c) => c.file))];
  const lines = [`import { worker } from "./harness.js";`];
  groups.forEach((g, i) => lines.push(`import { cases as g${i} } from "./cases/${g}";`));
  lines.push(
    "// Deno ends the process on an unhandled rejection or an error reported",
    "// from a listener; workerd and Brink log them and carry on.",
    `globalThis.addEventListener("unhandledrejection", (e) => e.preventDefault());`,
    `globalThis.addEventListener("error", (e) => e.preventDefault());`,
  );
  lines.push(`const env = ${JSON.stringify(vars)};`, "const table = new Map([");
  for (const c of cases) {
    if (c.kind === "module") lines.push(`  [${JSON.stringify(c.host)}, worker(g${groups.indexOf(c.file)}[${JSON.stringify(c.name)}])],`);
  }
  lines.push(
    "]);",
    "// What workerd and Brink hand a module worker as ctx.",
    "function context() {",
    "  return { waitUntil(p) { Promise.resolve(p).catch(() => {}); }, passThroughOnException() {} };",
    "}",
    "export default {",
    "  fetch(request) {",
    "    const w = table.get(new URL(request.url).hostname);",
    `    if (!w) return new Response("not supported by this runtime", { status: 501 });`,
    "    return w.fetch(request, env, context());",
    "  },",
    "};",
  );
  fs.writeFileSync(path.join(dir, "deno-dispatch.js"), lines.join("\n") + "\n");
}

function workerdConfig(cases, ports, vars) {
  const capnpString = (s) => JSON.stringify(s);
  const bindings = Object.entries(vars)
    .map(([k, v]) => `(name = ${capnpString(k)}, text = ${capnpString(v)})`)
    .join(", ");
  const services = [];
  const sockets = [];
  cases.forEach((c, i) => {
    let worker;
    if (c.kind === "module") {
      const mods = [
        `(name = ${capnpString(entryName(c))}, esModule = embed ${capnpString(entryName(c))})`,
        `(name = "harness.js", esModule = embed "harness.js")`,
        `(name = ${capnpString(`cases/${c.file}`)}, esModule = embed ${capnpString(`cases/${c.file}`)})`,
      ];
      worker = `modules = [${mods.join(", ")}]`;
    } else {
      worker = `serviceWorkerScript = embed ${capnpString(`cases/${c.file}`)}`;
    }
    services.push(
      `(name = "c${i}", worker = (${worker}, compatibilityDate = ${capnpString(COMPATIBILITY_DATE)}, ` +
        `bindings = [${bindings}], globalOutbound = "net"))`,
    );
    sockets.push(`(name = "s${i}", address = "127.0.0.1:${ports[i]}", http = (), service = "c${i}")`);
  });
  // Outbound cases reach the origin on 127.0.0.1, which workerd's default
  // network service refuses as it is not public.
  services.push(`(name = "net", network = (allow = ["public", "private", "local"]))`);
  return (
    `using Workerd = import "/workerd/workerd.capnp";\n` +
    `const config :Workerd.Config = (\n  services = [\n    ${services.join(",\n    ")}\n  ],\n` +
    `  sockets = [\n    ${sockets.join(",\n    ")}\n  ]\n);\n`
  );
}

// ---------------------------------------------------------------------------
// Processes and ports
// ---------------------------------------------------------------------------

const children = new Set();

function start(cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], detached: true, ...opts });
  child.log = "";
  const keep = (d) => {
    child.log += d.toString();
    if (child.log.length > 200000) child.log = child.log.slice(-100000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  children.add(child);
  child.exited.then(() => children.delete(child));
  return child;
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
  }, 3000);
  await child.exited;
  clearTimeout(timer);
}

function stopAllNow() {
  for (const child of children) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
  }
}
process.on("exit", stopAllNow);
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    stopAllNow();
    process.exit(130);
  });
}

// n distinct free ports on 127.0.0.1 (held open together, so they differ).
async function freePorts(n) {
  const servers = [];
  for (let i = 0; i < n; i++) {
    const s = net.createServer();
    await new Promise((resolve, reject) => {
      s.once("error", reject);
      s.listen(0, "127.0.0.1", resolve);
    });
    servers.push(s);
  }
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

async function waitForPort(port, child, what) {
  // workerd compiles every case's service before it listens: seconds on an
  // idle machine, minutes on a loaded one.
  const deadline = Date.now() + PEER_START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited at start:\n${child.log.slice(-3000)}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`${what} did not listen on ${port} within ${PEER_START_TIMEOUT_MS / 1000} s:\n${child.log.slice(-3000)}`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The first working binary of a peer in node_modules (the platform package's
// native binary first: the .bin entry may be a node launcher).
function peerBinary(name) {
  const nm = path.join(HERE, "node_modules");
  const candidates = [];
  if (name === "workerd") {
    const dir = path.join(nm, "@cloudflare");
    if (fs.existsSync(dir)) {
      for (const d of fs.readdirSync(dir)) if (d.startsWith("workerd-linux")) candidates.push(path.join(dir, d, "bin/workerd"));
    }
  } else {
    const dir = path.join(nm, "@deno");
    if (fs.existsSync(dir)) for (const d of fs.readdirSync(dir)) candidates.push(path.join(dir, d, "deno"));
    candidates.push(path.join(nm, "deno/deno"));
  }
  candidates.push(path.join(nm, ".bin", name));
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found) fail(`${name} is not installed in ${nm} (run test.sh, which installs it)`);
  return found;
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

// Sends one request and resolves to what is compared: status, status text,
// headers (lower-cased, sorted, without IGNORED_HEADERS) and body.
function send(port, host, r) {
  return new Promise((resolve) => {
    const headers = { host, ...r.headers };
    if (r.body !== null && !Object.keys(r.headers).some((h) => h.toLowerCase() === "content-length")) {
      headers["content-length"] = String(r.body.length);
    }
    const req = http.request(
      { host: "127.0.0.1", port, method: r.method, path: r.path, headers, setHost: false, agent: false },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        const answer = (error) => resolve(describe(res, Buffer.concat(chunks), error, r.method));
        res.on("end", () => answer(null));
        res.on("error", (e) => answer(`body broken: ${e.code ?? e.message}`));
        res.on("aborted", () => answer("body aborted"));
      },
    );
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error("timeout")));
    req.on("error", (e) => resolve({ error: `request failed: ${e.code ?? e.message}` }));
    if (r.body !== null) req.write(r.body);
    req.end();
  });
}

async function runRequests(port, c) {
  const out = [];
  for (const r of c.requests) out.push(await send(port, c.host, r));
  return out;
}

// ---------------------------------------------------------------------------
// Brink: `brink dev` per case
// ---------------------------------------------------------------------------

async function runBrinkCase(brink, buildDir, c, vars, privatePorts) {
  const entry = c.kind === "module" ? path.join(buildDir, entryName(c)) : path.join(buildDir, "cases", c.file);
  const dataDir = fs.mkdtempSync(path.join(buildDir, "brink-data-"));
  const args = ["dev", entry, "--port", "0", "--data-dir", dataDir];
  for (const port of privatePorts) args.push("--allow-private-host", `127.0.0.1:${port}`);
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}=${v}`);
  const child = start(brink, args, { env: { ...process.env, NO_COLOR: "1", RUST_LOG: "warn,brink_gateway::dev=info" } });
  try {
    const port = await brinkPort(child);
    return await runRequests(port, c);
  } catch (e) {
    return c.requests.map(() => ({ error: `brink dev did not start: ${lastLines(e.message, 6)}` }));
  } finally {
    await stop(child);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

function brinkPort(child) {
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => done(new Error(`no listening line within 30 s\n${child.log}`)), 30000);
    const check = () => {
      const m = /listening on https?:\/\/127\.0\.0\.1:(\d+)/.exec(child.log.replace(/\x1b\[[0-9;]*m/g, ""));
      if (m) done(null, Number(m[1]));
    };
    const onExit = () => done(new Error(child.log));
    function done(err, port) {
      clearTimeout(deadline);
      child.stdout.off("data", check);
      child.stderr.off("data", check);
      child.off("exit", onExit);
      if (err) reject(err);
      else resolve(port);
    }
    child.stdout.on("data", check);
    child.stderr.on("data", check);
    child.on("exit", onExit);
    check();
  });
}

const lastLines = (text, n) => text.trim().split("\n").slice(-n).join(" | ");

// Runs `fn` over items with at most `limit` at a time, in order of results.
async function pool(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  });
  await Promise.all(workers);
  return results;
}

// ---------------------------------------------------------------------------
// Comparison and report
// ---------------------------------------------------------------------------

function loadExpectations() {
  const data = JSON.parse(fs.readFileSync(EXPECTATIONS_FILE, "utf8"));
  for (const [id, e] of Object.entries(data)) {
    if (typeof e?.reason !== "string" || !e.reason) fail(`expectations.json: ${id} has no reason`);
    if (!["brink-bug", "workerd-specific", "equivalent"].includes(e.kind)) {
      fail(`expectations.json: ${id} has kind '${e.kind}' (brink-bug, workerd-specific or equivalent)`);
    }
  }
  return data;
}

// What each area of cases/ covers, for docs/compatibility.md.
const AREA_TITLES = {
  abort: "AbortController and AbortSignal",
  blob: "Blob, File and FormData",
  cache: "Cache API: caches.default, caches.open, match and put",
  clone: "structuredClone, EventTarget and events",
  crypto: "Web Crypto (crypto.subtle, getRandomValues, Workers' extensions)",
  encoding: "TextEncoder, TextDecoder, atob and btoa",
  errors: "Error types and messages, JavaScript language features",
  fetch: "Outbound fetch(): redirects, bodies, abort signals",
  headers: "Headers: normalisation, Set-Cookie, guards",
  json: "JSON.stringify: key order, escapes, numbers, toJSON, replacers, cycles",
  request: "Request: construction, incoming requests, bodies",
  response: "Response: construction, bodies, what reaches the client",
  streams: "Streams: readable, byte and BYOB, writable, transform, pipes, compression",
  timers: "Timers, microtasks and scheduler",
  url: "URL, URLSearchParams and URLPattern",
  workers: "The Workers surface: env, ctx, service-worker format, Cloudflare globals",
};

function writeDocs(file, results, expectations) {
  const areas = [...new Set(results.map((r) => r.c.area))];
  const total = results.length;
  const identical = results.filter((r) => r.brinkSame).length;
  const diffs = results.filter((r) => !r.brinkSame);
  const kindCount = (kind) => diffs.filter((r) => expectations[r.c.id]?.kind === kind).length;
  const denoComparable = results.filter((r) => r.deno !== "n/a");
  const denoSame = denoComparable.filter((r) => r.deno === "same").length;
  const pct = (n, d) => (d ? ((100 * n) / d).toFixed(1) : "0.0");
  const brinkCell = (r) => (r.brinkSame ? "same" : `differs (${expectations[r.c.id]?.kind ?? "not listed"})`);
  const L = [];
  L.push(
    "# Compatibility with Cloudflare Workers",
    "",
    "<!-- Generated by `bash tests/conformance/test.sh --write-docs docs/compatibility.md`; do not edit. -->",
    "",
    "Brink's differential conformance suite (`tests/conformance/`, see its README)",
    "runs every case, a worker plus one or more requests, under Brink, workerd",
    "(Cloudflare's runtime) and `deno serve`, and compares status, reason phrase,",
    "headers and body. `make test` fails on a difference between Brink and workerd",
    "that `tests/conformance/expectations.json` does not list with its reason.",
    "",
    `**${identical} of ${total} cases (${pct(identical, total)} %) answer exactly as workerd does.**`,
    `Of the ${diffs.length} that differ, ${kindCount("brink-bug")} are Brink bugs, ${kindCount("workerd-specific")} are workerd`,
    `departing from the web standards (or restricting something) where Brink follows them,`,
    `and ${kindCount("equivalent")} are equivalent answers worded differently; so ${pct(identical + kindCount("workerd-specific") + kindCount("equivalent"), total)} % of the cases`,
    "answer as workerd does but where workerd departs from the standard or only in wording.",
    `Deno answers ${denoSame} of the ${denoComparable.length} cases it can run (${pct(denoSame, denoComparable.length)} %) as workerd does`,
    "(Deno has no service-worker format; its `env` and `ctx` are stand-ins passed by the suite's dispatcher).",
    "",
    `Versions: workerd ${results.versions.workerd} (compatibility date ${COMPATIBILITY_DATE}), ${results.versions.deno}.`,
    "",
    "## By area",
    "",
    "| area | what it covers | cases | Brink = workerd | Deno = workerd |",
    "|---|---|---|---|---|",
  );
  for (const area of areas) {
    const rs = results.filter((r) => r.c.area === area);
    const ds = rs.filter((r) => r.deno !== "n/a");
    const denoCell = ds.length ? `${ds.filter((r) => r.deno === "same").length} of ${ds.length}` : "n/a";
    L.push(`| [${area}](#${area}) | ${AREA_TITLES[area] ?? ""} | ${rs.length} | ${rs.filter((r) => r.brinkSame).length} | ${denoCell} |`);
  }
  for (const kind of ["brink-bug", "workerd-specific", "equivalent"]) {
    const title = {
      "brink-bug": "Brink bugs (Brink's to fix)",
      "workerd-specific": "Where workerd departs from the standard and Brink does not",
      equivalent: "Equivalent answers, worded differently",
    }[kind];
    const rows = diffs.filter((r) => expectations[r.c.id]?.kind === kind);
    if (rows.length === 0) continue;
    L.push("", `## ${title}`, "", "| case | reason |", "|---|---|");
    for (const r of rows) L.push(`| \`${r.c.id}\` | ${expectations[r.c.id].reason.replace(/\|/g, "\\|")} |`);
  }
  const unlisted = diffs.filter((r) => !expectations[r.c.id]);
  if (unlisted.length) {
    L.push("", "## Differences not listed (the suite fails on these)", "");
    for (const r of unlisted) L.push(`- \`${r.c.id}\``);
  }
  L.push(
    "",
    "## Headers not compared",
    "",
    "| header | why it may differ |",
    "|---|---|",
  );
  for (const [h, why] of Object.entries(IGNORED_HEADERS)) L.push(`| \`${h}\` | ${why} |`);
  L.push("", "## Every case");
  for (const area of areas) {
    L.push("", `### ${area}`, "", "| case | Brink | Deno |", "|---|---|---|");
    for (const r of results.filter((x) => x.c.area === area)) {
      L.push(`| \`${r.c.id.slice(area.length + 1)}\` | ${brinkCell(r)} | ${r.deno} |`);
    }
  }
  fs.writeFileSync(file, L.join("\n") + "\n");
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.docs && args.only.length) fail("--write-docs needs the whole suite (no --only)");
  if (!fs.existsSync(args.brink)) fail(`no brink binary at ${args.brink} (cargo build --release -p brink-gateway)`);
  const workerd = peerBinary("workerd");
  const deno = peerBinary("deno");
  const cases = await loadCases(args.only);
  if (cases.length === 0) fail("no cases selected");
  const expectations = loadExpectations();
  const t0 = Date.now();

  const origin = await startOrigin();
  const originPort = origin.address().port;
  // RESET: a server that closes every connection at once, for fetch()
  // failures (a port nobody listens on could be taken by the time a case
  // runs).
  const reset = await startResetServer();
  const resetPort = reset.address().port;
  const vars = { GREETING: "hello", ORIGIN: `http://127.0.0.1:${originPort}`, RESET: `http://127.0.0.1:${resetPort}` };
  const buildDir = fs.mkdtempSync(path.join(os.tmpdir(), "brink-conformance-"));
  writeBuild(buildDir, cases, vars);

  // Every port in one call, so that none is handed out twice.
  const ports = await freePorts(cases.length + 1);
  const denoPort = ports.pop();
  fs.writeFileSync(path.join(buildDir, "workerd.capnp"), workerdConfig(cases, ports, vars));
  const versions = {
    workerd: (await capture(workerd, ["--version"])).trim().replace(/^workerd\s+/, ""),
    deno: (await capture(deno, ["--version"])).split("\n")[0].trim(),
  };

  const wd = start(workerd, ["serve", path.join(buildDir, "workerd.capnp")], { cwd: buildDir });
  const dn = start(
    deno,
    ["serve", "--quiet", "--allow-net", "--allow-read", "--host", "127.0.0.1", "--port", String(denoPort), "deno-dispatch.js"],
    { cwd: buildDir, env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" } },
  );
  await Promise.all([waitForPort(ports[ports.length - 1], wd, "workerd"), waitForPort(denoPort, dn, "deno serve")]);

  const results = await pool(cases, BRINK_PARALLEL, async (c, i) => {
    const [brink, workerdOut, denoOut] = await Promise.all([
      runBrinkCase(args.brink, buildDir, c, vars, [originPort, resetPort]),
      runRequests(ports[i], c),
      c.kind === "module" ? runRequests(denoPort, c) : Promise.resolve(null),
    ]);
    // Whether it passes is judge()'s call (a pair of non-answers is not
    // "same"); brinkSame counts identical answers for the summary.
    const brinkSame = same(brink, workerdOut);
    const denoResult = denoOut === null ? "n/a" : same(denoOut, workerdOut) ? "same" : "differs";
    if (args.verbose) {
      console.log(`${c.id}\n  brink   ${clip(brink)}\n  workerd ${clip(workerdOut)}\n  deno    ${clip(denoOut)}`);
    }
    return { c, brink, workerd: workerdOut, denoOut, brinkSame, deno: denoResult };
  });
  results.versions = versions;
  // A peer that died mid-run would make every later case look different.
  for (const [peer, name] of [[wd, "workerd"], [dn, "deno serve"]]) {
    if (peer.exitCode !== null || peer.signalCode !== null) {
      fail(`${name} exited during the run (a case crashed it?):\n${lastLines(peer.log, 20)}`);
    }
  }
  await Promise.all([stop(wd), stop(dn)]);
  origin.close();
  reset.close();

  let { rows, failures } = judge(results, expectations, { complete: args.only.length === 0 });
  if (args.removeFixed) {
    // For the commit that fixes Brink: drop the expectations of cases that
    // now answer as workerd does, and judge again.
    const fixed = rows.filter((row) => row.verdict.startsWith("FIXED")).map((row) => row.id);
    for (const id of fixed) delete expectations[id];
    fs.writeFileSync(EXPECTATIONS_FILE, JSON.stringify(expectations, null, 2) + "\n");
    console.log(`removed ${fixed.length} expectation(s) now identical to workerd: ${fixed.join(", ") || "none"}`);
    ({ rows, failures } = judge(results, expectations, { complete: args.only.length === 0 }));
  }
  const width = Math.max(...cases.map((c) => c.id.length));
  console.log(`${"case".padEnd(width)}  brink vs workerd              deno vs workerd`);
  for (const row of rows) console.log(`${row.id.padEnd(width)}  ${row.verdict.padEnd(28)}  ${row.deno}`);
  const identical = results.filter((r) => r.brinkSame).length;
  const denoRan = results.filter((r) => r.deno !== "n/a");
  console.log(
    `\n${results.length} cases in ${((Date.now() - t0) / 1000).toFixed(1)} s: ` +
      `${identical} (${((100 * identical) / results.length).toFixed(1)} %) identical to workerd; ` +
      `deno ${denoRan.filter((r) => r.deno === "same").length} of ${denoRan.length} identical to workerd`,
  );
  if (args.docs) {
    writeDocs(args.docs, results, expectations);
    console.log(`wrote ${path.relative(process.cwd(), args.docs)}`);
  }
  if (args.keep) console.log(`build directory kept: ${buildDir}`);
  else fs.rmSync(buildDir, { recursive: true, force: true });
  if (failures.length) {
    console.log(`\nFAILED (${failures.length}):\n${failures.map((f) => `  ${f}`).join("\n")}`);
    process.exit(1);
  }
  console.log("conformance: passed");
}

function capture(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("exit", () => resolve(out));
    child.on("error", () => resolve("unknown"));
  });
}

main().catch((e) => {
  console.error(e.stack ?? e);
  stopAllNow();
  process.exit(2);
});
