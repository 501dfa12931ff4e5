// crypto.subtle: the key-usage and extractability checks of importKey and
// generateKey (WebCrypto: SyntaxError for usages a key type cannot have or an
// empty usage list on a secret or private key).
import { attempt } from "../../harness.js";

// Public keys made once with node:crypto for this suite.
const EC_PUBLIC = {"kty":"EC","x":"fSo4NlqbiO6_G9EtDzTLYgZCzxGBBmxaHnIi_2cKvOk","y":"bETkDspsC2-JMvEFnotg5Y_avwhQ9xQsusJn9uq7-yk","crv":"P-256"};
const ED_PUBLIC = {"crv":"Ed25519","x":"MkOOHXbbH8Sl8mOlHek4f77WOvBnh3ezztnN9yjeqP8","kty":"OKP"};
const X_PUBLIC = {"crv":"X25519","x":"KqWGMkAnPeMfXYxsZTQDdgRcBxbeoVZtJSw2xU2_jSo","kty":"OKP"};
const RSA_PUBLIC = {"kty":"RSA","n":"ljoAC9MRJjfl-RYHdu-Q_DGgiYRDO2wJsqaoqcZjjirnQJkG3fYJhXijKGCTt5muH_u4-e50_NGTLoUxFNvdQDNoAQXO0OBSDnJ-gDDeeyQ8zefjmUm7rxiYlRxl0ZiZV1Tp4Z312_jK2pASQ5rDvU2xbnWRNiOZmYPiKo6zJUU","e":"AQAB"};
const raw16 = new Uint8Array(16);
const imp = (format, data, algorithm, extractable, usages) =>
  attempt(async () => {
    const k = await crypto.subtle.importKey(format, data, algorithm, extractable, usages);
    return [k.type, k.extractable, k.usages];
  });


export const cases = {
  "aes-empty-usages": () => imp("raw", raw16, "AES-GCM", true, []),
  "aes-unknown-usage": () => imp("raw", raw16, "AES-CBC", true, ["encrypt", "fly"]),
  "aes-kw-encrypt-usage": () => imp("raw", raw16, "AES-KW", true, ["encrypt"]),
  "hmac-derive-usage": () => imp("raw", raw16, { name: "HMAC", hash: "SHA-256" }, true, ["deriveBits"]),
  "hmac-zero-length-key": () => imp("raw", new Uint8Array(0), { name: "HMAC", hash: "SHA-256" }, true, ["sign"]),
  "hkdf-extractable": () => imp("raw", raw16, "HKDF", true, ["deriveBits"]),
  "hkdf-sign-usage": () => imp("raw", raw16, "HKDF", false, ["sign"]),
  "pbkdf2-jwk-format": () => imp("jwk", { kty: "oct", k: "AAAA" }, "PBKDF2", false, ["deriveBits"]),
  "ecdsa-public-sign-usage": () => imp("jwk", EC_PUBLIC, { name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]),
  "ecdsa-public-no-usages": () => imp("jwk", EC_PUBLIC, { name: "ECDSA", namedCurve: "P-256" }, true, []),
  "ecdh-public-with-usages": () => imp("jwk", EC_PUBLIC, { name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]),
  "ed25519-public-sign-usage": () => imp("jwk", ED_PUBLIC, "Ed25519", true, ["sign"]),
  "ed25519-public-raw": () => imp("raw", Uint8Array.from(atob(ED_PUBLIC.x.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0)), "Ed25519", true, ["verify"]),
  "x25519-public-derive-usage": () => imp("jwk", X_PUBLIC, "X25519", true, ["deriveBits"]),
  "rsa-oaep-public-decrypt-usage": () => imp("jwk", RSA_PUBLIC, { name: "RSA-OAEP", hash: "SHA-256" }, true, ["decrypt"]),
  "rsa-public-no-hash": () => imp("jwk", RSA_PUBLIC, { name: "RSA-PSS" }, true, ["verify"]),
  "generate-aes-empty-usages": () => attempt(() => crypto.subtle.generateKey({ name: "AES-GCM", length: 128 }, true, [])),
  "generate-aes-bad-length": () => attempt(() => crypto.subtle.generateKey({ name: "AES-GCM", length: 100 }, true, ["encrypt"])),
  "generate-ecdsa-empty-usages": () => attempt(() => crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [])),
  "generate-ed25519-verify-only": () =>
    attempt(async () => {
      const pair = await crypto.subtle.generateKey("Ed25519", true, ["verify"]);
      return [pair.publicKey.usages, pair.privateKey.usages];
    }),
  "usages-deduplicated": () => imp("raw", raw16, "AES-GCM", true, ["encrypt", "encrypt", "decrypt"]),
};
