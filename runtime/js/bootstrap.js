// Brink's isolate bootstrap: installs the globals a Cloudflare Workers script
// expects, backed by deno_web / deno_fetch / deno_crypto, and nothing else
// (no `Deno` namespace, no filesystem). Rarely used APIs are installed as lazy
// getters so an isolate only pays for what its worker touches.
import { core, internals, primordials } from "ext:core/mod.js";
import { defineGlobal, defineLazyGlobal } from "ext:brink_runtime/globals.js";
import { installWorkerHost } from "ext:brink_runtime/worker_host.js";
import { hideEngineInternals } from "ext:brink_runtime/hide_engine_internals.js";
import { limitCryptoCost } from "ext:brink_runtime/crypto_limits.js";
import { installCryptoExtras } from "ext:brink_runtime/crypto_extras.js";
import {
  detachingTransfers,
  makeIdentityStreams,
  makeNavigator,
  makeScheduler,
  strictAtob,
} from "ext:brink_runtime/workers_extras.js";

const ext = (path) => core.loadExtScript(path);
const web = (file) => () => ext(`ext:deno_web/${file}`);
const lazyModule = (load) => {
  let module;
  return () => (module ??= load());
};

// deno_fetch reports spans to Deno's OpenTelemetry extension when tracing is
// on. Brink has its own logs and no deno_telemetry, so fetch sees tracing as
// off and never calls further in.
const DID_NOT_ENTER = Symbol("brink.telemetry.didNotEnter");
internals.__telemetry ??= {
  TRACING_ENABLED: false,
  PROPAGATORS: [],
  DID_NOT_ENTER,
  builtinTracer() {},
  ContextManager: { active() {} },
  enterSpan() {
    return DID_NOT_ENTER;
  },
  exitSpan() {},
};
internals.__telemetryUtil ??= {
  updateSpanFromClientResponse() {},
  updateSpanFromError() {},
  updateSpanFromRequest() {},
};

// The request path always needs these, so they load eagerly: a pre-warmed
// isolate then serves its first request without compiling them.
const url = ext("ext:deno_web/00_url.js");
const event = ext("ext:deno_web/02_event.js");
const timers = ext("ext:deno_web/02_timers.js");
const abortSignal = ext("ext:deno_web/03_abort_signal.js");
const streams = ext("ext:deno_web/06_streams.js");
const encoding = ext("ext:deno_web/08_text_encoding.js");
const headers = ext("ext:deno_fetch/20_headers.js");
const request = ext("ext:deno_fetch/23_request.js");
const response = ext("ext:deno_fetch/23_response.js");
const fetchModule = ext("ext:deno_fetch/26_fetch.js");
const consoleModule = ext("ext:deno_web/01_console.js");

defineGlobal("URL", url.URL);
defineGlobal("URLSearchParams", url.URLSearchParams);
defineGlobal("Event", event.Event);
defineGlobal("EventTarget", event.EventTarget);
defineGlobal("CustomEvent", event.CustomEvent);
defineGlobal("ErrorEvent", event.ErrorEvent);
defineGlobal("PromiseRejectionEvent", event.PromiseRejectionEvent);
defineGlobal("reportError", event.reportError, true);
defineGlobal("setTimeout", timers.setTimeout, true);
defineGlobal("setInterval", timers.setInterval, true);
defineGlobal("clearTimeout", timers.clearTimeout, true);
defineGlobal("clearInterval", timers.clearInterval, true);
defineGlobal("AbortController", abortSignal.AbortController);
defineGlobal("AbortSignal", abortSignal.AbortSignal);
for (
  const name of [
    "ReadableStream",
    "ReadableStreamDefaultReader",
    "ReadableStreamBYOBReader",
    "ReadableStreamBYOBRequest",
    "ReadableByteStreamController",
    "ReadableStreamDefaultController",
    "WritableStream",
    "WritableStreamDefaultWriter",
    "WritableStreamDefaultController",
    "TransformStream",
    "TransformStreamDefaultController",
    "ByteLengthQueuingStrategy",
    "CountQueuingStrategy",
  ]
) {
  defineGlobal(name, streams[name]);
}
defineGlobal("TextEncoder", encoding.TextEncoder);
defineGlobal("TextDecoder", encoding.TextDecoder);
defineGlobal("TextEncoderStream", encoding.TextEncoderStream);
defineGlobal("TextDecoderStream", encoding.TextDecoderStream);
defineGlobal("Headers", headers.Headers);
defineGlobal("Request", request.Request);
defineGlobal("Response", response.Response);
// deno_core installs its queueMicrotask (which routes a callback's exception
// to the report-exception callback) as a primordial; `core` does not export it.
defineGlobal("queueMicrotask", primordials.queueMicrotask, true);

const base64 = lazyModule(web("05_base64.js"));
defineLazyGlobal("atob", () => strictAtob(base64().atob, domException().DOMException), true);
defineLazyGlobal("btoa", () => base64().btoa, true);
const domException = lazyModule(web("01_dom_exception.js"));
defineLazyGlobal("DOMException", () => domException().DOMException);
defineLazyGlobal("URLPattern", () => web("01_urlpattern.js")().URLPattern);
const file = lazyModule(web("09_file.js"));
defineLazyGlobal("Blob", () => file().Blob);
defineLazyGlobal("File", () => file().File);
defineLazyGlobal(
  "FormData",
  () => ext("ext:deno_fetch/21_formdata.js").FormData,
);
const compression = lazyModule(web("14_compression.js"));
defineLazyGlobal("CompressionStream", () => compression().CompressionStream);
defineLazyGlobal("DecompressionStream", () => compression().DecompressionStream);
const messagePort = lazyModule(web("13_message_port.js"));
defineLazyGlobal("structuredClone", () => detachingTransfers(messagePort().structuredClone), true);
defineLazyGlobal("MessageChannel", () => messagePort().MessageChannel);
defineLazyGlobal("MessagePort", () => messagePort().MessagePort);
const performance = lazyModule(() => {
  const module = web("15_performance.js")();
  // Deno's own runtime bootstrap sets the time origin; without this call
  // `performance.timeOrigin` is undefined.
  module.setTimeOrigin();
  return module;
});
defineLazyGlobal("performance", () => performance().performance, true);
defineLazyGlobal("Performance", () => performance().Performance);
const crypto = lazyModule(() => {
  const module = ext("ext:deno_crypto/00_crypto.js");
  limitCryptoCost(module.SubtleCrypto, domException().DOMException);
  const DigestStream = installCryptoExtras(module, {
    DOMException: domException().DOMException,
    WritableStream: streams.WritableStream,
    TextEncoder: encoding.TextEncoder,
  });
  primordials.ObjectDefineProperty(module.Crypto.prototype, "DigestStream", {
    __proto__: null,
    value: DigestStream,
    writable: true,
    configurable: true,
  });
  return module;
});
defineLazyGlobal("crypto", () => crypto().crypto, true);
defineLazyGlobal("Crypto", () => crypto().Crypto);
defineLazyGlobal("CryptoKey", () => crypto().CryptoKey);
defineLazyGlobal("SubtleCrypto", () => crypto().SubtleCrypto);
defineLazyGlobal(
  "HTMLRewriter",
  () =>
    ext("ext:brink_runtime/html_rewriter.js").initHtmlRewriter({
      Response: response.Response,
      ReadableStream: streams.ReadableStream,
      Headers: headers.Headers,
    }),
);
const caches = lazyModule(() =>
  ext("ext:brink_runtime/cache.js").initCaches({
    Request: request.Request,
    Response: response.Response,
    URL: url.URL,
    response,
  })
);
defineLazyGlobal("caches", () => caches().caches, true);
defineLazyGlobal("Cache", () => caches().Cache);
defineLazyGlobal("CacheStorage", () => caches().CacheStorage);
// Null until the WebSocket module loads (below) and replaces the getter:
// only a response made with a WebSocket has one.
primordials.ObjectDefineProperty(response.Response.prototype, "webSocket", {
  __proto__: null,
  configurable: true,
  enumerable: true,
  get() {
    return null;
  },
});
// WebSockets (docs/websockets.md): loading them also lets Response take a
// `webSocket`, which only a worker that made a socket can have.
const webSockets = lazyModule(() =>
  ext("ext:brink_runtime/websocket.js").initWebSockets({
    event,
    response,
    DOMException: domException().DOMException,
    Blob: file().Blob,
  })
);
defineLazyGlobal("WebSocketPair", () => webSockets().WebSocketPair);
defineLazyGlobal("WebSocket", () => webSockets().WebSocket);
defineLazyGlobal("MessageEvent", () => webSockets().MessageEvent);
defineLazyGlobal("CloseEvent", () => webSockets().CloseEvent);
const navigator = lazyModule(makeNavigator);
defineLazyGlobal("navigator", () => navigator().navigator, true);
defineLazyGlobal("Navigator", () => navigator().Navigator);
defineLazyGlobal(
  "scheduler",
  () => makeScheduler({ setTimeout: timers.setTimeout, clearTimeout: timers.clearTimeout, AbortSignal: abortSignal.AbortSignal }),
  true,
);
const identityStreams = lazyModule(() => makeIdentityStreams(streams, encoding.TextEncoder));
defineLazyGlobal("IdentityTransformStream", () => identityStreams().IdentityTransformStream);
defineLazyGlobal("FixedLengthStream", () => identityStreams().FixedLengthStream);
defineGlobal("self", globalThis, true);

// Ops name the JS class of the errors they throw. deno_core knows only the
// built-in ones; an op error of any other class would reach the worker as
// `undefined`. DOMException classes (Web Crypto, getRandomValues, atob, ...)
// become DOMExceptions as the specs require; host I/O classes (a failed
// outbound connection, ...) become Errors named after the class, since a
// worker has no Deno.errors to hold them.
for (
  const name of [
    "DataError",
    "IndexSizeError",
    "InvalidAccessError",
    "InvalidCharacterError",
    "InvalidStateError",
    "NotSupportedError",
    "OperationError",
    "QuotaExceededError",
    "SyntaxError",
    "TypeMismatchError",
  ]
) {
  core.registerErrorBuilder(
    `DOMException${name}`,
    (message) => new (domException().DOMException)(message, name),
  );
}
for (
  const name of [
    "NotFound",
    "PermissionDenied",
    "ConnectionRefused",
    "ConnectionReset",
    "ConnectionAborted",
    "NotConnected",
    "AddrInUse",
    "AddrNotAvailable",
    "BrokenPipe",
    "AlreadyExists",
    "InvalidData",
    "TimedOut",
    "WriteZero",
    "UnexpectedEof",
    "WouldBlock",
    "IsADirectory",
    "NetworkUnreachable",
    "NotADirectory",
    "FilesystemLoop",
    "NotSupported",
    "Http",
  ]
) {
  core.registerErrorBuilder(name, (message) => {
    const error = new Error(message);
    error.name = name;
    return error;
  });
}

// Worker logs are read in log files and dashboards, not terminals: inspect
// output (console.log of an object) must not carry ANSI colour codes.
consoleModule.setNoColorFns(() => true, () => true);

installWorkerHost({
  consoleModule,
  headers,
  request,
  response,
  streams,
  event,
  fetch: fetchModule.fetch,
  webSockets,
});

// A worker must not see the engine's internals (nor force a collection).
delete globalThis.Deno;
delete globalThis.__bootstrap;
delete globalThis.gc;
hideEngineInternals();
