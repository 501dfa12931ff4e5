// What reaches the client for each kind of body and header init a worker
// returns: what a native Response hand-off must keep.
const enc = new TextEncoder();
// Made by the first request (workerd allows no Response at global scope).
let shared;

export const cases = {
  "blob-body": { fetch: () => new Response(new Blob(["from ", "a blob"], { type: "text/x-blob" })) },
  "urlsearchparams-body": { fetch: () => new Response(new URLSearchParams({ q: "a b", r: "é" })) },
  "arraybuffer-body": { fetch: () => new Response(enc.encode("buffer").buffer) },
  "dataview-body": { fetch: () => new Response(new DataView(enc.encode("xxviewxx").buffer, 2, 4)) },
  "subarray-body": { fetch: () => new Response(enc.encode("0123456789").subarray(3, 6)) },
  "stream-of-subarrays": {
    fetch() {
      const all = enc.encode("abcdefgh");
      return new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(all.subarray(0, 3));
            c.enqueue(all.subarray(3));
            c.close();
          },
        }),
      );
    },
  },
  "empty-stream": { fetch: () => new Response(new ReadableStream({ start: (c) => c.close() })) },
  "byte-stream-body": {
    fetch: () =>
      new Response(
        new ReadableStream({
          type: "bytes",
          start(c) {
            c.enqueue(enc.encode("bytes"));
            c.close();
          },
        }),
      ),
  },
  "transform-stream-body": {
    fetch() {
      const { readable, writable } = new TransformStream();
      const w = writable.getWriter();
      w.write(enc.encode("through "));
      w.write(enc.encode("a transform"));
      w.close();
      return new Response(readable);
    },
  },
  "after-await": {
    async fetch() {
      await new Promise((r) => setTimeout(r, 5));
      await null;
      return new Response("late", { status: 202 });
    },
  },
  "headers-record-and-pairs": {
    requests: [{ path: "/record" }, { path: "/pairs" }],
    fetch: (request) =>
      new URL(request.url).pathname === "/record"
        ? new Response("r", { headers: { "X-Record": "1", "Content-Type": "text/x-r" } })
        : new Response("p", { headers: [["x-pair", "1"], ["x-pair", "2"], ["set-cookie", "s=1"], ["set-cookie", "t=2"]] }),
  },
  "content-type-overridden": { fetch: () => new Response("{}", { headers: { "content-type": "application/json; charset=utf-8" } }) },
  "content-length-too-short": { fetch: () => new Response("abcdef", { headers: { "content-length": "3" } }) },
  "same-response-twice": {
    requests: [{}, {}],
    fetch: () => (shared ??= new Response("made once")),
  },
  "response-from-response": {
    fetch: () => new Response(new Response("inner", { status: 201, headers: { "x-inner": "1" } }).body, { status: 203 }),
  },
  "clone-returned": {
    async fetch() {
      const r = new Response("cloned body", { headers: { "x-c": "1" } });
      const c = r.clone();
      await r.text();
      return c;
    },
  },
  "redirect-with-body-headers": {
    fetch() {
      const r = Response.redirect("https://example.com/to", 308);
      return new Response(r.body, { status: r.status, headers: r.headers });
    },
  },
};
