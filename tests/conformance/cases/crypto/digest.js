// crypto.subtle.digest, getRandomValues and randomUUID shapes, timingSafeEqual.
import { attempt } from "../../harness.js";

const enc = (s) => new TextEncoder().encode(s);

export const cases = {
  "digest-sha": async () =>
    Promise.all(["SHA-1", "SHA-256", "SHA-384", "SHA-512"].map((a) => crypto.subtle.digest(a, enc("abc")))),
  "digest-name-forms": async () =>
    Promise.all(["sha-256", { name: "SHA-256" }, "Sha-256"].map((a) => attempt(async () => (await crypto.subtle.digest(a, enc(""))).byteLength))),
  "digest-md5": async () => attempt(() => crypto.subtle.digest("MD5", enc("abc"))),
  "digest-unknown": async () => attempt(() => crypto.subtle.digest("SHA-3", enc("abc"))),
  "digest-input-types": async () =>
    Promise.all(
      [enc("ab").buffer, new DataView(enc("ab").buffer), enc("xaby").subarray(1, 3)].map(async (d) => crypto.subtle.digest("SHA-1", d)),
    ),
  "digest-string-input": async () => attempt(() => crypto.subtle.digest("SHA-256", "abc")),
  "get-random-values": () => {
    const a = new Uint8Array(16);
    const r = crypto.getRandomValues(a);
    return [r === a, a.length];
  },
  "get-random-values-too-big": () => attempt(() => crypto.getRandomValues(new Uint8Array(65537))),
  "get-random-values-float": () => attempt(() => crypto.getRandomValues(new Float32Array(4))),
  "random-uuid-shape": () => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(crypto.randomUUID()),
  "timing-safe-equal": () =>
    attempt(() => [
      crypto.subtle.timingSafeEqual(enc("abc"), enc("abc")),
      crypto.subtle.timingSafeEqual(enc("abc"), enc("abd")),
    ]),
  "timing-safe-equal-length": () => attempt(() => crypto.subtle.timingSafeEqual(enc("a"), enc("ab"))),
  "digest-stream": async () =>
    attempt(async () => {
      const s = new crypto.DigestStream("SHA-256");
      const w = s.getWriter();
      w.write(enc("a"));
      w.write(enc("bc"));
      w.close();
      return await s.digest;
    }),
  "crypto-key-class": () => [typeof CryptoKey, typeof SubtleCrypto, crypto.subtle instanceof SubtleCrypto],
};
