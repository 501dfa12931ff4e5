// Serves a Workers-style module (`export default { fetch }`) with Bun.serve, so
// bench/run.sh can measure Bun on the very same worker file as the other runtimes.
// Usage: bun bun-serve.mjs <worker.js> <port>
const [workerPath, port] = process.argv.slice(2);
const worker = (await import(workerPath)).default;

// The benchmark workers use neither bindings nor ctx; these stand-ins only keep
// the `fetch(request, env, ctx)` signature honest.
const env = {};
const ctx = { waitUntil() {}, passThroughOnException() {} };

Bun.serve({
  hostname: "127.0.0.1",
  port: Number(port),
  development: false,
  fetch: (request) => worker.fetch(request, env, ctx),
});
