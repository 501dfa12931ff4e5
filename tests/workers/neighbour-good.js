// The well-behaved tenant: answers with its own state, a KV round trip and
// proof that its secret is there (never the secret itself).
globalThis.GOOD_STATE = "good's global";
let served = 0;

export default {
  async fetch(request, env) {
    served++;
    await env.COUNTS.put("last", String(served));
    const last = await env.COUNTS.get("last");
    return new Response(`good ${env.NAME} ${last === String(served) ? "kv-ok" : "kv-wrong"} secret:${env.SECRET?.length ?? 0}`);
  },
};
