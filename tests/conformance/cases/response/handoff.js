// When the runtime takes the Response a handler gave: what a faster
// hand-off (fewer promises and microtasks per request) must not change.
export const cases = {
  "sync-return-then-microtask-header": {
    fetch() {
      const r = new Response("x");
      queueMicrotask(() => r.headers.set("x-late", "microtask"));
      return r;
    },
  },
  "async-return-then-microtask-header": {
    async fetch() {
      const r = new Response("x");
      Promise.resolve().then(() => r.headers.set("x-late", "then"));
      return r;
    },
  },
  "async-return-after-await-then-header": {
    async fetch() {
      await null;
      const r = new Response("x");
      Promise.resolve()
        .then(() => null)
        .then(() => r.headers.set("x-late", "two ticks"));
      return r;
    },
  },
  "timer-after-return-header": {
    fetch() {
      const r = new Response("x");
      setTimeout(() => r.headers.set("x-late", "timer"), 0);
      return r;
    },
  },
  "returns-thenable": {
    fetch() {
      return { then: (resolve) => resolve(new Response("from a thenable")) };
    },
  },
  "returns-promise-of-promise": {
    fetch: () => Promise.resolve(Promise.resolve(new Response("nested"))),
  },
  "returns-rejected-promise": {
    fetch: () => Promise.reject(new TypeError("rejected")),
  },
  "body-written-after-return": {
    fetch() {
      const { readable, writable } = new TransformStream();
      const w = writable.getWriter();
      const enc = new TextEncoder();
      (async () => {
        await w.write(enc.encode("written "));
        await new Promise((r) => setTimeout(r, 5));
        await w.write(enc.encode("after return"));
        await w.close();
      })();
      return new Response(readable);
    },
  },
  "microtask-order-in-handler": {
    async fetch() {
      const log = [];
      queueMicrotask(() => log.push("microtask 1"));
      await null;
      log.push("after await");
      await Promise.resolve();
      queueMicrotask(() => log.push("microtask 2"));
      await new Promise((r) => setTimeout(r, 0));
      log.push("after timeout");
      return Response.json(log);
    },
  },
  "request-used-after-return": {
    requests: [{ method: "POST", body: "read late" }],
    fetch(request) {
      const { readable, writable } = new TransformStream();
      request.body.pipeTo(writable);
      return new Response(readable);
    },
  },
};
