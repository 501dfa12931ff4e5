//! Every global a Cloudflare Workers script expects exists in a Brink isolate
//! and behaves: `workers/globals.js` runs one check per global (each asserting
//! behaviour, not just presence) and reports `true` or the error per check.

use std::time::Duration;

use brink_tests::{client, worker, Brink};
use serde_json::Value;

/// Logged by the worker's `console` check (`CONSOLE_MARKER` in globals.js).
const CONSOLE_MARKER: &str = "globals-console-marker-7f3a";

/// Every check globals.js must report; a check silently dropped from the
/// worker fails here instead of passing unnoticed.
const EXPECTED_CHECKS: &[&str] = &[
    "Request",
    "Response",
    "Headers",
    "fetch",
    "URL",
    "URLSearchParams",
    "URLPattern",
    "TextEncoderDecoder",
    "TextEncoderDecoderStream",
    "Streams",
    "CompressionStream",
    "AbortController",
    "EventTarget",
    "structuredClone",
    "atobBtoa",
    "timers",
    "queueMicrotask",
    "getRandomValues",
    "randomUUID",
    "subtle",
    "BlobFileFormData",
    "console",
    "performance",
    "navigator",
    "noHostInternals",
];

async fn results(brink: &Brink, path: &str) -> serde_json::Map<String, Value> {
    let response = client().get(brink.url(path)).send().await.expect("request");
    assert_eq!(response.status(), 200, "globals worker answered {}", response.status());
    let body: Value = response.json().await.expect("JSON body");
    body["results"].as_object().expect("a `results` object").clone()
}

fn failures(results: &serde_json::Map<String, Value>) -> Vec<String> {
    let mut failed: Vec<String> = results
        .iter()
        .filter(|(_, outcome)| **outcome != Value::Bool(true))
        .map(|(name, outcome)| format!("{name}: {outcome}"))
        .collect();
    for name in EXPECTED_CHECKS {
        if !results.contains_key(*name) {
            failed.push(format!("{name}: not reported by the worker"));
        }
    }
    failed
}

#[tokio::test]
async fn every_workers_global_works() {
    let brink = Brink::start(worker("globals.js"), &[]);
    let results = results(&brink, "/").await;
    let failed = failures(&results);
    assert!(
        failed.is_empty(),
        "{} global check(s) failed:\n  {}",
        failed.len(),
        failed.join("\n  ")
    );

    // console.log goes to brink's log, formatted as text without colour codes.
    assert!(
        brink.wait_for_log(
            &format!("{CONSOLE_MARKER} {{ nested: [ 1, \"two\" ] }} 3"),
            Duration::from_secs(5)
        ),
        "console.log output missing from brink's log:\n{}",
        brink.logs()
    );
    assert!(
        brink.wait_for_log(&format!("{CONSOLE_MARKER}-error"), Duration::from_secs(5)),
        "console.error output missing from brink's log:\n{}",
        brink.logs()
    );
}

/// Lazily installed globals must work when they are the first thing a fresh
/// isolate touches, not only after other checks have loaded their modules.
#[tokio::test]
async fn each_global_works_in_a_fresh_isolate() {
    let mut failed = Vec::new();
    for name in [
        "AbortController",
        "getRandomValues",
        "subtle",
        "performance",
        "queueMicrotask",
        "structuredClone",
    ] {
        let brink = Brink::start(worker("globals.js"), &[]);
        let results = results(&brink, &format!("/?only={name}")).await;
        assert_eq!(results.len(), 1, "only {name} ran: {results:?}");
        if results.get(name) != Some(&Value::Bool(true)) {
            failed.push(format!("{name}: {:?}", results.get(name)));
        }
    }
    assert!(
        failed.is_empty(),
        "checks failed in a fresh isolate:\n  {}",
        failed.join("\n  ")
    );
}

/// Every own property of the global object a worker may see. Standard
/// ECMAScript built-ins, the Web APIs Cloudflare Workers exposes, and three
/// engine built-ins that give no host access (see each comment). Anything
/// else on the global object — an engine helper, a host hook — fails
/// `global_object_holds_only_expected_names`.
const EXPECTED_GLOBALS: &[&str] = &[
    // ECMAScript
    "AggregateError", "Array", "ArrayBuffer", "AsyncDisposableStack", "Atomics", "BigInt", "BigInt64Array",
    "BigUint64Array", "Boolean", "DataView", "Date", "DisposableStack", "Error", "EvalError",
    "FinalizationRegistry", "Float16Array", "Float32Array", "Float64Array", "Function", "Infinity", "Int16Array",
    "Int32Array", "Int8Array", "Intl", "Iterator", "JSON", "Map", "Math", "NaN", "Number", "Object", "Promise",
    "Proxy", "RangeError", "ReferenceError", "Reflect", "RegExp", "Set", "SharedArrayBuffer", "String",
    "SuppressedError", "Symbol", "SyntaxError", "TypeError", "URIError", "Uint16Array", "Uint32Array",
    "Uint8Array", "Uint8ClampedArray", "WeakMap", "WeakRef", "WeakSet", "WebAssembly", "decodeURI",
    "decodeURIComponent", "encodeURI", "encodeURIComponent", "escape", "eval", "globalThis", "isFinite", "isNaN",
    "parseFloat", "parseInt", "undefined", "unescape",
    // QuickJS's error class for engine failures such as stack overflow.
    "InternalError",
    // Temporal, from the engine's polyfill.
    "Temporal",
    // v8x's Intl stub (and through it Temporal) looks this up on the global
    // object at every call; a pure function, nothing Intl does not give.
    "__v8xTemporalTimeZone",
    // Web APIs
    "AbortController", "AbortSignal", "Blob", "ByteLengthQueuingStrategy", "CompressionStream",
    "CountQueuingStrategy", "Crypto", "CryptoKey", "CustomEvent", "DOMException", "DecompressionStream",
    "ErrorEvent", "Event", "EventTarget", "File", "FormData", "Headers", "MessageChannel", "MessagePort",
    "Performance", "PromiseRejectionEvent", "ReadableByteStreamController", "ReadableStream",
    "ReadableStreamBYOBReader", "ReadableStreamBYOBRequest", "ReadableStreamDefaultController",
    "ReadableStreamDefaultReader", "Request", "Response", "SubtleCrypto", "TextDecoder", "TextDecoderStream",
    "TextEncoder", "TextEncoderStream", "TransformStream", "TransformStreamDefaultController", "URL",
    "URLPattern", "URLSearchParams", "WritableStream", "WritableStreamDefaultController",
    "WritableStreamDefaultWriter", "addEventListener", "atob", "btoa", "clearInterval", "clearTimeout", "console",
    "crypto", "fetch", "navigator", "performance", "queueMicrotask", "reportError", "self", "setInterval",
    "setTimeout", "structuredClone",
    // Cloudflare's own: docs/cdn.md
    "HTMLRewriter", "Cache", "CacheStorage", "caches",
    // The Workers surface beyond the web standards: docs/workers.md
    "Navigator", "scheduler", "IdentityTransformStream", "FixedLengthStream",
    // WebSockets: docs/websockets.md
    "WebSocket", "WebSocketPair", "MessageEvent", "CloseEvent",
    // The global scope is an EventTarget, as Workers' is; service-worker
    // format's event class.
    "removeEventListener", "dispatchEvent", "WorkerGlobalScope", "ServiceWorkerGlobalScope", "FetchEvent",
];

/// The global object holds the expected globals and nothing else: no engine
/// helpers (`__v8xAtomics*`, `__v8xPostForegroundTask`, `__v8x_import_source`,
/// `__v8x_snapshot_intrinsics` with its `gc`), no `ShadowRealm`, no host
/// hooks, and no symbol-keyed properties.
#[tokio::test]
async fn global_object_holds_only_expected_names() {
    let brink = Brink::start(worker("globals.js"), &[]);
    let response = client().get(brink.url("/?surface")).send().await.expect("request");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON body");
    let names: Vec<String> = serde_json::from_value(body["names"].clone()).expect("names");
    let symbols: Vec<String> = serde_json::from_value(body["symbols"].clone()).expect("symbols");
    let unexpected: Vec<&String> = names.iter().filter(|name| !EXPECTED_GLOBALS.contains(&name.as_str())).collect();
    assert!(unexpected.is_empty(), "globals a worker should not see: {unexpected:?}");
    let missing: Vec<&&str> = EXPECTED_GLOBALS.iter().filter(|name| !names.iter().any(|n| n == *name)).collect();
    assert!(missing.is_empty(), "expected globals missing: {missing:?}");
    assert!(symbols.is_empty(), "symbol-keyed globals a worker should not see: {symbols:?}");
}

async fn limits_route(brink: &Brink, path: &str) -> Value {
    let response = client().get(brink.url(path)).send().await.expect("request");
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.expect("JSON body")
}

/// Atomics.wait would park the isolate's thread without using CPU, out of
/// the CPU watchdog's reach; it throws as in Cloudflare Workers, and the
/// isolate keeps serving.
#[tokio::test]
async fn atomics_wait_throws_and_the_isolate_stays_responsive() {
    let brink = Brink::start(worker("engine-limits.js"), &[]);
    let outcome = limits_route(&brink, "/atomics-wait").await;
    assert_eq!(outcome["ok"], false, "{outcome}");
    assert_eq!(outcome["isTypeError"], true, "{outcome}");
    assert_eq!(outcome["message"], "Atomics.wait cannot be called in this context");
    let outcome = limits_route(&brink, "/atomics-notify").await;
    assert_eq!(outcome["value"]["woken"], 0, "{outcome}");
    assert_eq!(outcome["value"]["rangeError"], true, "Atomics.notify still checks its index: {outcome}");
    assert_eq!(limits_route(&brink, "/ping").await["value"], "pong");
}

/// PBKDF2 runs off the isolate thread, where the CPU limit does not reach;
/// counts above Workers' limit of 100,000 are refused before any work.
#[tokio::test]
async fn pbkdf2_iterations_are_bounded() {
    let brink = Brink::start(worker("engine-limits.js"), &["--cpu-ms", "50"]);
    let outcome = limits_route(&brink, "/pbkdf2?n=10000000").await;
    assert_eq!(outcome["ok"], false, "{outcome}");
    assert_eq!(outcome["name"], "NotSupportedError", "{outcome}");
    assert!(outcome["message"].as_str().unwrap_or("").contains("100000"), "{outcome}");
    let outcome = limits_route(&brink, "/pbkdf2?n=100000").await;
    assert_eq!(outcome["ok"], true, "{outcome}");
    assert_eq!(outcome["value"], 32, "{outcome}");
    // A getter that answers 1000 to the check and 10^7 afterwards is read
    // once: deno_crypto gets the value that was checked.
    let outcome = limits_route(&brink, "/pbkdf2-getter").await;
    assert_eq!(outcome["ok"], true, "{outcome}");
    assert_eq!(outcome["reads"], 1, "{outcome}");
}

/// RSA key generation also runs off the isolate thread and grows with the
/// cube of the key size: sizes past 4096 bits and exponents other than 3 and
/// 65537 (as in Workers) are refused.
#[tokio::test]
async fn rsa_key_generation_is_bounded() {
    let brink = Brink::start(worker("engine-limits.js"), &[]);
    let outcome = limits_route(&brink, "/rsa?bits=4104").await;
    assert_eq!(outcome["ok"], false, "{outcome}");
    assert_eq!(outcome["name"], "OperationError", "{outcome}");
    assert!(outcome["message"].as_str().unwrap_or("").contains("4096"), "{outcome}");
    let outcome = limits_route(&brink, "/rsa?bits=1024&e=17").await;
    assert_eq!(outcome["ok"], false, "{outcome}");
    assert_eq!(outcome["name"], "OperationError", "{outcome}");
    let outcome = limits_route(&brink, "/rsa?bits=1024&e=3").await;
    assert_eq!(outcome, serde_json::json!({ "ok": true, "value": 1024 }));
}

/// Hiding the engine's helpers must not break what was built on them.
#[tokio::test]
async fn temporal_intl_and_dynamic_import_still_work() {
    let brink = Brink::start(worker("engine-limits.js"), &[]);
    let outcome = limits_route(&brink, "/temporal").await;
    assert_eq!(outcome["value"]["paris"], 14, "{outcome}");
    assert_eq!(outcome["value"]["tokyo"], "6/26/2020 AD, 21:00:00", "{outcome}");
    let outcome = limits_route(&brink, "/import").await;
    assert_eq!(outcome, serde_json::json!({ "ok": true, "value": ["punctuation"] }));
}
