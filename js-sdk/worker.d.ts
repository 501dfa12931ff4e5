// The shape of a Brink worker: the module-format handler object and the `ctx`
// it receives. The runtime side is runtime/js/worker_host.js. Request,
// Response, FetchEvent and the other Web APIs come from TypeScript's own
// `WebWorker` lib; index.d.ts adds what Brink puts on top of them.

/** The third argument of `fetch(request, env, ctx)`. */
export interface ExecutionContext {
  /**
   * Keeps the request's work alive until `promise` settles, after the response
   * has been sent (e.g. a KV write or a log upload). A rejection is logged.
   * Graceful shutdown waits for this work.
   */
  waitUntil(promise: PromiseLike<unknown>): void;
  /**
   * If the handler then throws (or its promise rejects), the request goes to
   * the worker's origin (`brink dev --origin`) and the client gets the
   * origin's answer. Without an origin, an uncaught exception gives a 500.
   */
  passThroughOnException(): void;
}

/** A module worker's fetch handler. */
export type ExportedHandlerFetchHandler<Env = unknown> = (
  request: Request,
  env: Env,
  ctx: ExecutionContext,
) => Response | Promise<Response>;

/**
 * A module worker's default export:
 *
 * ```ts
 * export default {
 *   async fetch(request, env, ctx) {
 *     return new Response("hello");
 *   },
 * } satisfies ExportedHandler<Env>;
 * ```
 *
 * `env` holds the deployment's bindings: each `--var KEY=VALUE` as a string,
 * each `--kv BINDING` as a {@link KVNamespace}. Brink dispatches only `fetch`
 * (no `scheduled`, `queue` or `email` handlers yet), so `fetch` is required.
 */
export interface ExportedHandler<Env = unknown> {
  fetch: ExportedHandlerFetchHandler<Env>;
}
