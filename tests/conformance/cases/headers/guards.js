// Headers: which header lists may be changed.
import { attempt } from "../../harness.js";

export const cases = {
  "incoming-request-headers": {
    requests: [{ headers: { "x-in": "1" } }],
    async fetch(request) {
      const r = await attempt(() => {
        request.headers.set("x-added", "2");
        return request.headers.get("x-added");
      });
      return Response.json({ r });
    },
  },
  "response-redirect-headers": () =>
    attempt(() => {
      const r = Response.redirect("https://example.com/", 302);
      r.headers.set("x", "1");
      return r.headers.get("x");
    }),
  "response-error-headers": () =>
    attempt(() => {
      const r = Response.error();
      r.headers.set("x", "1");
      return r.headers.get("x");
    }),
  "new-response-headers-mutable": () => {
    const r = new Response("x");
    r.headers.set("x-late", "1");
    return [...r.headers];
  },
  "request-copy-headers-mutable": {
    requests: [{ headers: { "x-in": "1" } }],
    async fetch(request) {
      const copy = new Request(request);
      copy.headers.set("x-added", "2");
      return Response.json({ in: copy.headers.get("x-in"), added: copy.headers.get("x-added") });
    },
  },
  "forbidden-names-allowed": () => {
    const h = new Headers({ host: "a", cookie: "c=1", "content-length": "5", connection: "x" });
    const r = new Request("https://example.com/", { headers: { host: "b", cookie: "d=2" } });
    return [[...h], [...r.headers]];
  },
};
