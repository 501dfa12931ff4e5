// Request: the constructor's defaults, normalisation and refusals.
import { attempt } from "../../harness.js";

const props = (r) => ({
  method: r.method,
  url: r.url,
  redirect: r.redirect,
  headers: [...r.headers],
  bodyUsed: r.bodyUsed,
  hasBody: r.body !== null,
});

export const cases = {
  "defaults": () => props(new Request("https://example.com")),
  "method-normalised": () =>
    ["get", "post", "Delete", "patch", "options", "head", "put"].map((m) => new Request("https://e.com/", { method: m }).method),
  "method-custom-kept": () => new Request("https://e.com/", { method: "Purge" }).method,
  "method-invalid": () => attempt(() => new Request("https://e.com/", { method: "bad method" })),
  "method-forbidden-connect": () => attempt(() => new Request("https://e.com/", { method: "CONNECT" }).method),
  "get-with-body": () => attempt(() => new Request("https://e.com/", { body: "x" })),
  "head-with-body": () => attempt(() => new Request("https://e.com/", { method: "HEAD", body: "x" })),
  "relative-url": () => attempt(() => new Request("/relative").url),
  "url-normalised": () => new Request("HTTPS://Example.COM:443/a/../b?q#frag").url,
  "credentials-in-url": () => attempt(() => new Request("https://user:pw@example.com/").url),
  "string-body-content-type": () => props(new Request("https://e.com/", { method: "POST", body: "hi" })),
  "urlsearchparams-body-content-type": () =>
    new Request("https://e.com/", { method: "POST", body: new URLSearchParams("a=1") }).headers.get("content-type"),
  "explicit-content-type-kept": () =>
    new Request("https://e.com/", { method: "POST", body: "x", headers: { "content-type": "a/b" } }).headers.get("content-type"),
  "redirect-values": () =>
    ["follow", "manual", "error"].map((redirect) => attempt(() => new Request("https://e.com/", { redirect }).redirect)),
  "redirect-invalid": () => attempt(() => new Request("https://e.com/", { redirect: "nope" })),
  "from-request-override": () => {
    const a = new Request("https://e.com/a", { method: "POST", body: "x", headers: { a: "1" } });
    const b = new Request(a, { headers: { b: "2" } });
    return [props(b), a.bodyUsed];
  },
  "from-request-body-moves": async () => {
    const a = new Request("https://e.com/", { method: "POST", body: "moved" });
    const b = new Request(a);
    return [a.bodyUsed, await b.text(), await attempt(() => a.text())];
  },
  "method-get-from-post-drops-body": () =>
    attempt(() => new Request(new Request("https://e.com/", { method: "POST", body: "x" }), { method: "GET" }).method),
  "signal-default": () => {
    const r = new Request("https://e.com/");
    return [r.signal instanceof AbortSignal, r.signal.aborted];
  },
  "body-read-twice": async () => {
    const r = new Request("https://e.com/", { method: "POST", body: "once" });
    return [await r.text(), r.bodyUsed, await attempt(() => r.text())];
  },
  "clone-both-readable": async () => {
    const r = new Request("https://e.com/", { method: "PUT", body: "twice" });
    const c = r.clone();
    return [await r.text(), await c.text(), c.method, c.url];
  },
  "clone-after-read": async () => {
    const r = new Request("https://e.com/", { method: "PUT", body: "x" });
    await r.text();
    return attempt(() => r.clone());
  },
  "json-body": async () => new Request("https://e.com/", { method: "POST", body: '{"a":[1,2]}' }).json(),
  "json-invalid": async () => attempt(() => new Request("https://e.com/", { method: "POST", body: "{x" }).json()),
  "arraybuffer-body": async () => new Request("https://e.com/", { method: "POST", body: new Uint8Array([1, 2, 3]) }).arrayBuffer(),
  "no-body-text": async () => [await new Request("https://e.com/").text(), new Request("https://e.com/").body],
};
