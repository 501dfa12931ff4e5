// A module worker that imports the types instead of relying on globals
// (for projects that keep "types" in tsconfig.json empty). The imported and
// global names describe the same shapes, so values pass between them freely.
import type { ExecutionContext, ExportedHandler, KVNamespace, KVNamespacePutOptions } from "@brink/workers-types";

interface Env {
  CACHE: KVNamespace;
  TTL_SECONDS: string;
}

function cacheOptions(env: Env): KVNamespacePutOptions {
  return { expirationTtl: Number(env.TTL_SECONDS), metadata: { cachedAt: Date.now() } };
}

async function cached(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const key = new URL(request.url).pathname;
  const hit = await env.CACHE.get(key, "arrayBuffer");
  if (hit !== null) return new Response(hit, { headers: { "x-cache": "hit" } });
  const upstream = await fetch(`https://origin.example${key}`);
  const body = await upstream.arrayBuffer();
  ctx.waitUntil(env.CACHE.put(key, body, cacheOptions(env)));
  return new Response(body, { status: upstream.status, headers: { "x-cache": "miss" } });
}

const handler: ExportedHandler<Env> = { fetch: cached };

// Interchangeable with the globals of the same names.
const asGlobal: globalThis.ExportedHandler<Env> = handler;
const kvAsGlobal = (kv: KVNamespace): globalThis.KVNamespace => kv;
const kvFromGlobal = (kv: globalThis.KVNamespace): KVNamespace => kv;
void kvAsGlobal;
void kvFromGlobal;

export default asGlobal;
