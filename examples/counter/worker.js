// A visit counter kept in Workers KV: run with `--kv COUNTS`.
export default {
  async fetch(request, env, ctx) {
    const n = Number((await env.COUNTS.get("hits")) ?? 0) + 1;
    ctx.waitUntil(env.COUNTS.put("hits", String(n)));
    return new Response(`hello #${n}\n`, { headers: { "content-type": "text/plain" } });
  },
};
