// Header inits through every path of Response construction: the native
// fast path (patches/deno_fetch/0001) must give what deno_fetch's
// JavaScript gave, errors included. GET /?case=NAME answers one case as JSON
// {headers: [[name, value]...]} or {error: "Type: message"}; GET /redirect
// reports the incoming request's redirect mode.

const CASES = {
  "one-content-type": () => ({ "content-type": "text/plain; charset=utf-8" }),
  "literal-content-type": () => ({ "Content-Type": "application/json" }),
  "several": () => ({ "x-b": "2", "x-a": "1", "cache-control": "no-store" }),
  "trimmed": () => ({ "x-padded": " \t value \r\n", "x-empty": "  " }),
  "duplicate-case": () => ({ "X-Dup": "1", "x-dup": "2", "x-DUP": "3" }),
  "latin1": () => ({ "x-latin1": "caf\u00e9" }),
  "non-string": () => ({ "x-number": 42, "x-object": { toString: () => "from toString" } }),
  "getter": () => {
    const init = {};
    Object.defineProperty(init, "x-getter", { enumerable: true, get: () => "got" });
    return init;
  },
  "inherited": () => Object.assign(Object.create({ "x-inherited": "no" }), { "x-own": "yes" }),
  "numeric-keys": () => ({ "x-z": "z", 2: "two", 1: "one" }),
  "bad-name": () => ({ "x-ok": "1", "bad name": "2" }),
  "bad-value-newline": () => ({ "x-bad": "a\nb" }),
  "bad-value-nul": () => ({ "x-bad": "a\0b" }),
  "not-byte-string": () => ({ "x-emoji": "\u{1F600}" }),
  "empty-name": () => ({ "": "v" }),
  "set-cookie": () => ({ "set-cookie": "a=1", "Set-Cookie": "b=2" }),
  "content-type-with-space": () => ({ "content-type": " text/html " }),
  "array": () => [["x-a", "1"], ["X-A", "2"]],
};

function describe(response) {
  return { status: response.status, headers: [...response.headers] };
}

// What a worker reads of the parts the request path makes on first use
// (patches/deno_fetch/0008): a string body kept as the string, an inner
// response's URL list, an incoming request's URL list and caches.
async function lazyParts(request) {
  const plain = new Response("text", { headers: { "Content-Type": "text/x-a" } });
  const plainClone = plain.clone();
  const plainText = await plain.text();
  let secondRead;
  try {
    await plain.text();
  } catch (error) {
    secondRead = error.constructor.name;
  }
  const json = Response.json({ a: 1 }, { headers: { "content-type": "application/x-json" } });
  const created = Response.json([1], { status: 201 });
  const stream = new Response("streamed", { status: 200 });
  const chunks = [];
  for await (const chunk of stream.body) chunks.push(new TextDecoder().decode(chunk));
  const copy = new Request(request);
  return {
    plain: {
      text: plainText,
      bodyUsed: plain.bodyUsed,
      secondRead,
      headers: [...plain.headers],
      url: plain.url,
      redirected: plain.redirected,
      clone: [await plainClone.text(), [...plainClone.headers]],
    },
    json: { headers: [...json.headers], body: await json.json() },
    created: { status: created.status, headers: [...created.headers], body: await created.text() },
    stream: chunks.join(""),
    request: {
      path: new URL(request.url).pathname,
      method: request.method,
      aborted: request.signal.aborted,
      host: request.headers.has("host"),
      copy: [new URL(copy.url).pathname, copy.method],
      clone: new URL(request.clone().url).pathname,
    },
  };
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/redirect") return new Response(request.redirect);
    if (url.pathname === "/lazy") return Response.json(await lazyParts(request));
    const name = url.searchParams.get("case");
    const make = CASES[name];
    if (make === undefined) return new Response(`no case ${name}`, { status: 404 });
    let result;
    try {
      const response = url.searchParams.has("json")
        ? Response.json({ ok: true }, { headers: make() })
        : new Response("body", { headers: make() });
      result = describe(response);
      if (url.searchParams.has("getSetCookie")) result.setCookie = response.headers.getSetCookie();
    } catch (error) {
      result = { error: `${error.constructor.name}: ${error.message}` };
    }
    return new Response(JSON.stringify(result), { headers: { "content-type": "application/json" } });
  },
};
