// A service-worker-format worker: bindings are globals, the handler is a
// "fetch" event listener. No import/export, so this file is a script.

declare const SESSIONS: KVNamespace;
declare const REGION: string;

async function handleSession(event: FetchEvent): Promise<Response> {
  const id = new URL(event.request.url).searchParams.get("id");
  if (!id) return new Response("missing ?id\n", { status: 400 });
  const session = await SESSIONS.get<{ user: string }>(`session:${id}`, "json");
  if (session === null) return new Response("unknown session\n", { status: 401 });
  // Short TTLs are a Brink extension: Workers KV requires at least 60 s.
  event.waitUntil(SESSIONS.put(`seen:${id}`, new Date().toISOString(), { expirationTtl: 10 }));
  return new Response(`hello ${session.user} from ${REGION}\n`);
}

addEventListener("fetch", (event) => {
  event.passThroughOnException();
  event.respondWith(handleSession(event));
});
