//! Workers KV end to end: a worker (`workers/kv.js`) exposes the binding's API
//! over HTTP, and these tests drive it against real `brink` processes and real
//! data directories — limits, pagination, TTLs, atomic compare-and-set,
//! persistence, namespace isolation, the `brink kv` CLI, and acknowledged
//! writes surviving `kill -9`.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brink_tests::{brink_bin, client, worker, Brink};
use kv_backend::Backend;
use serde_json::{json, Value};

#[macro_use]
mod kv_backend;

fn start(dir: &Path, extra: &[&str]) -> Brink {
    start_on(&Backend::Embedded, dir, extra)
}

/// `brink dev` running `workers/kv.js` on `backend` (binding `KV` unless
/// `extra` binds namespaces itself).
fn start_on(backend: &Backend, dir: &Path, extra: &[&str]) -> Brink {
    let mut args = Vec::new();
    if !extra.iter().any(|a| *a == "--kv") {
        args.extend(["--kv", "KV"]);
    }
    args.extend(extra);
    backend.dev(worker("kv.js"), dir, &args)
}

// The behaviour every backend must share; the tests below the list are
// about the embedded store's own file, CLI and durability.
on_each_backend!(
    worker_reaches_the_whole_api,
    bad_inputs_fail_clearly_and_store_nothing,
    list_paginates_over_thousands_of_keys,
    short_ttls_expire_from_get_list_and_checks,
    atomic_compare_and_set,
    data_survives_a_restart,
    a_binding_reaches_only_its_own_namespace,
);

/// Stops `brink` with SIGTERM and waits, so the store is closed cleanly.
fn stop(mut brink: Brink) {
    brink.terminate();
    assert!(brink.wait_exit(Duration::from_secs(20)).is_some(), "brink did not exit after SIGTERM");
}

async fn get_json(brink: &Brink, path: &str) -> Value {
    let response = client().get(brink.url(path)).send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "GET {path}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: {e}: {text}"))
}

async fn get_query(brink: &Brink, path: &str, query: &[(&str, &str)]) -> Value {
    let response = client().get(brink.url(path)).query(query).send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "GET {path} {query:?}: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn post(brink: &Brink, path: &str, body: impl Into<reqwest::Body>) -> Value {
    post_with(brink, path, body, None).await
}

async fn post_with(brink: &Brink, path: &str, body: impl Into<reqwest::Body>, metadata: Option<&str>) -> Value {
    let mut request = client().post(brink.url(path)).body(body);
    if let Some(metadata) = metadata {
        request = request.header("x-metadata", metadata);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "POST {path}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// `GET /get` returning (x-kind, body bytes).
async fn get_raw(brink: &Brink, path: &str) -> (String, Vec<u8>) {
    let response = client().get(brink.url(path)).send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {path}");
    let kind = response.headers().get("x-kind").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (kind, response.bytes().await.unwrap().to_vec())
}

/// The text value of `key`, or None when the worker's get returned null.
async fn get_text(brink: &Brink, key: &str) -> Option<String> {
    let v = get_query(brink, "/get", &[("key", key)]).await;
    v["value"].as_str().map(str::to_owned)
}

fn kv_cli(dir: &Path, args: &[&str]) -> Output {
    kv_cli_with_stdin(dir, args, None)
}

fn kv_cli_with_stdin(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut command = Command::new(brink_bin());
    command
        .arg("kv")
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("NO_COLOR", "1")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn brink kv");
    if let Some(bytes) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn worker_reaches_the_whole_api(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let brink = start_on(&backend, dir.path(), &[]);

    // get: all four types of a missing key are null.
    for ty in ["text", "json", "arrayBuffer", "stream"] {
        let v = get_json(&brink, &format!("/get?key=missing&type={ty}")).await;
        assert_eq!(v, json!({"value": null, "kind": "null"}), "type {ty}");
    }
    assert_eq!(get_json(&brink, "/meta?key=missing").await, json!({"value": null, "metadata": null, "version": null, "cacheStatus": null}));

    // A string value, read back as each type.
    post(&brink, "/put?key=greeting", r#"{"hello":"wörld"}"#).await;
    assert_eq!(get_json(&brink, "/get?key=greeting").await, json!({"value": r#"{"hello":"wörld"}"#, "kind": "string"}));
    assert_eq!(get_json(&brink, "/get?key=greeting&type=text").await["value"], r#"{"hello":"wörld"}"#);
    assert_eq!(get_json(&brink, "/get?key=greeting&type=json").await, json!({"value": {"hello": "wörld"}, "kind": "object"}));
    assert_eq!(get_json(&brink, "/get?key=greeting&type=json&shorthand=1").await["value"], json!({"hello": "wörld"}));
    let (kind, bytes) = get_raw(&brink, "/get?key=greeting&type=arrayBuffer").await;
    assert_eq!((kind.as_str(), text(&bytes).as_str()), ("ArrayBuffer", r#"{"hello":"wörld"}"#));
    let (kind, bytes) = get_raw(&brink, "/get?key=greeting&type=stream").await;
    assert_eq!((kind.as_str(), text(&bytes).as_str()), ("ReadableStream", r#"{"hello":"wörld"}"#));

    // Binary values through every value shape put() accepts.
    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    for shape in ["arrayBuffer", "uint8array", "dataview", "stream", "chunked-stream"] {
        let key = format!("bin-{shape}");
        let body = if shape == "chunked-stream" { b"text in many small pieces, some as strings".to_vec() } else { binary.clone() };
        post(&brink, &format!("/put?key={key}&as={shape}"), body.clone()).await;
        let (_, back) = get_raw(&brink, &format!("/get?key={key}&type=arrayBuffer")).await;
        assert_eq!(back.len(), body.len(), "{shape}: length");
        assert!(back == body, "{shape}: bytes differ");
        let (_, back) = get_raw(&brink, &format!("/get?key={key}&type=stream")).await;
        assert!(back == body, "{shape}: bytes differ as a stream");
    }
    // A 1 MiB value streamed from the request body.
    let big: Vec<u8> = (0..1024 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    post(&brink, "/put?key=big&as=stream", big.clone()).await;
    let (_, back) = get_raw(&brink, "/get?key=big&type=arrayBuffer").await;
    assert!(back == big, "1 MiB streamed value differs");

    // Metadata and versions.
    post_with(&brink, "/put?key=user:7", "seven", Some(r#"{"plan":"pro","n":[1,2]}"#)).await;
    let meta = get_json(&brink, "/meta?key=user:7").await;
    assert_eq!(meta["value"], "seven");
    assert_eq!(meta["metadata"], json!({"plan": "pro", "n": [1, 2]}));
    let v1 = meta["version"].as_u64().expect("version is a number");
    let meta_json = get_json(&brink, "/meta?key=greeting&type=json").await;
    assert_eq!(meta_json["value"], json!({"hello": "wörld"}));
    assert_eq!(meta_json["metadata"], Value::Null);
    // A put without metadata drops the old metadata and gets a new version.
    post(&brink, "/put?key=user:7", "seven again").await;
    let meta = get_json(&brink, "/meta?key=user:7").await;
    assert_eq!(meta["value"], "seven again");
    assert_eq!(meta["metadata"], Value::Null);
    let v2 = meta["version"].as_u64().unwrap();
    assert_ne!(v1, v2);
    assert!(v2 > v1);

    // Multi-key get: a Map in key order, null for missing.
    let bulk = get_json(&brink, "/bulk?keys=user:7,nope,greeting").await;
    assert_eq!(bulk, json!({"isMap": true, "entries": [["user:7", "seven again"], ["nope", null], ["greeting", r#"{"hello":"wörld"}"#]]}));
    let bulk = get_json(&brink, "/bulk?keys=greeting,nope&type=json").await;
    assert_eq!(bulk["entries"], json!([["greeting", {"hello": "wörld"}], ["nope", null]]));
    post_with(&brink, "/put?key=m1", "one", Some(r#"{"m":1}"#)).await;
    let bulk = get_json(&brink, "/bulk?keys=m1,nope&meta=1").await;
    assert_eq!(bulk["isMap"], true);
    assert_eq!(bulk["entries"][0][1]["value"], "one");
    assert_eq!(bulk["entries"][0][1]["metadata"], json!({"m": 1}));
    assert!(bulk["entries"][0][1]["version"].is_u64());
    assert_eq!(bulk["entries"][1][1], json!({"value": null, "metadata": null, "version": null, "cacheStatus": null}));

    // Reads with cacheTtl still see this process's writes at once.
    assert_eq!(get_json(&brink, "/get?key=cached&cacheTtl=60").await["value"], Value::Null);
    post(&brink, "/put?key=cached", "first").await;
    assert_eq!(get_json(&brink, "/get?key=cached&cacheTtl=60").await["value"], "first");
    post(&brink, "/put?key=cached", "second").await;
    assert_eq!(get_json(&brink, "/get?key=cached&cacheTtl=60").await["value"], "second");
    post(&brink, "/delete?key=cached", "").await;
    assert_eq!(get_json(&brink, "/get?key=cached&cacheTtl=60").await["value"], Value::Null);

    // delete, also of a key that does not exist.
    post(&brink, "/delete?key=greeting", "").await;
    assert_eq!(get_text(&brink, "greeting").await, None);
    assert_eq!(get_json(&brink, "/meta?key=greeting").await["version"], Value::Null);
    post(&brink, "/delete?key=never-existed", "").await;

    // Unicode keys.
    post(&brink, "/put?key=%E3%81%93%E3%82%93/%F0%9F%90%88", "cat").await;
    assert_eq!(get_text(&brink, "こん/🐈").await.as_deref(), Some("cat"));

    // list: byte order, metadata and expiration fields.
    post_with(&brink, "/put?key=ttl-key&ttl=3600", "x", Some(r#"{"t":true}"#)).await;
    let page = get_json(&brink, "/list?noargs=1").await;
    let names: Vec<&str> = page["keys"].as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert_eq!(
        names,
        ["big", "bin-arrayBuffer", "bin-chunked-stream", "bin-dataview", "bin-stream", "bin-uint8array", "m1", "ttl-key", "user:7", "こん/🐈"]
    );
    assert_eq!(page["list_complete"], true);
    assert!(page.get("cursor").is_none());
    let ttl_entry = page["keys"].as_array().unwrap().iter().find(|k| k["name"] == "ttl-key").unwrap();
    assert_eq!(ttl_entry["metadata"], json!({"t": true}));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let expiration = ttl_entry["expiration"].as_u64().unwrap();
    assert!((now + 3590..=now + 3610).contains(&expiration), "expiration {expiration}, now {now}");
    let m1 = page["keys"].as_array().unwrap().iter().find(|k| k["name"] == "m1").unwrap();
    assert_eq!(*m1, json!({"name": "m1", "metadata": {"m": 1}}));
    let page = get_json(&brink, "/list?prefix=bin-&limit=2").await;
    assert_eq!(page["keys"], json!([{"name": "bin-arrayBuffer"}, {"name": "bin-chunked-stream"}]));
    assert_eq!(page["list_complete"], false);
    assert!(page["cursor"].is_string());
}

/// (case, expected error name(s), substrings the message must contain)
const BAD_INPUTS: &[(&str, &[&str], &[&str])] = &[
    ("get_unknown_type", &["TypeError"], &["unknown type"]),
    ("key_too_long", &["RangeError"], &["put()", "513", "512 bytes"]),
    ("key_too_long_multibyte", &["RangeError"], &["514", "512 bytes"]),
    ("key_too_long_get", &["RangeError"], &["get()", "512 bytes"]),
    ("key_too_long_delete", &["RangeError"], &["delete()", "512 bytes"]),
    ("key_empty", &["TypeError"], &["empty"]),
    ("key_dot", &["TypeError"], &["not allowed"]),
    ("key_dotdot", &["TypeError"], &["not allowed"]),
    ("key_number_put", &["TypeError"], &["key must be a string", "number"]),
    ("key_number_get", &["TypeError"], &["key must be a string"]),
    ("key_undefined_get", &["TypeError"], &["key must be a string", "undefined"]),
    ("key_null_delete", &["TypeError"], &["key must be a string", "null"]),
    ("key_object_meta", &["TypeError"], &["getWithMetadata()", "key must be a string"]),
    ("key_number_in_bulk", &["TypeError"], &["key must be a string"]),
    ("value_too_large_string", &["RangeError"], &["value length 26214401", "26214400 bytes"]),
    ("value_too_large_buffer", &["RangeError"], &["value length 26214401", "26214400 bytes"]),
    ("value_too_large_stream", &["RangeError"], &["26214400 bytes"]),
    ("value_wrong_type", &["TypeError"], &["value must be a string, ArrayBuffer"]),
    ("value_object", &["TypeError"], &["value must be a string, ArrayBuffer"]),
    ("metadata_too_large", &["RangeError"], &["metadata length", "1024 bytes"]),
    ("metadata_not_serializable", &["TypeError"], &["metadata must be JSON-serializable"]),
    ("expiration_past", &["RangeError"], &["expiration", "not in the future"]),
    ("expiration_zero", &["RangeError"], &["expiration", "greater than 0"]),
    // Wrong-form numbers are refused by the JS binding as TypeError.
    ("expiration_negative", &["RangeError", "TypeError"], &["expiration", "non-negative"]),
    ("expiration_nan", &["RangeError", "TypeError"], &["expiration", "non-negative"]),
    ("expiration_ttl_negative", &["RangeError", "TypeError"], &["expirationTtl", "non-negative"]),
    ("expiration_ttl_nan", &["RangeError", "TypeError"], &["expirationTtl", "non-negative"]),
    ("expiration_ttl_zero", &["RangeError"], &["expirationTtl must be at least 1 second"]),
    ("expiration_both", &["RangeError", "TypeError"], &["either expiration or expirationTtl"]),
    ("bulk_too_many", &["RangeError"], &["101 keys", "limit is 100"]),
    ("bulk_meta_too_many", &["RangeError"], &["101 keys", "limit is 100"]),
    ("list_limit_too_big", &["RangeError"], &["limit 1001", "1000"]),
    ("list_limit_zero", &["RangeError"], &["limit 0", "1000"]),
    ("list_limit_fraction", &["RangeError", "TypeError"], &["limit"]),
    ("list_prefix_too_long", &["RangeError"], &["prefix length 513", "512 bytes"]),
    ("list_bad_cursor", &["TypeError"], &["invalid cursor"]),
    ("get_negative_cache_ttl", &["TypeError"], &["cacheTtl"]),
    ("atomic_too_many_mutations", &["RangeError"], &["1001 mutations", "limit of 1000"]),
    ("atomic_too_many_checks", &["RangeError"], &["101 checks", "limit of 100"]),
    ("atomic_bad_value", &["RangeError"], &["26214400 bytes"]),
    ("atomic_bad_key", &["RangeError"], &["key length 600", "512 bytes"]),
];

async fn bad_inputs_fail_clearly_and_store_nothing(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let brink = start_on(&backend, dir.path(), &[]);
    let mut failures = Vec::new();
    for (case, names, needles) in BAD_INPUTS {
        let result = get_json(&brink, &format!("/bad?case={case}")).await;
        let error = &result["error"];
        let name = error["name"].as_str().unwrap_or("<no error>");
        let message = error["message"].as_str().unwrap_or("");
        if !names.contains(&name) {
            failures.push(format!("{case}: expected {names:?}, got {name}: {message}"));
        }
        if error.is_object() && !message.starts_with("KV ") {
            failures.push(format!("{case}: message does not say it is KV: {message}"));
        }
        for needle in *needles {
            if !message.contains(needle) {
                failures.push(format!("{case}: message {message:?} lacks {needle:?}"));
            }
        }
        if result["stored"] != json!([]) {
            failures.push(format!("{case}: stored {}", result["stored"]));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Nothing of any bad case reached the store.
    assert_eq!(get_json(&brink, "/list").await["keys"], json!([]));

    // Exactly at each limit is fine.
    let edge = |case: &'static str| {
        let url = format!("/edge?case={case}");
        let brink = &brink;
        async move { get_json(brink, &url).await["result"].clone() }
    };
    assert_eq!(edge("key_512").await, "v");
    assert_eq!(edge("value_25mib").await, true);
    assert_eq!(edge("metadata_1024").await, 1016);
    assert_eq!(edge("bulk_100").await, 100);
    assert!(edge("list_1000").await.is_u64());
    // The isolate is still healthy after all that.
    post(&brink, "/put?key=after", "fine").await;
    assert_eq!(get_text(&brink, "after").await.as_deref(), Some("fine"));
}

fn expected_keys() -> (Vec<String>, Vec<String>) {
    // Unpadded numbers, so byte order differs from numeric order.
    let mut p1: Vec<String> = (0..1200).map(|i| format!("p1:{i}")).collect();
    p1.push("p1:é".into());
    p1.push("p1:Z".into());
    let p2: Vec<String> = (0..900).map(|i| format!("p2:{i:04}")).collect();
    (p1, p2)
}

async fn fill(brink: &Brink, keys: &[String], metadata: bool) {
    for batch in keys.chunks(1000) {
        let res = post(brink, "/fill", json!({"keys": batch, "metadata": metadata}).to_string()).await;
        assert_eq!(res["ok"], true, "{res}");
    }
}

/// Walks every page of `prefix` with page size `limit`; returns names and page sizes.
async fn walk(brink: &Brink, prefix: Option<&str>, limit: Option<usize>) -> (Vec<String>, Vec<usize>) {
    let mut names = Vec::new();
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    let limit = limit.map(|l| l.to_string());
    for _ in 0..100 {
        let mut query = Vec::new();
        if let Some(p) = prefix {
            query.push(("prefix", p));
        }
        if let Some(l) = &limit {
            query.push(("limit", l.as_str()));
        }
        if let Some(c) = &cursor {
            query.push(("cursor", c.as_str()));
        }
        let page = get_query(brink, "/list", &query).await;
        let keys = page["keys"].as_array().unwrap();
        pages.push(keys.len());
        names.extend(keys.iter().map(|k| k["name"].as_str().unwrap().to_owned()));
        if page["list_complete"] == true {
            assert!(page.get("cursor").is_none(), "a complete page has no cursor");
            return (names, pages);
        }
        cursor = Some(page["cursor"].as_str().expect("incomplete page has a cursor").to_owned());
    }
    panic!("list never completed");
}

fn byte_sorted(keys: &[String]) -> Vec<String> {
    let mut keys = keys.to_vec();
    keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    keys
}

async fn list_paginates_over_thousands_of_keys(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let brink = start_on(&backend, dir.path(), &[]);
    let (p1, p2) = expected_keys();
    fill(&brink, &p1, true).await;
    fill(&brink, &p2, false).await;
    // Neighbours that share a leading byte with the prefixes but are outside them.
    fill(&brink, &["p0".into(), "p1".into(), "p1;".into(), "p3:0".into()], false).await;

    let (names, pages) = walk(&brink, Some("p1:"), Some(500)).await;
    assert_eq!(pages, [500, 500, 202]);
    assert_eq!(names, byte_sorted(&p1));

    let (names, pages) = walk(&brink, Some("p2:"), None).await;
    assert_eq!(pages, [900], "default page size is 1000");
    assert_eq!(names, byte_sorted(&p2));

    let (names, pages) = walk(&brink, Some("p2:"), Some(300)).await;
    assert_eq!(pages, [300, 300, 300], "an exact multiple ends with a complete page");
    assert_eq!(names, byte_sorted(&p2));

    let mut all: Vec<String> = p1.iter().chain(&p2).cloned().collect();
    all.extend(["p0", "p1", "p1;", "p3:0"].map(String::from));
    let (names, pages) = walk(&brink, None, Some(1000)).await;
    assert_eq!(pages, [1000, 1000, 106]);
    assert_eq!(names, byte_sorted(&all));
    assert_eq!(names.iter().collect::<BTreeSet<_>>().len(), names.len(), "no repeats");

    // Metadata comes with listed keys.
    let page = get_json(&brink, "/list?prefix=p1:&limit=1").await;
    assert_eq!(page["keys"], json!([{"name": "p1:0", "metadata": {"k": "p1:0"}}]));

    // Changes between pages neither skip nor repeat the other keys.
    let first = get_json(&brink, "/list?prefix=p2:&limit=400").await;
    let cursor = first["cursor"].as_str().unwrap().to_owned();
    post(&brink, "/delete?key=p2:0000", "").await; // already returned
    post(&brink, "/put?key=p2:0000a", "new").await; // sorts before the cursor
    post(&brink, "/delete?key=p2:0500", "").await; // not yet returned: must vanish
    post(&brink, "/put?key=p2:0899z", "new").await; // after the cursor: must appear
    let mut rest = Vec::new();
    let mut cursor = Some(cursor);
    while let Some(c) = cursor {
        let page = get_query(&brink, "/list", &[("prefix", "p2:"), ("limit", "400"), ("cursor", &c)]).await;
        rest.extend(page["keys"].as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap().to_owned()));
        cursor = page["cursor"].as_str().map(str::to_owned);
    }
    let mut expected: Vec<String> = (400..900).filter(|i| *i != 500).map(|i| format!("p2:{i:04}")).collect();
    expected.push("p2:0899z".into());
    assert_eq!(rest, byte_sorted(&expected));
}

async fn short_ttls_expire_from_get_list_and_checks(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let brink = start_on(&backend, dir.path(), &[]);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    post(&brink, "/put?key=short&ttl=1", "soon gone").await;
    post(&brink, &format!("/put?key=absolute&expiration={}", now + 2), "also gone").await;
    post(&brink, "/put?key=long&ttl=3600", "stays").await;
    post(&brink, "/put?key=forever", "stays").await;
    // Present right away, also in the read cache.
    assert_eq!(get_json(&brink, "/get?key=short&cacheTtl=60").await["value"], "soon gone");
    assert_eq!(get_text(&brink, "absolute").await.as_deref(), Some("also gone"));
    let listed = get_json(&brink, "/list").await;
    assert_eq!(listed["keys"].as_array().unwrap().len(), 4);
    let short = listed["keys"].as_array().unwrap().iter().find(|k| k["name"] == "short").unwrap();
    let expiration = short["expiration"].as_u64().unwrap();
    assert!((now + 1..=now + 3).contains(&expiration), "{expiration} vs now {now}");

    // Gone within a few seconds (rounded up to whole seconds: at most ~2 s for ttl 1).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let short = get_json(&brink, "/get?key=short&cacheTtl=60").await["value"].clone();
        let absolute = get_text(&brink, "absolute").await;
        if short.is_null() && absolute.is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "keys with short TTLs did not expire");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let listed = get_json(&brink, "/list").await;
    assert_eq!(listed["keys"], json!([{"name": "forever"}, {"name": "long", "expiration": listed["keys"][1]["expiration"]}]));
    assert_eq!(get_json(&brink, "/meta?key=short").await["value"], Value::Null);
    assert_eq!(get_json(&brink, "/bulk?keys=short,long").await["entries"], json!([["short", null], ["long", "stays"]]));
    // An expired key counts as absent for atomic checks.
    let res = post(&brink, "/atomic", json!({"checks": [{"key": "short", "version": null}], "set": [{"key": "short", "value": "reborn"}]}).to_string()).await;
    assert_eq!(res["ok"], true);
    assert_eq!(get_text(&brink, "short").await.as_deref(), Some("reborn"));
    // Atomic sets honour expirationTtl too.
    let res = post(&brink, "/atomic", json!({"set": [{"key": "atomic-ttl", "value": "v", "expirationTtl": 1}]}).to_string()).await;
    assert_eq!(res["ok"], true);
    let deadline = Instant::now() + Duration::from_secs(10);
    while get_text(&brink, "atomic-ttl").await.is_some() {
        assert!(Instant::now() < deadline, "atomic set with expirationTtl did not expire");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn atomic_compare_and_set(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let brink = start_on(&backend, dir.path(), &["--isolates", "2"]);
    let atomic = |spec: Value| {
        let brink = &brink;
        async move { post(brink, "/atomic", spec.to_string()).await }
    };
    post(&brink, "/put?key=a", "1").await;
    let v1 = get_json(&brink, "/meta?key=a").await["version"].as_u64().unwrap();

    // The right version: applied, with one new version for every mutation.
    let res = atomic(json!({"checks": [{"key": "a", "version": v1}], "set": [{"key": "a", "value": "2"}, {"key": "b", "value": "B", "metadata": {"x": 1}}]})).await;
    assert_eq!(res["ok"], true, "{res}");
    let v2 = res["version"].as_u64().unwrap();
    assert!(v2 > v1);
    assert_eq!(get_json(&brink, "/meta?key=a").await["version"], v2);
    assert_eq!(get_json(&brink, "/meta?key=b").await, json!({"value": "B", "metadata": {"x": 1}, "version": v2, "cacheStatus": null}));

    // A stale version: {ok: false}, nothing written (not even the other mutations).
    let res = atomic(json!({"checks": [{"key": "a", "version": v1}], "set": [{"key": "a", "value": "3"}, {"key": "c", "value": "C"}], "delete": ["b"]})).await;
    assert_eq!(res, json!({"ok": false, "version": null}));
    assert_eq!(get_text(&brink, "a").await.as_deref(), Some("2"));
    assert_eq!(get_text(&brink, "b").await.as_deref(), Some("B"));
    assert_eq!(get_text(&brink, "c").await, None);
    // One failing check among several passing ones fails the whole operation.
    let res = atomic(json!({"checks": [{"key": "a", "version": v2}, {"key": "b", "version": null}], "set": [{"key": "c", "value": "C"}]})).await;
    assert_eq!(res["ok"], false);
    assert_eq!(get_text(&brink, "c").await, None);

    // version: null means the key must not exist.
    let res = atomic(json!({"checks": [{"key": "lock", "version": null}], "set": [{"key": "lock", "value": "mine"}]})).await;
    assert_eq!(res["ok"], true);
    let res = atomic(json!({"checks": [{"key": "lock", "version": null}], "set": [{"key": "lock", "value": "theirs"}]})).await;
    assert_eq!(res, json!({"ok": false, "version": null}));
    assert_eq!(get_text(&brink, "lock").await.as_deref(), Some("mine"));
    let res = atomic(json!({"checks": [{"key": "a", "version": null}], "set": [{"key": "a", "value": "x"}]})).await;
    assert_eq!(res["ok"], false, "an existing key fails a must-not-exist check");

    // Checks without mutations, and deletes.
    assert_eq!(atomic(json!({"checks": [{"key": "a", "version": v2}]})).await, json!({"ok": true, "version": null}));
    assert_eq!(atomic(json!({"checks": [{"key": "a", "version": v1}]})).await, json!({"ok": false, "version": null}));
    let res = atomic(json!({"checks": [{"key": "a", "version": v2}], "delete": ["a", "lock"], "set": [{"key": "d", "value": "D"}]})).await;
    assert_eq!(res["ok"], true);
    assert_eq!(get_text(&brink, "a").await, None);
    assert_eq!(get_text(&brink, "lock").await, None);
    assert_eq!(get_text(&brink, "d").await.as_deref(), Some("D"));
    // After a delete, the key is absent again for a null check.
    assert_eq!(atomic(json!({"checks": [{"key": "a", "version": null}]})).await["ok"], true);

    // Concurrent read-modify-write from two isolates ends exact.
    let increments = 24;
    let mut tasks = Vec::new();
    for _ in 0..increments {
        let url = brink.url("/incr?key=counter");
        tasks.push(tokio::spawn(async move {
            let response = client().get(url).send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }));
    }
    let mut values = BTreeSet::new();
    for task in tasks {
        values.insert(task.await.unwrap()["value"].as_str().unwrap().parse::<u32>().unwrap());
    }
    assert_eq!(values, (1..=increments).collect::<BTreeSet<_>>(), "every increment saw a distinct count");
    assert_eq!(get_text(&brink, "counter").await, Some(increments.to_string()));
}

async fn data_survives_a_restart(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let binary: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
    let brink = start_on(&backend, dir.path(), &[]);
    post(&brink, "/put?key=plain", "hello").await;
    post_with(&brink, "/put?key=meta&ttl=3600", "with metadata", Some(r#"{"a":[1,"b"]}"#)).await;
    post(&brink, "/put?key=bin&as=arrayBuffer", binary.clone()).await;
    post(&brink, "/put?key=gone", "deleted").await;
    post(&brink, "/delete?key=gone", "").await;
    let before = get_json(&brink, "/meta?key=meta").await;
    let list_before = get_json(&brink, "/list").await;
    stop(brink);

    let brink = start_on(&backend, dir.path(), &[]);
    assert_eq!(get_text(&brink, "plain").await.as_deref(), Some("hello"));
    assert_eq!(get_json(&brink, "/meta?key=meta").await, before);
    let (_, back) = get_raw(&brink, "/get?key=bin&type=arrayBuffer").await;
    assert!(back == binary);
    assert_eq!(get_text(&brink, "gone").await, None);
    assert_eq!(get_json(&brink, "/list").await, list_before);
    // Versions keep increasing across restarts.
    post(&brink, "/put?key=plain", "again").await;
    let after = get_json(&brink, "/meta?key=plain").await["version"].as_u64().unwrap();
    assert!(after > before["version"].as_u64().unwrap());
}

async fn a_binding_reaches_only_its_own_namespace(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    // Two bindings in one process.
    let brink = start_on(&backend, dir.path(), &["--kv", "A=alpha", "--kv", "B=beta"]);
    assert_eq!(get_json(&brink, "/bindings").await, json!(["A", "B"]));
    post(&brink, "/put?b=A&key=shared", "from A").await;
    post(&brink, "/put?b=A&key=only-a", "a").await;
    assert_eq!(get_json(&brink, "/get?b=B&key=shared").await["value"], Value::Null);
    assert_eq!(get_json(&brink, "/get?b=B&key=shared&cacheTtl=60").await["value"], Value::Null);
    post(&brink, "/put?b=B&key=shared", "from B").await;
    assert_eq!(get_json(&brink, "/get?b=A&key=shared").await["value"], "from A");
    assert_eq!(get_json(&brink, "/get?b=B&key=shared").await["value"], "from B");
    assert_eq!(get_json(&brink, "/list?b=A").await["keys"], json!([{"name": "only-a"}, {"name": "shared"}]));
    assert_eq!(get_json(&brink, "/list?b=B").await["keys"], json!([{"name": "shared"}]));
    assert_eq!(get_json(&brink, "/bulk?b=B&keys=shared,only-a").await["entries"], json!([["shared", "from B"], ["only-a", null]]));
    // A version from one namespace does not satisfy a check in the other
    // (on the embedded store, where versions come from one counter; on NATS
    // each namespace counts its own, so equal numbers are a coincidence the
    // check rightly accepts).
    if backend.is_embedded() {
        let va = get_json(&brink, "/meta?b=A&key=shared").await["version"].clone();
        let res = post(&brink, "/atomic?b=B", json!({"checks": [{"key": "shared", "version": va}], "set": [{"key": "shared", "value": "x"}]}).to_string()).await;
        assert_eq!(res["ok"], false);
    }
    let res = post(&brink, "/atomic?b=B", json!({"checks": [{"key": "only-a", "version": null}], "set": [{"key": "only-a", "value": "b's own"}]}).to_string()).await;
    assert_eq!(res["ok"], true, "only-a does not exist in B");
    post(&brink, "/delete?b=B&key=shared", "").await;
    assert_eq!(get_json(&brink, "/get?b=A&key=shared").await["value"], "from A");
    assert_eq!(get_json(&brink, "/get?b=A&key=only-a").await["value"], "a");
    stop(brink);

    // One after another on the same data dir: a worker bound to beta sees none of alpha.
    let brink = start_on(&backend, dir.path(), &["--kv", "KV=beta"]);
    assert_eq!(get_json(&brink, "/bindings").await, json!(["KV"]));
    assert_eq!(get_json(&brink, "/list").await["keys"], json!([{"name": "only-a"}]));
    assert_eq!(get_text(&brink, "only-a").await.as_deref(), Some("b's own"));
    assert_eq!(get_text(&brink, "shared").await, None);
    stop(brink);
    let brink = start_on(&backend, dir.path(), &["--kv", "KV=gamma"]);
    assert_eq!(get_json(&brink, "/list").await["keys"], json!([]));
    assert_eq!(get_text(&brink, "shared").await, None);
    stop(brink);

    // The CLI agrees, namespace by namespace (it reads the embedded file).
    if !backend.is_embedded() {
        return;
    }
    let out = kv_cli(dir.path(), &["list", "--namespace", "alpha"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let names: Vec<String> = text(&out.stdout).lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, ["only-a", "shared"]);
}

#[tokio::test]
async fn cli_round_trip_and_interop_with_a_worker() {
    let dir = tempfile::tempdir().unwrap();
    let ok = |out: &Output| {
        assert!(out.status.success(), "exit {}: stdout {} stderr {}", out.status, text(&out.stdout), text(&out.stderr));
        text(&out.stdout)
    };
    let stored = ok(&kv_cli(dir.path(), &["put", "--namespace", "cli", "greeting", "hello world"]));
    assert!(stored.starts_with("stored greeting (version "), "{stored}");
    ok(&kv_cli(dir.path(), &["put", "--namespace", "cli", "--ttl", "3600", "--metadata", r#"{"plan":"pro"}"#, "user:1", "one"]));
    let piped: Vec<u8> = (0..=255u8).collect();
    ok(&kv_cli_with_stdin(dir.path(), &["put", "--namespace", "cli", "from-stdin"], Some(&piped)));
    ok(&kv_cli(dir.path(), &["put", "--namespace", "other", "greeting", "elsewhere"]));

    assert_eq!(ok(&kv_cli(dir.path(), &["get", "--namespace", "cli", "greeting"])), "hello world");
    let out = kv_cli(dir.path(), &["get", "--namespace", "cli", "from-stdin"]);
    assert!(out.status.success());
    assert_eq!(out.stdout, piped, "binary values come back byte for byte");

    let listed: Vec<Value> = ok(&kv_cli(dir.path(), &["list", "--namespace", "cli"])).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let names: Vec<&str> = listed.iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["from-stdin", "greeting", "user:1"]);
    assert_eq!(listed[2]["metadata"], json!({"plan": "pro"}));
    assert!(listed[2]["expiration"].is_u64());
    assert_eq!(listed[1]["expiration"], Value::Null);
    let listed = ok(&kv_cli(dir.path(), &["list", "--namespace", "cli", "--prefix", "user:"]));
    assert_eq!(listed.lines().count(), 1);

    ok(&kv_cli(dir.path(), &["delete", "--namespace", "cli", "greeting"]));
    let out = kv_cli(dir.path(), &["get", "--namespace", "cli", "greeting"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("not found"), "{}", text(&out.stderr));
    assert_eq!(ok(&kv_cli(dir.path(), &["get", "--namespace", "other", "greeting"])), "elsewhere");

    // Bad input through the CLI: the same clear errors, nothing stored.
    let long_key = "k".repeat(513);
    let out = kv_cli(dir.path(), &["put", "--namespace", "cli", &long_key, "v"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("exceeds the limit of 512 bytes"), "{}", text(&out.stderr));
    let out = kv_cli(dir.path(), &["put", "--namespace", "cli", "--metadata", "not json", "k", "v"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("metadata"), "{}", text(&out.stderr));
    let out = kv_cli(dir.path(), &["list", "--namespace", "bad name!"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("invalid KV namespace name"), "{}", text(&out.stderr));
    assert_eq!(ok(&kv_cli(dir.path(), &["list", "--namespace", "cli"])).lines().count(), 2);

    // What the CLI wrote, a worker reads; what the worker writes, the CLI reads.
    let brink = start(dir.path(), &["--kv", "KV=cli"]);
    assert_eq!(get_json(&brink, "/meta?key=user:1").await["metadata"], json!({"plan": "pro"}));
    assert_eq!(get_text(&brink, "user:1").await.as_deref(), Some("one"));
    let (_, bytes) = get_raw(&brink, "/get?key=from-stdin&type=arrayBuffer").await;
    assert_eq!(bytes, piped);
    post(&brink, "/put?key=from-worker", "written by a worker").await;
    stop(brink);
    assert_eq!(ok(&kv_cli(dir.path(), &["get", "--namespace", "cli", "from-worker"])), "written by a worker");
}

#[tokio::test]
async fn the_store_is_refused_while_brink_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let brink = start(dir.path(), &[]);
    post(&brink, "/put?key=k", "v").await;
    for args in [&["get", "--namespace", "KV", "k"][..], &["put", "--namespace", "KV", "new", "value"], &["list", "--namespace", "KV"]] {
        let out = kv_cli(dir.path(), args);
        assert!(!out.status.success(), "{args:?} succeeded while brink holds the store");
        let stderr = text(&out.stderr);
        assert!(stderr.contains("in use by another brink process"), "{args:?}: {stderr}");
        assert!(stderr.contains("kv.redb"), "names the file: {stderr}");
    }
    // A second server on the same data dir refuses to start, with the same message.
    let d = dir.path().to_str().unwrap();
    let (status, logs) = Brink::start_expecting_failure(worker("kv.js"), &["--kv", "KV", "--data-dir", d]);
    assert!(!status.success());
    assert!(logs.contains("in use by another brink process"), "{logs}");
    // The first server is unaffected, and the refused put wrote nothing.
    assert_eq!(get_text(&brink, "k").await.as_deref(), Some("v"));
    assert_eq!(get_text(&brink, "new").await, None);
    stop(brink);
    let out = kv_cli(dir.path(), &["get", "--namespace", "KV", "k"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "v");
}

/// Deterministic value for a storm key: sizes from 1 byte to 300 KiB.
fn storm_value(task: usize, i: usize) -> Vec<u8> {
    const SIZES: [usize; 6] = [1, 100, 1_000, 8 * 1024, 64 * 1024, 300 * 1024];
    let size = SIZES[(task * 7 + i * 13) % SIZES.len()];
    let seed = (task * 1_000_003 + i * 7919) as u32;
    (0..size as u32).map(|j| (seed.wrapping_mul(31).wrapping_add(j.wrapping_mul(2_654_435_761)) >> 13) as u8).collect()
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    const TASKS: usize = 4;
    const MAX_PUTS_PER_TASK: usize = 3000;
    let dir = tempfile::tempdir().unwrap();
    let mut brink = start(dir.path(), &[]);
    // Something written before the storm, so it must be intact too.
    post(&brink, "/put?key=before", "before the storm").await;

    let acked: Arc<Mutex<Vec<(usize, usize)>>> = Arc::default();
    let attempted: Arc<Mutex<Vec<(usize, usize)>>> = Arc::default();
    let ack_count = Arc::new(AtomicUsize::new(0));
    let cut_off = Arc::new(AtomicBool::new(false));
    let storm_deadline = Instant::now() + Duration::from_secs(30);
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let base = brink.base.clone();
        let (acked, attempted, ack_count, cut_off) = (acked.clone(), attempted.clone(), ack_count.clone(), cut_off.clone());
        tasks.push(tokio::spawn(async move {
            let http = client();
            for i in 0..MAX_PUTS_PER_TASK {
                if Instant::now() > storm_deadline {
                    break;
                }
                attempted.lock().unwrap().push((task, i));
                let url = format!("{base}/put?key=storm:{task}:{i}&as=arrayBuffer");
                match http.post(url).body(storm_value(task, i)).timeout(Duration::from_secs(10)).send().await {
                    Ok(response) if response.status().is_success() => {
                        acked.lock().unwrap().push((task, i));
                        ack_count.fetch_add(1, Ordering::SeqCst);
                    }
                    // The process is gone (or going): this task's storm is over.
                    _ => {
                        cut_off.store(true, Ordering::SeqCst);
                        break;
                    }
                }
            }
        }));
    }

    // Kill in the middle of the storm: after a thousand acknowledged puts.
    let wait_deadline = Instant::now() + Duration::from_secs(20);
    while ack_count.load(Ordering::SeqCst) < 1000 && Instant::now() < wait_deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // SAFETY: kill(2) on the brink child this test started.
    unsafe {
        libc::kill(brink.pid() as i32, libc::SIGKILL);
    }
    assert!(brink.wait_exit(Duration::from_secs(10)).is_some(), "brink survived SIGKILL");
    for task in tasks {
        task.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let attempted = attempted.lock().unwrap().clone();
    assert!(cut_off.load(Ordering::SeqCst), "the kill did not land in the middle of the storm");
    assert!(acked.len() >= 100, "only {} puts acknowledged before the kill", acked.len());
    drop(brink);
    eprintln!("storm: {} puts attempted, {} acknowledged before kill -9", attempted.len(), acked.len());

    let brink = start(dir.path(), &[]);
    assert_eq!(get_text(&brink, "before").await.as_deref(), Some("before the storm"));
    let acked_set: BTreeSet<(usize, usize)> = acked.iter().copied().collect();
    let mut lost = Vec::new();
    let mut corrupt = Vec::new();
    let mut unacked_present = 0;
    let http = client();
    for &(task, i) in &attempted {
        let response = http.get(brink.url(&format!("/get?key=storm:{task}:{i}&type=arrayBuffer"))).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let kind = response.headers().get("x-kind").unwrap().to_str().unwrap().to_owned();
        let body = response.bytes().await.unwrap();
        let is_acked = acked_set.contains(&(task, i));
        if kind == "null" {
            if is_acked {
                lost.push(format!("storm:{task}:{i}"));
            }
            continue;
        }
        if !is_acked {
            unacked_present += 1;
        }
        // Acknowledged or not, a value that is there is whole.
        if body.as_ref() != storm_value(task, i).as_slice() {
            corrupt.push(format!("storm:{task}:{i} ({} bytes)", body.len()));
        }
    }
    assert!(lost.is_empty(), "{} acknowledged writes lost: {:?}", lost.len(), &lost[..lost.len().min(20)]);
    assert!(corrupt.is_empty(), "corrupt values: {corrupt:?}");
    // At most the puts in flight at the kill (one per task) may have landed unacknowledged.
    assert!(unacked_present <= TASKS, "{unacked_present} unacknowledged puts present");
    eprintln!("after restart: all {} acknowledged puts intact, {unacked_present} in-flight puts landed", acked.len());
    // The store still takes writes after recovery.
    post(&brink, "/put?key=after", "after the crash").await;
    assert_eq!(get_text(&brink, "after").await.as_deref(), Some("after the crash"));
    let listed = walk(&brink, Some("storm:"), None).await.0;
    let listed: HashMap<String, ()> = listed.into_iter().map(|k| (k, ())).collect();
    for &(task, i) in &acked {
        assert!(listed.contains_key(&format!("storm:{task}:{i}")), "acknowledged key storm:{task}:{i} missing from list");
    }
}
