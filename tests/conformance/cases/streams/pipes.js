// WritableStream, TransformStream, pipeTo and pipeThrough.
import { attempt, ofChunks, readAll } from "../../harness.js";

export const cases = {
  "pipe-to": async () => {
    const got = [];
    await ofChunks("a", "b").pipeTo(new WritableStream({ write: (c) => got.push(c), close: () => got.push("<close>") }));
    return got;
  },
  "pipe-through-transform": async () => {
    const upper = new TransformStream({ transform: (c, ctl) => ctl.enqueue(c.toUpperCase()) });
    return readAll(ofChunks("a", "b").pipeThrough(upper));
  },
  "transform-flush": async () => {
    const t = new TransformStream({
      transform(c, ctl) {
        ctl.enqueue(c);
      },
      flush(ctl) {
        ctl.enqueue("<flushed>");
      },
    });
    return readAll(ofChunks("x").pipeThrough(t));
  },
  "identity-transform": async () => {
    const t = new TransformStream();
    const w = t.writable.getWriter();
    w.write("1");
    w.close();
    return readAll(t.readable);
  },
  "pipe-abort-signal": async () => {
    const ac = new AbortController();
    const s = new ReadableStream({ pull: (c) => c.enqueue("x") });
    const p = s.pipeTo(new WritableStream(), { signal: ac.signal });
    ac.abort(new Error("abort reason"));
    return attempt(() => p);
  },
  "pipe-prevent-close": async () => {
    const got = [];
    const w = new WritableStream({ write: (c) => got.push(c), close: () => got.push("<close>") });
    await ofChunks("a").pipeTo(w, { preventClose: true });
    return [got, w.locked];
  },
  "pipe-source-error-aborts-dest": async () => {
    let aborted = null;
    const src = new ReadableStream({
      start(c) {
        c.error(new TypeError("src"));
      },
    });
    const res = await attempt(() => src.pipeTo(new WritableStream({ abort: (r) => (aborted = r.name) })));
    return [res, aborted];
  },
  "pipe-dest-error-cancels-source": async () => {
    let cancelled = null;
    const src = new ReadableStream({
      pull: (c) => c.enqueue("x"),
      cancel: (r) => (cancelled = r.name),
    });
    const res = await attempt(() =>
      src.pipeTo(
        new WritableStream({
          write() {
            throw new RangeError("dest");
          },
        }),
      ),
    );
    return [res, cancelled];
  },
  "writer-backpressure": async () => {
    const log = [];
    let release;
    const w = new WritableStream(
      {
        write(c) {
          log.push(`write ${c}`);
          return new Promise((r) => (release = r));
        },
      },
      { highWaterMark: 1 },
    );
    const writer = w.getWriter();
    log.push(`size ${writer.desiredSize}`);
    writer.write("a");
    log.push(`size ${writer.desiredSize}`);
    writer.write("b");
    log.push(`size ${writer.desiredSize}`);
    await Promise.resolve();
    release();
    await new Promise((r) => setTimeout(r, 0));
    log.push(`size ${writer.desiredSize}`);
    return log;
  },
  "writer-ready": async () => {
    const w = new WritableStream({}, { highWaterMark: 0 });
    const writer = w.getWriter();
    return [writer.desiredSize, await Promise.race([writer.ready.then(() => "ready"), new Promise((r) => setTimeout(() => r("waiting"), 5))])];
  },
  "writer-close-then-write": async () => {
    const writer = new WritableStream().getWriter();
    await writer.close();
    return attempt(() => writer.write("x"));
  },
  "writable-abort": async () => {
    let reason = null;
    const w = new WritableStream({ abort: (r) => (reason = r) });
    await w.abort("because");
    return [reason, await attempt(() => w.getWriter().write("x"))];
  },
  "transform-error": async () => {
    const t = new TransformStream({
      transform() {
        throw new URIError("t");
      },
    });
    const writer = t.writable.getWriter();
    const w = attempt(() => writer.write("x"));
    const r = attempt(() => t.readable.getReader().read());
    return [await w, await r];
  },
  "transform-terminate": async () => {
    const t = new TransformStream({
      start(ctl) {
        ctl.enqueue("only");
        ctl.terminate();
      },
    });
    return [await readAll(t.readable), await attempt(() => t.writable.getWriter().write("x"))];
  },
  "compression-roundtrip": async () => {
    const text = "hello hello hello hello";
    const packed = ofChunks(new TextEncoder().encode(text)).pipeThrough(new CompressionStream("gzip"));
    const out = packed.pipeThrough(new DecompressionStream("gzip")).pipeThrough(new TextDecoderStream());
    return (await readAll(out)).join("");
  },
  "compression-formats": () =>
    ["gzip", "deflate", "deflate-raw", "brotli", "zstd"].map((f) => attempt(() => (new CompressionStream(f), "ok"))),
  "decompress-garbage": async () =>
    attempt(async () => readAll(ofChunks(new Uint8Array([1, 2, 3, 4])).pipeThrough(new DecompressionStream("gzip")))),
  "deflate-known-bytes": async () => {
    const out = await readAll(ofChunks(new TextEncoder().encode("aaaa")).pipeThrough(new CompressionStream("deflate")));
    const all = out.reduce((a, b) => [...a, ...b], []);
    return (await readAll(ofChunks(new Uint8Array(all)).pipeThrough(new DecompressionStream("deflate")))).length > 0;
  },
};
