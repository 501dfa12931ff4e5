// Workers KV namespaces as a Brink worker sees them (`env.MY_KV`), plus
// Brink's Deno-KV-style `atomic()`. The runtime side is runtime/js/kv.js;
// docs/kv.md describes the behaviour and limits these types document.

/** What `put` and `atomic().set` accept as a value. Streams are read to the end before storing. */
export type KVNamespacePutValue = string | ArrayBuffer | ArrayBufferView | ReadableStream;

/** The ways `get` can decode a value. */
export type KVNamespaceValueType = "text" | "json" | "arrayBuffer" | "stream";

/** Options of `get` / `getWithMetadata` that decode as `Type`. */
export interface KVNamespaceGetOptions<Type extends KVNamespaceValueType> {
  /** How to decode the value. */
  type: Type;
  /**
   * Seconds a copy cached by this process may be served for; 60 when omitted,
   * as in Workers KV (any value ≥ 0 is allowed, where Workers KV requires ≥ 60).
   * Writes made in the same process are always seen.
   */
  cacheTtl?: number;
  /**
   * `"strong"` reads the authoritative copy: on the replicated (NATS
   * JetStream) backend, the cluster rather than this POP's cache and local
   * replica, so another POP's acknowledged write is seen at once. Default
   * `"eventual"`. Brink extension.
   */
  consistency?: KVNamespaceConsistency;
}

/** How fresh a read must be (Brink extension; see docs/kv.md). */
export type KVNamespaceConsistency = "eventual" | "strong";

/** Options of `get` / `getWithMetadata` that decode as text, the default. */
export interface KVNamespaceGetTextOptions {
  type?: "text";
  /** See {@link KVNamespaceGetOptions.cacheTtl}. */
  cacheTtl?: number;
  /** See {@link KVNamespaceGetOptions.consistency}. */
  consistency?: KVNamespaceConsistency;
}

/**
 * Options of `put` and `atomic().set`. A put replaces value, metadata and
 * expiration together; pass `expiration` or `expirationTtl`, not both.
 */
export type KVNamespacePutOptions = {
  /**
   * JSON-serializable data stored with the value (≤ 1024 bytes serialized).
   * Omitting it removes the entry's old metadata.
   */
  metadata?: unknown;
} & (
  | {
    /** Absolute expiry, unix seconds; must be in the future. */
    expiration?: number;
    expirationTtl?: never;
  }
  | {
    /**
     * Expiry in seconds from now, ≥ 1 (Brink allows TTLs under Workers KV's 60 s
     * minimum); rounded up to a whole second.
     */
    expirationTtl?: number;
    expiration?: never;
  }
);

/** A value with its metadata and version, as `getWithMetadata` returns it. */
export type KVNamespaceGetWithMetadataResult<Value, Metadata = unknown> =
  | {
    value: Value;
    /** `null` when the value was stored without metadata. */
    metadata: Metadata | null;
    /** The entry's version; pass it to `atomic().check()`. Compare versions only for equality. */
    version: number;
    /** Always `null` in Brink (kept for Workers KV compatibility). */
    cacheStatus: string | null;
  }
  | {
    /** The key is missing or expired. */
    value: null;
    metadata: null;
    version: null;
    cacheStatus: string | null;
  };

/** Options of `list`. */
export interface KVNamespaceListOptions {
  /** Only keys starting with this prefix (≤ 512 bytes). */
  prefix?: string | null;
  /** Page size, 1–1000; default 1000. */
  limit?: number;
  /** Resume after the previous page (its `cursor`). */
  cursor?: string | null;
}

/** One key in a `list` page. */
export interface KVNamespaceListKey<Metadata = unknown, Key extends string = string> {
  name: Key;
  /** Unix seconds; absent for a key that never expires. */
  expiration?: number;
  /** Absent for a key stored without metadata. */
  metadata?: Metadata;
}

/** A page of `list`. Keys come in UTF-8 byte order; expired keys are never listed. */
export type KVNamespaceListResult<Metadata = unknown, Key extends string = string> =
  | {
    keys: KVNamespaceListKey<Metadata, Key>[];
    /** More keys remain: pass `cursor` to the next `list` call. */
    list_complete: false;
    cursor: string;
    /** Always `null` in Brink. */
    cacheStatus: string | null;
  }
  | {
    keys: KVNamespaceListKey<Metadata, Key>[];
    list_complete: true;
    cursor?: undefined;
    /** Always `null` in Brink. */
    cacheStatus: string | null;
  };

/** One precondition of an atomic operation. */
export interface KVNamespaceAtomicCheck<Key extends string = string> {
  key: Key;
  /** The version the key must still be at, or `null`: the key must not exist (expired counts as absent). */
  version: number | null;
}

/** What `atomic().commit()` resolves to. */
export type KVNamespaceAtomicResult =
  | {
    /** Every check held and every mutation was applied. */
    ok: true;
    /** The version all mutations were written at; `null` for a commit without mutations. */
    version: number | null;
  }
  | {
    /** A check failed; nothing was written. Retry from a fresh read. */
    ok: false;
    version: null;
  };

/**
 * An atomic operation (Brink extension, modelled on Deno KV): if every check
 * holds, all mutations are applied in one transaction with one new version;
 * otherwise nothing is written. At most 100 checks and 1000 mutations.
 */
export interface KVNamespaceAtomicOperation<Key extends string = string> {
  /** Adds preconditions on keys' current versions. */
  check(...checks: KVNamespaceAtomicCheck<Key>[]): this;
  /** Adds a write; takes the same options as `put`. */
  set(key: Key, value: KVNamespacePutValue, options?: KVNamespacePutOptions): this;
  /** Adds a delete (no error if the key is absent). */
  delete(key: Key): this;
  /** Runs the checks and, if they all hold, applies the mutations. Durable when it resolves. */
  commit(): Promise<KVNamespaceAtomicResult>;
}

/**
 * A KV namespace binding (`env.MY_KV`), compatible with Cloudflare Workers KV.
 *
 * Keys are non-empty strings of ≤ 512 UTF-8 bytes (not `.` or `..`); values
 * ≤ 25 MiB. Writes resolve only once committed with fsync, and every later read
 * in the same `brink` process sees them.
 */
export interface KVNamespace<Key extends string = string> {
  /** Reads a value as text; `null` if the key is missing or expired. */
  get(key: Key, options?: KVNamespaceGetTextOptions): Promise<string | null>;
  get(key: Key, type: "text"): Promise<string | null>;
  /** Reads a value and parses it as JSON. */
  get<Value = unknown>(key: Key, type: "json"): Promise<Value | null>;
  get<Value = unknown>(key: Key, options: KVNamespaceGetOptions<"json">): Promise<Value | null>;
  get(key: Key, type: "arrayBuffer"): Promise<ArrayBuffer | null>;
  get(key: Key, options: KVNamespaceGetOptions<"arrayBuffer">): Promise<ArrayBuffer | null>;
  get(key: Key, type: "stream"): Promise<ReadableStream<Uint8Array> | null>;
  get(key: Key, options: KVNamespaceGetOptions<"stream">): Promise<ReadableStream<Uint8Array> | null>;
  /** Reads up to 100 keys at once: a `Map` of key → value, `null` for missing keys. */
  get(keys: readonly Key[], options?: KVNamespaceGetTextOptions): Promise<Map<Key, string | null>>;
  get(keys: readonly Key[], type: "text"): Promise<Map<Key, string | null>>;
  get<Value = unknown>(keys: readonly Key[], type: "json"): Promise<Map<Key, Value | null>>;
  get<Value = unknown>(keys: readonly Key[], options: KVNamespaceGetOptions<"json">): Promise<Map<Key, Value | null>>;
  get(keys: readonly Key[], type: "arrayBuffer"): Promise<Map<Key, ArrayBuffer | null>>;
  get(keys: readonly Key[], options: KVNamespaceGetOptions<"arrayBuffer">): Promise<Map<Key, ArrayBuffer | null>>;
  get(keys: readonly Key[], type: "stream"): Promise<Map<Key, ReadableStream<Uint8Array> | null>>;
  get(keys: readonly Key[], options: KVNamespaceGetOptions<"stream">): Promise<Map<Key, ReadableStream<Uint8Array> | null>>;

  /** Reads a value with its metadata and version. */
  getWithMetadata<Metadata = unknown>(
    key: Key,
    options?: KVNamespaceGetTextOptions,
  ): Promise<KVNamespaceGetWithMetadataResult<string, Metadata>>;
  getWithMetadata<Metadata = unknown>(
    key: Key,
    type: "text",
  ): Promise<KVNamespaceGetWithMetadataResult<string, Metadata>>;
  getWithMetadata<Value = unknown, Metadata = unknown>(
    key: Key,
    type: "json",
  ): Promise<KVNamespaceGetWithMetadataResult<Value, Metadata>>;
  getWithMetadata<Value = unknown, Metadata = unknown>(
    key: Key,
    options: KVNamespaceGetOptions<"json">,
  ): Promise<KVNamespaceGetWithMetadataResult<Value, Metadata>>;
  getWithMetadata<Metadata = unknown>(
    key: Key,
    type: "arrayBuffer",
  ): Promise<KVNamespaceGetWithMetadataResult<ArrayBuffer, Metadata>>;
  getWithMetadata<Metadata = unknown>(
    key: Key,
    options: KVNamespaceGetOptions<"arrayBuffer">,
  ): Promise<KVNamespaceGetWithMetadataResult<ArrayBuffer, Metadata>>;
  getWithMetadata<Metadata = unknown>(
    key: Key,
    type: "stream",
  ): Promise<KVNamespaceGetWithMetadataResult<ReadableStream<Uint8Array>, Metadata>>;
  getWithMetadata<Metadata = unknown>(
    key: Key,
    options: KVNamespaceGetOptions<"stream">,
  ): Promise<KVNamespaceGetWithMetadataResult<ReadableStream<Uint8Array>, Metadata>>;
  /** Several keys at once: a `Map` of key → `{value, metadata, version}`. */
  getWithMetadata<Metadata = unknown>(
    keys: readonly Key[],
    options?: KVNamespaceGetTextOptions,
  ): Promise<Map<Key, KVNamespaceGetWithMetadataResult<string, Metadata>>>;
  getWithMetadata<Metadata = unknown>(
    keys: readonly Key[],
    type: "text",
  ): Promise<Map<Key, KVNamespaceGetWithMetadataResult<string, Metadata>>>;
  getWithMetadata<Value = unknown, Metadata = unknown>(
    keys: readonly Key[],
    type: "json",
  ): Promise<Map<Key, KVNamespaceGetWithMetadataResult<Value, Metadata>>>;
  getWithMetadata<Value = unknown, Metadata = unknown>(
    keys: readonly Key[],
    options: KVNamespaceGetOptions<"json">,
  ): Promise<Map<Key, KVNamespaceGetWithMetadataResult<Value, Metadata>>>;
  getWithMetadata<Metadata = unknown>(
    keys: readonly Key[],
    type: "arrayBuffer",
  ): Promise<Map<Key, KVNamespaceGetWithMetadataResult<ArrayBuffer, Metadata>>>;
  getWithMetadata<Metadata = unknown>(
    keys: readonly Key[],
    options: KVNamespaceGetOptions<"arrayBuffer">,
  ): Promise<Map<Key, KVNamespaceGetWithMetadataResult<ArrayBuffer, Metadata>>>;
  getWithMetadata<Metadata = unknown>(
    keys: readonly Key[],
    type: "stream",
  ): Promise<Map<Key, KVNamespaceGetWithMetadataResult<ReadableStream<Uint8Array>, Metadata>>>;
  getWithMetadata<Metadata = unknown>(
    keys: readonly Key[],
    options: KVNamespaceGetOptions<"stream">,
  ): Promise<Map<Key, KVNamespaceGetWithMetadataResult<ReadableStream<Uint8Array>, Metadata>>>;

  /** Stores a value, replacing value, metadata and expiration. Durable when it resolves. */
  put(key: Key, value: KVNamespacePutValue, options?: KVNamespacePutOptions): Promise<void>;

  /** Deletes a key; no error if it is absent. */
  delete(key: Key): Promise<void>;

  /**
   * Lists keys in UTF-8 byte order, a page (≤ 1000) at a time. Always reads
   * the store (no cache).
   */
  list<Metadata = unknown>(options?: KVNamespaceListOptions): Promise<KVNamespaceListResult<Metadata, Key>>;

  /** Starts an atomic compare-and-set operation (Brink extension, not in Workers KV). */
  atomic(): KVNamespaceAtomicOperation<Key>;
}
