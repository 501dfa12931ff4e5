// The Workers surface beyond the web standards, as observations: each check
// returns a JSON value (or "THROW <name>: <message>"), and
// tests/tests/workers_surface.rs compares them with what workerd answers for
// this same file (the expected values there were taken from workerd).
//
//   GET /?group=navigator  ->  { "navigator.userAgent": "Cloudflare-Workers", ... }

const encoder = new TextEncoder();
const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
const settle = async (promises) =>
  (await Promise.allSettled(promises)).map((r) => (r.status === "fulfilled" ? "fulfilled" : `rejected ${r.reason?.name}: ${r.reason?.message}`));
const raw16 = new Uint8Array(16).fill(7);

const groups = {
  navigator: {
    "typeof": () => typeof navigator,
    "toString": () => Object.prototype.toString.call(navigator),
    "userAgent": () => navigator.userAgent,
    "hardwareConcurrency": () => navigator.hardwareConcurrency,
    "language": () => [navigator.language, navigator.languages],
    "instanceof Navigator": () => navigator instanceof Navigator,
    "new Navigator": () => new Navigator(),
    "userAgent is read-only": () => {
      navigator.userAgent = "x";
      return navigator.userAgent;
    },
  },

  timingSafeEqual: {
    "typeof": () => typeof crypto.subtle.timingSafeEqual,
    "equal": () => crypto.subtle.timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])),
    "different": () => crypto.subtle.timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3])),
    "empty": () => crypto.subtle.timingSafeEqual(new Uint8Array(0), new ArrayBuffer(0)),
    "lengths differ": () => crypto.subtle.timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1])),
    "buffer and view": () =>
      crypto.subtle.timingSafeEqual(new Uint8Array([1, 2]).buffer, new DataView(new Uint8Array([9, 1, 2]).buffer, 1)),
    "string": () => crypto.subtle.timingSafeEqual("ab", "ab"),
  },

  digest: {
    "MD5 abc": async () => hex(await crypto.subtle.digest("MD5", encoder.encode("abc"))),
    "md5 object name": async () => hex(await crypto.subtle.digest({ name: "md5" }, new Uint8Array(0))),
    "MD5 not a buffer": async () => await crypto.subtle.digest("MD5", "abc"),
    "SHA-1 still works": async () => hex(await crypto.subtle.digest("SHA-1", encoder.encode("abc"))),
    "MD4": async () => await crypto.subtle.digest("MD4", encoder.encode("abc")),
  },

  DigestStream: {
    "typeof": () => typeof crypto.DigestStream,
    "SHA-256": async () => {
      const stream = new crypto.DigestStream("SHA-256");
      const writer = stream.getWriter();
      await writer.write(encoder.encode("a"));
      await writer.write(new Uint8Array([98, 99]).buffer);
      await writer.close();
      const digest = await stream.digest;
      return [Object.prototype.toString.call(digest), hex(digest), stream instanceof WritableStream];
    },
    "MD5 with a string chunk": async () => {
      const stream = new crypto.DigestStream("MD5");
      const writer = stream.getWriter();
      await writer.write("abc");
      await writer.close();
      return hex(await stream.digest);
    },
    "SHA-512 object name, piped": async () => {
      const stream = new crypto.DigestStream({ name: "SHA-512" });
      await new Response("abc").body.pipeTo(stream);
      return hex(await stream.digest).slice(0, 16);
    },
    "empty": async () => {
      const stream = new crypto.DigestStream("SHA-1");
      await stream.getWriter().close();
      return hex(await stream.digest);
    },
    "unknown algorithm": () => new crypto.DigestStream("SHA-999"),
    "aborted": async () => {
      const stream = new crypto.DigestStream("SHA-256");
      await stream.getWriter().abort(new RangeError("stop"));
      return await stream.digest;
    },
    "a number chunk": async () => {
      const stream = new crypto.DigestStream("SHA-256");
      return await stream.getWriter().write(5);
    },
  },

  aesGcm: Object.fromEntries(
    [undefined, 0, 8, 32, 64, 96, 100, 104, 112, 120, 128, 129].map((tagLength) => [
      `tagLength ${tagLength}`,
      async () => {
        const key = await crypto.subtle.importKey("raw", raw16, "AES-GCM", false, ["encrypt", "decrypt"]);
        const params = { name: "AES-GCM", iv: new Uint8Array(12).fill(1), additionalData: new Uint8Array([9]), tagLength };
        const sealed = await crypto.subtle.encrypt(params, key, new Uint8Array([1, 2, 3]));
        const opened = await crypto.subtle.decrypt(params, key, sealed);
        const tampered = new Uint8Array(sealed);
        tampered[tampered.length - 1] ^= 1;
        const refused = await crypto.subtle.decrypt(params, key, tampered).then(() => "accepted", (e) => e.name);
        return [hex(sealed), hex(opened), refused];
      },
    ]),
  ),
  aesGcmChecks: {
    "decrypt-only key, short tag": async () => {
      const key = await crypto.subtle.importKey("raw", raw16, "AES-GCM", false, ["decrypt"]);
      const ciphertext = new Uint8Array([0xa0, 0x00, 0xcf, 0x19, 0x6e, 0x02, 0x2a, 0x21, 0x13, 0x48, 0x6c, 0x52, 0x35, 0x6b, 0x99]);
      const params = { name: "AES-GCM", iv: new Uint8Array(12).fill(1), additionalData: new Uint8Array([9]), tagLength: 96 };
      return hex(await crypto.subtle.decrypt(params, key, ciphertext));
    },
    "encrypt-only key, short tag": async () => {
      const key = await crypto.subtle.importKey("raw", raw16, "AES-GCM", false, ["encrypt"]);
      return await crypto.subtle.decrypt({ name: "AES-GCM", iv: new Uint8Array(12), tagLength: 32 }, key, new Uint8Array(8));
    },
    "AES-CBC key, short tag": async () => {
      const key = await crypto.subtle.importKey("raw", raw16, "AES-CBC", false, ["decrypt"]);
      return await crypto.subtle.decrypt({ name: "AES-GCM", iv: new Uint8Array(12), tagLength: 32 }, key, new Uint8Array(8));
    },
    "data shorter than the tag": async () => {
      const key = await crypto.subtle.importKey("raw", raw16, "AES-GCM", false, ["decrypt"]);
      return await crypto.subtle.decrypt({ name: "AES-GCM", iv: new Uint8Array(12), tagLength: 32 }, key, new Uint8Array(3));
    },
  },

  keys: {
    "usages deduplicated and ordered": async () =>
      (await crypto.subtle.importKey("raw", raw16, "AES-GCM", false, ["decrypt", "encrypt", "decrypt"])).usages,
    "generateKey usages ordered": async () =>
      (await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["verify", "sign"])).usages,
    "PBKDF2 extractable": async () => await crypto.subtle.importKey("raw", raw16, "PBKDF2", true, ["deriveBits"]),
    "HKDF extractable": async () => await crypto.subtle.importKey("raw", raw16, "HKDF", true, ["deriveKey"]),
    "PBKDF2 not extractable": async () =>
      (await crypto.subtle.importKey("raw", raw16, "PBKDF2", false, ["deriveBits"])).extractable,
    "bad usage": async () => (await crypto.subtle.importKey("raw", raw16, "AES-GCM", false, ["sign"])).usages,
    "no usages": async () => (await crypto.subtle.importKey("raw", raw16, "AES-GCM", false, [])).usages,
    "export a non-extractable key": async () =>
      await crypto.subtle.exportKey("raw", await crypto.subtle.importKey("raw", raw16, "AES-GCM", false, ["encrypt"])),
    "JWK curve mismatch": async () => {
      const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
      const jwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
      return await crypto.subtle.importKey("jwk", jwk, { name: "ECDSA", namedCurve: "P-384" }, false, ["sign"]);
    },
    "EC JWK export": async () => {
      const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
      // Through JSON, as a JWK is used (workerd lists absent members as undefined at some dates).
      return Object.keys(JSON.parse(JSON.stringify(await crypto.subtle.exportKey("jwk", pair.publicKey)))).sort();
    },
    "RSA import without hash": async () => {
      const pair = await crypto.subtle.generateKey(
        { name: "RSA-PSS", modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
        true,
        ["sign", "verify"],
      );
      const jwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
      return await crypto.subtle.importKey("jwk", jwk, { name: "RSA-PSS" }, true, ["verify"]);
    },
    "RSA generateKey without hash": async () =>
      await crypto.subtle.generateKey({ name: "RSA-OAEP", modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]) }, true, [
        "encrypt",
      ]),
    "CryptoKey statics": () =>
      Object.getOwnPropertyNames(CryptoKey).filter((name) => !["length", "name", "prototype", "toString", "fromCloneData"].includes(name)),
  },

  identityStreams: {
    "IdentityTransformStream": async () => {
      const { readable, writable } = new IdentityTransformStream();
      const writer = writable.getWriter();
      writer.write(new Uint8Array([1, 2, 3]));
      writer.write(new Uint8Array([4]).buffer);
      writer.close();
      return hex(await new Response(readable).arrayBuffer());
    },
    "a string chunk": async () => {
      const { readable, writable } = new IdentityTransformStream();
      const writer = writable.getWriter();
      const written = writer.write("abc");
      const { value } = await readable.getReader().read();
      return [...(await settle([written])), Object.prototype.toString.call(value), hex(value)];
    },
    "BYOB reader": async () => {
      const { readable, writable } = new IdentityTransformStream();
      const writer = writable.getWriter();
      writer.write(new Uint8Array([1, 2, 3, 4, 5]));
      const reader = readable.getReader({ mode: "byob" });
      const { value } = await reader.read(new Uint8Array(2));
      return hex(value);
    },
    "instanceof TransformStream": () => [
      new IdentityTransformStream() instanceof TransformStream,
      new FixedLengthStream(1) instanceof IdentityTransformStream,
      IdentityTransformStream.length,
      FixedLengthStream.length,
    ],
    "pipeThrough": async () =>
      await new Response(new Response("hello").body.pipeThrough(new IdentityTransformStream())).text(),
    "FixedLengthStream exact": async () => {
      const { readable, writable } = new FixedLengthStream(3);
      const writer = writable.getWriter();
      writer.write(new Uint8Array([1, 2, 3]));
      writer.close();
      return hex(await new Response(readable).arrayBuffer());
    },
    "FixedLengthStream short": async () => {
      const { readable, writable } = new FixedLengthStream(3);
      const writer = writable.getWriter();
      return await settle([writer.write(new Uint8Array([1])), writer.close(), new Response(readable).arrayBuffer()]);
    },
    "FixedLengthStream long": async () => {
      const { readable, writable } = new FixedLengthStream(1);
      const writer = writable.getWriter();
      return await settle([writer.write(new Uint8Array([1, 2])), new Response(readable).arrayBuffer()]);
    },
    "FixedLengthStream bigint": async () => {
      const { readable, writable } = new FixedLengthStream(2n);
      const writer = writable.getWriter();
      writer.write(new Uint8Array([1, 2]));
      writer.close();
      return hex(await new Response(readable).arrayBuffer());
    },
    "FixedLengthStream()": () => new FixedLengthStream(),
    "FixedLengthStream(-1)": () => new FixedLengthStream(-1),
    "FixedLengthStream(2**53)": () => new FixedLengthStream(2 ** 53),
  },

  scheduler: {
    "typeof": () => [typeof scheduler, typeof scheduler.wait, Object.prototype.toString.call(scheduler)],
    "wait(1)": async () => (await scheduler.wait(1)) === undefined,
    "wait(-5)": async () => (await scheduler.wait(-5)) === undefined,
    "wait('x')": async () => (await scheduler.wait("x")) === undefined,
    "wait()": async () => await scheduler.wait(),
    "aborted before": async () => {
      const controller = new AbortController();
      controller.abort(new RangeError("why"));
      return await scheduler.wait(10, { signal: controller.signal });
    },
    "aborted while waiting": async () => {
      const controller = new AbortController();
      const waiting = scheduler.wait(60_000, { signal: controller.signal });
      controller.abort(new RangeError("stop waiting"));
      return await waiting;
    },
    "waits": async () => {
      const order = [];
      const slow = scheduler.wait(20).then(() => order.push("slow"));
      const fast = scheduler.wait(1).then(() => order.push("fast"));
      await Promise.all([slow, fast]);
      return order;
    },
  },

  atob: Object.fromEntries(
    ["YQ==", "YQ", "YQ=", "Y Q = =", "YQ===", "Y", "YR==", "\tYQ==\n", "Y=Q=", "-_", "+/", "YWJj", "", "=", "YQ==YQ==", "ab\u00e9"]
      .map((input) => [JSON.stringify(input), () => atob(input)]),
  ),

  structuredClone: {
    ...Object.fromEntries(
      ["Error", "TypeError", "RangeError", "SyntaxError", "ReferenceError", "EvalError", "URIError"].map((name) => [
        name,
        () => {
          const original = new globalThis[name]("msg");
          const copy = structuredClone(original);
          return [
            Object.prototype.toString.call(copy),
            copy.constructor.name,
            copy.name,
            copy.message,
            copy instanceof globalThis[name],
            copy.stack === original.stack,
            Object.getOwnPropertyNames(copy),
            Object.keys(copy),
          ];
        },
      ]),
    ),
    "custom name becomes Error": () => {
      const error = new Error("m");
      error.name = "Foo";
      const copy = structuredClone(error);
      return [copy.constructor.name, copy.name, String(copy)];
    },
    "name picks the type": () => {
      const error = new Error("m");
      error.name = "TypeError";
      return structuredClone(error).constructor.name;
    },
    "cause": () => {
      const copy = structuredClone(new Error("m", { cause: { code: 5 } }));
      return [copy.cause, Object.getOwnPropertyNames(copy)];
    },
    "no message": () => {
      const copy = structuredClone(new Error());
      return [Object.getOwnPropertyNames(copy), copy.message];
    },
    "subclass": () => {
      class MyError extends Error {}
      const copy = structuredClone(new MyError("x"));
      return [copy.constructor.name, copy instanceof MyError];
    },
    "AggregateError": () => {
      const copy = structuredClone(new AggregateError([1], "agg"));
      return [copy.constructor.name, copy.message, copy.errors];
    },
    "custom stack": () => {
      const error = new Error("m");
      error.stack = "custom stack";
      return structuredClone(error).stack;
    },
    "same error twice": () => {
      const error = new RangeError("r");
      const copy = structuredClone({ a: error, b: error });
      return [copy.a === copy.b, copy.a.constructor.name];
    },
    "DOMException": () => {
      const copy = structuredClone(new DOMException("x", "AbortError"));
      return [Object.prototype.toString.call(copy), copy.name, copy.message, copy.code];
    },
    "DataView": () => {
      const view = new DataView(new Uint8Array([1, 2, 3, 4]).buffer, 1, 2);
      const copy = structuredClone(view);
      return [Object.prototype.toString.call(copy), copy.byteOffset, copy.byteLength, copy.buffer.byteLength, copy.getUint8(0)];
    },
    "DataView shares its buffer": () => {
      const buffer = new ArrayBuffer(4);
      const copy = structuredClone({ view: new DataView(buffer), bytes: new Uint8Array(buffer) });
      return copy.view.buffer === copy.bytes.buffer;
    },
    "sparse array": () => {
      const array = [1, , 3];
      array[10] = 5;
      const copy = structuredClone(array);
      return [copy.length, 1 in copy, copy[10], Object.keys(copy)];
    },
    "huge sparse array": () => {
      const array = [];
      array[1e9] = 1;
      const copy = structuredClone(array);
      return [copy.length, Object.keys(copy)];
    },
    "array with a property": () => {
      const array = [1, 2];
      array.extra = "kept";
      return structuredClone(array).extra;
    },
    "holes only": () => {
      const copy = structuredClone(new Array(3));
      return [copy.length, 0 in copy];
    },
    "dense array": () => structuredClone([1, "two", [3]]),
    "function": () => structuredClone(() => 1),
    "error with a function": () => {
      const error = new Error("m");
      error.cause = () => 1;
      return structuredClone(error);
    },
  },

  // Values a hostile worker might clone: each must finish quickly (the
  // engine's walks are native code the CPU limit cannot stop).
  structuredCloneGraphs: {
    "many paths to one object": () => {
      let value = { leaf: true };
      for (let i = 0; i < 40; i++) value = { a: value, b: value };
      const copy = structuredClone(value);
      return [copy.a === copy.b, copy.a.a.a.a === copy.b.b.b.b];
    },
    "huge sparse array holding a transferred buffer": () => {
      const buffer = new ArrayBuffer(4);
      const array = [buffer];
      array[1e9] = 1;
      const copy = structuredClone(array, { transfer: [buffer] });
      // (Not `buffer.byteLength`: Brink does not detach transferred buffers yet.)
      return [copy.length, Object.keys(copy), copy[0].byteLength];
    },
    "cycle holding a transferred buffer": () => {
      const buffer = new ArrayBuffer(4);
      const value = { buffer, list: [buffer] };
      value.self = value;
      value.list.push(value.list);
      const copy = structuredClone(value, { transfer: [buffer] });
      return [copy.self === copy, copy.list[1] === copy.list, copy.list[0] === copy.buffer, copy.buffer.byteLength];
    },
    "deep nesting holding a transferred buffer": () => {
      const buffer = new ArrayBuffer(4);
      let value = { buffer };
      for (let i = 0; i < 100; i++) value = { inner: value };
      const copy = structuredClone(value, { transfer: [buffer] });
      let inner = copy;
      for (let i = 0; i < 100; i++) inner = inner.inner;
      return inner.buffer.byteLength;
    },
  },

  // Last: it changes CryptoKey.prototype for the rest of the isolate.
  hostileCrypto: {
    "a redefined usages getter grants nothing": async () => {
      const key = await crypto.subtle.importKey("raw", raw16, "AES-GCM", false, ["encrypt"]);
      const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv: new Uint8Array(12), tagLength: 32 }, key, new Uint8Array(3));
      Object.defineProperty(CryptoKey.prototype, "usages", { get: () => ["encrypt", "decrypt"], configurable: true });
      Object.defineProperty(CryptoKey.prototype, "extractable", { get: () => true, configurable: true });
      // The error types (deno_crypto's export message is its own).
      const outcomes = await settle([
        crypto.subtle.decrypt({ name: "AES-GCM", iv: new Uint8Array(12), tagLength: 32 }, key, sealed),
        crypto.subtle.decrypt({ name: "AES-GCM", iv: new Uint8Array(12) }, key, sealed),
        crypto.subtle.exportKey("raw", key),
      ]);
      return outcomes.map((outcome) => outcome.split(":")[0]);
    },
  },
};

function describe(error) {
  return `THROW ${error?.name}: ${error?.message}`;
}

export default {
  async fetch(request) {
    const group = groups[new URL(request.url).searchParams.get("group")];
    if (!group) return new Response(JSON.stringify(Object.keys(groups)), { status: 404 });
    const results = {};
    for (const [name, check] of Object.entries(group)) {
      try {
        results[name] = await Promise.race([
          (async () => check())(),
          new Promise((resolve) => setTimeout(() => resolve("HANG"), 1000)),
        ]);
      } catch (error) {
        results[name] = describe(error);
      }
    }
    return new Response(JSON.stringify(results), { headers: { "content-type": "application/json" } });
  },
};
