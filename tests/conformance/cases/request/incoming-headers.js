// The incoming request's head as the worker sees it: what a native fast
// path building Request and Headers from the HTTP request must keep.
const showHead = async (request) =>
  Response.json({
    method: request.method,
    url: request.url,
    headers: [...request.headers].filter(([k]) => !["user-agent", "accept", "cf-connecting-ip", "cf-ray", "cf-visitor", "x-forwarded-proto", "x-real-ip", "cf-ipcountry", "cdn-loop"].includes(k)),
  });

export const cases = {
  "duplicate-headers-combined": {
    requests: [{ headers: { "x-dup": ["a", "b"], "X-Other": "1" } }],
    fetch: showHead,
  },
  "cookie-headers": {
    requests: [{ headers: { cookie: ["a=1", "b=2"] } }],
    fetch: (request) => Response.json({ cookie: request.headers.get("cookie") }),
  },
  "header-name-case": {
    requests: [{ headers: { "X-MiXeD-CaSe": "v", "content-TYPE": "text/plain" } }],
    fetch: showHead,
  },
  "empty-header-value": {
    requests: [{ headers: { "x-empty": "" } }],
    fetch: (request) => Response.json({ has: request.headers.has("x-empty"), value: request.headers.get("x-empty") }),
  },
  "header-value-whitespace": {
    requests: [{ headers: { "x-space": "  padded \t " } }],
    fetch: (request) => Response.json({ value: request.headers.get("x-space") }),
  },
  "latin1-header-value": {
    requests: [{ headers: { "x-latin1": "caf\u00e9" } }],
    fetch: (request) => Response.json({ value: request.headers.get("x-latin1"), codes: [...request.headers.get("x-latin1")].map((c) => c.charCodeAt(0)) }),
  },
  "long-header-value": {
    requests: [{ headers: { "x-long": "v".repeat(8000) } }],
    fetch: (request) => Response.json({ length: request.headers.get("x-long").length }),
  },
  "many-headers": {
    requests: [{ headers: Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`x-h${String(i).padStart(2, "0")}`, String(i)])) }],
    fetch: (request) => Response.json({ count: [...request.headers.keys()].filter((k) => k.startsWith("x-h")).length, last: request.headers.get("x-h59") }),
  },
  "headers-mutable-copy": {
    requests: [{ headers: { "x-a": "1" } }],
    fetch(request) {
      const h = new Headers(request.headers);
      h.set("x-a", "2");
      h.append("x-b", "3");
      return Response.json({ copy: [h.get("x-a"), h.get("x-b")], original: [request.headers.get("x-a"), request.headers.get("x-b")] });
    },
  },
  "headers-forwarded-to-response": {
    requests: [{ headers: { "x-echo": "back" } }],
    fetch: (request) => {
      // The edge in front of Workers adds CF-Connecting-IP, as Brink's
      // gateway does; a bare workerd has no edge.
      const headers = new Headers(request.headers);
      headers.delete("cf-connecting-ip");
      return new Response("ok", { headers });
    },
  },
  "encoded-path-and-query": {
    requests: [{ path: "/a%2Fb/%E2%82%AC/c%20d?x=%26&y=%E2%82%AC&z" }, { path: "/dots/./x/../y" }, { path: "/%zz?%zz" }],
    fetch: (request) => {
      const u = new URL(request.url);
      return Response.json({ url: request.url, pathname: u.pathname, params: [...u.searchParams] });
    },
  },
  "unicode-path-bytes": {
    requests: [{ path: "/caf%C3%A9" }],
    fetch: (request) => Response.json({ pathname: decodeURIComponent(new URL(request.url).pathname) }),
  },
  "custom-method": {
    requests: [{ method: "PURGE" }, { method: "PATCH", body: "p" }],
    async fetch(request) {
      return Response.json({ method: request.method, body: await request.text() });
    },
  },
  "options-request": {
    requests: [{ method: "OPTIONS", headers: { origin: "https://a.example", "access-control-request-method": "PUT" } }],
    fetch: (request) =>
      new Response(null, {
        status: 204,
        headers: { "access-control-allow-origin": request.headers.get("origin"), "access-control-allow-methods": "PUT" },
      }),
  },
  "post-empty-body": {
    requests: [{ method: "POST", body: "" }],
    async fetch(request) {
      return Response.json({ hasBody: request.body !== null, text: await request.text(), length: request.headers.get("content-length") });
    },
  },
  "body-arraybuffer-bytes": {
    requests: [{ method: "PUT", bodyBase64: "AP8Q7g==" }],
    async fetch(request) {
      return Response.json([...new Uint8Array(await request.arrayBuffer())]);
    },
  },
  "body-blob": {
    requests: [{ method: "POST", body: "blob body", headers: { "content-type": "text/x-thing" } }],
    async fetch(request) {
      const b = await request.blob();
      return Response.json({ size: b.size, type: b.type, text: await b.text() });
    },
  },
  "signal-not-aborted": {
    fetch: (request) => Response.json({ aborted: request.signal.aborted, isSignal: request.signal instanceof AbortSignal }),
  },
  "request-props": {
    fetch: (request) =>
      Response.json({ bodyUsed: request.bodyUsed, keepalive: request.keepalive, integrity: request.integrity, cache: request.cache ?? null }),
  },
  "new-request-from-incoming-url": {
    requests: [{ method: "POST", path: "/orig?q=1", body: "x", headers: { "x-keep": "1" } }],
    async fetch(request) {
      const r = new Request("https://other.example/new", request);
      return Response.json({ url: r.url, method: r.method, keep: r.headers.get("x-keep"), body: await r.text() });
    },
  },
};
