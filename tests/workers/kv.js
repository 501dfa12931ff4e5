// Exposes a KV binding's whole API over HTTP for tests/tests/kv.rs.
// `?b=NAME` picks the binding (default `KV`).
const MIB = 1024 * 1024;
const VALUE_LIMIT = 25 * MIB;

function ns(env, params) {
  const name = params.get("b") ?? "KV";
  const binding = env[name];
  if (!binding) throw new Error(`no binding ${name}`);
  return binding;
}

function num(params, name) {
  const v = params.get(name);
  return v === null ? undefined : Number(v);
}

function kindOf(value) {
  if (value === null) return "null";
  if (value instanceof ArrayBuffer) return "ArrayBuffer";
  if (value instanceof ReadableStream) return "ReadableStream";
  return typeof value;
}

// Turns a request body into the value shape `as` asks for.
async function valueFrom(request, as) {
  switch (as ?? "string") {
    case "string":
      return await request.text();
    case "arrayBuffer":
      return await request.arrayBuffer();
    case "uint8array": {
      // A view into the middle of a larger buffer: only the view's bytes count.
      const bytes = new Uint8Array(await request.arrayBuffer());
      const big = new Uint8Array(bytes.byteLength + 8);
      big.fill(33);
      big.set(bytes, 4);
      return new Uint8Array(big.buffer, 4, bytes.byteLength);
    }
    case "dataview": {
      const buffer = await request.arrayBuffer();
      return new DataView(buffer);
    }
    case "stream":
      return request.body ?? new ReadableStream({ start: (c) => c.close() });
    case "chunked-stream": {
      // Many small chunks, some of them strings.
      const text = await request.text();
      let at = 0;
      return new ReadableStream({
        pull(controller) {
          if (at >= text.length) return controller.close();
          const piece = text.slice(at, at + 7);
          at += 7;
          controller.enqueue(at % 2 ? new TextEncoder().encode(piece) : piece);
        },
      });
    }
    default:
      throw new Error(`unknown as=${as}`);
  }
}

function putOptions(request, params) {
  const options = {};
  const ttl = num(params, "ttl");
  if (ttl !== undefined) options.expirationTtl = ttl;
  const expiration = num(params, "expiration");
  if (expiration !== undefined) options.expiration = expiration;
  const metadata = request.headers.get("x-metadata");
  if (metadata !== null) options.metadata = JSON.parse(metadata);
  return options;
}

async function getResponse(kv, params) {
  const key = params.get("key");
  const type = params.get("type") ?? undefined;
  const cacheTtl = num(params, "cacheTtl");
  const options = {};
  if (type !== undefined) options.type = type;
  if (cacheTtl !== undefined) options.cacheTtl = cacheTtl;
  if (params.has("consistency")) options.consistency = params.get("consistency");
  const value = params.get("shorthand") ? await kv.get(key, type) : await kv.get(key, options);
  const kind = kindOf(value);
  if (value instanceof ArrayBuffer || value instanceof ReadableStream) {
    return new Response(value, { headers: { "x-kind": kind } });
  }
  return Response.json({ value, kind }, { headers: { "x-kind": kind } });
}

// Each bad input: a function that should throw without storing anything.
const BAD_CASES = {
  key_too_long: (kv) => kv.put("bad:" + "k".repeat(509), "v"),
  key_too_long_multibyte: (kv) => kv.put("bad:" + "é".repeat(255), "v"), // 4 + 510 bytes, 259 chars
  key_too_long_get: (kv) => kv.get("k".repeat(513)),
  key_too_long_delete: (kv) => kv.delete("k".repeat(513)),
  key_empty: (kv) => kv.put("", "v"),
  key_dot: (kv) => kv.put(".", "v"),
  key_dotdot: (kv) => kv.put("..", "v"),
  key_number_put: (kv) => kv.put(42, "v"),
  key_number_get: (kv) => kv.get(42),
  key_undefined_get: (kv) => kv.get(),
  key_null_delete: (kv) => kv.delete(null),
  key_object_meta: (kv) => kv.getWithMetadata({ key: "x" }),
  key_number_in_bulk: (kv) => kv.get(["bad:a", 7]),
  value_too_large_string: (kv) => kv.put("bad:big", "x".repeat(VALUE_LIMIT + 1)),
  value_too_large_buffer: (kv) => kv.put("bad:big", new ArrayBuffer(VALUE_LIMIT + 1)),
  value_too_large_stream: (kv) => {
    let sent = 0;
    const chunk = new Uint8Array(MIB);
    const stream = new ReadableStream({
      pull(c) {
        if (sent > VALUE_LIMIT) return c.close();
        sent += chunk.byteLength;
        c.enqueue(chunk);
      },
    });
    return kv.put("bad:big", stream);
  },
  value_wrong_type: (kv) => kv.put("bad:v", 12345),
  value_object: (kv) => kv.put("bad:v", { a: 1 }),
  metadata_too_large: (kv) => kv.put("bad:m", "v", { metadata: { note: "x".repeat(1100) } }),
  metadata_not_serializable: (kv) => kv.put("bad:m", "v", { metadata: () => 1 }),
  expiration_past: (kv) => kv.put("bad:e", "v", { expiration: Math.floor(Date.now() / 1000) - 10 }),
  expiration_zero: (kv) => kv.put("bad:e", "v", { expiration: 0 }),
  expiration_negative: (kv) => kv.put("bad:e", "v", { expiration: -5 }),
  expiration_nan: (kv) => kv.put("bad:e", "v", { expiration: NaN }),
  expiration_ttl_negative: (kv) => kv.put("bad:e", "v", { expirationTtl: -1 }),
  expiration_ttl_nan: (kv) => kv.put("bad:e", "v", { expirationTtl: NaN }),
  expiration_ttl_zero: (kv) => kv.put("bad:e", "v", { expirationTtl: 0 }),
  expiration_both: (kv) => kv.put("bad:e", "v", { expiration: Math.floor(Date.now() / 1000) + 100, expirationTtl: 100 }),
  bulk_too_many: (kv) => kv.get(Array.from({ length: 101 }, (_, i) => `bad:bulk${i}`)),
  bulk_meta_too_many: (kv) => kv.getWithMetadata(Array.from({ length: 101 }, (_, i) => `bad:bulk${i}`)),
  list_limit_too_big: (kv) => kv.list({ limit: 1001 }),
  list_limit_zero: (kv) => kv.list({ limit: 0 }),
  list_limit_fraction: (kv) => kv.list({ limit: 2.5 }),
  list_prefix_too_long: (kv) => kv.list({ prefix: "p".repeat(513) }),
  list_bad_cursor: (kv) => kv.list({ cursor: "not-a-cursor" }),
  get_unknown_type: (kv) => kv.get("bad:any", { type: "blob" }),
  get_negative_cache_ttl: (kv) => kv.get("bad:any", { cacheTtl: -1 }),
  atomic_too_many_mutations: (kv) => {
    const op = kv.atomic();
    for (let i = 0; i < 1001; i++) op.set(`bad:atomic${i}`, "v");
    return op.commit();
  },
  atomic_too_many_checks: (kv) => {
    const op = kv.atomic();
    for (let i = 0; i < 101; i++) op.check({ key: `bad:c${i}`, version: null });
    return op.set("bad:atomic", "v").commit();
  },
  atomic_bad_value: (kv) => kv.atomic().set("bad:atomic-ok", "fine").set("bad:atomic-big", "x".repeat(VALUE_LIMIT + 1)).commit(),
  atomic_bad_key: (kv) => kv.atomic().set("bad:atomic-ok", "fine").set("k".repeat(600), "v").commit(),
};

// Values exactly at a limit are accepted.
const EDGE_CASES = {
  key_512: (kv) => kv.put("edge:" + "k".repeat(507), "v").then(() => kv.get("edge:" + "k".repeat(507))),
  value_25mib: async (kv) => {
    const bytes = new Uint8Array(VALUE_LIMIT);
    bytes[0] = 1;
    bytes[VALUE_LIMIT - 1] = 2;
    await kv.put("edge:big", bytes);
    const back = new Uint8Array(await kv.get("edge:big", "arrayBuffer"));
    const ok = back.byteLength === VALUE_LIMIT && back[0] === 1 && back[VALUE_LIMIT - 1] === 2;
    await kv.delete("edge:big");
    return ok;
  },
  metadata_1024: async (kv) => {
    const metadata = { m: "x".repeat(1024 - 8) }; // {"m":"…"} is 8 bytes + the string
    await kv.put("edge:meta", "v", { metadata });
    return (await kv.getWithMetadata("edge:meta")).metadata.m.length;
  },
  bulk_100: async (kv) => (await kv.get(Array.from({ length: 100 }, (_, i) => `edge:b${i}`))).size,
  list_1000: async (kv) => (await kv.list({ limit: 1000, prefix: "edge:" })).keys.length,
};

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const params = url.searchParams;
    try {
      if (url.pathname === "/bindings") return Response.json(Object.keys(env).sort());
      const kv = ns(env, params);
      switch (url.pathname) {
        case "/put": {
          await kv.put(params.get("key"), await valueFrom(request, params.get("as")), putOptions(request, params));
          return Response.json({ ok: true });
        }
        case "/get":
          return await getResponse(kv, params);
        case "/meta": {
          const type = params.get("type") ?? "text";
          const options = { type, cacheTtl: num(params, "cacheTtl") };
          if (params.has("consistency")) options.consistency = params.get("consistency");
          const result = await kv.getWithMetadata(params.get("key"), options);
          return Response.json(result);
        }
        case "/delete":
          await kv.delete(params.get("key"));
          return Response.json({ ok: true });
        case "/list": {
          const options = {};
          for (const name of ["prefix", "cursor"]) if (params.has(name)) options[name] = params.get(name);
          if (params.has("limit")) options.limit = Number(params.get("limit"));
          return Response.json(await kv.list(params.get("noargs") ? undefined : options));
        }
        case "/bulk": {
          const keys = params.get("keys").split(",");
          const type = params.get("type") ?? undefined;
          const map = params.get("meta") ? await kv.getWithMetadata(keys, { type }) : await kv.get(keys, { type });
          return Response.json({ isMap: map instanceof Map, entries: [...map.entries()] });
        }
        case "/atomic": {
          // {checks: [{key, version}], set: [{key, value, expirationTtl?, metadata?}], delete: [key]}
          const spec = await request.json();
          const op = kv.atomic();
          for (const check of spec.checks ?? []) op.check(check);
          for (const s of spec.set ?? []) {
            const options = {};
            if (s.expirationTtl !== undefined) options.expirationTtl = s.expirationTtl;
            if (s.metadata !== undefined) options.metadata = s.metadata;
            op.set(s.key, s.value, options);
          }
          for (const key of spec.delete ?? []) op.delete(key);
          return Response.json(await op.commit());
        }
        case "/incr": {
          // Read-modify-write with retries: the counter must end exact under concurrency.
          const key = params.get("key");
          for (let attempt = 1; ; attempt++) {
            const { value, version } = await kv.getWithMetadata(key, { cacheTtl: 0 });
            const next = String(Number(value ?? 0) + 1);
            await new Promise((r) => setTimeout(r, Math.random() * 3));
            const res = await kv.atomic().check({ key, version }).set(key, next).commit();
            if (res.ok) return Response.json({ value: next, attempts: attempt });
            if (attempt > 500) throw new Error("too many attempts");
          }
        }
        case "/fill": {
          // {keys: [...], value?} in one atomic batch (≤ 1000).
          const spec = await request.json();
          const op = kv.atomic();
          for (const key of spec.keys) op.set(key, spec.value ?? `v:${key}`, spec.metadata ? { metadata: { k: key } } : {});
          return Response.json(await op.commit());
        }
        case "/bad": {
          const name = params.get("case");
          const run = BAD_CASES[name];
          if (!run) return new Response(`no case ${name}`, { status: 400 });
          let error = null;
          try {
            await run(kv);
          } catch (e) {
            error = { name: e?.name, message: String(e?.message ?? e) };
          }
          const stored = (await kv.list({ prefix: "bad:" })).keys.map((k) => k.name);
          return Response.json({ error, stored });
        }
        case "/edge": {
          const run = EDGE_CASES[params.get("case")];
          return Response.json({ result: await run(kv) });
        }
      }
      return new Response("not found", { status: 404 });
    } catch (e) {
      return Response.json({ thrown: { name: e?.name, message: String(e?.message ?? e) } }, { status: 500 });
    }
  },
};
