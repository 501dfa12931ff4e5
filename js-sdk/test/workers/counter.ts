// A module worker using KV the way docs/kv.md shows: a visit counter kept
// exact with atomic compare-and-set, per-user records with metadata, paged
// listing and bulk reads. Uses only the global types (tsconfig "types").

interface Env {
  COUNTS: KVNamespace;
  USERS: KVNamespace<`user:${string}`>;
  GREETING: string;
}

interface User {
  name: string;
  plan: "free" | "pro";
}

interface UserMetadata {
  plan: User["plan"];
}

/** Increments `key` exactly once, retrying when another request got there first. */
async function increment(kv: KVNamespace, key: string): Promise<number> {
  for (;;) {
    const { value, version } = await kv.getWithMetadata(key);
    const next = Number(value ?? 0) + 1;
    const result = await kv
      .atomic()
      .check({ key, version })
      .check({ key: "lock", version: null })
      .set(key, String(next), { expirationTtl: 3600 })
      .delete("stale")
      .commit();
    if (result.ok) return next;
  }
}

async function allUsers(kv: Env["USERS"]): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await kv.list<UserMetadata>({ prefix: "user:", limit: 500, cursor });
    for (const { name, expiration, metadata } of page.keys) {
      const plan: "free" | "pro" | undefined = metadata?.plan;
      const expires: number | undefined = expiration;
      names.push(`${name} (${plan ?? "?"}${expires ? `, until ${expires}` : ""})`);
    }
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return names;
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);

    if (url.pathname === "/hit") {
      const n = await increment(env.COUNTS, "hits");
      return new Response(`${env.GREETING} #${n}\n`, { headers: { "content-type": "text/plain" } });
    }

    const user = /^\/users\/(\w+)$/.exec(url.pathname);
    if (user && request.method === "PUT") {
      const body = (await request.json()) as User;
      ctx.waitUntil(
        env.USERS.put(`user:${user[1]}`, JSON.stringify(body), { metadata: { plan: body.plan } satisfies UserMetadata }),
      );
      return new Response(null, { status: 202 });
    }
    if (user) {
      const { value, metadata, version } = await env.USERS.getWithMetadata<User, UserMetadata>(
        `user:${user[1]}`,
        "json",
      );
      if (value === null) return Response.json({ error: "no such user" }, { status: 404 });
      return Response.json({ ...value, plan: metadata?.plan, version });
    }

    if (url.pathname === "/users") {
      return Response.json(await allUsers(env.USERS));
    }

    if (url.pathname === "/bulk") {
      const values = await env.COUNTS.get(["hits", "misses"], { type: "json", cacheTtl: 5 });
      return Response.json(Object.fromEntries(values));
    }

    if (url.pathname === "/logo") {
      const logo = await env.COUNTS.get("logo", { type: "stream" });
      return logo ? new Response(logo, { headers: { "content-type": "image/png" } }) : new Response(null, { status: 404 });
    }

    ctx.passThroughOnException();
    return new Response("not found\n", { status: 404 });
  },
} satisfies ExportedHandler<Env>;
