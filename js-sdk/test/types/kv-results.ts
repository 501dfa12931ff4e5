// What each KV call resolves to, checked exactly: a wrong overload or a
// widened result type fails here.
import type { Equal } from "./assert.js";
import { expectType } from "./assert.js";

declare const kv: KVNamespace;
type Stream = ReadableStream<Uint8Array>;
type WithMeta<V, M = unknown> = KVNamespaceGetWithMetadataResult<V, M>;

export async function reads() {
  const text = await kv.get("k");
  expectType<Equal<typeof text, string | null>>();
  const text2 = await kv.get("k", { cacheTtl: 30 });
  expectType<Equal<typeof text2, string | null>>();
  const text3 = await kv.get("k", "text");
  expectType<Equal<typeof text3, string | null>>();
  const json = await kv.get("k", "json");
  expectType<Equal<typeof json, unknown>>();
  const typed = await kv.get<{ a: number }>("k", { type: "json" });
  expectType<Equal<typeof typed, { a: number } | null>>();
  const bytes = await kv.get("k", "arrayBuffer");
  expectType<Equal<typeof bytes, ArrayBuffer | null>>();
  const stream = await kv.get("k", { type: "stream", cacheTtl: 0 });
  expectType<Equal<typeof stream, Stream | null>>();
  const strong = await kv.get("k", { consistency: "strong" });
  expectType<Equal<typeof strong, string | null>>();
  const strongJson = await kv.getWithMetadata<{ a: number }>("k", { type: "json", consistency: "strong" });
  expectType<Equal<typeof strongJson, WithMeta<{ a: number }>>>();
}

export async function bulkReads() {
  const texts = await kv.get(["a", "b"]);
  expectType<Equal<typeof texts, Map<string, string | null>>>();
  const jsons = await kv.get<number[]>(["a", "b"], { type: "json" });
  expectType<Equal<typeof jsons, Map<string, number[] | null>>>();
  const keys = ["a", "b"] as const;
  const fromTuple = await kv.get(keys, "arrayBuffer");
  expectType<Equal<typeof fromTuple, Map<string, ArrayBuffer | null>>>();
  const withMeta = await kv.getWithMetadata<{ v: 1 }>(["a"]);
  expectType<Equal<typeof withMeta, Map<string, WithMeta<string, { v: 1 }>>>>();
}

export async function metadataAndVersions() {
  const entry = await kv.getWithMetadata<{ plan: string }>("k");
  if (entry.value !== null) {
  expectType<Equal<typeof entry.version, number>>();
  expectType<Equal<typeof entry.metadata, { plan: string } | null>>();
  } else {
  expectType<Equal<typeof entry.version, null>>();
  expectType<Equal<typeof entry.metadata, null>>();
  }
  const json = await kv.getWithMetadata<{ n: number }, { tag: string }>("k", "json");
  expectType<Equal<typeof json, WithMeta<{ n: number }, { tag: string }>>>();
  const stream = await kv.getWithMetadata("k", { type: "stream" });
  expectType<Equal<typeof stream, WithMeta<Stream>>>();
}

export async function writes() {
  expectType<Equal<Awaited<ReturnType<KVNamespace["put"]>>, void>>();
  await kv.put("k", "v");
  await kv.put("k", new Uint8Array([1, 2]));
  await kv.put("k", new ArrayBuffer(8), { expiration: 1767225600, metadata: { any: ["json", 1] } });
  await kv.put("k", new Blob(["x"]).stream(), { expirationTtl: 1, metadata: null });
  await kv.delete("k");
}

export async function listing() {
  const page = await kv.list<{ plan: string }>();
  expectType<Equal<typeof page.keys, KVNamespaceListKey<{ plan: string }>[]>>();
  expectType<Equal<typeof page.cursor, string | undefined>>();
  if (!page.list_complete) expectType<Equal<typeof page.cursor, string>>();
  await kv.list({ prefix: null, cursor: null });
}

export async function atomics() {
  const op = kv.atomic().check({ key: "a", version: 3 }, { key: "b", version: null }).set("a", "1").delete("b");
  expectType<Equal<typeof op, KVNamespaceAtomicOperation<string>>>();
  const result = await op.commit();
  expectType<Equal<typeof result, KVNamespaceAtomicResult>>();
  if (result.ok) expectType<Equal<typeof result.version, number | null>>();
  else expectType<Equal<typeof result.version, null>>();
}

export function handlers() {
  type Handler = ExportedHandler<{ KV: KVNamespace }>["fetch"];
  expectType<Equal<Parameters<Handler>, [Request, { KV: KVNamespace }, ExecutionContext]>>();
  expectType<Equal<ReturnType<Handler>, Response | Promise<Response>>>();
}
