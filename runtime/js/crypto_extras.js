// The parts of Cloudflare Workers' Web Crypto that deno_crypto lacks or does
// differently, checked against workerd (tests/tests/workers_surface.rs):
//
// - `crypto.subtle.timingSafeEqual(a, b)`, a constant-time comparison;
// - `crypto.DigestStream`, a WritableStream whose `digest` promise holds
//   the hash of everything written to it;
// - MD5 in `crypto.subtle.digest` (Workers allows it for legacy checksums);
// - AES-GCM decryption with every tag length the spec allows (deno_crypto
//   decrypts only 128-bit tags, though it encrypts with all of them);
// - key usages kept once each in the spec's order, and PBKDF2/HKDF keys that
//   refuse to be imported as extractable, as the spec requires;
// - no `CryptoKey.exportNodeMaterial` / `CryptoKey.importSync`: deno_crypto
//   exposes them for Deno's Node compatibility layer, and the first one hands
//   out the bytes of any key, extractable or not.
import { primordials } from "ext:core/mod.js";
import {
  op_brink_aes_gcm_decrypt,
  op_brink_digest,
  op_brink_digest_create,
  op_brink_digest_finish,
  op_brink_digest_update,
} from "ext:core/ops";

const {
  ArrayBufferIsView,
  ArrayBufferPrototype,
  ArrayIsArray,
  ArrayPrototypeFilter,
  ArrayPrototypeIncludes,
  ArrayPrototypeEvery,
  ArrayFrom,
  FunctionPrototypeCall,
  ObjectDefineProperty,
  ObjectGetOwnPropertyDescriptor,
  ObjectPrototypeIsPrototypeOf,
  Promise,
  PromisePrototypeCatch,
  ReflectApply,
  SafeWeakMap,
  StringPrototypeToUpperCase,
  SymbolIterator,
  SymbolToStringTag,
  TypeError,
  TypedArrayPrototypeSlice,
  Uint8Array,
  WeakMapPrototypeGet,
  WeakMapPrototypeSet,
} = primordials;

/** The recognised key usages, in the order the spec lists them. */
const KEY_USAGES = ["encrypt", "decrypt", "sign", "verify", "deriveKey", "deriveBits", "wrapKey", "unwrapKey"];
const DIGEST_ALGORITHMS = ["SHA-1", "SHA-256", "SHA-384", "SHA-512", "MD5"];
const AES_GCM_TAG_LENGTHS = [32, 64, 96, 104, 112, 120, 128];

function isArrayBuffer(value) {
  return ObjectPrototypeIsPrototypeOf(ArrayBufferPrototype, value);
}

/** `value` (a BufferSource) as bytes, or null when it is not one. */
function bytesOf(value) {
  if (ArrayBufferIsView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (isArrayBuffer(value)) return new Uint8Array(value);
  return null;
}

function bufferSource(value, method, position) {
  const bytes = bytesOf(value);
  if (bytes === null) {
    throw new TypeError(`Failed to execute '${method}' on 'SubtleCrypto': parameter ${position} is not of type 'BufferSource'.`);
  }
  return bytes;
}

/** The upper-cased name of a Web Crypto algorithm argument, if it has one. */
function algorithmName(algorithm) {
  if (typeof algorithm === "string") return StringPrototypeToUpperCase(algorithm);
  if (typeof algorithm === "object" && algorithm !== null && typeof algorithm.name === "string") {
    return StringPrototypeToUpperCase(algorithm.name);
  }
  return undefined;
}

/** A fresh ArrayBuffer holding exactly `bytes`. */
function arrayBufferOf(bytes) {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return bytes.buffer;
  return TypedArrayPrototypeSlice(bytes).buffer;
}

function timingSafeEqual(a, b) {
  const left = bufferSource(a, "timingSafeEqual", 1);
  const right = bufferSource(b, "timingSafeEqual", 2);
  if (left.byteLength !== right.byteLength) {
    throw new TypeError("Input buffers must have the same byte length.");
  }
  // Every byte is compared, whatever the first difference: the time taken
  // says nothing about where two secrets differ.
  let difference = 0;
  for (let i = 0; i < left.byteLength; i++) difference |= left[i] ^ right[i];
  return difference === 0;
}

/** Workers' error for a `tagLength` the spec does not allow. */
function checkTagLength(tagLength, DOMException) {
  if (tagLength === undefined) return;
  if (!ArrayPrototypeIncludes(AES_GCM_TAG_LENGTHS, Number(tagLength))) {
    throw new DOMException(`Invalid AES-GCM tag length ${tagLength}.`, "OperationError");
  }
}

function digestName(algorithm, DOMException) {
  const name = algorithmName(algorithm);
  if (!ArrayPrototypeIncludes(DIGEST_ALGORITHMS, name)) {
    throw new DOMException("Unrecognized or unimplemented digest algorithm requested.", "NotSupportedError");
  }
  return name;
}

function makeDigestStream({ WritableStream, DOMException, TextEncoder }) {
  let encoder;
  const chunkBytes = (chunk) => {
    if (typeof chunk === "string") return (encoder ??= new TextEncoder()).encode(chunk);
    const bytes = bytesOf(chunk);
    if (bytes === null) {
      throw new TypeError(
        "DigestStream is a byte stream but received an object of non-ArrayBuffer/ArrayBufferView/string type on its writable side.",
      );
    }
    return bytes;
  };
  class DigestStream extends WritableStream {
    #digest;
    constructor(algorithm) {
      const state = op_brink_digest_create(digestName(algorithm, DOMException));
      let resolve;
      let reject;
      const digest = new Promise((resolveDigest, rejectDigest) => {
        resolve = resolveDigest;
        reject = rejectDigest;
      });
      // A stream aborted before anyone asked for its digest is not an
      // unhandled rejection.
      PromisePrototypeCatch(digest, () => {});
      super({
        write(chunk) {
          op_brink_digest_update(state, chunkBytes(chunk));
        },
        close() {
          resolve(arrayBufferOf(op_brink_digest_finish(state)));
        },
        abort(reason) {
          reject(reason);
        },
      });
      this.#digest = digest;
    }

    /** Resolves with the digest (an ArrayBuffer) once the stream closes. */
    get digest() {
      return this.#digest;
    }
  }
  ObjectDefineProperty(DigestStream.prototype, SymbolToStringTag, {
    __proto__: null,
    value: "DigestStream",
    configurable: true,
  });
  return DigestStream;
}

/**
 * `usages` with each recognised usage once, in the spec's order (the spec's
 * "usage intersection"); left as given when it holds anything else, so
 * deno_crypto reports the bad usage.
 */
function normalizeUsages(usages) {
  if (typeof usages !== "object" || usages === null || typeof usages[SymbolIterator] !== "function") return usages;
  const list = ArrayIsArray(usages) ? usages : ArrayFrom(usages);
  if (!ArrayPrototypeEvery(list, (usage) => ArrayPrototypeIncludes(KEY_USAGES, usage))) return list;
  return ArrayPrototypeFilter(KEY_USAGES, (usage) => ArrayPrototypeIncludes(list, usage));
}

function replaceMethod(prototype, method, makeWrapper) {
  const original = prototype[method];
  const wrapper = makeWrapper(original);
  ObjectDefineProperty(wrapper, "name", { __proto__: null, value: method, configurable: true });
  ObjectDefineProperty(wrapper, "length", { __proto__: null, value: original.length, configurable: true });
  ObjectDefineProperty(prototype, method, {
    __proto__: null,
    value: wrapper,
    writable: true,
    enumerable: true,
    configurable: true,
  });
}

const RSA_HASHED = ["RSASSA-PKCS1-V1_5", "RSA-PSS", "RSA-OAEP"];

/** RSA import and generation parameters require a `hash` (a Web IDL required member: TypeError). */
function requireRsaHash(name, algorithm) {
  if (ArrayPrototypeIncludes(RSA_HASHED, name) && algorithm.hash === undefined) {
    throw new TypeError('Missing field "hash" in "algorithm".');
  }
}

/** Wraps `method` so its argument at `index` (key usages) is normalised. */
function normalizeUsagesOf(prototype, method, index, check) {
  replaceMethod(prototype, method, (original) =>
    async function (...args) {
      if (args.length > index) args[index] = normalizeUsages(args[index]);
      check?.(args);
      return await ReflectApply(original, this, args);
    });
}

const NODE_ED25519 = "NODE-ED25519";

/**
 * Workers' pre-standard name for Ed25519, `{ name: "NODE-ED25519",
 * namedCurve: "NODE-ED25519" }` (still in Discord bot samples): keys are
 * imported and generated as Ed25519 and report the name they were asked
 * for, and sign/verify take it, as on workerd.
 */
function installNodeEd25519Alias(prototype, CryptoKeyPrototype, keyAlgorithm) {
  const aliased = new SafeWeakMap();
  const mark = (key) => {
    WeakMapPrototypeSet(aliased, key, { name: NODE_ED25519, namedCurve: NODE_ED25519 });
    return key;
  };
  const standard = (algorithm) => (algorithmName(algorithm) === NODE_ED25519 ? "Ed25519" : algorithm);
  replaceMethod(prototype, "importKey", (original) =>
    async function (...args) {
      if (algorithmName(args[2]) !== NODE_ED25519) return await ReflectApply(original, this, args);
      args[2] = "Ed25519";
      return mark(await ReflectApply(original, this, args));
    });
  replaceMethod(prototype, "generateKey", (original) =>
    async function (...args) {
      if (algorithmName(args[0]) !== NODE_ED25519) return await ReflectApply(original, this, args);
      args[0] = "Ed25519";
      const pair = await ReflectApply(original, this, args);
      mark(pair.publicKey);
      mark(pair.privateKey);
      return pair;
    });
  for (const method of ["sign", "verify"]) {
    replaceMethod(prototype, method, (original) =>
      async function (...args) {
        if (args.length > 0) args[0] = standard(args[0]);
        return await ReflectApply(original, this, args);
      });
  }
  ObjectDefineProperty(CryptoKeyPrototype, "algorithm", {
    __proto__: null,
    configurable: true,
    enumerable: true,
    get() {
      return WeakMapPrototypeGet(aliased, this) ?? FunctionPrototypeCall(keyAlgorithm, this);
    },
  });
}

/** Installs the extensions on deno_crypto's module (`ext:deno_crypto/00_crypto.js`). */
export function installCryptoExtras(cryptoModule, { DOMException, WritableStream, TextEncoder }) {
  const { CryptoKey, SubtleCrypto } = cryptoModule;
  const prototype = SubtleCrypto.prototype;
  const CryptoKeyPrototype = CryptoKey.prototype;
  // Taken now: a worker may redefine the getters on CryptoKey.prototype
  // later (to claim a usage its key lacks), not these.
  const keyAlgorithm = ObjectGetOwnPropertyDescriptor(CryptoKeyPrototype, "algorithm").get;
  const keyUsages = ObjectGetOwnPropertyDescriptor(CryptoKeyPrototype, "usages").get;
  const exportKeyMaterial = CryptoKey.exportNodeMaterial;
  delete CryptoKey.exportNodeMaterial;
  delete CryptoKey.importSync;

  ObjectDefineProperty(prototype, "timingSafeEqual", {
    __proto__: null,
    value: timingSafeEqual,
    writable: true,
    enumerable: true,
    configurable: true,
  });
  ObjectDefineProperty(timingSafeEqual, "length", { __proto__: null, value: 0, configurable: true });

  replaceMethod(prototype, "digest", (original) =>
    async function (algorithm, data) {
      const name = algorithmName(algorithm);
      if (name !== undefined) digestName(name, DOMException);
      if (name !== "MD5") return await ReflectApply(original, this, [algorithm, data]);
      if (!ObjectPrototypeIsPrototypeOf(prototype, this)) throw new TypeError("Illegal invocation");
      const bytes = bufferSource(data, "digest", 2);
      return arrayBufferOf(op_brink_digest("MD5", bytes));
    });

  replaceMethod(prototype, "encrypt", (original) =>
    async function (algorithm, key, data) {
      if (algorithmName(algorithm) === "AES-GCM") checkTagLength(algorithm.tagLength, DOMException);
      return await ReflectApply(original, this, [algorithm, key, data]);
    });

  replaceMethod(prototype, "decrypt", (original) =>
    async function (algorithm, key, data) {
      // Each member read once: a getter cannot show the check one value and
      // the decryption another.
      const name = algorithmName(algorithm);
      const tagLength = name === "AES-GCM" ? algorithm.tagLength : undefined;
      if (tagLength === undefined || Number(tagLength) === 128) {
        return await ReflectApply(original, this, [algorithm, key, data]);
      }
      const iv = bufferSource(algorithm.iv, "decrypt", 1);
      const additionalData = algorithm.additionalData === undefined
        ? new Uint8Array(0)
        : bufferSource(algorithm.additionalData, "decrypt", 1);
      const bits = Number(tagLength);
      if (!ObjectPrototypeIsPrototypeOf(prototype, this)) throw new TypeError("Illegal invocation");
      if (!ObjectPrototypeIsPrototypeOf(CryptoKeyPrototype, key)) {
        throw new TypeError("Failed to execute 'decrypt' on 'SubtleCrypto': parameter 2 is not of type 'CryptoKey'.");
      }
      const ciphertext = bufferSource(data, "decrypt", 3);
      const keyAlgorithmName = FunctionPrototypeCall(keyAlgorithm, key).name;
      if (keyAlgorithmName !== "AES-GCM") {
        throw new DOMException(
          `Requested algorithm "AES-GCM" does not match this CryptoKey's algorithm "${keyAlgorithmName}".`,
          "InvalidAccessError",
        );
      }
      if (!ArrayPrototypeIncludes(FunctionPrototypeCall(keyUsages, key), "decrypt")) {
        throw new DOMException(
          'Requested key usage "decrypt" does not match any usage listed in this CryptoKey.',
          "InvalidAccessError",
        );
      }
      checkTagLength(tagLength, DOMException);
      const material = FunctionPrototypeCall(exportKeyMaterial, CryptoKey, key);
      return arrayBufferOf(op_brink_aes_gcm_decrypt(material.data, iv, additionalData, bits, ciphertext));
    });

  normalizeUsagesOf(prototype, "importKey", 4, (args) => {
    const [format, keyData, algorithm, extractable] = args;
    const name = algorithmName(algorithm);
    if ((name === "PBKDF2" || name === "HKDF") && extractable) {
      throw new DOMException(`${name} key cannot be extractable.`, "SyntaxError");
    }
    requireRsaHash(name, algorithm);
    // A JWK's curve must be the one asked for (deno_crypto imports a P-256
    // JWK as P-384 when told to). The spec says DataError; workerd, which
    // finds the point is not on the other curve, says OperationError, and
    // Brink answers as workerd does.
    if (
      format === "jwk" && (name === "ECDSA" || name === "ECDH") && typeof algorithm === "object" &&
      typeof keyData === "object" && keyData !== null &&
      keyData.crv !== undefined && keyData.crv !== algorithm.namedCurve
    ) {
      throw new DOMException(
        `Invalid EC key: the JWK's curve "${keyData.crv}" is not "${algorithm.namedCurve}".`,
        "OperationError",
      );
    }
  });
  normalizeUsagesOf(prototype, "generateKey", 2, (args) => requireRsaHash(algorithmName(args[0]), args[0]));
  replaceMethod(prototype, "exportKey", (original) =>
    async function (format, key) {
      const exported = await ReflectApply(original, this, [format, key]);
      // The spec's JWK export of an EC key has no "alg" (deno_crypto adds ES256 and the like).
      if (format === "jwk" && typeof exported === "object" && exported !== null && exported.kty === "EC") {
        delete exported.alg;
      }
      return exported;
    });
  normalizeUsagesOf(prototype, "deriveKey", 4);
  normalizeUsagesOf(prototype, "unwrapKey", 6);
  installNodeEd25519Alias(prototype, CryptoKeyPrototype, keyAlgorithm);

  return makeDigestStream({ WritableStream, DOMException, TextEncoder });
}
