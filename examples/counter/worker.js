// A visit counter kept in Workers KV: run with `--kv COUNTS`.
// `GET /?peek` shows the count without counting a visit.
export default {
  async fetch(request, env, ctx) {
    const seen = Number((await env.COUNTS.get("hits")) ?? 0);
    if (new URL(request.url).searchParams.has("peek")) {
      return new Response(`seen ${seen}\n`, { headers: { "content-type": "text/plain" } });
    }
    const n = seen + 1;
    ctx.waitUntil(env.COUNTS.put("hits", String(n)));
    return new Response(`hello #${n}\n`, { headers: { "content-type": "text/plain" } });
  },
};
