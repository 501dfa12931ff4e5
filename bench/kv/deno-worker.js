// KV benchmark worker for `deno serve --unstable-kv` (bench/kv.sh): the same
// routes as brink-worker.js, on Deno KV (its embedded SQLite backend).
// Deno KV has no read cache: /get-cached uses eventual consistency, the
// closest it offers; /get-uncached is a strong read.
const kv = await Deno.openKv(Deno.env.get("KV_PATH"));
const KEY = ["bench", "key"];
const VALUE = "v".repeat(100);
const PUT_VALUE = "p".repeat(1024);
const PREFIX = Math.random().toString(36).slice(2);
let counter = 0;

export default {
  async fetch(request) {
    switch (new URL(request.url).pathname) {
      case "/base":
        return new Response("ok");
      case "/get-cached":
        return new Response((await kv.get(KEY, { consistency: "eventual" })).value);
      case "/get-uncached":
        return new Response((await kv.get(KEY)).value);
      case "/put":
        await kv.set(["w", PREFIX, counter++], PUT_VALUE);
        return new Response("ok");
      case "/setup":
        await kv.set(KEY, VALUE);
        return new Response("ok");
    }
    return new Response("not found", { status: 404 });
  },
};
