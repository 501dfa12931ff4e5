// Takes the engine's own helpers off the global object before worker code
// runs, and removes the one way JS could block the isolate's thread.
//
// The quickjs backend (v8x) installs host functions as globals so its own JS
// shims can call them: `__v8xAtomics*` (a process-wide waiter registry behind
// its Atomics.waitAsync / Atomics.notify shims), `__v8xPostForegroundTask`,
// `__v8x_import_source` (the target of rewritten `import.source(...)`),
// `__v8x_snapshot_intrinsics` (which holds a callable `gc`), and a
// `ShadowRealm` whose realms get a fresh copy of all of these. None of them
// is part of the Workers platform, and each hands a tenant something the
// supervisor does not account for. The v8 backend has none of them; deleting
// an absent global is a no-op.
//
// Atomics.wait parks the thread without using CPU, so the CPU watchdog never
// fires and the isolate wedges. Like Cloudflare Workers (V8 with
// atomics-wait disallowed on the request thread), it throws instead.

// Engine globals that no Brink or Deno JavaScript reads once the bootstrap
// has finished. Not listed: `__v8xTemporalTimeZone`, which v8x's Intl
// stub, and through it the Temporal polyfill, look up on the global object
// on every call; it is a pure function (a time in a time zone → its date
// parts) and gives a worker nothing `Intl.DateTimeFormat` does not.
const ENGINE_GLOBALS = [
  "__v8xPostForegroundTask",
  "__v8xAtomicsRegisterWaiter",
  "__v8xAtomicsNotifyWaiters",
  "__v8xAtomicsCancelWaiter",
  "__v8xAtomicsNumWaitersForTesting",
  "__v8xAtomicsNumUnresolvedAsyncPromisesForTesting",
  "__v8x_import_source",
  "__v8x_import_defer",
  "__v8x_snapshot_intrinsics",
  "__v8x_fast_api_next_call",
  "ShadowRealm",
  "gc",
];

// The Temporal polyfill publishes its internal-slot accessors under these
// registered symbols; it keeps its own references, so the globals are only
// a way for a worker to reach into Temporal objects' slots.
const ENGINE_SYMBOLS = [
  Symbol.for("@@Temporal__GetSlots"),
  Symbol.for("@@Temporal__CreateSlots"),
];

const ATOMICS_WAIT_MESSAGE = "Atomics.wait cannot be called in this context";

/** Replaces `Atomics.wait` with a function that always throws. */
function forbidAtomicsWait(atomics) {
  // A method-shorthand function is not a constructor, like the original.
  const { wait } = {
    wait(_typedArray, _index, _value, _timeout) {
      throw new TypeError(ATOMICS_WAIT_MESSAGE);
    },
  };
  Object.defineProperty(atomics, "wait", {
    __proto__: null,
    value: wait,
    writable: true,
    enumerable: false,
    configurable: true,
  });
}

/**
 * v8x's Atomics.waitAsync and Atomics.notify shims find their host functions
 * on the global object at every call, so they stop working once those are
 * deleted. waitAsync goes (its waiters live in a registry shared by every
 * isolate of the process, keyed by memory address); notify becomes the
 * native notify's checks plus "woke nobody", which is exact: with
 * Atomics.wait throwing and waitAsync gone, nothing can be waiting.
 */
function replaceWaitAsyncShim(atomics) {
  const { load } = atomics;
  const typedArrayTag = Object.getOwnPropertyDescriptor(
    Object.getPrototypeOf(Int32Array.prototype),
    Symbol.toStringTag,
  ).get;
  delete atomics.waitAsync;
  const { notify } = {
    notify(typedArray, index, count) {
      const tag = typedArrayTag.call(typedArray);
      if (tag !== "Int32Array" && tag !== "BigInt64Array") {
        throw new TypeError("Atomics.notify needs an Int32Array or a BigInt64Array");
      }
      // Converts the index once and throws a RangeError past the end, as
      // the native notify does.
      const position = Math.trunc(Number(index)) || 0;
      if (position < 0 || !Number.isSafeInteger(position)) {
        throw new RangeError("Atomics.notify: invalid index");
      }
      load(typedArray, position);
      if (count !== undefined) Number(count);
      return 0;
    },
  };
  Object.defineProperty(atomics, "notify", {
    __proto__: null,
    value: notify,
    writable: true,
    enumerable: false,
    configurable: true,
  });
}

/** Runs last in the bootstrap: nothing after it may need the internals. */
export function hideEngineInternals() {
  if (typeof globalThis.Atomics === "object" && globalThis.Atomics !== null) {
    forbidAtomicsWait(globalThis.Atomics);
    if ("__v8xAtomicsRegisterWaiter" in globalThis) {
      replaceWaitAsyncShim(globalThis.Atomics);
    }
  }
  for (const name of ENGINE_GLOBALS) {
    delete globalThis[name];
  }
  for (const key of ENGINE_SYMBOLS) {
    delete globalThis[key];
  }
}
