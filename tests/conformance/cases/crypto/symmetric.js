// crypto.subtle: HMAC, AES-GCM/CBC/CTR/KW, PBKDF2, HKDF with fixed keys.
import { attempt } from "../../harness.js";

const enc = (s) => new TextEncoder().encode(s);
const raw16 = new Uint8Array([...Array(16).keys()]);
const raw32 = new Uint8Array([...Array(32).keys()]);
const iv12 = new Uint8Array(12).fill(7);
const iv16 = new Uint8Array(16).fill(9);
const aes = (name, raw = raw16, usages = ["encrypt", "decrypt"]) => crypto.subtle.importKey("raw", raw, name, true, usages);
const hmac = (hash = "SHA-256", usages = ["sign", "verify"]) =>
  crypto.subtle.importKey("raw", enc("secret"), { name: "HMAC", hash }, true, usages);

export const cases = {
  "hmac-sign": async () => Promise.all(["SHA-1", "SHA-256", "SHA-512"].map(async (h) => crypto.subtle.sign("HMAC", await hmac(h), enc("msg")))),
  "hmac-verify": async () => {
    const k = await hmac();
    const sig = await crypto.subtle.sign("HMAC", k, enc("msg"));
    return [await crypto.subtle.verify("HMAC", k, sig, enc("msg")), await crypto.subtle.verify("HMAC", k, sig, enc("msh"))];
  },
  "hmac-key-props": async () => {
    const k = await hmac("SHA-384");
    return [k.type, k.extractable, k.algorithm, k.usages];
  },
  "hmac-export-jwk": async () => crypto.subtle.exportKey("jwk", await hmac()),
  "hmac-import-jwk": async () => {
    const k = await crypto.subtle.importKey("jwk", { kty: "oct", k: "c2VjcmV0", alg: "HS256" }, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return crypto.subtle.sign("HMAC", k, enc("msg"));
  },
  "hmac-wrong-usage": async () => attempt(async () => crypto.subtle.sign("HMAC", await hmac("SHA-256", ["verify"]), enc("m"))),
  "hmac-empty-usages": async () => attempt(() => hmac("SHA-256", [])),
  "hmac-length-param": async () =>
    attempt(async () => {
      const k = await crypto.subtle.importKey("raw", enc("secret"), { name: "HMAC", hash: "SHA-256", length: 48 }, true, ["sign"]);
      return k.algorithm;
    }),
  "aes-gcm-encrypt": async () => crypto.subtle.encrypt({ name: "AES-GCM", iv: iv12 }, await aes("AES-GCM"), enc("plain text")),
  "aes-gcm-aad-roundtrip": async () => {
    const k = await aes("AES-GCM", raw32);
    const params = { name: "AES-GCM", iv: iv12, additionalData: enc("aad") };
    const ct = await crypto.subtle.encrypt(params, k, enc("secret"));
    const pt = await crypto.subtle.decrypt(params, k, ct);
    const bad = await attempt(() => crypto.subtle.decrypt({ ...params, additionalData: enc("aae") }, k, ct));
    return [ct, new TextDecoder().decode(pt), bad];
  },
  "aes-gcm-tag-lengths": async () => {
    const k = await aes("AES-GCM");
    return Promise.all(
      [32, 64, 96, 104, 112, 120, 128, 100].map((tagLength) =>
        attempt(async () => (await crypto.subtle.encrypt({ name: "AES-GCM", iv: iv12, tagLength }, k, enc("x"))).byteLength),
      ),
    );
  },
  "aes-gcm-bad-key-length": async () => attempt(() => aes("AES-GCM", new Uint8Array(20))),
  "aes-cbc-roundtrip": async () => {
    const k = await aes("AES-CBC");
    const ct = await crypto.subtle.encrypt({ name: "AES-CBC", iv: iv16 }, k, enc("sixteen byte msg!"));
    return [ct, new TextDecoder().decode(await crypto.subtle.decrypt({ name: "AES-CBC", iv: iv16 }, k, ct))];
  },
  "aes-cbc-bad-iv": async () => attempt(async () => crypto.subtle.encrypt({ name: "AES-CBC", iv: iv12 }, await aes("AES-CBC"), enc("x"))),
  "aes-cbc-bad-padding": async () =>
    attempt(async () => crypto.subtle.decrypt({ name: "AES-CBC", iv: iv16 }, await aes("AES-CBC"), new Uint8Array(16))),
  "aes-ctr-roundtrip": async () => {
    const k = await aes("AES-CTR");
    const p = { name: "AES-CTR", counter: iv16, length: 64 };
    const ct = await crypto.subtle.encrypt(p, k, enc("counter mode"));
    return [ct, new TextDecoder().decode(await crypto.subtle.decrypt(p, k, ct))];
  },
  "aes-ctr-bad-length": async () =>
    attempt(async () => crypto.subtle.encrypt({ name: "AES-CTR", counter: iv16, length: 0 }, await aes("AES-CTR"), enc("x"))),
  "aes-kw-wrap": async () =>
    attempt(async () => {
      const kek = await aes("AES-KW", raw16, ["wrapKey", "unwrapKey"]);
      const key = await aes("AES-GCM", raw32);
      const wrapped = await crypto.subtle.wrapKey("raw", key, kek, "AES-KW");
      const back = await crypto.subtle.unwrapKey("raw", wrapped, kek, "AES-KW", "AES-GCM", true, ["encrypt"]);
      return [wrapped, await crypto.subtle.exportKey("raw", back)];
    }),
  "aes-export-raw-jwk": async () => {
    const k = await aes("AES-CBC", raw32);
    return [await crypto.subtle.exportKey("raw", k), await crypto.subtle.exportKey("jwk", k)];
  },
  "aes-generate-props": async () => {
    const k = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
    return [k.type, k.extractable, k.algorithm, k.usages, await attempt(() => crypto.subtle.exportKey("raw", k))];
  },
  "aes-non-extractable-export": async () =>
    attempt(async () => crypto.subtle.exportKey("raw", await crypto.subtle.importKey("raw", raw16, "AES-GCM", false, ["encrypt"]))),
  "aes-import-bad-usage": async () => attempt(() => crypto.subtle.importKey("raw", raw16, "AES-GCM", true, ["sign"])),
  "pbkdf2-derive-bits": async () => {
    const base = await crypto.subtle.importKey("raw", enc("password"), "PBKDF2", false, ["deriveBits"]);
    return crypto.subtle.deriveBits({ name: "PBKDF2", salt: enc("salt"), iterations: 1000, hash: "SHA-256" }, base, 256);
  },
  "pbkdf2-derive-key": async () => {
    const base = await crypto.subtle.importKey("raw", enc("password"), "PBKDF2", false, ["deriveKey"]);
    const k = await crypto.subtle.deriveKey(
      { name: "PBKDF2", salt: enc("salt"), iterations: 10, hash: "SHA-1" },
      base,
      { name: "AES-GCM", length: 128 },
      true,
      ["encrypt"],
    );
    return crypto.subtle.exportKey("raw", k);
  },
  "pbkdf2-extractable-refused": async () => attempt(() => crypto.subtle.importKey("raw", enc("p"), "PBKDF2", true, ["deriveBits"])),
  "pbkdf2-zero-iterations": async () =>
    attempt(async () => {
      const base = await crypto.subtle.importKey("raw", enc("p"), "PBKDF2", false, ["deriveBits"]);
      return crypto.subtle.deriveBits({ name: "PBKDF2", salt: enc("s"), iterations: 0, hash: "SHA-256" }, base, 128);
    }),
  "hkdf-derive-bits": async () => {
    const base = await crypto.subtle.importKey("raw", enc("input key"), "HKDF", false, ["deriveBits"]);
    return crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: enc("salt"), info: enc("info") }, base, 128);
  },
  "hkdf-empty-salt": async () => {
    const base = await crypto.subtle.importKey("raw", enc("ikm"), "HKDF", false, ["deriveBits"]);
    return crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-512", salt: new Uint8Array(), info: new Uint8Array() }, base, 64);
  },
};
