// bench/cdn.sh's cache workload: GET /hit answers from caches.default (the
// first request stores the entry), GET /hello is the same response built
// in place, for the cost a cache hit adds.
const BODY = "hello from the cache, a body of a few dozen bytes\n";

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/hello") return new Response(BODY, { headers: { "content-type": "text/plain" } });
    const key = "https://bench.example/hit";
    const hit = await caches.default.match(key);
    if (hit) return hit;
    await caches.default.put(key, new Response(BODY, {
      headers: { "content-type": "text/plain", "cache-control": "max-age=3600" },
    }));
    return new Response(BODY, { headers: { "content-type": "text/plain", "x-cache": "MISS" } });
  },
};
