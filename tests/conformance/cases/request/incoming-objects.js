// The incoming Request as an object: identities, laziness and copies that a
// Request built natively (headers materialised on first use) must keep.
export const cases = {
  "headers-identity-stable": {
    requests: [{ headers: { "x-a": "1" } }],
    fetch: (request) => Response.json({ same: request.headers === request.headers, signal: request.signal === request.signal }),
  },
  "headers-after-body-read": {
    requests: [{ method: "POST", body: "b", headers: { "x-a": "1" } }],
    async fetch(request) {
      const text = await request.text();
      return Response.json({ text, a: request.headers.get("x-a"), used: request.bodyUsed });
    },
  },
  "clone-headers-independent": {
    requests: [{ headers: { "x-a": "1" } }],
    fetch(request) {
      const c = request.clone();
      let mutable;
      try {
        c.headers.set("x-b", "2");
        mutable = "yes";
      } catch (e) {
        mutable = e.name;
      }
      return Response.json({ mutable, original: request.headers.get("x-b"), clone: c.headers.get("x-b") });
    },
  },
  "request-properties-enumerable": {
    fetch: (request) => Response.json({ keys: Object.keys(request), proto: Object.getPrototypeOf(request) === Request.prototype, instance: request instanceof Request }),
  },
  "url-is-string": {
    requests: [{ path: "/p?q=1#no-fragment-sent" }],
    fetch: (request) => Response.json({ type: typeof request.url, url: request.url }),
  },
  "host-with-port": {
    requests: [{ headers: { host: "with-port.example:8080" } }],
    fetch: (request) => Response.json({ url: request.url, host: request.headers.get("host") }),
  },
  "structured-clone-request": {
    fetch(request) {
      try {
        structuredClone(request);
        return new Response("cloned");
      } catch (e) {
        return new Response(e.name);
      }
    },
  },
  "json-stringify-request": {
    fetch: (request) => new Response(JSON.stringify(request)),
  },
  "to-string-tags": {
    fetch: (request) =>
      Response.json([Object.prototype.toString.call(request), Object.prototype.toString.call(request.headers), String(request.headers)]),
  },
};
