// Bounds on the work a single Web Crypto call may ask for.
//
// deno_crypto runs PBKDF2 and RSA key generation on a blocking thread,
// outside the isolate: the CPU watchdog neither sees nor stops that work, so
// one `deriveBits` with 10^7 iterations ran for 15 s after its request had
// already timed out. Cloudflare Workers refuses the same inputs (PBKDF2 above
// 100,000 iterations; RSA keys only with a public exponent of 3 or 65537),
// so a worker that runs there runs here. Brink caps generated RSA keys at
// 4096 bits where Workers allows 16384: key generation grows with the cube
// of the size, and here it is not charged to the worker.
//
// Each wrapper reads the algorithm's name and the parameters it checks
// exactly once and passes the values it checked on, so a getter cannot show
// the check one value and deno_crypto another.

/** Largest PBKDF2 iteration count, as in Cloudflare Workers. */
export const MAX_PBKDF2_ITERATIONS = 100_000;
/** RSA key sizes `generateKey` accepts: a multiple of 8 in this range. */
export const MIN_RSA_MODULUS_BITS = 256;
export const MAX_RSA_MODULUS_BITS = 4096;

const RSA_ALGORITHMS = ["RSASSA-PKCS1-V1_5", "RSA-PSS", "RSA-OAEP"];

/**
 * `algorithm` with its name read once and pinned, so deno_crypto dispatches
 * on the name the check saw; other members still come from `algorithm`
 * (through the prototype) unless a check pins them too. Strings and other
 * non-objects pass unchanged: they carry no parameters.
 */
function pinName(algorithm) {
  if (typeof algorithm !== "object" || algorithm === null) return { algorithm, name: undefined };
  const raw = algorithm.name;
  const name = raw === undefined || typeof raw === "symbol" ? raw : String(raw);
  return { algorithm: { __proto__: algorithm, name }, name: typeof name === "string" ? name.toUpperCase() : undefined };
}

/** Reads `keys` of `algorithm` once and pins them on it. */
function pin(algorithm, keys) {
  for (const key of keys) {
    Object.defineProperty(algorithm, key, { __proto__: null, value: algorithm[key], writable: true, enumerable: true });
  }
}

function checkPbkdf2(algorithm, DOMException) {
  pin(algorithm, ["hash", "salt", "iterations"]);
  if (algorithm.iterations === undefined) return;
  // Converted here so deno_crypto sees the same number the check saw.
  algorithm.iterations = Number(algorithm.iterations);
  if (algorithm.iterations > MAX_PBKDF2_ITERATIONS) {
    throw new DOMException(
      `PBKDF2 iteration counts above ${MAX_PBKDF2_ITERATIONS} are not supported (requested ${algorithm.iterations})`,
      "NotSupportedError",
    );
  }
}

/** The public exponent's value, or NaN past 2^32 (big-endian bytes). */
function exponentValue(bytes) {
  let value = 0;
  for (const byte of bytes) {
    value = value * 256 + byte;
    if (value > 0xffffffff) return NaN;
  }
  return value;
}

function checkRsaGeneration(algorithm, DOMException) {
  pin(algorithm, ["modulusLength", "publicExponent", "hash"]);
  if (algorithm.modulusLength !== undefined) {
    const bits = Number(algorithm.modulusLength);
    algorithm.modulusLength = bits;
    if (!(bits >= MIN_RSA_MODULUS_BITS && bits <= MAX_RSA_MODULUS_BITS && bits % 8 === 0)) {
      throw new DOMException(
        `RSA modulusLength must be a multiple of 8 from ${MIN_RSA_MODULUS_BITS} to ${MAX_RSA_MODULUS_BITS} (requested ${bits})`,
        "OperationError",
      );
    }
  }
  if (algorithm.publicExponent === undefined) return;
  if (!(algorithm.publicExponent instanceof Uint8Array)) {
    throw new TypeError("RSA publicExponent must be a Uint8Array");
  }
  // A copy: the caller cannot change the bytes after the check.
  algorithm.publicExponent = new Uint8Array(algorithm.publicExponent);
  const exponent = exponentValue(algorithm.publicExponent);
  if (exponent !== 3 && exponent !== 65537) {
    throw new DOMException(
      `RSA publicExponent must be 3 or 65537 (requested ${Number.isNaN(exponent) ? "a number above 2^32" : exponent})`,
      "OperationError",
    );
  }
}

function wrap(prototype, method, check) {
  const original = prototype[method];
  const wrapper = {
    async [method](algorithm, ...rest) {
      return await original.call(this, check(algorithm), ...rest);
    },
  }[method];
  Object.defineProperty(wrapper, "length", { __proto__: null, value: original.length, configurable: true });
  Object.defineProperty(prototype, method, {
    __proto__: null,
    value: wrapper,
    writable: true,
    enumerable: true,
    configurable: true,
  });
}

/** Installs the limits on `SubtleCrypto.prototype`. */
export function limitCryptoCost(SubtleCrypto, DOMException) {
  const prototype = SubtleCrypto.prototype;
  const pbkdf2 = (input) => {
    const { algorithm, name } = pinName(input);
    if (name === "PBKDF2") checkPbkdf2(algorithm, DOMException);
    return algorithm;
  };
  wrap(prototype, "deriveBits", pbkdf2);
  wrap(prototype, "deriveKey", pbkdf2);
  wrap(prototype, "generateKey", (input) => {
    const { algorithm, name } = pinName(input);
    if (RSA_ALGORITHMS.includes(name)) checkRsaGeneration(algorithm, DOMException);
    return algorithm;
  });
}
