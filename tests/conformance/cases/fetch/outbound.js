// Outbound fetch() to the runner's origin server on 127.0.0.1 (env.ORIGIN):
// redirects, headers, bodies, abort signals.
import { attempt } from "../../harness.js";

const summary = async (r) => ({
  status: r.status,
  statusText: r.statusText,
  ok: r.ok,
  redirected: r.redirected,
  path: new URL(r.url).pathname,
  origin: r.headers.get("x-origin"),
  body: await r.text(),
});

const c = (fn) => (request, env) => attempt(() => fn(env.ORIGIN));

export const cases = {
  "get-echo": c(async (o) => summary(await fetch(`${o}/echo?x=1`, { headers: { "x-custom": "v" } }))),
  "post-body": c(async (o) => summary(await fetch(`${o}/echo`, { method: "POST", body: "sent body", headers: { "content-type": "text/x" } }))),
  "post-stream-body": c(async (o) => {
    const body = new ReadableStream({
      start(ctl) {
        ctl.enqueue(new TextEncoder().encode("streamed "));
        ctl.enqueue(new TextEncoder().encode("upload"));
        ctl.close();
      },
    });
    return summary(await fetch(`${o}/echo`, { method: "PUT", body, duplex: "half" }));
  }),
  "request-object": c(async (o) => summary(await fetch(new Request(`${o}/echo`, { method: "PATCH", body: "r", headers: { "x-r": "1" } })))),
  "status-codes": c(async (o) =>
    Promise.all([201, 404, 500, 503].map(async (s) => {
      const r = await fetch(`${o}/status/${s}`);
      return [r.status, r.statusText, r.ok, await r.text()];
    })),
  ),
  "response-type": c(async (o) => (await fetch(`${o}/echo`)).type),
  "response-url-after-redirect": c(async (o) => new URL((await fetch(`${o}/redirect/302/1`)).url).pathname),
  "no-content": c(async (o) => {
    const r = await fetch(`${o}/status/204`);
    return [r.status, r.body, await r.text()];
  }),
  "redirect-follow": c(async (o) => summary(await fetch(`${o}/redirect/302/2`))),
  "redirect-manual": c(async (o) => {
    const r = await fetch(`${o}/redirect/301/1`, { redirect: "manual" });
    return [r.status, r.headers.get("location"), r.redirected];
  }),
  "redirect-303-becomes-get": c(async (o) => summary(await fetch(`${o}/redirect/303/1`, { method: "POST", body: "dropped" }))),
  "redirect-307-keeps-method": c(async (o) => summary(await fetch(`${o}/redirect/307/1`, { method: "POST", body: "kept" }))),
  "redirect-error-mode": c(async (o) => fetch(`${o}/redirect/302/1`, { redirect: "error" }).then((r) => r.status)),
  "redirect-limit": c(async (o) => fetch(`${o}/redirect/302/25`).then((r) => r.status)),
  "set-cookie-list": c(async (o) => {
    const r = await fetch(`${o}/cookies`);
    return [r.headers.getSetCookie(), r.headers.get("set-cookie")];
  }),
  "response-headers-immutable": c(async (o) => {
    const r = await fetch(`${o}/echo`);
    return attempt(() => {
      r.headers.set("x-new", "1");
      return "mutable";
    });
  }),
  "chunked-body": c(async (o) => {
    const r = await fetch(`${o}/chunks`);
    let text = "";
    for await (const chunk of r.body.pipeThrough(new TextDecoderStream())) text += chunk;
    return text;
  }),
  "binary-body": c(async (o) => new Uint8Array(await (await fetch(`${o}/bytes`)).arrayBuffer())),
  "abort-before": c(async (o) => fetch(`${o}/echo`, { signal: AbortSignal.abort() })),
  "abort-during": c(async (o) => {
    const ac = new AbortController();
    const p = fetch(`${o}/slow`, { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    return p;
  }),
  "abort-custom-reason": c(async (o) => {
    const ac = new AbortController();
    const p = fetch(`${o}/slow`, { signal: ac.signal });
    setTimeout(() => ac.abort(new RangeError("mine")), 20);
    return p;
  }),
  "abort-timeout": c(async (o) => fetch(`${o}/slow`, { signal: AbortSignal.timeout(20) })),
  "abort-any": c(async (o) => fetch(`${o}/slow`, { signal: AbortSignal.any([new AbortController().signal, AbortSignal.timeout(20)]) })),
  "bad-url": c(async () => fetch("not a url")),
  // env.RESET is a server that closes every connection at once.
  "connection-reset": async (request, env) => {
    try {
      return await fetch(`${env.RESET}/x`);
    } catch (e) {
      return [e.name, e instanceof TypeError];
    }
  },
  "relative-url": c(async () => fetch("/relative")),
  "unsupported-scheme": c(async () => fetch("ftp://example.com/")),
  "passes-response-through": {
    async fetch(request, env) {
      return fetch(`${env.ORIGIN}/echo`, { headers: { "x-through": "1" } });
    },
  },
  "response-clone-of-fetched": c(async (o) => {
    const r = await fetch(`${o}/echo`);
    const c2 = r.clone();
    return [(await r.json()).path, (await c2.json()).method];
  }),
  "proxy-incoming-request": {
    requests: [{ method: "POST", path: "/in", body: "proxied", headers: { "x-from-client": "yes" } }],
    async fetch(request, env) {
      const upstream = new URL(env.ORIGIN);
      const url = new URL(request.url);
      url.host = upstream.host;
      url.pathname = "/echo";
      return fetch(new Request(url, request));
    },
  },
};
