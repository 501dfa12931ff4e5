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
