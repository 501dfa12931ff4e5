// The host side of a worker inside its isolate: loads the worker's handlers
// (ES module `export default { fetch }` or service-worker
// `addEventListener("fetch")`), turns requests from the gateway into
// `Request` objects, and hands the worker's `Response` back to Rust.
import { core, internals, primordials } from "ext:core/mod.js";
import {
  op_brink_count_subrequest,
  op_brink_answers_ready,
  op_brink_log,
  op_brink_respond,
  op_brink_respond_error,
  op_brink_respond_stream,
  op_brink_wait_until_done,
  op_brink_wait_until_started,
  op_brink_origin,
  op_brink_forwarding,
} from "ext:core/ops";
import { defineGlobal } from "ext:brink_runtime/globals.js";
import { KvNamespace } from "ext:brink_runtime/kv.js";
import {
  fixedLengthOf,
  installHeadersGetAll,
  installRequestCf,
  makeGlobalEventTarget,
} from "ext:brink_runtime/workers_extras.js";

const {
  ArrayPrototypeIncludes,
  ArrayPrototypeIndexOf,
  ArrayPrototypePush,
  ArrayPrototypeSlice,
  ArrayPrototypeSplice,
  FunctionPrototypeCall,
  ObjectPrototypeIsPrototypeOf,
  PromisePrototypeThen,
  PromiseResolve,
  RegExpPrototypeTest,
  SafeWeakSet,
  StringPrototypeToLowerCase,
  StringPrototypeIncludes,
  TypedArrayPrototypeGetSymbolToStringTag,
  WeakSetPrototypeAdd,
  WeakSetPrototypeHas,
} = primordials;

// Must match `SUBREQUEST_DEPTH_HEADER` in context.rs.
const SUBREQUEST_DEPTH_HEADER = "brink-subrequest-depth";

let requestModule;
let responseModule;
let streamsModule;
let InnerBody;

// Set once the worker's code is loaded.
let fetchHandler = null;
let workerEnv = {};
const fetchListeners = [];

// The worker's origin (`brink dev --origin`), as for a proxied zone on
// Cloudflare: a fetch() to a host this worker serves goes to the origin, and
// so does a request whose handler threw after passThroughOnException(). The
// policy holding it is installed when the worker loads, after the
// bootstrap, so it is read on first use. "" means no origin.
let originUrl = null;
const origin = () => (originUrl ??= op_brink_origin());
// Hosts requests arrived for (a few: the worker's routes), when there is
// an origin.
const MAX_OWN_HOSTS = 64;
const ownHosts = new Set();
const HOST_OF_URL = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]+)/i;
let globalFetch;
// The WebSocket module (js/websocket.js), loaded on first use.
let webSocketModule;

function describeError(error) {
  if (error && typeof error === "object" && typeof error.stack === "string") {
    return error.stack;
  }
  try {
    return String(error);
  } catch {
    return "<unprintable error>";
  }
}

function describeValue(value) {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "object") {
    const name = value.constructor?.name;
    if (!name) return "an object";
    return `${RegExpPrototypeTest(/^[AEIOU]/, name) ? "an" : "a"} ${name}`;
  }
  return `a ${typeof value}`;
}

// Contexts whose worker called passThroughOnException(): kept apart from
// the context itself, which every request makes, since few ever call it
// (each field of an object is one more property to add and free per
// request on QuickJS).
const passingThrough = new SafeWeakSet();

/** The `ctx` argument of `fetch(request, env, ctx)`. */
class ExecutionContext {
  #id;
  constructor(id) {
    this.#id = id;
  }
  static passesThrough(ctx) {
    return WeakSetPrototypeHas(passingThrough, ctx);
  }
  waitUntil(promise) {
    const id = this.#id;
    // The promise belongs to the request's context, which lives until it
    // settles; once the request has ended, new work is not accounted for.
    const tracked = op_brink_wait_until_started(id);
    const done = () => {
      if (tracked) op_brink_wait_until_done(id);
    };
    PromisePrototypeThen(
      Promise.resolve(promise),
      done,
      (error) => {
        op_brink_log(3, `Uncaught (in waitUntil) ${describeError(error)}`);
        done();
      },
    );
  }
  passThroughOnException() {
    // Without an origin there is nothing to fall back to: an exception still
    // gives a 500. Only a context can be marked, as when this was a field.
    if (!(#id in this)) throw new TypeError("Illegal invocation");
    WeakSetPrototypeAdd(passingThrough, this);
  }
}

// On a request to the origin, the client's address (runtime/src/api/
// forwarding.rs), added after the worker's own changes as a proxy does:
// CF-Connecting-IP replaced (as Cloudflare does, so neither a client nor
// the worker can forge it), X-Forwarded-For appended to (with the address
// this server's connection came from) and X-Real-IP replaced, or an RFC
// 7239 Forwarded element appended, as the server is configured.
function addClientAddress(headers, id, host, proto) {
  const forwarding = op_brink_forwarding(id);
  if (forwarding.length === 0) return;
  const { 0: mode, 1: client, 2: peer } = forwarding;
  headers.set("cf-connecting-ip", client);
  if (mode === "x-forwarded-for") {
    const previous = headers.get("x-forwarded-for");
    headers.set("x-forwarded-for", previous ? `${previous}, ${peer}` : peer);
    headers.set("x-real-ip", client);
  } else if (mode === "forwarded") {
    // An IPv6 node and a host with a port must be quoted (RFC 7239 4.).
    const node = StringPrototypeIncludes(peer, ":") ? `"[${peer}]"` : peer;
    const element = `for=${node};host="${host}";proto=${proto}`;
    const previous = headers.get("forwarded");
    headers.set("forwarded", previous ? `${previous}, ${element}` : element);
  }
}

let FetchEvent;

// Only the host makes FetchEvents (workerd's constructor is not usable
// from worker code either); a global FetchEvent lets a worker test
// `event instanceof FetchEvent`.
const FETCH_EVENT_TOKEN = Symbol("brink.fetchEvent");

function defineFetchEvent(Event) {
  return class FetchEvent extends Event {
    #request;
    #ctx;
    #respond;
    constructor(...args) {
      if (args[0] !== FETCH_EVENT_TOKEN) throw new TypeError("Illegal constructor");
      super("fetch");
      this.#request = args[1];
      this.#ctx = args[2];
      this.#respond = args[3];
    }
    get request() {
      return this.#request;
    }
    respondWith(response) {
      this.#respond(response);
    }
    waitUntil(promise) {
      this.#ctx.waitUntil(promise);
    }
    passThroughOnException() {
      this.#ctx.passThroughOnException();
    }
  };
}

function flatToHeaderList(flat) {
  const list = [];
  for (let i = 0; i < flat.length; i += 2) {
    ArrayPrototypePush(list, [flat[i], flat[i + 1]]);
  }
  return list;
}

function fail(id, error) {
  op_brink_respond_error(id, describeError(error));
}

// The handler failed: send the request on to the origin if the worker asked
// for that and the request can still be sent (its body unread), else fail.
function failOrPassThrough(id, error, request, ctx, requestHeaders) {
  if (!ExecutionContext.passesThrough(ctx) || origin() === "" || request.bodyUsed) {
    fail(id, error);
    return;
  }
  op_brink_log(2, `Uncaught ${describeError(error)} (the request was passed through to the origin)`);
  const previousContext = core.getAsyncContext();
  core.setAsyncContext(id);
  let answer;
  try {
    answer = globalFetch(request);
  } finally {
    core.setAsyncContext(previousContext);
  }
  PromisePrototypeThen(answer, (response) => respond(id, response, requestHeaders), (passError) => fail(id, passError));
}

function hasHeader(flat, name) {
  for (let i = 0; i < flat.length; i += 2) {
    if (StringPrototypeToLowerCase(flat[i]) === name) return true;
  }
  return false;
}

function isStaticBody(body) {
  return typeof body === "string" ||
    TypedArrayPrototypeGetSymbolToStringTag(body) === "Uint8Array";
}

// Whether a request's flat header list asks for a WebSocket upgrade.
function asksForUpgrade(flat) {
  for (let i = 0; i < flat.length; i += 2) {
    if (flat[i] === "upgrade" && StringPrototypeToLowerCase(flat[i + 1]) === "websocket") return true;
  }
  return false;
}

/** `requestHeaders`: the incoming request's flat header list. */
function respond(id, response, requestHeaders) {
  if (!ObjectPrototypeIsPrototypeOf(responseModule.ResponsePrototype, response)) {
    op_brink_respond_error(
      id,
      `TypeError: the fetch handler returned ${describeValue(response)} instead of a Response`,
    );
    return;
  }
  // Fast path: a 200 with a string or byte body and at most a content-type.
  const fastStatus = response[responseModule.serveFastStatusKey];
  if (fastStatus !== 0 && !responseModule.responseBodyUsed(response)) {
    const body = response[responseModule.serveFastBodyKey];
    if (isStaticBody(body)) {
      const kind = response[responseModule.serveFastHeaderKindKey];
      const headers = kind === responseModule.SERVE_FAST_HEADER_NONE
        ? []
        : [
          "content-type",
          kind === responseModule.SERVE_FAST_HEADER_DEFAULT_TEXT
            ? "text/plain;charset=UTF-8"
            : response[responseModule.serveFastContentTypeKey],
        ];
      response[responseModule.serveFastConsumedKey] = true;
      op_brink_respond(id, fastStatus, headers, body, null);
      return;
    }
  }
  const inner = responseModule.toInnerResponseForDenoServe(response);
  if (inner.type === "error") {
    op_brink_respond_error(id, "TypeError: the fetch handler returned Response.error()");
    return;
  }
  // A Response returned before (or read by the worker) has no body left to
  // send, as on workerd: the request fails rather than send it twice.
  if (responseModule.responseBodyUsed(response) || (inner.body !== null && inner.body.unusable())) {
    op_brink_respond_error(id, "TypeError: the fetch handler returned a Response whose body was already used");
    return;
  }
  // The reason phrase goes out as the worker gave it, "" included; a
  // response without one gets its status's phrase (deno_fetch patch 0003).
  const reason = inner.statusMessage !== "" || inner.statusMessageGiven === true ? inner.statusMessage : null;
  const headers = [];
  for (const { 0: name, 1: value } of inner.headerList) {
    ArrayPrototypePush(headers, name, value);
  }
  if (inner.status === 101) {
    // A 101 answers only a request that asked for the upgrade (workerd
    // fails it too): to a plain HTTP/1.1 client it would break the
    // connection's framing.
    if (!asksForUpgrade(requestHeaders)) {
      op_brink_respond_error(id, "TypeError: a 101 response answers only a WebSocket upgrade request");
      return;
    }
    webSocketModule().respondWithWebSocket(id, response, headers);
    return;
  }
  const body = inner.body;
  if (body === null) {
    op_brink_respond(id, inner.status, headers, null, reason);
    return;
  }
  const streamOrStatic = body.streamOrStatic;
  if (
    !streamsModule.isReadableStream(streamOrStatic) &&
    !streamOrStatic.consumed && isStaticBody(streamOrStatic.body)
  ) {
    streamOrStatic.consumed = true;
    op_brink_respond(id, inner.status, headers, streamOrStatic.body, reason);
    return;
  }
  // A FixedLengthStream body announces its length, as on Workers (the
  // gateway holds the body to it).
  const fixedLength = fixedLengthOf(body.stream);
  if (fixedLength !== undefined && !hasHeader(headers, "content-length")) {
    ArrayPrototypePush(headers, "content-length", `${fixedLength}`);
  }
  const rid = streamsModule.resourceForReadableStream(body.stream, body.length);
  op_brink_respond_stream(id, inner.status, headers, rid, reason);
}

/**
 * Called from Rust for every request routed to this isolate. Returns
 * undefined when the request is already answered (the handler threw), else
 * `[result, request, ctx, flatHeaders]`, where `result` is the handler's
 * Response or a promise of one.
 *
 * Nothing is answered here: as on workerd, the response's head is taken
 * only once the microtasks the handler queued have run (they may still set
 * its headers). Rust runs them, then calls `settleFetch` for each result
 * that has settled, or `awaitFetch` for a promise still pending (see
 * "Handing back the response" in docs/architecture.md).
 */
function dispatchFetch(id, method, url, flatHeaders, bodyRid) {
  const body = bodyRid >= 0
    ? new InnerBody(streamsModule.readableStreamForRid(bodyRid))
    : null;
  const innerRequest = requestModule.newInnerRequest(
    method,
    url,
    () => flatToHeaderList(flatHeaders),
    body,
    false,
  );
  // As on Workers: a worker that passes its request to fetch() hands
  // redirects back to the client instead of following them.
  innerRequest.redirectMode = "manual";
  // Marks an incoming request: its `cf` object is made on first read.
  innerRequest.cf = null;
  const request = requestModule.fromInnerRequest(innerRequest, "immutable");
  const ctx = new ExecutionContext(id);
  if (origin() !== "" && ownHosts.size < MAX_OWN_HOSTS) {
    const host = HOST_OF_URL.exec(url);
    if (host !== null) ownHosts.add(host[1].toLowerCase());
  }
  let result;
  // The request id rides along in the async context, so an outbound fetch()
  // made anywhere in this request's async work is charged to it.
  const previousContext = core.getAsyncContext();
  core.setAsyncContext(id);
  try {
    if (fetchHandler !== null) {
      result = fetchHandler(request, workerEnv, ctx);
    } else {
      result = dispatchFetchEvent(request, ctx);
    }
  } catch (error) {
    core.setAsyncContext(previousContext);
    failOrPassThrough(id, error, request, ctx, flatHeaders);
    return undefined;
  } finally {
    core.setAsyncContext(previousContext);
  }
  if (!ObjectPrototypeIsPrototypeOf(responseModule.ResponsePrototype, result)) {
    // A promise passes through as it is (Rust reads its state); a thenable
    // is adopted, as `await` would.
    result = PromiseResolve(result);
  }
  return [result, request, ctx, flatHeaders];
}

/**
 * Called from Rust once `pending[0]` (from `dispatchFetch`) has settled and
 * the microtasks after it have run: `ok` and `value` are its outcome.
 */
function settleFetch(id, ok, value, pending) {
  if (ok) {
    respond(id, value, pending[3]);
  } else {
    failOrPassThrough(id, value, pending[1], pending[2], pending[3]);
  }
}

// Handler results that settled after waiting on I/O or timers, answered
// by `flushSettled` once the microtasks of that turn have run.
const settled = [];

/** Called from Rust for a handler result still pending after its first turn. */
function awaitFetch(id, pending) {
  PromisePrototypeThen(
    pending[0],
    (response) => {
      ArrayPrototypePush(settled, id, true, response, pending);
      op_brink_answers_ready();
    },
    (error) => {
      ArrayPrototypePush(settled, id, false, error, pending);
      op_brink_answers_ready();
    },
  );
}

/** Called from Rust after a turn in which `awaitFetch` results settled. */
function flushSettled() {
  const answers = ArrayPrototypeSplice(settled, 0, settled.length);
  for (let i = 0; i < answers.length; i += 4) {
    settleFetch(answers[i], answers[i + 1], answers[i + 2], answers[i + 3]);
  }
}

function dispatchFetchEvent(request, ctx) {
  if (fetchListeners.length === 0) {
    throw new TypeError("the worker has no fetch handler");
  }
  let responded = null;
  const event = new FetchEvent(FETCH_EVENT_TOKEN, request, ctx, (response) => {
    if (responded !== null) {
      throw new DOMException("respondWith() was already called", "InvalidStateError");
    }
    responded = response;
  });
  // As on workerd, a listener's exception is reported and the next
  // listener still runs (a second respondWith() throws InvalidStateError
  // into its caller, and the first response is sent); with no response,
  // the first exception fails the request.
  let firstError = null;
  const listeners = ArrayPrototypeSlice(fetchListeners);
  for (let i = 0; i < listeners.length; i++) {
    const listener = listeners[i];
    try {
      if (typeof listener === "function") FunctionPrototypeCall(listener, globalThis, event);
      else listener.handleEvent(event);
    } catch (error) {
      if (responded !== null) op_brink_log(3, `Uncaught ${describeError(error)}`);
      firstError ??= { error };
    }
  }
  if (responded === null) {
    if (firstError !== null) throw firstError.error;
    throw new TypeError("no fetch listener called event.respondWith()");
  }
  return responded;
}

/**
 * Called from Rust once the worker's main module has been evaluated.
 * Returns the worker format ("module" or "service-worker").
 */
function startWorker(namespace, env) {
  workerEnv = env;
  const exported = namespace.default;
  if (exported && typeof exported.fetch === "function") {
    fetchHandler = (request, env, ctx) => exported.fetch(request, env, ctx);
    return "module";
  }
  if (fetchListeners.length > 0) return "service-worker";
  throw new TypeError(
    "the worker has no fetch handler: export default { fetch(request, env, ctx) } or addEventListener(\"fetch\", ...)",
  );
}

/** Service-worker format: bindings are globals. */
function defineBindingGlobals(env) {
  for (const name of Object.keys(env)) {
    defineGlobal(name, env[name], true);
  }
}

export function installWorkerHost(
  { consoleModule, headers: headersModule, request, response, streams, event, fetch: innerFetch, webSockets },
) {
  FetchEvent = defineFetchEvent(event.Event);
  webSocketModule = webSockets;
  requestModule = request;
  responseModule = response;
  streamsModule = streams;
  InnerBody = core.loadExtScript("ext:deno_fetch/22_body.js").InnerBody;

  const printer = (message, level) => op_brink_log(level, message.replace(/\n$/, ""));
  defineGlobal("console", new consoleModule.Console(printer));

  // deno_fetch's fetch, charged to the current request's context (its id
  // rides in the async context) and stamped with how deep in worker
  // subrequests it is, so a worker that fetches itself is stopped.
  const { Request } = request;
  // `input = undefined`: fetch.length is 0, as on Workers (WebIDL says 1).
  defineGlobal("fetch", function fetch(input = undefined, init = undefined) {
    const id = core.getAsyncContext();
    const depth = op_brink_count_subrequest(typeof id === "number" ? id : 0);
    if (depth === -1) {
      return Promise.reject(
        new Error("Too many subrequests: this request reached its subrequest limit"),
      );
    }
    if (depth < 0) {
      return Promise.reject(
        new Error("fetch() can only be called while handling a request, and this request has ended"),
      );
    }
    let outgoing;
    try {
      outgoing = new Request(input, init);
      if (origin() !== "") {
        // A request for one of the worker's own hosts goes to its origin,
        // path and query kept, as on a proxied Cloudflare zone.
        const target = new URL(outgoing.url);
        if (ownHosts.has(target.host.toLowerCase())) {
          const host = target.host;
          outgoing = new Request(`${origin()}${target.pathname}${target.search}`, outgoing);
          const proto = target.protocol.slice(0, -1);
          outgoing.headers.set("x-forwarded-host", host);
          outgoing.headers.set("x-forwarded-proto", proto);
          addClientAddress(outgoing.headers, typeof id === "number" ? id : 0, host, proto);
        }
      }
      outgoing.headers.set(SUBREQUEST_DEPTH_HEADER, `${depth}`);
    } catch (error) {
      return Promise.reject(error);
    }
    if (outgoing.headers.get("upgrade")?.toLowerCase() === "websocket") {
      return webSocketModule().fetchWebSocket(outgoing, typeof id === "number" ? id : 0);
    }
    return innerFetch(outgoing);
  }, true);
  globalFetch = globalThis.fetch;

  defineGlobal("FetchEvent", FetchEvent);
  installRequestCf(request.RequestPrototype, request.toInnerRequest);
  installHeadersGetAll(headersModule.Headers.prototype);
  // The global scope is an EventTarget; "fetch" listeners are kept apart,
  // since the host calls them with each request's FetchEvent.
  const globalTarget = makeGlobalEventTarget(event, core.loadExtScript("ext:deno_webidl/00_webidl.js").brand);
  defineGlobal("WorkerGlobalScope", globalTarget.WorkerGlobalScope);
  defineGlobal("ServiceWorkerGlobalScope", globalTarget.ServiceWorkerGlobalScope);
  defineGlobal("addEventListener", function addEventListener(type, listener, options = undefined) {
    if (type === "fetch") {
      if (listener !== null && !ArrayPrototypeIncludes(fetchListeners, listener)) {
        ArrayPrototypePush(fetchListeners, listener);
      }
      return;
    }
    FunctionPrototypeCall(globalTarget.addEventListener, globalThis, type, listener, options);
  }, true);
  defineGlobal("removeEventListener", function removeEventListener(type, listener, options = undefined) {
    if (type === "fetch") {
      const index = ArrayPrototypeIndexOf(fetchListeners, listener);
      if (index !== -1) ArrayPrototypeSplice(fetchListeners, index, 1);
      return;
    }
    FunctionPrototypeCall(globalTarget.removeEventListener, globalThis, type, listener, options);
  }, true);
  defineGlobal("dispatchEvent", function dispatchEvent(event) {
    return FunctionPrototypeCall(globalTarget.dispatchEvent, globalThis, event);
  }, true);

  core.setUnhandledPromiseRejectionHandler((_promise, reason) => {
    op_brink_log(3, `Uncaught (in promise) ${describeError(reason)}`);
    return true;
  });
  const reportUncaught = (error) => {
    op_brink_log(3, `Uncaught ${describeError(error)}`);
  };
  core.setReportExceptionCallback(reportUncaught);
  // An exception in an event listener (deno_web's reportException, patch
  // 0002) is logged and the request carries on, as on workerd.
  internals.reportUncaughtException = reportUncaught;

  // Rust takes these once after the bootstrap and deletes the property, so
  // worker code never sees them.
  globalThis[Symbol.for("brink.host")] = {
    dispatchFetch,
    settleFetch,
    awaitFetch,
    flushSettled,
    startWorker,
    defineBindingGlobals,
    createKvNamespace: (handle) => new KvNamespace(handle),
  };
}
