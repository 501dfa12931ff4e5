// Exercises every global a Cloudflare Workers script expects. Each check runs
// on its own and reports `true` or the error that made it fail, so one broken
// global does not hide the others:
//
//   { "results": { "Request": true, "URLPattern": "TypeError: ..." } }
//
// Checks assert behaviour, not just presence: a stub that exists but does the
// wrong thing must fail here.

export const CONSOLE_MARKER = "globals-console-marker-7f3a";

class CheckFailed extends Error {}

function assert(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

function assertEq(actual, expected, what) {
  if (actual !== expected) {
    throw new CheckFailed(
      `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`,
    );
  }
}

async function assertRejects(promise, what) {
  let settled;
  try {
    settled = await promise;
  } catch (error) {
    return error;
  }
  throw new CheckFailed(`${what}: expected a rejection, got ${String(settled)}`);
}

function assertThrows(fn, what) {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new CheckFailed(`${what}: expected an exception`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const hex = (buffer) =>
  Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");

async function collect(readable) {
  const chunks = [];
  const reader = readable.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return chunks;
    chunks.push(value);
  }
}

function concatBytes(chunks) {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

const checks = {
  async Request() {
    const request = new Request("https://example.com/a/b?x=1", {
      method: "POST",
      headers: { "X-Custom": "yes" },
      body: "payload",
    });
    assertEq(request.method, "POST", "method");
    assertEq(request.url, "https://example.com/a/b?x=1", "url");
    assertEq(request.headers.get("x-custom"), "yes", "header (case-insensitive)");
    const derived = new Request(request.clone(), { method: "PUT" });
    assertEq(derived.method, "PUT", "Request(request, init) overrides method");
    assertEq(derived.url, request.url, "Request(request) keeps url");
    assertEq(await derived.text(), "payload", "Request(request) keeps body");
    const copy = request.clone();
    assertEq(await request.text(), "payload", "text()");
    assert(request.bodyUsed, "bodyUsed after text()");
    assertEq(await copy.text(), "payload", "clone().text()");
    assertThrows(() => new Request(request), "Request from a used body");
    assertThrows(() => new Request("https://example.com/", { method: "GET", body: "x" }), "GET with body");
  },

  async Response() {
    const response = new Response("hello", {
      status: 201,
      statusText: "Created",
      headers: { "content-type": "text/x-test" },
    });
    assertEq(response.status, 201, "status");
    assertEq(response.statusText, "Created", "statusText");
    assert(response.ok, "ok for 201");
    assertEq(response.headers.get("content-type"), "text/x-test", "content-type");
    assertEq(await response.text(), "hello", "text()");

    const bytes = await new Response(new Uint8Array([1, 2, 3])).arrayBuffer();
    assertEq(hex(bytes), "010203", "arrayBuffer() of a byte body");

    const json = Response.json({ a: [1, { b: "c" }] }, { status: 202 });
    assertEq(json.status, 202, "Response.json status");
    assert(json.headers.get("content-type").startsWith("application/json"), "Response.json content-type");
    const parsed = await json.json();
    assertEq(parsed.a[1].b, "c", "Response.json body");

    const redirect = Response.redirect("https://example.com/next", 301);
    assertEq(redirect.status, 301, "Response.redirect status");
    assertEq(redirect.headers.get("location"), "https://example.com/next", "Response.redirect location");
    assertEq(Response.redirect("https://example.com/").status, 302, "Response.redirect default status");
    assertThrows(() => Response.redirect("https://example.com/", 200), "Response.redirect with 200");
    assertEq(Response.error().type, "error", "Response.error().type");
  },

  Headers() {
    const headers = new Headers({ "Content-Type": "text/plain" });
    headers.append("X-Multi", "a");
    headers.append("x-multi", "b");
    assertEq(headers.get("content-type"), "text/plain", "case-insensitive get");
    assertEq(headers.get("X-MULTI"), "a, b", "appended values combine");
    assert(headers.has("x-multi"), "has()");
    headers.set("x-multi", "c");
    assertEq(headers.get("x-multi"), "c", "set() replaces");
    headers.delete("content-type");
    assertEq(headers.get("content-type"), null, "delete()");
    headers.set("a-first", "1");
    assertEq(JSON.stringify([...headers]), '[["a-first","1"],["x-multi","c"]]', "sorted, lower-cased iteration");
    assertThrows(() => headers.set("bad name", "x"), "invalid header name");
    const fromPairs = new Headers([["set-cookie", "a=1"], ["set-cookie", "b=2"]]);
    assertEq(JSON.stringify(fromPairs.getSetCookie()), '["a=1","b=2"]', "getSetCookie()");
  },

  async fetch() {
    assertEq(typeof fetch, "function", "typeof fetch");
    const error = await assertRejects(fetch("file:///etc/passwd"), "fetch(file:///etc/passwd)");
    assert(error instanceof TypeError, `rejects with a TypeError, got ${String(error)}`);
    assert(!String(error.message).includes("root:"), "the rejection must not leak the file");
  },

  URL() {
    const url = new URL("https://user:pw@Example.COM:8443/a/./b/../c?q=1#frag");
    assertEq(url.hostname, "example.com", "hostname lower-cased");
    assertEq(url.port, "8443", "port");
    assertEq(url.pathname, "/a/c", "pathname normalised");
    assertEq(url.search, "?q=1", "search");
    assertEq(url.hash, "#frag", "hash");
    assertEq(url.username, "user", "username");
    assertEq(url.origin, "https://example.com:8443", "origin");
    assertEq(new URL("../x", "https://example.com/a/b/c").href, "https://example.com/a/x", "relative resolution");
    url.pathname = "/new path";
    assertEq(url.pathname, "/new%20path", "pathname setter encodes");
    assertThrows(() => new URL("not a url"), "invalid URL");
    assertEq(URL.canParse("https://ok/"), true, "URL.canParse");
  },

  URLSearchParams() {
    assertEq(new URL("https://example.com/?x=1&y=two%20words").searchParams.get("y"), "two words",
      "new URL(u).searchParams.get");
    const url = new URL("https://example.com/p");
    url.searchParams.append("k", "v w");
    url.searchParams.append("k", "2");
    assertEq(url.href, "https://example.com/p?k=v+w&k=2", "searchParams writes through to href");
    const params = new URLSearchParams({ b: "2", a: "1" });
    params.sort();
    assertEq(params.toString(), "a=1&b=2", "sort + toString");
    assertEq(JSON.stringify(new URLSearchParams("a=1&a=2").getAll("a")), '["1","2"]', "getAll");
  },

  URLPattern() {
    const pattern = new URLPattern({ pathname: "/users/:id/posts/:post" });
    const match = pattern.exec("https://example.com/users/42/posts/hello");
    assert(match !== null, "exec matched");
    assertEq(match.pathname.groups.id, "42", "groups.id");
    assertEq(match.pathname.groups.post, "hello", "groups.post");
    assertEq(pattern.test("https://example.com/other"), false, "test() on a non-match");
    const host = new URLPattern("https://*.example.com/*");
    assertEq(host.test("https://api.example.com/v1"), true, "wildcard hostname");
  },

  TextEncoderDecoder() {
    const bytes = new TextEncoder().encode("h\u00e9\u20ac\u{1F600}");
    assertEq(hex(bytes), "68c3a9e282acf09f9880", "UTF-8 bytes");
    assertEq(new TextDecoder().decode(bytes), "h\u00e9\u20ac\u{1F600}", "decode round trip");
    assertEq(new TextDecoder("utf-16le").decode(new Uint8Array([0x68, 0, 0x69, 0])), "hi", "utf-16le");
    assertThrows(() => new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array([0xff])), "fatal on invalid");
    const into = new Uint8Array(8);
    const { read, written } = new TextEncoder().encodeInto("\u00e9a", into);
    assertEq(`${read}/${written}`, "2/3", "encodeInto");
  },

  async TextEncoderDecoderStream() {
    const source = ReadableStream.from
      ? ReadableStream.from(["h\u00e9", "llo \u{1F600}"])
      : new ReadableStream({
        start(c) {
          c.enqueue("h\u00e9");
          c.enqueue("llo \u{1F600}");
          c.close();
        },
      });
    const bytes = concatBytes(await collect(source.pipeThrough(new TextEncoderStream())));
    assertEq(hex(bytes), "68c3a96c6c6f20f09f9880", "TextEncoderStream bytes");
    // Split inside the multi-byte characters: the decoder must stitch them.
    const split = new ReadableStream({
      start(c) {
        c.enqueue(bytes.slice(0, 2));
        c.enqueue(bytes.slice(2, 8));
        c.enqueue(bytes.slice(8));
        c.close();
      },
    });
    const text = (await collect(split.pipeThrough(new TextDecoderStream()))).join("");
    assertEq(text, "h\u00e9llo \u{1F600}", "TextDecoderStream text");
  },

  async Streams() {
    const readable = new ReadableStream({
      start(controller) {
        for (const word of ["alpha", "beta", "gamma"]) controller.enqueue(word);
        controller.close();
      },
    });
    const upper = new TransformStream({
      transform(chunk, controller) {
        controller.enqueue(chunk.toUpperCase());
      },
    });
    const written = [];
    let closed = false;
    const sink = new WritableStream({
      write(chunk) {
        written.push(chunk);
      },
      close() {
        closed = true;
      },
    });
    await readable.pipeThrough(upper).pipeTo(sink);
    assertEq(written.join(","), "ALPHA,BETA,GAMMA", "pipeThrough + pipeTo");
    assert(closed, "sink closed");

    const [a, b] = new Response("tee me").body.tee();
    assertEq(await new Response(a).text(), "tee me", "tee branch a");
    assertEq(await new Response(b).text(), "tee me", "tee branch b");

    const writer = new WritableStream({
      write() {
        throw new Error("sink says no");
      },
    }).getWriter();
    const error = await assertRejects(writer.write("x"), "erroring sink");
    assertEq(error.message, "sink says no", "sink error propagates");
  },

  async CompressionStream() {
    const text = "compress me ".repeat(200);
    const input = new TextEncoder().encode(text);
    const compressed = concatBytes(
      await collect(new Blob([input]).stream().pipeThrough(new CompressionStream("gzip"))),
    );
    assertEq(hex(compressed.slice(0, 2)), "1f8b", "gzip magic");
    assert(compressed.byteLength < input.byteLength / 4, `compressed size ${compressed.byteLength}`);
    const restored = await new Response(
      new Blob([compressed]).stream().pipeThrough(new DecompressionStream("gzip")),
    ).text();
    assertEq(restored, text, "gzip round trip");
    const deflated = await new Response(
      new Blob([input]).stream().pipeThrough(new CompressionStream("deflate-raw"))
        .pipeThrough(new DecompressionStream("deflate-raw")),
    ).text();
    assertEq(deflated, text, "deflate-raw round trip");
    assertThrows(() => new CompressionStream("lzma"), "unknown format");
  },

  async AbortController() {
    const controller = new AbortController();
    let events = 0;
    controller.signal.addEventListener("abort", () => events++);
    assertEq(controller.signal.aborted, false, "not aborted yet");
    const reason = new Error("stop");
    controller.abort(reason);
    controller.abort(new Error("again"));
    assertEq(controller.signal.aborted, true, "aborted");
    assertEq(controller.signal.reason, reason, "reason kept (first one wins)");
    assertEq(events, 1, "abort event fired once");
    assertEq(assertThrows(() => controller.signal.throwIfAborted(), "throwIfAborted"), reason, "throwIfAborted throws reason");

    const aborted = AbortSignal.abort();
    assertEq(aborted.reason.name, "AbortError", "AbortSignal.abort() reason");

    const timeout = AbortSignal.timeout(10);
    await new Promise((resolve) => timeout.addEventListener("abort", resolve));
    assertEq(timeout.reason.name, "TimeoutError", "AbortSignal.timeout reason");

    const any = AbortSignal.any([new AbortController().signal, aborted]);
    assertEq(any.aborted, true, "AbortSignal.any");

    const fetchAbort = new AbortController();
    fetchAbort.abort();
    const error = await assertRejects(
      fetch("https://example.com/", { signal: fetchAbort.signal }),
      "fetch with an aborted signal",
    );
    assertEq(error.name, "AbortError", "fetch abort error name");
  },

  EventTarget() {
    const target = new EventTarget();
    const seen = [];
    const listener = (event) => seen.push(`${event.type}:${event.detail ?? "-"}`);
    target.addEventListener("ping", listener);
    target.addEventListener("ping", listener); // a duplicate is ignored
    target.addEventListener("ping", () => seen.push("once"), { once: true });
    target.addEventListener("ping", { handleEvent: () => seen.push("object") });
    assertEq(target.dispatchEvent(new Event("ping")), true, "dispatchEvent result");
    target.dispatchEvent(new CustomEvent("ping", { detail: 7 }));
    target.removeEventListener("ping", listener);
    target.dispatchEvent(new Event("ping"));
    assertEq(seen.join(","), "ping:-,once,object,ping:7,object,object", "listener calls");

    const cancelable = new Event("go", { cancelable: true });
    target.addEventListener("go", (event) => event.preventDefault());
    assertEq(target.dispatchEvent(cancelable), false, "preventDefault makes dispatch return false");
    assertEq(cancelable.defaultPrevented, true, "defaultPrevented");

    class Ticker extends EventTarget {}
    const ticker = new Ticker();
    let got = null;
    ticker.addEventListener("tick", (event) => {
      got = event.target;
    });
    ticker.dispatchEvent(new Event("tick"));
    assertEq(got, ticker, "event.target on a subclass");
  },

  structuredClone() {
    const date = new Date(Date.UTC(2020, 1, 29, 12, 0, 0));
    const original = {
      map: new Map([["k", { deep: [1, 2, { x: "y" }] }]]),
      set: new Set([1, "two"]),
      date,
      bytes: new Uint8Array([9, 8, 7]),
      nested: { list: [{ a: 1 }, null, undefined] },
      regex: /ab+c/gi,
    };
    original.self = original;
    const copy = structuredClone(original);
    assert(copy !== original, "a new object");
    assert(copy.map instanceof Map, "Map survives");
    assertEq(copy.map.get("k").deep[2].x, "y", "Map value nested");
    assert(copy.map.get("k") !== original.map.get("k"), "Map value copied deeply");
    assert(copy.set instanceof Set && copy.set.has("two"), "Set survives");
    assert(copy.date instanceof Date && copy.date !== date, "Date copied");
    assertEq(copy.date.toISOString(), "2020-02-29T12:00:00.000Z", "Date value");
    assertEq(hex(copy.bytes), "090807", "typed array");
    assertEq(copy.nested.list[0].a, 1, "nested array of objects");
    assertEq(copy.nested.list.length, 3, "array length");
    assertEq(copy.regex.source + copy.regex.flags, "ab+cgi", "RegExp");
    assertEq(copy.self, copy, "cycle preserved");
    const error = assertThrows(() => structuredClone({ f() {} }), "cloning a function");
    assertEq(error.name, "DataCloneError", "error name for a function");
  },

  atobBtoa() {
    assertEq(btoa("hello, world"), "aGVsbG8sIHdvcmxk", "btoa");
    assertEq(atob("aGVsbG8sIHdvcmxk"), "hello, world", "atob");
    assertEq(atob(btoa("\x00\xff\x80")), "\x00\xff\x80", "binary round trip");
    assertEq(atob(" aGk= "), "hi", "atob strips whitespace");
    assertThrows(() => btoa("\u20ac"), "btoa outside Latin-1");
    assertThrows(() => atob("a"), "atob on invalid input");
  },

  async timers() {
    const value = await new Promise((resolve) => setTimeout(resolve, 5, "arg passed"));
    assertEq(value, "arg passed", "setTimeout passes extra arguments");

    let cancelledFired = false;
    const cancelled = setTimeout(() => {
      cancelledFired = true;
    }, 5);
    clearTimeout(cancelled);

    let ticks = 0;
    await new Promise((resolve) => {
      const id = setInterval(() => {
        ticks++;
        if (ticks === 3) {
          clearInterval(id);
          resolve();
        }
      }, 5);
    });
    await sleep(40);
    assertEq(ticks, 3, "interval fired exactly 3 times, then stopped");
    assertEq(cancelledFired, false, "clearTimeout cancelled the timer");

    const order = [];
    setTimeout(() => order.push("later"), 10);
    setTimeout(() => order.push("sooner"), 1);
    await sleep(30);
    assertEq(order.join(","), "sooner,later", "timers fire in deadline order");
  },

  async queueMicrotask() {
    const order = [];
    const timer = new Promise((resolve) =>
      setTimeout(() => {
        order.push("timeout");
        resolve();
      }, 0)
    );
    queueMicrotask(() => order.push("microtask"));
    order.push("sync");
    await timer;
    assertEq(order.join(","), "sync,microtask,timeout", "microtask runs after sync code, before timers");
  },

  getRandomValues() {
    const bytes = new Uint8Array(32);
    const returned = crypto.getRandomValues(bytes);
    assertEq(returned, bytes, "returns its argument");
    assert(bytes.some((b) => b !== 0), "filled (32 zero bytes is 2^-256)");
    const other = crypto.getRandomValues(new Uint32Array(8));
    assert(other.some((n) => n !== 0), "Uint32Array filled");
    assert(hex(bytes) !== hex(crypto.getRandomValues(new Uint8Array(32))), "two calls differ");
    const tooBig = assertThrows(() => crypto.getRandomValues(new Uint8Array(65537)), "over 65536 bytes");
    assert(tooBig instanceof DOMException, `quota error is a DOMException, got ${String(tooBig)}`);
    assertEq(tooBig.name, "QuotaExceededError", "quota error name");
    assertThrows(() => crypto.getRandomValues(new Float64Array(2)), "float array");
  },

  randomUUID() {
    const uuid = crypto.randomUUID();
    assert(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(uuid), `v4 format: ${uuid}`);
    assert(uuid !== crypto.randomUUID(), "two calls differ");
  },

  async subtle() {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode("abc"));
    assertEq(hex(digest), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "SHA-256(abc)");

    // RFC 4231 test case 2.
    const key = await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode("Jefe"),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    const data = new TextEncoder().encode("what do ya want for nothing?");
    const mac = await crypto.subtle.sign("HMAC", key, data);
    assertEq(hex(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", "HMAC-SHA-256");
    assertEq(await crypto.subtle.verify("HMAC", key, mac, data), true, "verify a good MAC");
    const tampered = new Uint8Array(mac);
    tampered[0] ^= 1;
    assertEq(await crypto.subtle.verify("HMAC", key, tampered, data), false, "verify a tampered MAC");
    assert(key instanceof CryptoKey, "importKey gives a CryptoKey");
    assertEq(key.extractable, false, "extractable flag");

    // Errors raised inside the engine's crypto ops must surface as the
    // DOMExceptions Web Crypto specifies, not as `undefined`.
    const aes = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, true, ["encrypt", "decrypt"]);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, aes, data));
    const opened = await crypto.subtle.decrypt({ name: "AES-GCM", iv }, aes, sealed);
    assertEq(new TextDecoder().decode(opened), "what do ya want for nothing?", "AES-GCM round trip");
    sealed[sealed.length - 1] ^= 1;
    const failed = await assertRejects(crypto.subtle.decrypt({ name: "AES-GCM", iv }, aes, sealed), "tampered AES-GCM");
    assert(failed instanceof DOMException, `tampered AES-GCM rejects with a DOMException, got ${String(failed)}`);
    assertEq(failed.name, "OperationError", "tampered AES-GCM error name");
  },

  async BlobFileFormData() {
    const blob = new Blob(["ab", new Uint8Array([0x63]), new Blob(["d"])], { type: "text/plain" });
    assertEq(blob.size, 4, "Blob.size");
    assertEq(blob.type, "text/plain", "Blob.type");
    assertEq(await blob.text(), "abcd", "Blob.text()");
    assertEq(await blob.slice(1, 3).text(), "bc", "Blob.slice");
    assertEq(hex(await blob.arrayBuffer()), "61626364", "Blob.arrayBuffer()");

    const file = new File(["file body"], "notes.txt", { type: "text/plain", lastModified: 1234 });
    assertEq(file.name, "notes.txt", "File.name");
    assertEq(file.lastModified, 1234, "File.lastModified");
    assert(file instanceof Blob, "File is a Blob");
    assertEq(await file.text(), "file body", "File.text()");

    const form = new FormData();
    form.append("field", "one");
    form.append("field", "two");
    form.append("upload", file);
    form.set("single", "x");
    assertEq(JSON.stringify(form.getAll("field")), '["one","two"]', "FormData.getAll");
    assertEq(
      [...form.entries()].map(([k, v]) => `${k}=${typeof v === "string" ? v : v.name}`).join("&"),
      "field=one&field=two&upload=notes.txt&single=x",
      "FormData entries",
    );

    const request = new Request("https://example.com/upload", { method: "POST", body: form });
    assert(
      request.headers.get("content-type").startsWith("multipart/form-data; boundary="),
      `multipart content-type: ${request.headers.get("content-type")}`,
    );
    const parsed = await request.formData();
    assertEq(JSON.stringify(parsed.getAll("field")), '["one","two"]', "formData() fields");
    assertEq(parsed.get("single"), "x", "formData() set field");
    const upload = parsed.get("upload");
    assert(upload instanceof File, "formData() gives a File back");
    assertEq(upload.name, "notes.txt", "uploaded File.name");
    assertEq(await upload.text(), "file body", "uploaded File contents");

    const urlencoded = await new Request("https://example.com/", {
      method: "POST",
      body: new URLSearchParams("a=1&b=two+words"),
    }).formData();
    assertEq(urlencoded.get("b"), "two words", "urlencoded formData()");
  },

  console() {
    console.log(CONSOLE_MARKER, { nested: [1, "two"] }, 3);
    console.error(`${CONSOLE_MARKER}-error`);
    assertEq(typeof console.warn, "function", "console.warn");
    assertEq(typeof console.table, "function", "console.table");
  },

  performance() {
    const first = performance.now();
    assertEq(typeof first, "number", "performance.now() type");
    assert(first >= 0 && Number.isFinite(first), `performance.now() value ${first}`);
    let last = first;
    for (let i = 0; i < 1000; i++) {
      const now = performance.now();
      assert(now >= last, "monotonic");
      last = now;
    }
    assertEq(typeof performance.timeOrigin, "number", "performance.timeOrigin");
    // timeOrigin is a Unix time in ms: origin + now() is (about) Date.now().
    const skew = Math.abs(performance.timeOrigin + performance.now() - Date.now());
    assert(skew < 60_000, `timeOrigin + now() is ${skew} ms away from Date.now()`);
  },

  navigator() {
    assertEq(typeof navigator.userAgent, "string", "typeof navigator.userAgent");
    assert(navigator.userAgent.length > 0, "non-empty userAgent");
  },

  noHostInternals() {
    assertEq(typeof Deno, "undefined", "typeof Deno");
    assertEq(typeof __bootstrap, "undefined", "typeof __bootstrap");
    assert(!("Deno" in globalThis), "no globalThis.Deno");
    assert(!("require" in globalThis), "no globalThis.require");
    assert(!("process" in globalThis), "no globalThis.process");
    assertEq(globalThis[Symbol.for("brink.host")], undefined, "host hooks removed");
    assertEq(self, globalThis, "self is globalThis");
  },
};

async function run(name, check) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error("timed out after 5 s")), 5000);
  });
  try {
    await Promise.race([check(), timeout]);
    return true;
  } catch (error) {
    return `${error?.name ?? "Error"}: ${error?.message ?? String(error)}`;
  } finally {
    clearTimeout(timer);
  }
}

// What a worker can see on its global object, before any lazy global has
// been touched: `/?surface` answers with the own property names and symbols.
function globalSurface() {
  return {
    names: Object.getOwnPropertyNames(globalThis).sort(),
    symbols: Object.getOwnPropertySymbols(globalThis).map(String).sort(),
  };
}

export default {
  async fetch(request, env, ctx) {
    if (new URL(request.url).searchParams.has("surface")) {
      return Response.json(globalSurface());
    }
    const only = new URL(request.url).searchParams.get("only");
    const results = {};
    for (const [name, check] of Object.entries(checks)) {
      if (only !== null && only !== name) continue;
      results[name] = await run(name, check);
    }
    return Response.json({ results });
  },
};
