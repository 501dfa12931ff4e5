// A worker that attacks its own KV binding, for tests/tests/kv_hostile.rs:
// out-of-range numbers, huge lengths, lone surrogates, oversized bulk reads
// and atomic commits. Every case reports the error it got (or its result).
const MIB = 1024 * 1024;
const HUGE = 1_000_000;

// Each case must reject with one of `names`; its message must start "KV ".
const HOSTILE = {
  get_cache_ttl_nan: { names: ["TypeError"], run: (kv) => kv.get("h:a", { cacheTtl: NaN }) },
  get_cache_ttl_negative: { names: ["TypeError"], run: (kv) => kv.get("h:a", { cacheTtl: -1 }) },
  get_cache_ttl_neg_infinity: { names: ["TypeError"], run: (kv) => kv.get("h:a", { cacheTtl: -Infinity }) },
  get_cache_ttl_string: { names: ["TypeError"], run: (kv) => kv.get("h:a", { cacheTtl: "60" }) },
  meta_cache_ttl_nan: { names: ["TypeError"], run: (kv) => kv.getWithMetadata("h:a", { cacheTtl: NaN }) },
  get_huge_key: { names: ["RangeError"], run: (kv) => kv.get("k".repeat(HUGE)) },
  put_huge_key: { names: ["RangeError"], run: (kv) => kv.put("k".repeat(HUGE), "v") },
  delete_huge_key: { names: ["RangeError"], run: (kv) => kv.delete("k".repeat(HUGE)) },
  bulk_huge_array: { names: ["RangeError"], run: (kv) => kv.get(Array.from({ length: 100_000 }, (_, i) => `h:${i}`)) },
  bulk_sparse_array: { names: ["RangeError"], run: (kv) => kv.get(new Array(2 ** 31)) },
  expiration_1e300: { names: ["RangeError"], run: (kv) => kv.put("h:e", "v", { expiration: 1e300 }) },
  expiration_ttl_1e300: { names: ["RangeError"], run: (kv) => kv.put("h:e", "v", { expirationTtl: 1e300 }) },
  expiration_ttl_2p53: { names: ["RangeError"], run: (kv) => kv.put("h:e", "v", { expirationTtl: 2 ** 53 }) },
  expiration_string_1e300: { names: ["RangeError"], run: (kv) => kv.put("h:e", "v", { expiration: "1e300" }) },
  expiration_infinity: { names: ["TypeError"], run: (kv) => kv.put("h:e", "v", { expiration: Infinity }) },
  expiration_ttl_nan: { names: ["TypeError"], run: (kv) => kv.put("h:e", "v", { expirationTtl: NaN }) },
  expiration_ttl_negative: { names: ["TypeError"], run: (kv) => kv.put("h:e", "v", { expirationTtl: -1e300 }) },
  expiration_object: { names: ["TypeError"], run: (kv) => kv.put("h:e", "v", { expiration: { valueOf: () => 5 } }) },
  metadata_huge: { names: ["RangeError"], run: (kv) => kv.put("h:m", "v", { metadata: { x: "x".repeat(HUGE) } }) },
  list_limit_1e300: { names: ["RangeError"], run: (kv) => kv.list({ limit: 1e300 }) },
  list_limit_2p53: { names: ["RangeError"], run: (kv) => kv.list({ limit: 2 ** 53 }) },
  list_limit_negative: { names: ["RangeError"], run: (kv) => kv.list({ limit: -1 }) },
  list_limit_nan: { names: ["TypeError"], run: (kv) => kv.list({ limit: NaN }) },
  list_limit_infinity: { names: ["TypeError"], run: (kv) => kv.list({ limit: Infinity }) },
  list_limit_fraction: { names: ["TypeError"], run: (kv) => kv.list({ limit: 0.5 }) },
  list_cursor_garbage: { names: ["TypeError"], run: (kv) => kv.list({ cursor: "zz" }) },
  list_cursor_odd: { names: ["TypeError"], run: (kv) => kv.list({ cursor: "abc" }) },
  list_cursor_not_utf8: { names: ["TypeError"], run: (kv) => kv.list({ cursor: "ff" }) },
  list_cursor_huge: { names: ["TypeError"], run: (kv) => kv.list({ cursor: "a".repeat(HUGE) }) },
  list_cursor_surrogate: { names: ["TypeError"], run: (kv) => kv.list({ cursor: "\ud800" }) },
  list_prefix_huge: { names: ["RangeError"], run: (kv) => kv.list({ prefix: "p".repeat(HUGE) }) },
  atomic_version_1e300: { names: ["TypeError"], run: (kv) => kv.atomic().check({ key: "h:a", version: 1e300 }).commit() },
  atomic_version_nan: { names: ["TypeError"], run: (kv) => kv.atomic().check({ key: "h:a", version: NaN }).commit() },
  atomic_version_negative: { names: ["TypeError"], run: (kv) => kv.atomic().check({ key: "h:a", version: -1 }).commit() },
  atomic_version_2p53: { names: ["TypeError"], run: (kv) => kv.atomic().check({ key: "h:a", version: 2 ** 53 }).commit() },
  atomic_ttl_1e300: { names: ["RangeError"], run: (kv) => kv.atomic().set("h:a", "v", { expirationTtl: 1e300 }).commit() },
  atomic_expiration_1e300: { names: ["RangeError"], run: (kv) => kv.atomic().set("h:a", "v", { expiration: 1e300 }).commit() },
  atomic_huge_key: { names: ["RangeError"], run: (kv) => kv.atomic().delete("k".repeat(HUGE)).commit() },
};

// Each case must succeed; its result is reported.
const ALLOWED = {
  // A cacheTtl too large for any duration means "as long as the cache keeps it".
  get_cache_ttl_1e20: (kv) => kv.get("h:absent", { cacheTtl: 1e20 }),
  get_cache_ttl_max: (kv) => kv.get("h:absent", { cacheTtl: Number.MAX_VALUE }),
  get_cache_ttl_infinity: (kv) => kv.get("h:absent", { cacheTtl: Infinity }),
  meta_cache_ttl_1e20: async (kv) => (await kv.getWithMetadata("h:absent", { cacheTtl: 1e20 })).value,
  bulk_cache_ttl_1e20: async (kv) => (await kv.get(["h:absent", "h:absent2"], { cacheTtl: 1e20 })).size,
  // The largest TTL a JS number holds exactly is accepted and reads back.
  ttl_max_safe: async (kv) => {
    await kv.put("h:far", "v", { expirationTtl: Number.MAX_SAFE_INTEGER });
    const { value } = await kv.getWithMetadata("h:far");
    await kv.delete("h:far");
    return value;
  },
};

// Every operation taking a key or prefix, with an ill-formed string.
const LONE = ["\ud800", "\udbff", "\udc00", "a\ud800b", "x\udfff"];
const SURROGATE_CASES = {
  put: (kv, k) => kv.put(k, "x"),
  get: (kv, k) => kv.get(k),
  get_bulk: (kv, k) => kv.get(["fine", k]),
  meta: (kv, k) => kv.getWithMetadata(k),
  meta_bulk: (kv, k) => kv.getWithMetadata([k]),
  delete: (kv, k) => kv.delete(k),
  list_prefix: (kv, k) => kv.list({ prefix: k }),
  atomic_check: (kv, k) => kv.atomic().check({ key: k, version: null }).commit(),
  atomic_set: (kv, k) => kv.atomic().set(k, "x").commit(),
  atomic_delete: (kv, k) => kv.atomic().delete(k).commit(),
};

async function errorOf(run) {
  try {
    const result = await run();
    return { result: result === undefined ? null : result };
  } catch (e) {
    return { error: { name: e?.name, message: String(e?.message ?? e) } };
  }
}

async function storedKeys(kv) {
  const page = await kv.list();
  return page.keys.map((k) => k.name);
}

function bigValue(mib, fill) {
  const bytes = new Uint8Array(mib * MIB);
  bytes.fill(fill);
  return bytes;
}

export default {
  async fetch(request, env) {
    const kv = env.KV;
    const url = new URL(request.url);
    const params = url.searchParams;
    switch (url.pathname) {
      case "/hostile": {
        const out = {};
        for (const [name, { names, run }] of Object.entries(HOSTILE)) {
          out[name] = { expected: names, ...(await errorOf(() => run(kv))) };
        }
        return Response.json({ cases: out, stored: await storedKeys(kv) });
      }
      case "/allowed": {
        const out = {};
        for (const [name, run] of Object.entries(ALLOWED)) out[name] = await errorOf(() => run(kv));
        return Response.json({ cases: out, stored: await storedKeys(kv) });
      }
      case "/surrogates": {
        const out = {};
        for (const key of LONE) {
          for (const [name, run] of Object.entries(SURROGATE_CASES)) {
            out[`${name} ${JSON.stringify(key)}`] = await errorOf(() => run(kv, key));
          }
        }
        // A well-formed surrogate pair is an ordinary key.
        await kv.put("pair:\ud83d\ude00", "emoji");
        const pair = await kv.get("pair:\ud83d\ude00");
        const listed = (await kv.list({ prefix: "pair:\ud83d" + "\ude00" })).keys.map((k) => k.name);
        await kv.delete("pair:\ud83d\ude00");
        return Response.json({ cases: out, pair, listed, stored: await storedKeys(kv) });
      }
      case "/put-big": {
        // One value per request keeps each request's memory modest.
        const key = params.get("key");
        await kv.put(key, bigValue(Number(params.get("mib")), key.charCodeAt(key.length - 1)));
        return Response.json({ ok: true });
      }
      case "/bulk-big": {
        const keys = params.get("keys").split(",");
        const got = await errorOf(async () => {
          const map = await kv.get(keys, { type: params.get("type") ?? "text", cacheTtl: Number(params.get("cacheTtl") ?? 60) });
          return [...map.values()].map((v) => (v === null ? null : v.length ?? v.byteLength));
        });
        return Response.json(got);
      }
      case "/atomic-big": {
        const count = Number(params.get("count"));
        const got = await errorOf(async () => {
          const op = kv.atomic();
          for (let i = 0; i < count; i++) op.set(`atomic-big${i}`, bigValue(Number(params.get("mib")), i));
          return await op.commit();
        });
        return Response.json({ ...got, stored: (await kv.list({ prefix: "atomic-big" })).keys.map((k) => k.name) });
      }
      case "/ping": {
        await kv.put("ping", "pong");
        return Response.json({ value: await kv.get("ping", { cacheTtl: 0 }) });
      }
    }
    return new Response("not found", { status: 404 });
  },
};
