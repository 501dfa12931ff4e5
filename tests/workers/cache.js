// Cache API fixture for tests/tests/cache.rs. Query parameters say what to
// put; request headers passed to /match are the ones the lookup sees.
const FORWARDED = ["if-none-match", "if-modified-since", "range", "accept-language"];

function cacheOf(url) {
  const name = url.searchParams.get("cache");
  return name === null ? Promise.resolve(caches.default) : caches.open(name);
}

function keyOf(url) {
  return `https://cache.test/${url.searchParams.get("key") ?? "k"}`;
}

async function describe(response) {
  if (response === undefined) return { miss: true };
  return {
    status: response.status,
    headers: Object.fromEntries(response.headers),
    body: await response.text(),
  };
}

async function caught(fn) {
  try {
    await fn();
    return "no error";
  } catch (error) {
    return `${error.name}: ${error.message}`;
  }
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const cache = await cacheOf(url);
    switch (url.pathname) {
      case "/put": {
        const headers = new Headers();
        for (const [param, header] of [
          ["cc", "cache-control"],
          ["etag", "etag"],
          ["lm", "last-modified"],
          ["expires", "expires"],
          ["vary", "vary"],
          ["cookie", "set-cookie"],
          ["type", "content-type"],
        ]) {
          const value = url.searchParams.get(param);
          if (value !== null) headers.set(header, value);
        }
        const status = Number(url.searchParams.get("status") ?? "200");
        const body = url.searchParams.get("body") ?? "cached body";
        const keyHeaders = {};
        const language = request.headers.get("accept-language");
        if (language !== null) keyHeaders["accept-language"] = language;
        const key = new Request(keyOf(url), { headers: keyHeaders });
        await cache.put(key, new Response(body, { status, headers }));
        return new Response("put");
      }
      case "/match": {
        const headers = {};
        for (const name of FORWARDED) {
          const value = request.headers.get(name);
          if (value !== null) headers[name] = value;
        }
        return Response.json(await describe(await cache.match(new Request(keyOf(url), { headers }))));
      }
      case "/delete":
        return Response.json({ deleted: await cache.delete(keyOf(url)) });
      case "/errors":
        return Response.json({
          post: await caught(() => cache.put(new Request("https://cache.test/p", { method: "POST" }), new Response("x"))),
          partial: await caught(() => cache.put("https://cache.test/p", new Response("x", { status: 206 }))),
          varyStar: await caught(() => cache.put("https://cache.test/p", new Response("x", { headers: { vary: "*" } }))),
          error: await caught(() => cache.put("https://cache.test/p", Response.error())),
          notAResponse: await caught(() => cache.put("https://cache.test/p", "x")),
          relative: await caught(() => cache.match("/relative")),
          postMatch: String(await cache.match(new Request("https://cache.test/p", { method: "POST" }))),
          postDelete: String(await cache.delete(new Request("https://cache.test/p", { method: "POST" }))),
          illegal: await caught(() => new Cache()),
        });
      case "/fill": {
        // Puts `n` entries of `kib` KiB each: the store must stay bounded.
        const n = Number(url.searchParams.get("n"));
        const body = "x".repeat(Number(url.searchParams.get("kib")) * 1024);
        for (let i = 0; i < n; i++) {
          await cache.put(`https://cache.test/fill/${i}`, new Response(body, { headers: { "cache-control": "max-age=3600" } }));
        }
        let hits = 0;
        for (let i = 0; i < n; i++) {
          if (await cache.match(`https://cache.test/fill/${i}`)) hits++;
        }
        return Response.json({ hits });
      }
      case "/hits": {
        // How many of /fill's `n` entries are found, without putting any.
        const n = Number(url.searchParams.get("n"));
        let hits = 0;
        for (let i = 0; i < n; i++) {
          const found = await cache.match(`https://cache.test/fill/${i}`);
          if (found && (await found.text()).length > 0) hits++;
        }
        return Response.json({ hits });
      }
      default:
        return new Response("not found", { status: 404 });
    }
  },
};
