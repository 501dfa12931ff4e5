// @brink/workers-types: what a Brink worker sees, for TypeScript.
//
// Two ways to use it (README.md):
// - as globals, like @cloudflare/workers-types: `"types": ["@brink/workers-types"]`
//   in tsconfig.json, then `KVNamespace`, `ExportedHandler`, ... need no import;
// - as imports: `import type { KVNamespace } from "@brink/workers-types"`.
// Both name the same shapes. Build on `"lib": ["ES2022", "WebWorker"]`: the Web
// APIs (Request, Response, URL, streams, crypto, FetchEvent, ...) come from there
// and are not redeclared here.

import type * as kv from "./kv.js";
import type * as worker from "./worker.js";

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
  interface ExportedHandler<Env = unknown> extends worker.ExportedHandler<Env> {}
  type ExportedHandlerFetchHandler<Env = unknown> = worker.ExportedHandlerFetchHandler<Env>;

  // Service-worker format: `addEventListener("fetch", (event) => ...)`. The
  // WebWorker lib declares FetchEvent (request, respondWith, waitUntil); Brink
  // adds passThroughOnException. Brink does not provide the lib's
  // clientId / handled / preloadResponse / resultingClientId.
  interface FetchEvent {
    /** Accepted for compatibility; an uncaught exception still gives a 500. */
    passThroughOnException(): void;
  }
  interface WorkerGlobalScopeEventMap {
    fetch: FetchEvent;
  }
}
