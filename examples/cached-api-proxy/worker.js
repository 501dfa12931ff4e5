// An edge-cached API proxy: GET /api/... is answered from this POP's cache
// when it can be, else fetched from the origin and cached for TTL seconds.
// `x-cache: HIT` or `MISS` says which. Other methods go straight through and
// are never cached.
//
//   brink dev examples/cached-api-proxy/worker.js --var ORIGIN=https://api.example --var TTL=60
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const upstreamUrl = `${env.ORIGIN}${url.pathname}${url.search}`;
    if (request.method !== "GET") {
      return fetch(upstreamUrl, { method: request.method, headers: request.headers, body: request.body });
    }
    const cache = caches.default;
    const key = new Request(upstreamUrl);
    const cached = await cache.match(key);
    if (cached) {
      const hit = new Response(cached.body, cached);
      hit.headers.set("x-cache", "HIT");
      return hit;
    }
    const upstream = await fetch(upstreamUrl, { headers: request.headers });
    const response = new Response(upstream.body, upstream);
    if (upstream.ok) {
      response.headers.set("cache-control", `public, max-age=${Number(env.TTL ?? 60)}`);
      // Stored after the response is sent; the client does not wait for it.
      ctx.waitUntil(cache.put(key, response.clone()));
    }
    response.headers.set("x-cache", "MISS");
    return response;
  },
};
