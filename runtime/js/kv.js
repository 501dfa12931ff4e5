// Workers KV namespaces as a worker sees them (`env.MY_KV`), plus Brink's
// Deno-KV-style `atomic()`. Argument types and forms are checked here, and
// sizes too where a huge argument would otherwise be copied out of the JS
// heap first; the store (src/api/kv.rs → brink-kv) checks every limit again.
import { primordials } from "ext:core/mod.js";
import {
  op_brink_kv_atomic,
  op_brink_kv_delete,
  op_brink_kv_get,
  op_brink_kv_get_many,
  op_brink_kv_list,
  op_brink_kv_put,
} from "ext:core/ops";

const {
  ArrayIsArray,
  JSONParse,
  JSONStringify,
  NumberIsFinite,
  NumberIsInteger,
  NumberIsSafeInteger,
  RegExpPrototypeTest,
  StringPrototypeIsWellFormed,
} = primordials;

// Created on first use: this module is evaluated before the globals exist.
let encoderInstance;
let decoderInstance;
const encoder = { encode: (text) => (encoderInstance ??= new TextEncoder()).encode(text) };
const decoder = { decode: (bytes) => (decoderInstance ??= new TextDecoder()).decode(bytes) };
// The store's limits (brink-kv's limits.rs), checked here too so that an
// oversized argument fails before it is copied out of the JS heap.
const MAX_VALUE_BYTES = 25 * 1024 * 1024;
const MAX_KEY_BYTES = 512;
const MAX_METADATA_BYTES = 1024;
const MAX_GET_MANY_KEYS = 100;
const MAX_LIST_LIMIT = 1000;
const MAX_CURSOR_LENGTH = 2 * MAX_KEY_BYTES; // a cursor is a key in hex
const MAX_ATOMIC_CHECKS = 100;
const MAX_ATOMIC_MUTATIONS = 1000;
const MAX_ATOMIC_BYTES = 25 * 1024 * 1024;
const DEFAULT_CACHE_TTL = 60;

// A lone surrogate has no UTF-8 form: converting it for the store would
// replace it with U+FFFD, so "\ud800" and "\udbff" would name the same key.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const isWellFormed = StringPrototypeIsWellFormed ?? ((text) => !RegExpPrototypeTest(LONE_SURROGATE, text));

function utf8Length(text) {
  return encoder.encode(text).byteLength;
}

// Checks a key's (or prefix's) form and, when it is obviously too long,
// its length: UTF-8 never has fewer bytes than a string has UTF-16 units.
function checkKeyText(method, text, what) {
  if (!isWellFormed(text)) {
    throw new TypeError(`KV ${method}() failed: ${what} must be well-formed Unicode; it contains a lone surrogate`);
  }
  if (text.length > MAX_KEY_BYTES) {
    throw new RangeError(`KV ${method}() failed: ${what} length ${utf8Length(text)} exceeds the limit of ${MAX_KEY_BYTES} bytes`);
  }
}

function checkKey(method, key) {
  if (typeof key !== "string") {
    throw new TypeError(`KV ${method}() failed: key must be a string, got ${key === null ? "null" : typeof key}`);
  }
  checkKeyText(method, key, "key");
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
  // Infinity is allowed: "cache for as long as the cache keeps it".
  if (typeof ttl !== "number" || !(ttl >= 0)) {
    throw new TypeError(`KV get() failed: cacheTtl must be a non-negative number of seconds, got ${ttl}`);
  }
  return ttl;
}

// `consistency: "strong"` reads the authoritative copy (on the replicated
// backend, the cluster) instead of the cache and the POP's local replica.
function strongOf(method, options) {
  const consistency = options.consistency;
  if (consistency === undefined || consistency === null || consistency === "eventual") return false;
  if (consistency === "strong") return true;
  throw new TypeError(
    `KV ${method}() failed: consistency must be "eventual" or "strong", got ${JSONStringify(consistency) ?? typeof consistency}`,
  );
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
    if (typeof number !== "number" || !NumberIsFinite(number) || number < 0) {
      const shown = typeof value === "number" ? String(value) : JSONStringify(value);
      throw new TypeError(`KV ${method}() failed: ${name} must be a non-negative number of seconds, got ${shown}`);
    }
    if (number > Number.MAX_SAFE_INTEGER) {
      throw new RangeError(
        `KV ${method}() failed: ${name} ${number} is out of range; it must be at most ${Number.MAX_SAFE_INTEGER} seconds`,
      );
    }
    out[name] = number;
  }
  if (options.metadata !== undefined && options.metadata !== null) {
    const json = JSONStringify(options.metadata);
    if (json === undefined) throw new TypeError(`KV ${method}() failed: metadata must be JSON-serializable`);
    if (json.length > MAX_METADATA_BYTES) {
      throw new RangeError(
        `KV ${method}() failed: metadata length ${utf8Length(json)} exceeds the limit of ${MAX_METADATA_BYTES} bytes serialized`,
      );
    }
    out.metadata = json;
  }
  return out;
}

function checkValueSize(bytes) {
  if (bytes.byteLength > MAX_VALUE_BYTES) {
    throw new RangeError(
      `KV put() failed: value length ${bytes.byteLength} exceeds the limit of ${MAX_VALUE_BYTES} bytes (25 MiB)`,
    );
  }
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
      if (version !== null && (typeof version !== "number" || !NumberIsSafeInteger(version) || version < 0)) {
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
    if (this.#checks.length > MAX_ATOMIC_CHECKS) {
      throw new RangeError(`KV atomic() failed: ${this.#checks.length} checks exceed the limit of ${MAX_ATOMIC_CHECKS}`);
    }
    if (this.#mutations.length > MAX_ATOMIC_MUTATIONS) {
      throw new RangeError(
        `KV atomic() failed: ${this.#mutations.length} mutations exceed the limit of ${MAX_ATOMIC_MUTATIONS}`,
      );
    }
    let total = 0;
    for (const mutation of this.#mutations) {
      if (mutation.value === null) continue;
      checkValueSize(mutation.value);
      total += mutation.value.byteLength;
    }
    if (total > MAX_ATOMIC_BYTES) {
      throw new RangeError(
        `KV atomic() failed: values totalling ${total} bytes exceed the limit of ${MAX_ATOMIC_BYTES} bytes (25 MiB) per commit`,
      );
    }
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
    const strong = strongOf(method, opts);
    if (ArrayIsArray(key)) {
      if (key.length > MAX_GET_MANY_KEYS) {
        throw new RangeError(
          `KV get() failed: ${key.length} keys requested, the limit is ${MAX_GET_MANY_KEYS} keys per call`,
        );
      }
      for (const k of key) checkKey(method, k);
      const entries = await op_brink_kv_get_many(this.#handle, key, ttl, strong);
      const result = new Map();
      key.forEach((k, i) => result.set(k, wrap(entries[i], opts.type)));
      return result;
    }
    checkKey(method, key);
    return wrap(await op_brink_kv_get(this.#handle, key, ttl, strong), opts.type);
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
    checkValueSize(bytes);
    await op_brink_kv_put(this.#handle, key, bytes, encodedOptions);
  }

  async delete(key) {
    checkKey("delete", key);
    await op_brink_kv_delete(this.#handle, key);
  }

  async list(options) {
    const opts = options ?? {};
    if (typeof opts !== "object") throw new TypeError("KV list() failed: options must be an object");
    if (opts.prefix !== undefined && opts.prefix !== null) {
      if (typeof opts.prefix !== "string") throw new TypeError("KV list() failed: prefix must be a string");
      checkKeyText("list", opts.prefix, "prefix");
    }
    if (opts.cursor !== undefined && opts.cursor !== null) {
      if (typeof opts.cursor !== "string") throw new TypeError("KV list() failed: cursor must be a string");
      if (opts.cursor.length > MAX_CURSOR_LENGTH) throw new TypeError("KV list() failed: invalid cursor");
    }
    if (opts.limit !== undefined && opts.limit !== null) {
      if (typeof opts.limit !== "number") throw new TypeError("KV list() failed: limit must be a number");
      if (!NumberIsInteger(opts.limit)) {
        throw new TypeError(`KV list() failed: limit must be a whole number, got ${opts.limit}`);
      }
      if (opts.limit < 1 || opts.limit > MAX_LIST_LIMIT) {
        throw new RangeError(`KV list() failed: limit ${opts.limit} is invalid; it must be between 1 and ${MAX_LIST_LIMIT}`);
      }
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

