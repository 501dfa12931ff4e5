// ReadableStream: readers, tee, cancellation, errors, async iteration, from().
import { attempt, ofChunks, readAll } from "../../harness.js";

// Breaks out of a for-await over iterable(an endless stream) and tells
// whether the stream was cancelled and is still locked.
async function breakOutOf(iterable) {
  let cancelled = "no";
  const s = new ReadableStream({
    pull(c) {
      c.enqueue("x");
    },
    cancel() {
      cancelled = "yes";
    },
  });
  for await (const x of iterable(s)) break;
  return [cancelled, s.locked];
}

export const cases = {
  "read-all": async () => readAll(ofChunks("a", "b", 3)),
  "pull-order": async () => {
    const log = [];
    let i = 0;
    const s = new ReadableStream(
      {
        start() {
          log.push("start");
        },
        pull(c) {
          log.push(`pull${i}`);
          if (i === 2) c.close();
          else c.enqueue(i++);
        },
      },
      { highWaterMark: 0 },
    );
    await readAll(s);
    return log;
  },
  "desired-size": () => {
    const sizes = [];
    new ReadableStream(
      {
        start(c) {
          sizes.push(c.desiredSize);
          c.enqueue("x");
          sizes.push(c.desiredSize);
          c.enqueue("y");
          sizes.push(c.desiredSize);
          c.close();
          sizes.push(c.desiredSize);
        },
      },
      { highWaterMark: 2 },
    );
    return sizes;
  },
  "tee": async () => {
    const [a, b] = ofChunks("x", "y").tee();
    return [await readAll(a), await readAll(b)];
  },
  "tee-cancel-one": async () => {
    let reason = null;
    const s = new ReadableStream({
      start(c) {
        c.enqueue("1");
      },
      cancel(r) {
        reason = r;
      },
    });
    const [a, b] = s.tee();
    // The source is cancelled once both branches are, with both reasons.
    const first = a.cancel("one");
    await new Promise((r) => setTimeout(r, 0));
    const beforeBoth = reason;
    await b.cancel("two");
    await first;
    return [beforeBoth, reason];
  },
  "cancel-reason": async () => {
    let seen;
    const s = new ReadableStream({
      cancel(r) {
        seen = r;
      },
    });
    const result = await s.cancel("why");
    return [seen, result];
  },
  "reader-cancel-pending-read": async () => {
    const s = new ReadableStream();
    const reader = s.getReader();
    const pending = reader.read();
    await reader.cancel("stop");
    return pending;
  },
  "locked": () => {
    const s = ofChunks();
    const before = s.locked;
    const r = s.getReader();
    const during = s.locked;
    const second = attempt(() => s.getReader());
    r.releaseLock();
    return [before, during, second, s.locked];
  },
  "release-with-pending-read": async () => {
    const s = new ReadableStream();
    const r = s.getReader();
    const p = r.read().then(
      () => "resolved",
      (e) => e.name,
    );
    r.releaseLock();
    return p;
  },
  "error-propagates": async () => {
    const s = new ReadableStream({
      start(c) {
        c.enqueue("a");
        c.error(new RangeError("bad"));
      },
    });
    const r = s.getReader();
    return attempt(() => r.read());
  },
  "closed-promise": async () => {
    const r = ofChunks("a").getReader();
    await r.read();
    await r.read();
    return [await r.closed];
  },
  "enqueue-after-close": () =>
    attempt(() => {
      new ReadableStream({
        start(c) {
          c.close();
          c.enqueue("x");
        },
      });
      return "no throw";
    }),
  "async-iteration": async () => {
    const out = [];
    for await (const x of ofChunks(1, 2, 3)) out.push(x);
    return out;
  },
  "async-iteration-break-cancels": async () => breakOutOf((s) => s),
  "async-iteration-prevent-cancel": async () => breakOutOf((s) => s.values({ preventCancel: true })),
  "from-iterable": async () => attempt(async () => readAll(ReadableStream.from(["a", "b"]))),
  "from-async-generator": async () =>
    attempt(async () =>
      readAll(
        ReadableStream.from(
          (async function* () {
            yield 1;
            yield 2;
          })(),
        ),
      ),
    ),
  "count-queuing-strategy": () => {
    const s = new CountQueuingStrategy({ highWaterMark: 3 });
    return [s.highWaterMark, s.size("anything")];
  },
  "byte-length-queuing-strategy": () => {
    const s = new ByteLengthQueuingStrategy({ highWaterMark: 16 });
    return [s.highWaterMark, s.size(new Uint8Array(5))];
  },
  "size-strategy-backpressure": () => {
    const sizes = [];
    new ReadableStream(
      {
        start(c) {
          c.enqueue("abc");
          sizes.push(c.desiredSize);
          c.enqueue("de");
          sizes.push(c.desiredSize);
        },
      },
      { highWaterMark: 4, size: (chunk) => chunk.length },
    );
    return sizes;
  },
  "start-throws": async () =>
    attempt(() => {
      new ReadableStream({
        start() {
          throw new SyntaxError("in start");
        },
      });
      return "constructed";
    }),
  "pull-rejects-errors-stream": async () => {
    const s = new ReadableStream({
      pull() {
        return Promise.reject(new TypeError("pull failed"));
      },
    });
    return attempt(() => s.getReader().read());
  },
};
