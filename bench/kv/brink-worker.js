// KV benchmark worker for Brink (bench/kv.sh): the same routes as deno-worker.js.
//   /base          no KV at all
//   /get-cached    get of an existing key through the read cache (cacheTtl 60)
//   /get-uncached  get that reads the store every time (cacheTtl 0)
//   /put           put of a unique key (durable: fsync before the response)
//   /setup         writes the key the gets read
const KEY = "bench:key";
const VALUE = "v".repeat(100);
const PUT_VALUE = "p".repeat(1024);
// Unique put keys across isolates and restarts.
const PREFIX = Math.random().toString(36).slice(2);
let counter = 0;

export default {
  async fetch(request, env) {
    switch (new URL(request.url).pathname) {
      case "/base":
        return new Response("ok");
      case "/get-cached":
        return new Response(await env.KV.get(KEY, { cacheTtl: 60 }));
      case "/get-uncached":
        return new Response(await env.KV.get(KEY, { cacheTtl: 0 }));
      case "/put":
        await env.KV.put(`w:${PREFIX}:${counter++}`, PUT_VALUE);
        return new Response("ok");
      case "/setup":
        await env.KV.put(KEY, VALUE);
        return new Response("ok");
    }
    return new Response("not found", { status: 404 });
  },
};
