// Code generation from strings, as on Workers (tests/tests/workers_conformance.rs):
// a worker's top level may still build code from strings (libraries compile
// templates and schemas at startup), its handlers may not, however they
// reach eval or a function constructor; and every runtime feature, lazily
// loaded ones included, still works once it is forbidden.

// Runs `f`, answering its result or the error it threw as "Name: message".
function attempt(f) {
  try {
    const value = f();
    return typeof value === "function" ? "a function" : value;
  } catch (e) {
    return `${e.name}: ${e.message}`;
  }
}

const atStartup = {
  eval: attempt(() => eval("1 + 1")),
  newFunction: attempt(() => new Function("a", "return a * 2")(21)),
};

// A tiny module: (func (export "add") (param i32 i32) (result i32) ...).
const ADD_WASM = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x07, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, 0x03,
  0x02, 0x01, 0x00, 0x07, 0x07, 0x01, 0x03, 0x61, 0x64, 0x64, 0x00, 0x00, 0x0a, 0x09, 0x01, 0x07, 0x00, 0x20,
  0x00, 0x20, 0x01, 0x6a, 0x0b,
]);

async function features(env) {
  const out = {};
  out.structuredClone = structuredClone({ a: [1, { b: 2n }], d: new Date(0) }).a[1].b === 2n;
  const text = await new Response(
    new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode("str"));
        c.enqueue(new TextEncoder().encode("eams"));
        c.close();
      },
    }).pipeThrough(new TransformStream()),
  ).text();
  out.streams = text;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode("abc"));
  out.crypto = [...new Uint8Array(digest).slice(0, 4)];
  const rewritten = new HTMLRewriter()
    .on("p", { element: (e) => e.setAttribute("class", "x") })
    .transform(new Response("<p>hi</p>"));
  out.htmlRewriter = await rewritten.text();
  await env.KV.put("k", "v");
  out.kv = await env.KV.get("k");
  const { instance } = await WebAssembly.instantiate(ADD_WASM);
  out.webAssembly = instance.exports.add(2, 3);
  out.url = new URL("/a?b=c", "https://example.com").searchParams.get("b");
  out.cache = typeof (await caches.open("c")).match;
  out.timer = await new Promise((resolve) => setTimeout((v) => resolve(v), 1, "fired"));
  out.json = JSON.parse('{"a":[1,2]}').a.length;
  out.regexp = /(\d+)-(\d+)/.exec("10-20")[2];
  return out;
}

function blocked() {
  const AsyncFunction = (async () => {}).constructor;
  const GeneratorFunction = function* () {}.constructor;
  const AsyncGeneratorFunction = async function* () {}.constructor;
  const indirect = eval;
  return {
    eval: attempt(() => eval("1 + 1")),
    indirectEval: attempt(() => indirect("1 + 1")),
    globalThisEval: attempt(() => globalThis.eval("1 + 1")),
    evalNonString: attempt(() => eval(42)),
    newFunction: attempt(() => new Function("return 1")),
    callFunction: attempt(() => Function("return 1")),
    constructorOfAFunction: attempt(() => (() => 1).constructor("return 1")),
    reflectConstruct: attempt(() => Reflect.construct(Function, ["return 1"])),
    asyncFunction: attempt(() => new AsyncFunction("return 1")),
    generatorFunction: attempt(() => new GeneratorFunction("yield 1")),
    asyncGeneratorFunction: attempt(() => new AsyncGeneratorFunction("yield 1")),
    setTimeout: attempt(() => setTimeout("globalThis.ran = true", 0)),
    setInterval: attempt(() => setInterval("globalThis.ran = true", 0)),
    setTimeoutNumber: attempt(() => setTimeout(42, 0)),
    setTimeoutLongString: attempt(() => setTimeout("it's a string longer than twenty-eight", 0)),
  };
}

export default {
  async fetch(request, env) {
    switch (new URL(request.url).pathname) {
      case "/startup":
        return Response.json(atStartup);
      case "/blocked":
        return Response.json(blocked());
      case "/blocked-later": {
        // Still forbidden in a continuation and in a timer callback.
        await null;
        const inTimer = await new Promise((resolve) => setTimeout(() => resolve(attempt(() => eval("1"))), 1));
        return Response.json({ afterAwait: attempt(() => new Function("")), inTimer });
      }
      case "/features":
        return Response.json(await features(env));
      default:
        return new Response("not found", { status: 404 });
    }
  },
};
