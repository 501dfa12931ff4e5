// Byte streams: BYOB readers, autoAllocateChunkSize, respond and views.
import { attempt, readAll } from "../../harness.js";

export const cases = {
  "byob-read": async () => {
    const s = new ReadableStream({
      type: "bytes",
      pull(c) {
        const v = c.byobRequest.view;
        v[0] = 7;
        v[1] = 8;
        c.byobRequest.respond(2);
        c.close();
      },
    });
    const r = s.getReader({ mode: "byob" });
    const first = await r.read(new Uint8Array(4));
    const second = await r.read(new Uint8Array(4));
    return [first, second];
  },
  "byob-enqueue-into-smaller-views": async () => {
    const s = new ReadableStream({
      type: "bytes",
      start(c) {
        c.enqueue(new Uint8Array([1, 2, 3, 4, 5]));
        c.close();
      },
    });
    const r = s.getReader({ mode: "byob" });
    const a = await r.read(new Uint8Array(2));
    const b = await r.read(new Uint8Array(2));
    const c = await r.read(new Uint8Array(2));
    const d = await r.read(new Uint8Array(2));
    return [a.value, b.value, c.value, d.done];
  },
  "byob-on-default-stream": () => attempt(() => new ReadableStream().getReader({ mode: "byob" })),
  "byob-zero-length-view": async () => {
    const s = new ReadableStream({ type: "bytes" });
    return attempt(() => s.getReader({ mode: "byob" }).read(new Uint8Array(0)));
  },
  "byob-min-option": async () => {
    const s = new ReadableStream({
      type: "bytes",
      start(c) {
        c.enqueue(new Uint8Array([1]));
        c.enqueue(new Uint8Array([2, 3]));
        c.close();
      },
    });
    return attempt(async () => (await s.getReader({ mode: "byob" }).read(new Uint8Array(3), { min: 3 })).value);
  },
  "auto-allocate": async () => {
    const s = new ReadableStream({
      type: "bytes",
      autoAllocateChunkSize: 4,
      pull(c) {
        const v = c.byobRequest.view;
        v.set([9, 9]);
        c.byobRequest.respond(2);
        c.close();
      },
    });
    return readAll(s);
  },
  "default-reader-on-bytes": async () => {
    const s = new ReadableStream({
      type: "bytes",
      start(c) {
        c.enqueue(new Uint8Array([1, 2]));
        c.close();
      },
    });
    return readAll(s);
  },
  "enqueue-non-view": () =>
    attempt(() => {
      new ReadableStream({
        type: "bytes",
        start(c) {
          c.enqueue("nope");
        },
      });
      return "no throw";
    }),
  "byte-stream-tee": async () => {
    const s = new ReadableStream({
      type: "bytes",
      start(c) {
        c.enqueue(new Uint8Array([5, 6]));
        c.close();
      },
    });
    const [a, b] = s.tee();
    return [await readAll(a), await readAll(b)];
  },
  "response-body-is-byte-stream": async () => {
    const r = new Response("hey");
    return attempt(async () => {
      const reader = r.body.getReader({ mode: "byob" });
      return (await reader.read(new Uint8Array(8))).value;
    });
  },
  "enqueued-buffer-detached": () => {
    const chunk = new Uint8Array([1, 2, 3]);
    new ReadableStream({
      type: "bytes",
      start(c) {
        c.enqueue(chunk);
      },
    });
    return [chunk.byteLength, chunk.buffer.byteLength];
  },
};
