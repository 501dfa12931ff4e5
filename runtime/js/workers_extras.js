// Globals Cloudflare Workers has beyond the web standards, each behaving as
// workerd does (checked side by side; tests/tests/workers_surface.rs):
// `navigator`, `scheduler.wait`, `IdentityTransformStream`,
// `FixedLengthStream`, `atob` that accepts only the standard base64
// alphabet, the global scope as an EventTarget, `request.cf`,
// `Headers.prototype.getAll` and a `structuredClone` that detaches what it
// transfers. The Web Crypto additions live in crypto_extras.js.
import { primordials } from "ext:core/mod.js";

const {
  ArrayBufferIsView,
  ArrayIsArray,
  FunctionPrototypeCall,
  SafeWeakMap,
  WeakMapPrototypeGet,
  WeakMapPrototypeSet,
  ArrayBufferPrototype,
  MathTrunc,
  NumberIsFinite,
  NumberIsNaN,
  ObjectDefineProperty,
  ObjectFreeze,
  ObjectGetOwnPropertyDescriptor,
  ObjectPrototypeIsPrototypeOf,
  ObjectSetPrototypeOf,
  Promise,
  ReflectApply,
  PromiseReject,
  RegExpPrototypeTest,
  String,
  StringPrototypeToLowerCase,
  SymbolToStringTag,
  TypeError,
  TypedArrayPrototypeSlice,
  Uint8Array,
} = primordials;

/**
 * What `navigator.userAgent` says. Workers code tells the Workers runtime
 * from a browser or Node by this exact string (hono's `getRuntimeKey`, SDKs
 * choosing fetch over Node's http), so Brink gives the same answer and that
 * code takes its Workers path here. Outbound `fetch` still sends
 * `User-Agent: Brink/0.1` (docs/workers.md).
 */
export const USER_AGENT = "Cloudflare-Workers";

function toStringTag(prototype, tag) {
  ObjectDefineProperty(prototype, SymbolToStringTag, { __proto__: null, value: tag, configurable: true });
}

function illegalConstructor() {
  throw new TypeError("Illegal constructor");
}

/** `Navigator`, whose only instance is the global `navigator`. */
export function makeNavigator() {
  let constructing = false;
  class Navigator {
    constructor() {
      if (!constructing) illegalConstructor();
    }
    get userAgent() {
      return USER_AGENT;
    }
    /** One, as in Workers: a worker learns nothing of the host's cores. */
    get hardwareConcurrency() {
      return 1;
    }
    /** "en", as in Workers (the machine's locale is not the visitor's). */
    get language() {
      return "en";
    }
    get languages() {
      return languages;
    }
  }
  const languages = ObjectFreeze(["en"]);
  toStringTag(Navigator.prototype, "Navigator");
  constructing = true;
  const navigator = new Navigator();
  constructing = false;
  return { Navigator, navigator };
}

/** The global `scheduler`: `wait(ms, { signal })`, a promise-based sleep. */
export function makeScheduler({ setTimeout, clearTimeout, AbortSignal }) {
  class Scheduler {
    constructor() {
      illegalConstructor();
    }
    wait(delay, options) {
      if (arguments.length === 0) {
        return PromiseReject(
          new TypeError("Failed to execute 'wait' on 'Scheduler': parameter 1 is not of type 'number'."),
        );
      }
      const ms = Number(delay);
      const signal = options?.signal;
      if (signal !== undefined && !ObjectPrototypeIsPrototypeOf(AbortSignal.prototype, signal)) {
        return PromiseReject(new TypeError("Failed to execute 'wait' on 'Scheduler': options.signal is not an AbortSignal."));
      }
      return new Promise((resolve, reject) => {
        if (signal?.aborted) {
          reject(signal.reason);
          return;
        }
        const onAbort = () => {
          clearTimeout(timer);
          reject(signal.reason);
        };
        const timer = setTimeout(() => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        }, NumberIsFinite(ms) && ms > 0 ? ms : 0);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    }
  }
  toStringTag(Scheduler.prototype, "Scheduler");
  const scheduler = { __proto__: Scheduler.prototype };
  return ObjectFreeze(scheduler);
}

/** A chunk's bytes; strings are written as UTF-8, as workerd does. */
function byteChunk(chunk, encoder) {
  if (ArrayBufferIsView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (ObjectPrototypeIsPrototypeOf(ArrayBufferPrototype, chunk)) return new Uint8Array(chunk);
  if (typeof chunk === "string") return encoder().encode(chunk);
  throw new TypeError(
    "This TransformStream is being used as a byte stream, but received an object of non-ArrayBuffer/ArrayBufferView type on its writable side.",
  );
}

/** The readable side of each FixedLengthStream -> its expected length. */
const fixedLengths = new SafeWeakMap();

/**
 * The length a `FixedLengthStream`'s readable side will carry, or undefined
 * for any other stream: a response with such a body can announce its
 * `Content-Length`, as Workers does (the response path is to read this).
 */
export function fixedLengthOf(stream) {
  return WeakMapPrototypeGet(fixedLengths, stream);
}

/**
 * `IdentityTransformStream` and `FixedLengthStream`. Both are byte streams:
 * the readable side is a `type: "bytes"` stream (BYOB readers work), and a
 * write resolves once a reader has taken its bytes, so nothing is buffered
 * beyond the chunk being handed over.
 */
export function makeIdentityStreams({ ReadableStream, WritableStream, TransformStream }, TextEncoder) {
  let encoderInstance;
  const encoder = () => (encoderInstance ??= new TextEncoder());
  /** Builds the readable/writable pair; counts bytes against `expectedLength` when set. */
  function bytePair(expectedLength) {
    let readableController;
    let writableController;
    let pulled = null;
    let written = 0;
    const wakeWriter = () => {
      const waiting = pulled;
      pulled = null;
      waiting?.resolve();
    };
    const readable = new ReadableStream({
      type: "bytes",
      start(controller) {
        readableController = controller;
      },
      pull() {
        wakeWriter();
      },
      cancel(reason) {
        writableController.error(reason);
        const waiting = pulled;
        pulled = null;
        waiting?.reject(reason);
      },
    }, { highWaterMark: 0 });
    const fail = (error) => {
      readableController.error(error);
      writableController.error(error);
    };
    const writable = new WritableStream({
      start(controller) {
        writableController = controller;
      },
      write(chunk) {
        const bytes = byteChunk(chunk, encoder);
        if (bytes.byteLength === 0) return;
        written += bytes.byteLength;
        if (expectedLength !== undefined && written > expectedLength) {
          fail(new TypeError("Attempt to write too many bytes through a FixedLengthStream."));
          return;
        }
        // A copy: the writer may reuse its buffer once the write resolves.
        readableController.enqueue(TypedArrayPrototypeSlice(bytes));
        if (readableController.desiredSize >= 0) return;
        let resolve;
        let reject;
        const wait = new Promise((resolveWait, rejectWait) => {
          resolve = resolveWait;
          reject = rejectWait;
        });
        pulled = { resolve, reject };
        return wait;
      },
      close() {
        if (expectedLength !== undefined && written < expectedLength) {
          readableController.error(new TypeError("FixedLengthStream did not see all expected bytes before close()."));
          return;
        }
        readableController.close();
      },
      abort(reason) {
        readableController.error(reason);
      },
    });
    return { readable, writable };
  }

  // Set by FixedLengthStream's constructor for the IdentityTransformStream
  // constructor it calls (nothing else runs between the two).
  let nextExpectedLength;

  class IdentityTransformStream extends TransformStream {
    #readable;
    #writable;
    constructor() {
      super();
      const expectedLength = nextExpectedLength;
      nextExpectedLength = undefined;
      const pair = bytePair(expectedLength);
      // The stream itself, not whatever a subclass's `readable` getter returns.
      if (expectedLength !== undefined) WeakMapPrototypeSet(fixedLengths, pair.readable, expectedLength);
      this.#readable = pair.readable;
      this.#writable = pair.writable;
    }
    get readable() {
      return this.#readable;
    }
    get writable() {
      return this.#writable;
    }
  }
  toStringTag(IdentityTransformStream.prototype, "IdentityTransformStream");

  class FixedLengthStream extends IdentityTransformStream {
    #expectedLength;
    constructor(expectedLength) {
      if (arguments.length === 0) {
        throw new TypeError("Failed to construct 'FixedLengthStream': constructor parameter 1 is not of type 'bigint'.");
      }
      const length = typeof expectedLength === "bigint" ? Number(expectedLength) : MathTrunc(Number(expectedLength));
      if (NumberIsNaN(length) || length < 0) {
        throw new TypeError("The value cannot be converted because it is negative and this API expects a positive bigint.");
      }
      if (!(length < 2 ** 53)) {
        throw new TypeError("FixedLengthStream requires an integer expected length less than 2^53.");
      }
      nextExpectedLength = length;
      super();
      this.#expectedLength = length;
    }
    /** The length given at construction (a Brink addition, read-only). */
    get expectedLength() {
      return this.#expectedLength;
    }
  }
  toStringTag(FixedLengthStream.prototype, "FixedLengthStream");
  // Constructors of Web IDL interfaces report no required arguments, as in workerd.
  ObjectDefineProperty(IdentityTransformStream, "length", { __proto__: null, value: 0, configurable: true });
  ObjectDefineProperty(FixedLengthStream, "length", { __proto__: null, value: 0, configurable: true });
  return { IdentityTransformStream, FixedLengthStream };
}

const BASE64_ALPHABET = /^[A-Za-z0-9+/=\t\n\f\r ]*$/;
const ATOB_ERROR =
  "atob() called with invalid base64-encoded data. (Only whitespace, '+', '/', alphanumeric ASCII, " +
  "and up to two terminal '=' signs when the input data length is divisible by 4 are allowed.)";

/**
 * `atob` as in workerd: the standard alphabet only. deno_web's also takes
 * base64url's `-` and `_`, so a token that only decodes here would fail in
 * production on Workers.
 */
export function strictAtob(atob, DOMException) {
  const wrapper = {
    atob(data) {
      if (arguments.length === 0) {
        throw new TypeError("Failed to execute 'atob': 1 argument required, but only 0 present.");
      }
      const text = `${data}`;
      if (!RegExpPrototypeTest(BASE64_ALPHABET, text)) throw new DOMException(ATOB_ERROR, "InvalidCharacterError");
      try {
        return atob(text);
      } catch (error) {
        if (error?.name === "InvalidCharacterError") throw new DOMException(ATOB_ERROR, "InvalidCharacterError");
        throw error;
      }
    },
  }.atob;
  return wrapper;
}

/**
 * Makes the global object an EventTarget, as Workers' global scope
 * (ServiceWorkerGlobalScope) is: `dispatchEvent` and `removeEventListener`
 * work on it, and an exception a listener throws anywhere is reported
 * through its "error" event (deno_web's reportException dispatches there)
 * instead of failing the request. Returns the EventTarget methods, taken
 * before worker code can replace them.
 */
export function makeGlobalEventTarget(
  { EventTarget, setEventTargetData, saveGlobalThisReference },
  brand,
) {
  // Worker code cannot construct either, as on workerd.
  class WorkerGlobalScope extends EventTarget {
    constructor() {
      throw new TypeError("Illegal constructor");
    }
  }
  class ServiceWorkerGlobalScope extends WorkerGlobalScope {
    constructor() {
      throw new TypeError("Illegal constructor");
    }
  }
  toStringTag(ServiceWorkerGlobalScope.prototype, "ServiceWorkerGlobalScope");
  ObjectSetPrototypeOf(globalThis, ServiceWorkerGlobalScope.prototype);
  // What deno_web's EventTarget methods check the receiver by, and its
  // listeners, kept on the prototype (there is one global) so the global
  // object itself holds no symbol-keyed properties.
  ObjectDefineProperty(ServiceWorkerGlobalScope.prototype, brand, { __proto__: null, value: brand });
  setEventTargetData(ServiceWorkerGlobalScope.prototype);
  saveGlobalThisReference(globalThis);
  const { addEventListener, removeEventListener, dispatchEvent } = EventTarget.prototype;
  return { addEventListener, removeEventListener, dispatchEvent, WorkerGlobalScope, ServiceWorkerGlobalScope };
}

/**
 * `request.cf`, Workers' object of what the edge knows about the client.
 * An incoming request (its inner request marked with `cf: null` by the
 * host) gets an object made on first read; Brink has no edge data to put
 * in it, and makes none up (no geolocation), so `request.cf.country` reads
 * undefined instead of throwing. A request the worker constructs has none,
 * as on Workers.
 */
export function installRequestCf(RequestPrototype, toInnerRequest) {
  ObjectDefineProperty(RequestPrototype, "cf", {
    __proto__: null,
    configurable: true,
    enumerable: true,
    get() {
      const inner = toInnerRequest(this);
      if (inner === undefined || inner.cf === undefined) return undefined;
      return (inner.cf ??= {});
    },
  });
}

/**
 * Workers' `Headers.prototype.getAll(name)`, which exists for Set-Cookie
 * only (any other name is a TypeError there too).
 */
export function installHeadersGetAll(HeadersPrototype) {
  const getSetCookie = HeadersPrototype.getSetCookie;
  ObjectDefineProperty(HeadersPrototype, "getAll", {
    __proto__: null,
    configurable: true,
    enumerable: true,
    writable: true,
    value: function getAll(name) {
      if (StringPrototypeToLowerCase(String(name)) !== "set-cookie") {
        throw new TypeError('getAll() can only be used with the header name "Set-Cookie".');
      }
      return FunctionPrototypeCall(getSetCookie, this);
    },
  });
}

// Taken before worker code runs, which may replace them.
const arrayBufferTransfer = ArrayBufferPrototype.transfer;
const arrayBufferDetached = ObjectGetOwnPropertyDescriptor(ArrayBufferPrototype, "detached")?.get;

/**
 * `structuredClone` that detaches the ArrayBuffers it transfers. On the
 * QuickJS engine deno_web's clone copies a transferred buffer and leaves
 * the original usable, where the spec (and workerd) detach it; with real V8
 * the buffers are detached already and this changes nothing.
 */
export function detachingTransfers(clone) {
  if (typeof arrayBufferTransfer !== "function" || typeof arrayBufferDetached !== "function") return clone;
  const structuredClone = function structuredClone(...args) {
    const result = ReflectApply(clone, undefined, args);
    const transfer = args[1]?.transfer;
    if (ArrayIsArray(transfer)) {
      for (let i = 0; i < transfer.length; i++) {
        const item = transfer[i];
        if (ObjectPrototypeIsPrototypeOf(ArrayBufferPrototype, item) && !FunctionPrototypeCall(arrayBufferDetached, item)) {
          FunctionPrototypeCall(arrayBufferTransfer, item);
        }
      }
    }
    return result;
  };
  ObjectDefineProperty(structuredClone, "length", { __proto__: null, value: 1, configurable: true });
  return structuredClone;
}
