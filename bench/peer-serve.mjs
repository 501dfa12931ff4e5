// Serves a Workers-style module (`export default { fetch }`) with Deno.serve or
// Bun.serve, over TLS when a certificate and key are given, so bench/tls.sh
// can measure the peers on the very same worker file as Brink.
// Usage: deno run --allow-net --allow-read peer-serve.mjs <worker.js> <port> [cert.pem key.pem]
//        bun peer-serve.mjs <worker.js> <port> [cert.pem key.pem]
const args = globalThis.Deno ? Deno.args : process.argv.slice(2);
const [workerPath, port, certPath, keyPath] = args;
const worker = (await import(new URL(workerPath, `file://${globalThis.Deno ? Deno.cwd() : process.cwd()}/`).href)).default;

// The benchmark workers use neither bindings nor ctx; these stand-ins only keep
// the `fetch(request, env, ctx)` signature honest.
const env = {};
const ctx = { waitUntil() {}, passThroughOnException() {} };
const fetch = (request) => worker.fetch(request, env, ctx);
const hostname = "127.0.0.1";

if (globalThis.Deno) {
  const tls = certPath ? { cert: await Deno.readTextFile(certPath), key: await Deno.readTextFile(keyPath) } : {};
  Deno.serve({ hostname, port: Number(port), ...tls, onListen() {} }, fetch);
} else {
  const fs = await import("node:fs");
  const tls = certPath ? { tls: { cert: fs.readFileSync(certPath, "utf8"), key: fs.readFileSync(keyPath, "utf8") } } : {};
  Bun.serve({ hostname, port: Number(port), development: false, ...tls, fetch });
}
