// Request: what the incoming request a worker receives looks like.
export const cases = {
  "method-url-headers": {
    requests: [
      { path: "/p/a%20b?q=1&r=%2F" },
      { method: "DELETE", path: "/x", headers: { "x-one": "1", "X-Two": "2" } },
    ],
    async fetch(request) {
      const h = [...request.headers].filter(([k]) => k.startsWith("x-"));
      return Response.json({ method: request.method, url: request.url, h });
    },
  },
  "post-body-text": {
    requests: [{ method: "POST", body: "hello body", headers: { "content-type": "text/plain" } }],
    async fetch(request) {
      return Response.json({ ct: request.headers.get("content-type"), text: await request.text(), used: request.bodyUsed });
    },
  },
  "post-body-json": {
    requests: [{ method: "POST", body: '{"n":1,"s":"x"}', headers: { "content-type": "application/json" } }],
    async fetch(request) {
      return Response.json(await request.json());
    },
  },
  "post-body-form-urlencoded": {
    requests: [{ method: "POST", body: "a=1&b=two+words&a=3", headers: { "content-type": "application/x-www-form-urlencoded" } }],
    async fetch(request) {
      const f = await request.formData();
      return Response.json([...f]);
    },
  },
  "body-stream-read": {
    requests: [{ method: "PUT", body: "x".repeat(1000) }],
    async fetch(request) {
      let n = 0;
      for await (const chunk of request.body) n += chunk.byteLength;
      return Response.json({ n, used: request.bodyUsed });
    },
  },
  "get-has-null-body": {
    async fetch(request) {
      return Response.json({ body: request.body, used: request.bodyUsed, text: await request.text() });
    },
  },
  "redirect-mode": {
    async fetch(request) {
      return Response.json({ redirect: request.redirect });
    },
  },
  "body-echo": {
    requests: [{ method: "POST", bodyBase64: "AAEC/f7/" }],
    fetch(request) {
      return new Response(request.body, { headers: { "content-type": "application/octet-stream" } });
    },
  },
  "body-read-twice": {
    requests: [{ method: "POST", body: "once" }],
    async fetch(request) {
      const first = await request.text();
      let second;
      try {
        second = await request.text();
      } catch (e) {
        second = e.name;
      }
      return Response.json({ first, second });
    },
  },
  "clone-incoming": {
    requests: [{ method: "POST", body: "cloned" }],
    async fetch(request) {
      const c = request.clone();
      return Response.json([await request.text(), await c.text()]);
    },
  },
  "head-request": {
    requests: [{ method: "HEAD" }],
    fetch(request) {
      return new Response("body of head", { headers: { "x-method": request.method } });
    },
  },
};
