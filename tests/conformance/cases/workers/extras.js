// Workers' own stream, crypto and scheduler extensions, beyond their basics.
import { attempt, hex } from "../../harness.js";

const enc = new TextEncoder();

export const cases = {
  "fixed-length-too-short": async () =>
    attempt(async () => {
      const { readable, writable } = new FixedLengthStream(3);
      const w = writable.getWriter();
      const read = new Response(readable).arrayBuffer().then(
        () => "read",
        (e) => e.name,
      );
      await w.write(new Uint8Array([1, 2]));
      const closed = await w.close().then(
        () => "closed",
        (e) => e.name,
      );
      return [closed, await read];
    }),
  "fixed-length-too-long": async () =>
    attempt(async () => {
      const { readable, writable } = new FixedLengthStream(1);
      const w = writable.getWriter();
      new Response(readable).arrayBuffer().catch(() => {});
      return await w.write(new Uint8Array([1, 2])).then(
        () => "written",
        (e) => e.name,
      );
    }),
  "fixed-length-head-content-length": {
    requests: [{ method: "HEAD" }],
    fetch() {
      const { readable, writable } = new FixedLengthStream(5);
      const w = writable.getWriter();
      w.write(enc.encode("12345"));
      w.close();
      return new Response(readable);
    },
  },
  "fixed-length-bad-length": () => [attempt(() => new FixedLengthStream(-1)), attempt(() => new FixedLengthStream("x"))],
  "identity-transform-byob": async () =>
    attempt(async () => {
      const t = new IdentityTransformStream();
      const w = t.writable.getWriter();
      w.write(new Uint8Array([7, 8, 9]));
      w.close();
      const r = t.readable.getReader({ mode: "byob" });
      return (await r.read(new Uint8Array(2))).value;
    }),
  // Only bytes may go through; a write that never settles shows "pending".
  "identity-transform-string-chunk": async () =>
    attempt(async () => {
      const t = new IdentityTransformStream();
      t.readable.getReader().read().catch(() => {});
      const w = t.writable.getWriter();
      const written = w.write("not bytes").then(
        () => "written",
        (e) => e.name,
      );
      return await Promise.race([written, new Promise((r) => setTimeout(() => r("pending"), 200))]);
    }),
  "digest-stream-algorithms": async () =>
    Promise.all(
      ["SHA-1", "SHA-384", "SHA-512", "MD5", "SHA-3"].map((a) =>
        attempt(async () => {
          const s = new crypto.DigestStream(a);
          const w = s.getWriter();
          await w.write(enc.encode("abc"));
          await w.close();
          return hex(new Uint8Array(await s.digest));
        }),
      ),
    ),
  "digest-stream-empty": async () =>
    attempt(async () => {
      const s = new crypto.DigestStream("SHA-256");
      await s.getWriter().close();
      return await s.digest;
    }),
  "timing-safe-equal-buffer-types": () =>
    attempt(() => [
      crypto.subtle.timingSafeEqual(enc.encode("ab").buffer, enc.encode("ab").buffer),
      crypto.subtle.timingSafeEqual(new DataView(enc.encode("ab").buffer), enc.encode("ab")),
    ]),
  "timing-safe-equal-not-buffers": () => attempt(() => crypto.subtle.timingSafeEqual("ab", "ab")),
  "scheduler-wait-aborted": async () =>
    attempt(async () => {
      await scheduler.wait(10000, { signal: AbortSignal.abort() });
      return "waited";
    }),
  "navigator-properties": () =>
    attempt(() => ({ userAgent: navigator.userAgent, language: navigator.language ?? null, languages: navigator.languages ?? null })),
};
