// crypto.subtle: ECDSA, ECDH, Ed25519, X25519 and RSA with fixed keys
// (made once with node:crypto for this suite), import/export in every format.
import { attempt } from "../../harness.js";

const enc = (s) => new TextEncoder().encode(s);
const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const pub = ({ d, p, q, dp, dq, qi, ...rest }) => rest;

const RSA = {"kty":"RSA","n":"uMamZPjsV9x8UTV1YpehjPQ_c7pBZ5qEnidrJ3nlojRTnabnDeCdos1beScW3m8FargrEXHkp7n8NMyZ6ZEhiaNdGvesbOTx-_vUiDX-YvzoltV8_sbM1UXUTxY4zRkhs49DksEiOZiqYS3mxR7oXgHBJeVRcQFWjHGOxJHFxZ8","e":"AQAB","d":"da32zXoHtBF1j5b3ctpVhlsMil0GSMCNU9iREyw8RukCk_Z3U0xJuSUG7AssMnAMyCIRM-QQl44JBWuFXs8SxuvuGlUAPpvZnuHHnbgszTXacZu7TrZWxVqgBGk4nSC1ezm9ztALAWa3PzwEtq13Pd1DBJG4QRRosJbTqlOYoMk","p":"4aqryBxd_ULdHz1o_B6mOTgDsLM97sezECBmQ8FhgKXQtiQJVEMbTrtgE4pwHhhvIdkuvq0Kt419Uthenu1BvQ","q":"0ZznlsiUV3aHnew80h519o5GNLLS-FVu8RSetIqtSChmOrRiPX4WAR1OJ5czqtRKuYGD076wNzDDBTI5Oo6kiw","dp":"i1zUU3O5U8OsPTO2lyTycJm4JbK8B6-KVOY9YZCWf1VnrGRa4o_C2H99GPRAw0VBtHykkprY6HxXrgbzgGBzXQ","dq":"A-14uW6QuQLTj7X5fcZsV25bCmm_Yj_XkFTelGt0y8FWCQuQO669ItA1wrAmm7DWpZszqSgNjTswrExAnkRF-Q","qi":"1wLmCL9ANjC7JUOKirurdf_VppobgAGetOYWAGe-jsZdYAEzNeNKaGobWYfsE0xkMGY7Wopsvsh_TSD1bQ79IA"};
const EC = {"kty":"EC","x":"oMUOsy377hI1TwM2KauA1sjmiP-m8kGFaz8u2lBRoD4","y":"fYwX-fEyaqNDdn00wmUZNy9fo8-vZHccHTr4xhuJlgg","crv":"P-256","d":"pbuQ0sFkQS5M4tNeCjkABCba9nBRndv0SyASAsGbcoY"};
const ED = {"crv":"Ed25519","d":"qegDmodW6TiPhh5B9rYtqx4MIJEUAdqzHPIHblWjynY","x":"BXbjsz3L6mjXV9CRNrhpiXibX0dYBvDBMewNfp2oHxQ","kty":"OKP"};
const X = {"crv":"X25519","d":"IEtnmdAVCqKYLI51Cc2dCHi7mBMw5imTyNbuCylHrWI","x":"3kLRUVzmuWLzB2fWeZO2CgZSQ6QGKzrF4V-2xvLq-GA","kty":"OKP"};
const X2_PUBLIC = {"crv":"X25519","x":"T56-rAOOI_hBlSjq2AgyO3ZbeBTBTZPXSDaE125B520","kty":"OKP"};
const EC_SPKI = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEoMUOsy377hI1TwM2KauA1sjmiP+m8kGFaz8u2lBRoD59jBf58TJqo0N2fTTCZRk3L1+jz69kdxwdOvjGG4mWCA==";
const ED_PKCS8 = "MC4CAQAwBQYDK2VwBCIEIKnoA5qHVuk4j4YeQfa2LaseDCCRFAHasxzyB25Vo8p2";

const rsaKey = (name, hash = "SHA-256", jwk = RSA, usages = ["sign"]) =>
  crypto.subtle.importKey("jwk", jwk, { name, hash }, true, usages);

export const cases = {
  "ecdsa-sign-verify": async () => {
    const priv = await crypto.subtle.importKey("jwk", EC, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
    const pubKey = await crypto.subtle.importKey("jwk", pub(EC), { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
    const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, priv, enc("m"));
    return [sig.byteLength, await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, pubKey, sig, enc("m")),
      await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, pubKey, sig, enc("n"))];
  },
  "ecdsa-export-formats": async () => {
    const pubKey = await crypto.subtle.importKey("jwk", pub(EC), { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
    return [await crypto.subtle.exportKey("raw", pubKey), await crypto.subtle.exportKey("spki", pubKey), await crypto.subtle.exportKey("jwk", pubKey)];
  },
  "ecdsa-import-spki": async () => {
    const k = await crypto.subtle.importKey("spki", b64(EC_SPKI), { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
    return [k.type, k.algorithm, k.usages, await crypto.subtle.exportKey("jwk", k)];
  },
  "ecdsa-pkcs8-roundtrip": async () => {
    const priv = await crypto.subtle.importKey("jwk", EC, { name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]);
    const der = await crypto.subtle.exportKey("pkcs8", priv);
    const back = await crypto.subtle.importKey("pkcs8", der, { name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]);
    return [(await crypto.subtle.exportKey("jwk", back)).d === EC.d, back.algorithm];
  },
  "ecdsa-curve-mismatch": async () => attempt(() => crypto.subtle.importKey("jwk", EC, { name: "ECDSA", namedCurve: "P-384" }, false, ["sign"])),
  "ecdsa-private-usage-on-public": async () =>
    attempt(() => crypto.subtle.importKey("jwk", pub(EC), { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"])),
  "ecdsa-generate": async () => {
    const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, true, ["sign", "verify"]);
    return [pair.privateKey.usages, pair.publicKey.usages, pair.publicKey.extractable, pair.privateKey.algorithm];
  },
  "ecdh-derive": async () => {
    const a = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"]);
    const b = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"]);
    const ab = await crypto.subtle.deriveBits({ name: "ECDH", public: b.publicKey }, a.privateKey, 256);
    const ba = await crypto.subtle.deriveBits({ name: "ECDH", public: a.publicKey }, b.privateKey, 256);
    return [ab.byteLength, new Uint8Array(ab).every((x, i) => x === new Uint8Array(ba)[i])];
  },
  "ed25519-sign": async () =>
    attempt(async () => {
      const priv = await crypto.subtle.importKey("jwk", ED, { name: "Ed25519" }, false, ["sign"]);
      return crypto.subtle.sign("Ed25519", priv, enc("message"));
    }),
  "ed25519-verify": async () =>
    attempt(async () => {
      const priv = await crypto.subtle.importKey("jwk", ED, "Ed25519", false, ["sign"]);
      const pubKey = await crypto.subtle.importKey("jwk", pub(ED), "Ed25519", true, ["verify"]);
      const sig = await crypto.subtle.sign("Ed25519", priv, enc("message"));
      return [await crypto.subtle.verify("Ed25519", pubKey, sig, enc("message")), await crypto.subtle.exportKey("raw", pubKey)];
    }),
  "ed25519-pkcs8": async () =>
    attempt(async () => {
      const k = await crypto.subtle.importKey("pkcs8", b64(ED_PKCS8), "Ed25519", true, ["sign"]);
      return [k.algorithm, (await crypto.subtle.exportKey("jwk", k)).x === ED.x];
    }),
  "ed25519-cloudflare-alias": async () =>
    attempt(async () => {
      const k = await crypto.subtle.importKey("jwk", pub(ED), { name: "NODE-ED25519", namedCurve: "NODE-ED25519" }, true, ["verify"]);
      return k.algorithm;
    }),
  "x25519-derive": async () =>
    attempt(async () => {
      const priv = await crypto.subtle.importKey("jwk", X, "X25519", false, ["deriveBits"]);
      const other = await crypto.subtle.importKey("jwk", X2_PUBLIC, "X25519", true, []);
      return crypto.subtle.deriveBits({ name: "X25519", public: other }, priv, 256);
    }),
  "x25519-generate": async () =>
    attempt(async () => {
      const pair = await crypto.subtle.generateKey("X25519", true, ["deriveBits"]);
      return [pair.privateKey.usages, pair.publicKey.usages, (await crypto.subtle.exportKey("raw", pair.publicKey)).byteLength];
    }),
  "rsa-pkcs1-sign": async () => crypto.subtle.sign("RSASSA-PKCS1-v1_5", await rsaKey("RSASSA-PKCS1-v1_5"), enc("m")),
  "rsa-pkcs1-verify": async () => {
    const sig = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", await rsaKey("RSASSA-PKCS1-v1_5"), enc("m"));
    const v = await rsaKey("RSASSA-PKCS1-v1_5", "SHA-256", pub(RSA), ["verify"]);
    return [await crypto.subtle.verify("RSASSA-PKCS1-v1_5", v, sig, enc("m")), v.algorithm];
  },
  "rsa-pss-roundtrip": async () => {
    const s = await rsaKey("RSA-PSS");
    const v = await rsaKey("RSA-PSS", "SHA-256", pub(RSA), ["verify"]);
    const sig = await crypto.subtle.sign({ name: "RSA-PSS", saltLength: 32 }, s, enc("m"));
    return [sig.byteLength, await crypto.subtle.verify({ name: "RSA-PSS", saltLength: 32 }, v, sig, enc("m"))];
  },
  "rsa-oaep-roundtrip": async () => {
    const e = await rsaKey("RSA-OAEP", "SHA-1", pub(RSA), ["encrypt"]);
    const d = await rsaKey("RSA-OAEP", "SHA-1", RSA, ["decrypt"]);
    const ct = await crypto.subtle.encrypt({ name: "RSA-OAEP", label: enc("l") }, e, enc("oaep"));
    return [ct.byteLength, new TextDecoder().decode(await crypto.subtle.decrypt({ name: "RSA-OAEP", label: enc("l") }, d, ct))];
  },
  "rsa-export-spki-pkcs8": async () => {
    const v = await rsaKey("RSASSA-PKCS1-v1_5", "SHA-256", pub(RSA), ["verify"]);
    const s = await rsaKey("RSASSA-PKCS1-v1_5");
    const spki = await crypto.subtle.exportKey("spki", v);
    const pkcs8 = await crypto.subtle.exportKey("pkcs8", s);
    const back = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, true, ["sign"]);
    return [spki, (await crypto.subtle.exportKey("jwk", back)).n === RSA.n];
  },
  "rsa-jwk-export": async () => crypto.subtle.exportKey("jwk", await rsaKey("RSA-PSS", "SHA-512", pub(RSA), ["verify"])),
  "rsa-generate-props": async () => {
    const pair = await crypto.subtle.generateKey(
      { name: "RSASSA-PKCS1-v1_5", modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    return [pair.privateKey.extractable, pair.publicKey.extractable, pair.publicKey.algorithm, pair.privateKey.usages];
  },
  "jwk-alg-mismatch": async () => attempt(() => rsaKey("RSA-PSS", "SHA-256", { ...pub(RSA), alg: "PS512" }, ["verify"])),
  "jwk-use-mismatch": async () => attempt(() => rsaKey("RSASSA-PKCS1-v1_5", "SHA-256", { ...pub(RSA), use: "enc" }, ["verify"])),
  "jwk-ext-false-extractable": async () =>
    attempt(() => crypto.subtle.importKey("jwk", { kty: "oct", k: "c2VjcmV0", ext: false }, { name: "HMAC", hash: "SHA-256" }, true, ["sign"])),
  "jwk-key-ops-mismatch": async () =>
    attempt(() => crypto.subtle.importKey("jwk", { kty: "oct", k: "c2VjcmV0", key_ops: ["verify"] }, { name: "HMAC", hash: "SHA-256" }, true, ["sign"])),
  "import-garbage-spki": async () => attempt(() => crypto.subtle.importKey("spki", new Uint8Array([1, 2, 3]), { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"])),
  "wrong-algorithm-for-key": async () => attempt(async () => crypto.subtle.sign("HMAC", await rsaKey("RSASSA-PKCS1-v1_5"), enc("m"))),
};
