// Workers KV namespaces as a worker sees them (`env.MY_KV`), plus Brink's
// Deno-KV-style `atomic()`. Argument types are checked here; sizes, limits
// and expirations are checked by the store (src/api/kv.rs → brink-kv).
import { primordials } from "ext:core/mod.js";
import {
  op_brink_kv_atomic,
  op_brink_kv_delete,
  op_brink_kv_get,
  op_brink_kv_get_many,
  op_brink_kv_list,
  op_brink_kv_put,
} from "ext:core/ops";

const { ArrayIsArray, JSONParse, JSONStringify } = primordials;

// Created on first use: this module is evaluated before the globals exist.
let encoderInstance;
let decoderInstance;
const encoder = { encode: (text) => (encoderInstance ??= new TextEncoder()).encode(text) };
const decoder = { decode: (bytes) => (decoderInstance ??= new TextDecoder()).decode(bytes) };
const MAX_VALUE_BYTES = 25 * 1024 * 1024;
const DEFAULT_CACHE_TTL = 60;

function checkKey(method, key) {
  if (typeof key !== "string") {
    throw new TypeError(`KV ${method}() failed: key must be a string, got ${key === null ? "null" : typeof key}`);
  }
}

const VALUE_TYPES = ["text", "json", "arrayBuffer", "stream"];

function readOptions(method, options) {
  if (options === undefined || options === null) return {};
  const opts = typeof options === "string" ? { type: options } : options;
  if (typeof opts !== "object") {
    throw new TypeError(`KV ${method}() failed: options must be an object or a type string`);
  }
  if (opts.type !== undefined && !VALUE_TYPES.includes(opts.type)) {
    throw new TypeError(
      `KV ${method}() failed: unknown type ${JSONStringify(opts.type)}; use "text", "json", "arrayBuffer" or "stream"`,
    );
  }
  return opts;
}

function cacheTtlOf(options) {
  const ttl = options.cacheTtl;
  if (ttl === undefined) return DEFAULT_CACHE_TTL;
  if (typeof ttl !== "number" || !(ttl >= 0)) {
    throw new TypeError(`KV get() failed: cacheTtl must be a non-negative number of seconds, got ${ttl}`);
  }
  return ttl;
}

function decodeValue(bytes, type) {
  switch (type ?? "text") {
    case "text":
      return decoder.decode(bytes);
    case "json":
      return JSONParse(decoder.decode(bytes));
    case "arrayBuffer":
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    case "stream":
      return new ReadableStream({
        start(controller) {
          controller.enqueue(bytes);
          controller.close();
        },
      });
    default:
      throw new TypeError(`KV get() failed: unknown type ${JSONStringify(type)}; use "text", "json", "arrayBuffer" or "stream"`);
  }
}

function decodeMetadata(metadata) {
  return metadata === null || metadata === undefined ? null : JSONParse(metadata);
}

async function collectStream(stream) {
  const chunks = [];
  let size = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const chunk = typeof value === "string" ? encoder.encode(value) : new Uint8Array(value.buffer ?? value, value.byteOffset ?? 0, value.byteLength);
    size += chunk.byteLength;
    if (size > MAX_VALUE_BYTES) {
      await reader.cancel();
      throw new RangeError(`KV put() failed: value length exceeds the limit of ${MAX_VALUE_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

async function encodeValue(method, value) {
  if (typeof value === "string") return encoder.encode(value);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  if (value instanceof ReadableStream) return await collectStream(value);
  throw new TypeError(
    `KV ${method}() failed: value must be a string, ArrayBuffer, ArrayBufferView or ReadableStream`,
  );
}

function encodePutOptions(method, options) {
  if (options === undefined || options === null) return {};
  if (typeof options !== "object") throw new TypeError(`KV ${method}() failed: options must be an object`);
  const out = {};
  for (const name of ["expiration", "expirationTtl"]) {
    const value = options[name];
    if (value === undefined || value === null) continue;
    const number = typeof value === "string" ? Number(value) : value;
    if (typeof number !== "number" || !Number.isFinite(number) || number < 0) {
      const shown = typeof value === "number" ? String(value) : JSONStringify(value);
      throw new TypeError(`KV ${method}() failed: ${name} must be a non-negative number of seconds, got ${shown}`);
    }
    out[name] = number;
  }
  if (options.metadata !== undefined && options.metadata !== null) {
    const json = JSONStringify(options.metadata);
    if (json === undefined) throw new TypeError(`KV ${method}() failed: metadata must be JSON-serializable`);
    out.metadata = json;
  }
  return out;
}

class KvAtomicOperation {
  #handle;
  #checks = [];
  #mutations = [];
  #pending = [];

  constructor(handle) {
    this.#handle = handle;
  }

  check(...checks) {
    for (const check of checks) {
      if (check === null || typeof check !== "object") throw new TypeError("KV atomic() check must be {key, version}");
      checkKey("atomic", check.key);
      const version = check.version ?? null;
      if (version !== null && (typeof version !== "number" || !Number.isSafeInteger(version) || version < 0)) {
        throw new TypeError("KV atomic() check version must be a non-negative integer or null");
      }
      this.#checks.push({ key: check.key, version });
    }
    return this;
  }

  set(key, value, options) {
    checkKey("atomic", key);
    const mutation = { kind: "set", key, value: null, options: encodePutOptions("put", options) };
    this.#pending.push(encodeValue("put", value).then((bytes) => (mutation.value = bytes)));
    this.#mutations.push(mutation);
    return this;
  }

  delete(key) {
    checkKey("atomic", key);
    this.#mutations.push({ kind: "delete", key, value: null, options: null });
    return this;
  }

  async commit() {
    await Promise.all(this.#pending);
    return await op_brink_kv_atomic(this.#handle, { checks: this.#checks, mutations: this.#mutations });
  }
}

/** A KV namespace binding. */
export class KvNamespace {
  #handle;

  constructor(handle) {
    this.#handle = handle;
  }

  // One read path for get and getWithMetadata, single key or bulk: `wrap`
  // turns a stored entry (or null) into what the method returns.
  async #read(method, key, options, wrap) {
    const opts = readOptions(method, options);
    const ttl = cacheTtlOf(opts);
    if (ArrayIsArray(key)) {
      for (const k of key) checkKey(method, k);
      const entries = await op_brink_kv_get_many(this.#handle, key, ttl);
      const result = new Map();
      key.forEach((k, i) => result.set(k, wrap(entries[i], opts.type)));
      return result;
    }
    checkKey(method, key);
    return wrap(await op_brink_kv_get(this.#handle, key, ttl), opts.type);
  }

  get(key, options) {
    return this.#read("get", key, options, (entry, type) => (entry ? decodeValue(entry.value, type) : null));
  }

  getWithMetadata(key, options) {
    return this.#read("getWithMetadata", key, options, (entry, type) =>
      entry
        ? { value: decodeValue(entry.value, type), metadata: decodeMetadata(entry.metadata), version: entry.version, cacheStatus: null }
        : { value: null, metadata: null, version: null, cacheStatus: null });
  }

  async put(key, value, options) {
    checkKey("put", key);
    const encodedOptions = encodePutOptions("put", options);
    const bytes = await encodeValue("put", value);
    await op_brink_kv_put(this.#handle, key, bytes, encodedOptions);
  }

  async delete(key) {
    checkKey("delete", key);
    await op_brink_kv_delete(this.#handle, key);
  }

  async list(options) {
    const opts = options ?? {};
    if (typeof opts !== "object") throw new TypeError("KV list() failed: options must be an object");
    if (opts.prefix !== undefined && opts.prefix !== null && typeof opts.prefix !== "string") {
      throw new TypeError("KV list() failed: prefix must be a string");
    }
    if (opts.cursor !== undefined && opts.cursor !== null && typeof opts.cursor !== "string") {
      throw new TypeError("KV list() failed: cursor must be a string");
    }
    if (opts.limit !== undefined && opts.limit !== null && typeof opts.limit !== "number") {
      throw new TypeError("KV list() failed: limit must be a number");
    }
    const page = await op_brink_kv_list(this.#handle, {
      prefix: opts.prefix ?? null,
      limit: opts.limit ?? null,
      cursor: opts.cursor || null,
    });
    const keys = page.keys.map((k) => {
      const entry = { name: k.name };
      if (k.expiration !== null) entry.expiration = k.expiration;
      if (k.metadata !== null) entry.metadata = decodeMetadata(k.metadata);
      return entry;
    });
    const result = { keys, list_complete: page.list_complete, cacheStatus: null };
    if (!page.list_complete) result.cursor = page.cursor;
    return result;
  }

  atomic() {
    return new KvAtomicOperation(this.#handle);
  }
}

