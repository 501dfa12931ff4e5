// Mistakes the types must reject. Each `@ts-expect-error` line must produce a
// type error: if the types ever accept the line, tsc fails with "Unused
// '@ts-expect-error' directive".
export {};

declare const kv: KVNamespace;
declare const ctx: ExecutionContext;
declare const users: KVNamespace<`user:${string}`>;

export async function kvMistakes() {
  // @ts-expect-error expirationTtl is a number of seconds, not a string
  await kv.put("k", "v", { expirationTtl: "60" });
  // @ts-expect-error expiration and expirationTtl are exclusive (Brink rejects both)
  await kv.put("k", "v", { expiration: 1767225600, expirationTtl: 60 });
  // @ts-expect-error misspelt option
  await kv.put("k", "v", { ttl: 60 });
  // @ts-expect-error numbers are not storable values; stringify them
  await kv.put("k", 42);
  // @ts-expect-error plain objects are not storable values; JSON.stringify them
  await kv.put("k", { a: 1 });
  // @ts-expect-error KV has no set(); it is put()
  await kv.set("k", "v");
  // @ts-expect-error KV has no remove(); it is delete()
  await kv.remove("k");
  // @ts-expect-error unknown value type
  await kv.get("k", "blob");
  // @ts-expect-error unknown value type in options
  await kv.get("k", { type: "bytes" });
  // @ts-expect-error consistency is "eventual" or "strong"
  await kv.get("k", { consistency: "linearizable" });
  // @ts-expect-error keys are strings
  await kv.get(42);
  // @ts-expect-error a text read is not a number
  const n: number | null = await kv.get("k");
  // @ts-expect-error a read may miss: the result can be null
  const s: string = await kv.get("k");
  // @ts-expect-error list() takes options, not a prefix string
  await kv.list("user:");
  // @ts-expect-error the cursor is only there while list_complete is false
  const cursor: string = (await kv.list()).cursor;
  // @ts-expect-error keys outside the namespace's declared key type
  await users.get("session:1");
  return [n, s, cursor];
}

export async function atomicMistakes() {
  // @ts-expect-error check() needs a version (null: "must not exist")
  kv.atomic().check({ key: "a" });
  // @ts-expect-error versions are numbers, not strings
  kv.atomic().check({ key: "a", version: "3" });
  // @ts-expect-error atomic has set(), not put()
  kv.atomic().put("a", "1");
  // @ts-expect-error set() takes put's options
  kv.atomic().set("a", "1", { expirationTtl: "1h" });
  const result = await kv.atomic().set("a", "1").commit();
  // @ts-expect-error a failed commit has no version
  if (!result.ok) result.version.toFixed();
}

export function handlerMistakes() {
  interface Env {
    COUNTS: KVNamespace;
  }
  // @ts-expect-error waitUntil takes a promise: call put(), don't pass it
  ctx.waitUntil(kv.put);
  // @ts-expect-error ExecutionContext has no respondWith (that is FetchEvent)
  ctx.respondWith(new Response());

  const wrongReturn = {
    // @ts-expect-error fetch must return a Response
    async fetch() {
      return "hello";
    },
  } satisfies ExportedHandler<Env>;

  const typoInEnv = {
    async fetch(_request, env) {
      // @ts-expect-error env only has the bindings Env declares
      return new Response(await env.COUNT.get("hits"));
    },
  } satisfies ExportedHandler<Env>;

  // @ts-expect-error Brink dispatches only fetch, so a worker must have one
  const noFetch = { async scheduled() {} } satisfies ExportedHandler<Env>;

  addEventListener("fetch", (event) => {
    // @ts-expect-error respondWith takes a Response, not a string
    event.respondWith("hello");
  });
  return [wrongReturn, typoInEnv, noFetch];
}

// HTMLRewriter handlers get content objects, not strings.
new HTMLRewriter().on("a", {
  // @ts-expect-error element handlers receive an Element
  element(element: string) {
    return element;
  },
});
// @ts-expect-error transform takes a Response
new HTMLRewriter().transform("<p>");
