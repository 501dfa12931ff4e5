/// <reference path="./modules.d.ts" />
// @brink/workers-types: what a Brink worker sees, for TypeScript.
//
// Two ways to use it (README.md):
// - as globals, like @cloudflare/workers-types: `"types": ["@brink/workers-types"]`
//   in tsconfig.json, then `KVNamespace`, `ExportedHandler`, ... need no import;
// - as imports: `import type { KVNamespace } from "@brink/workers-types"`.
// Both name the same shapes. Build on `"lib": ["ES2022", "WebWorker"]`: the Web
// APIs (Request, Response, URL, streams, crypto, FetchEvent, ...) come from there
// and are not redeclared here.

import type * as cdn from "./cdn.js";
import type * as kv from "./kv.js";
import type * as worker from "./worker.js";

export * from "./cdn.js";
export * from "./kv.js";
export * from "./worker.js";

declare global {
  interface KVNamespace<Key extends string = string> extends kv.KVNamespace<Key> {}
  interface KVNamespaceAtomicOperation<Key extends string = string> extends kv.KVNamespaceAtomicOperation<Key> {}
  interface KVNamespaceAtomicCheck<Key extends string = string> extends kv.KVNamespaceAtomicCheck<Key> {}
  interface KVNamespaceGetOptions<Type extends kv.KVNamespaceValueType> extends kv.KVNamespaceGetOptions<Type> {}
  interface KVNamespaceGetTextOptions extends kv.KVNamespaceGetTextOptions {}
  interface KVNamespaceListOptions extends kv.KVNamespaceListOptions {}
  interface KVNamespaceListKey<Metadata = unknown, Key extends string = string>
    extends kv.KVNamespaceListKey<Metadata, Key> {}
  type KVNamespacePutValue = kv.KVNamespacePutValue;
  type KVNamespaceValueType = kv.KVNamespaceValueType;
  type KVNamespaceConsistency = kv.KVNamespaceConsistency;
  type KVNamespacePutOptions = kv.KVNamespacePutOptions;
  type KVNamespaceGetWithMetadataResult<Value, Metadata = unknown> = kv.KVNamespaceGetWithMetadataResult<
    Value,
    Metadata
  >;
  type KVNamespaceListResult<Metadata = unknown, Key extends string = string> = kv.KVNamespaceListResult<
    Metadata,
    Key
  >;
  type KVNamespaceAtomicResult = kv.KVNamespaceAtomicResult;

  interface ExecutionContext extends worker.ExecutionContext {}

  // HTMLRewriter (docs/cdn.md). Its content types (Element, Text, ...) are
  // exported from the package rather than made global, so they never clash
  // with the DOM lib's names.
  interface HTMLRewriter extends cdn.HTMLRewriter {}
  var HTMLRewriter: { new (): HTMLRewriter; prototype: HTMLRewriter };
  interface HTMLRewriterElementContentHandlers extends cdn.HTMLRewriterElementContentHandlers {}
  interface HTMLRewriterDocumentContentHandlers extends cdn.HTMLRewriterDocumentContentHandlers {}

  // The Cache API as Workers has it: the WebWorker lib's Cache and
  // CacheStorage, plus `caches.default`.
  interface CacheStorage {
    /** The worker's default cache in this process (a point of presence). */
    readonly default: Cache;
  }
  interface ExportedHandler<Env = unknown> extends worker.ExportedHandler<Env> {}
  type ExportedHandlerFetchHandler<Env = unknown> = worker.ExportedHandlerFetchHandler<Env>;

  // Service-worker format: `addEventListener("fetch", (event) => ...)`. The
  // WebWorker lib declares FetchEvent (request, respondWith, waitUntil); Brink
  // adds passThroughOnException. Brink does not provide the lib's
  // clientId / handled / preloadResponse / resultingClientId.
  interface FetchEvent {
    /**
     * If the handler then throws, the request goes to the worker's origin
     * (`brink dev --origin`) instead of failing; without an origin, a 500.
     */
    passThroughOnException(): void;
  }
  interface WorkerGlobalScopeEventMap {
    fetch: FetchEvent;
  }
}
