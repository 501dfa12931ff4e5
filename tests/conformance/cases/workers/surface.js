// The Workers surface: env, ctx, navigator, Cloudflare-only globals.
import { attempt } from "../../harness.js";

export const cases = {
  "env-vars": {
    fetch(request, env) {
      return Response.json({ greeting: env.GREETING, keys: Object.keys(env).sort(), type: typeof env });
    },
  },
  "env-missing-binding": { fetch: (request, env) => Response.json({ missing: env.NOPE === undefined }) },
  "ctx-shape": {
    fetch(request, env, ctx) {
      return Response.json({
        waitUntil: typeof ctx.waitUntil,
        passThroughOnException: typeof ctx.passThroughOnException,
      });
    },
  },
  // Whether waitUntil work ran is not observable by a later request: the
  // platform may send it to another isolate (so may Brink, under load).
  "ctx-wait-until-values": {
    async fetch(request, env, ctx) {
      const out = [];
      for (const v of [Promise.resolve(1), 42, undefined]) {
        try {
          out.push(ctx.waitUntil(v) === undefined ? "accepted" : "returned a value");
        } catch (e) {
          out.push(e.name);
        }
      }
      return Response.json(out);
    },
  },
  "ctx-wait-until-rejects": {
    fetch(request, env, ctx) {
      ctx.waitUntil(Promise.reject(new Error("background failure")));
      return new Response("fine");
    },
  },
  "module-state-within-request": {
    fetch() {
      globalThis.count = (globalThis.count ?? 0) + 1;
      return new Response(String(globalThis.count > 0));
    },
  },
  "navigator": () => [typeof navigator, typeof navigator?.userAgent, navigator?.userAgent === "Cloudflare-Workers", navigator?.hardwareConcurrency],
  "self-and-global": () => [self === globalThis, typeof globalThis.addEventListener, typeof window, typeof Deno, typeof require],
  "process-global": () => typeof process,
  "html-rewriter-exists": () => typeof HTMLRewriter,
  "caches-exists": () => [typeof caches, typeof caches?.default, typeof caches?.open],
  "fixed-length-stream": async () =>
    attempt(async () => {
      const { readable, writable } = new FixedLengthStream(3);
      const w = writable.getWriter();
      w.write(new Uint8Array([1, 2, 3]));
      w.close();
      return new Uint8Array(await new Response(readable).arrayBuffer());
    }),
  "fixed-length-stream-response": {
    fetch() {
      const { readable, writable } = new FixedLengthStream(5);
      const w = writable.getWriter();
      w.write(new TextEncoder().encode("12345"));
      w.close();
      return new Response(readable);
    },
  },
  "identity-transform-stream": async () =>
    attempt(async () => {
      const t = new IdentityTransformStream();
      const w = t.writable.getWriter();
      w.write(new Uint8Array([4, 5]));
      w.close();
      return new Uint8Array(await new Response(t.readable).arrayBuffer());
    }),
  "websocket-pair-exists": () => [typeof WebSocketPair, typeof WebSocket],
  "performance-now": () => [typeof performance.now(), performance.timeOrigin === 0 || typeof performance.timeOrigin === "number"],
  "request-cf-property": {
    fetch(request) {
      return Response.json({ has: "cf" in request, type: typeof request.cf });
    },
  },
  "response-webSocket-property": () => ["webSocket" in new Response(), new Response().webSocket ?? null],
  "global-fetch-shape": () => [typeof fetch, fetch.length],
  "message-channel": async () =>
    attempt(async () => {
      const { port1, port2 } = new MessageChannel();
      const got = new Promise((r) => (port2.onmessage = (e) => r(e.data)));
      port1.postMessage({ a: 1 });
      const v = await got;
      port1.close();
      port2.close();
      return v;
    }),
  "event-target-global": () => [typeof addEventListener, typeof removeEventListener, typeof dispatchEvent],
};
