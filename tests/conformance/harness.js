// The conformance suite's shared helper, bundled with every case's worker.
//
// A case is either a function `(request, env, ctx) => value` or a complete
// worker object `{ fetch, requests? }`. `worker()` turns a function case into
// a worker whose response body is `show()` of the value (or of what it
// threw), so every runtime's answer is a deterministic JSON text that the
// runner can compare byte for byte.
//
// Thrown errors show their name only: workers branch on the type (a
// TypeError, a DOMException's name), and messages differ legitimately
// between runtimes. A case that wants a message shows `e.message` itself.

export function worker(c) {
  if (typeof c === "function") {
    return {
      async fetch(request, env, ctx) {
        return report(() => c(request, env, ctx));
      },
    };
  }
  return c;
}

// Runs `fn` and answers with `{ value }` or `{ threw }`, always status 200.
export async function report(fn) {
  let out;
  try {
    out = { value: show(await fn()) };
  } catch (e) {
    out = { threw: errorName(e) };
  }
  return new Response(JSON.stringify(out), {
    headers: { "content-type": "application/json" },
  });
}

// What a caught error shows: its name (`TypeError`, `DataError`, ...), or
// the thrown value itself when it is not an error object.
export function errorName(e) {
  if (e && typeof e === "object" && typeof e.name === "string") return e.name;
  return show(e);
}

// Runs `fn` and gives its result, or `{ threw: name }`: for cases that show
// several outcomes at once. Synchronous for a synchronous `fn`, so that
// `[attempt(a), attempt(b)]` shows values; a promise for an async one (await
// it).
export function attempt(fn) {
  let out;
  try {
    out = fn();
  } catch (e) {
    return { threw: errorName(e) };
  }
  if (out instanceof Promise) {
    return out.then(
      (value) => value,
      (e) => ({ threw: errorName(e) }),
    );
  }
  return out;
}

// What show() gives for a promise: a case that shows one forgot an await,
// and the runner fails it (every runtime would show the same text).
export const UNAWAITED = "<unawaited Promise>";

const hex = (bytes) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

export function bytesOf(view) {
  if (view instanceof ArrayBuffer) return new Uint8Array(view);
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

export { hex };

// A JSON-safe, deterministic picture of a value: what JSON would lose
// (undefined, NaN, -0, bigints, binary data, Maps, errors, class instances)
// is spelled out.
export function show(v, depth = 0) {
  if (depth > 8) return "<deep>";
  if (v === undefined) return "<undefined>";
  if (v === null) return null;
  switch (typeof v) {
    case "string":
    case "boolean":
      return v;
    case "number":
      if (Number.isNaN(v)) return "<NaN>";
      if (Object.is(v, -0)) return "<-0>";
      if (!Number.isFinite(v)) return v > 0 ? "<Infinity>" : "<-Infinity>";
      return v;
    case "bigint":
      return `<bigint ${v}>`;
    case "symbol":
      return `<symbol ${v.description}>`;
    case "function":
      return `<function>`;
  }
  if (v instanceof Promise) return UNAWAITED;
  if (v instanceof ArrayBuffer) return { ArrayBuffer: hex(new Uint8Array(v)) };
  if (ArrayBuffer.isView(v)) {
    return { [v.constructor.name]: hex(bytesOf(v)) };
  }
  if (v instanceof Error || (typeof DOMException === "function" && v instanceof DOMException)) {
    return { error: v.name, message: v.message };
  }
  if (Array.isArray(v)) return v.map((x) => show(x, depth + 1));
  if (v instanceof Map) return { Map: [...v].map(([k, x]) => [show(k, depth + 1), show(x, depth + 1)]) };
  if (v instanceof Set) return { Set: [...v].map((x) => show(x, depth + 1)) };
  if (v instanceof Date) return { Date: Number.isNaN(v.getTime()) ? "invalid" : v.toISOString() };
  if (v instanceof RegExp) return { RegExp: String(v) };
  if (typeof Headers === "function" && v instanceof Headers) return { Headers: [...v] };
  // Keys are sorted and undefined-valued properties left out, as JSON
  // would: runtimes differ in the order they create a JWK's or an
  // algorithm's properties and in whether absent members exist as
  // undefined, neither of which a worker can rely on.
  const out = {};
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) {
    out["<class>"] = proto?.constructor?.name ?? "<anonymous>";
  }
  for (const key of Object.keys(v).sort()) {
    if (v[key] !== undefined) out[key] = show(v[key], depth + 1);
  }
  return out;
}

// A response whose body is the JSON text of `show(value)`.
export function json(value, init) {
  return new Response(JSON.stringify(show(value)), init);
}

// Everything a case may want to show about a Response it built.
export async function describeResponse(r) {
  return {
    status: r.status,
    statusText: r.statusText,
    ok: r.ok,
    type: r.type,
    redirected: r.redirected,
    headers: [...r.headers],
    bodyUsed: r.bodyUsed,
    body: r.body === null ? null : await r.text(),
  };
}

// A stream of the given chunks, closed.
export function ofChunks(...chunks) {
  return new ReadableStream({
    start(c) {
      for (const x of chunks) c.enqueue(x);
      c.close();
    },
  });
}

// Reads a stream to the end and gives its chunks.
export async function readAll(stream) {
  const reader = stream.getReader();
  const chunks = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return chunks;
    chunks.push(value);
  }
}

// Resolves after `n` macrotask turns (setTimeout 0), for ordering cases.
export function turns(n = 1) {
  return new Promise((resolve) => {
    const step = (left) => (left === 0 ? resolve() : setTimeout(() => step(left - 1), 0));
    step(n);
  });
}
