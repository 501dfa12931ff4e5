//! KV against hostile tenants and damaged storage, end to end: a worker
//! (`workers/kv-hostile.js`) throws out-of-range numbers, huge lengths and
//! lone surrogates at every KV operation and oversized bulk reads and atomic
//! commits at the store; `brink dev` and `brink kv` meet garbled, truncated
//! and empty store files and missing data directories.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use brink_tests::{brink_bin, client, worker, Brink};
use kv_backend::Backend;
use serde_json::{json, Value};

#[macro_use]
mod kv_backend;

fn start(backend: &Backend, dir: &Path) -> Brink {
    backend.dev(worker("kv-hostile.js"), dir, &["--kv", "KV"])
}

// A hostile tenant meets the same walls on every backend; the damaged-file
// tests below are about the embedded store's file.
on_each_backend!(
    hostile_arguments_are_clear_errors_and_the_process_survives,
    keys_with_lone_surrogates_are_rejected_everywhere,
    bulk_get_and_atomic_commits_have_a_total_size_cap,
);

async fn get_json(brink: &Brink, path: &str) -> Value {
    let response = client().get(brink.url(path)).send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "GET {path}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: {e}: {text}"))
}

/// The process answered, is still running, and never logged a panic.
async fn assert_healthy(brink: &mut Brink) {
    assert_eq!(get_json(brink, "/ping").await, json!({"value": "pong"}));
    assert!(brink.wait_exit(std::time::Duration::from_millis(50)).is_none(), "brink exited");
    let logs = brink.logs();
    assert!(!logs.contains("panicked"), "a panic was logged:\n{logs}");
}

fn kv_cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(brink_bin())
        .arg("kv")
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run brink kv")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn hostile_arguments_are_clear_errors_and_the_process_survives(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut brink = start(&backend, dir.path());

    let report = get_json(&brink, "/hostile").await;
    let mut failures = Vec::new();
    for (case, outcome) in report["cases"].as_object().unwrap() {
        let expected: Vec<&str> = outcome["expected"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        let name = outcome["error"]["name"].as_str().unwrap_or("<no error>");
        let message = outcome["error"]["message"].as_str().unwrap_or("");
        if !expected.contains(&name) {
            failures.push(format!("{case}: expected {expected:?}, got {name}: {message} (result {})", outcome["result"]));
        }
        if !message.starts_with("KV ") || message.contains("internal error") || message.len() > 300 {
            failures.push(format!("{case}: unclear message {message:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(report["stored"], json!([]), "a rejected call stored something");

    let report = get_json(&brink, "/allowed").await;
    for (case, outcome) in report["cases"].as_object().unwrap() {
        assert!(outcome["error"].is_null(), "{case}: {}", outcome["error"]);
    }
    assert_eq!(report["cases"]["get_cache_ttl_1e20"]["result"], Value::Null);
    assert_eq!(report["cases"]["bulk_cache_ttl_1e20"]["result"], 2);
    assert_eq!(report["cases"]["ttl_max_safe"]["result"], "v");
    assert_eq!(report["stored"], json!([]));

    assert_healthy(&mut brink).await;
}

async fn keys_with_lone_surrogates_are_rejected_everywhere(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut brink = start(&backend, dir.path());
    let report = get_json(&brink, "/surrogates").await;
    let cases = report["cases"].as_object().unwrap();
    assert_eq!(cases.len(), 50);
    for (case, outcome) in cases {
        assert_eq!(outcome["error"]["name"], "TypeError", "{case}: {outcome}");
        let message = outcome["error"]["message"].as_str().unwrap();
        assert!(message.contains("lone surrogate") && message.starts_with("KV "), "{case}: {message}");
    }
    // Nothing was stored under a lossy conversion of any of them.
    assert_eq!(report["stored"], json!([]));
    assert_eq!(report["pair"], "emoji");
    assert_eq!(report["listed"], json!(["pair:\u{1F600}"]));
    assert_healthy(&mut brink).await;
}

async fn bulk_get_and_atomic_commits_have_a_total_size_cap(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut brink = start(&backend, dir.path());
    for key in ["big1", "big2", "big3"] {
        assert_eq!(get_json(&brink, &format!("/put-big?key={key}&mib=10")).await, json!({"ok": true}));
    }
    let mib10 = 10 * 1024 * 1024;

    // Two values (20 MiB) are within the 25 MiB total.
    let two = get_json(&brink, "/bulk-big?keys=big1,big2").await;
    assert_eq!(two["result"], json!([mib10, mib10]), "{two}");
    // Three (30 MiB) are not, whether read from the store or (now partly)
    // from the read cache.
    for cache_ttl in ["0", "60"] {
        let three = get_json(&brink, &format!("/bulk-big?keys=big1,big2,big3&cacheTtl={cache_ttl}")).await;
        assert_eq!(three["error"]["name"], "RangeError", "{three}");
        let message = three["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("KV get() failed") && message.contains("26214400 bytes"), "{message}");
    }

    // An atomic commit of 3 × 10 MiB is refused whole; 2 × 10 MiB is fine.
    let three = get_json(&brink, "/atomic-big?count=3&mib=10").await;
    assert_eq!(three["error"]["name"], "RangeError", "{three}");
    let message = three["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("KV atomic() failed") && message.contains("26214400 bytes"), "{message}");
    assert_eq!(three["stored"], json!([]));
    let two = get_json(&brink, "/atomic-big?count=2&mib=10").await;
    assert_eq!(two["result"]["ok"], true, "{two}");
    assert_eq!(two["stored"], json!(["atomic-big0", "atomic-big1"]));

    assert_healthy(&mut brink).await;
}

/// A store with one key, written by the CLI, then damaged by `damage`.
fn damaged_store(damage: impl FnOnce(&Path)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = kv_cli(dir.path(), &["put", "--namespace", "KV", "greeting", "hello"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    damage(&dir.path().join("kv.redb"));
    dir
}

fn garble(path: &Path) {
    let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(4096)).unwrap();
    let garbage: Vec<u8> = (0..100_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    file.write_all(&garbage).unwrap();
}

fn truncate(path: &Path) {
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    let len = file.metadata().unwrap().len();
    file.set_len(len / 2).unwrap();
}

fn empty(path: &Path) {
    std::fs::File::create(path).unwrap();
}

fn assert_clear_refusal(what: &str, status: std::process::ExitStatus, stderr: &str, store: &Path) {
    assert!(!status.success(), "{what}: exited successfully:\n{stderr}");
    assert_ne!(status.code(), Some(101), "{what}: exit code 101 is a Rust panic:\n{stderr}");
    assert!(stderr.contains(&store.display().to_string()) && stderr.contains("is corrupted"), "{what}: {stderr}");
    for needle in ["panicked", "backtrace", "RUST_BACKTRACE"] {
        assert!(!stderr.contains(needle), "{what}: stderr shows {needle:?}:\n{stderr}");
    }
}

#[test]
fn damaged_store_files_are_refused_by_dev_and_the_cli() {
    for (what, damage) in [("garbled", garble as fn(&Path)), ("truncated", truncate), ("empty", empty)] {
        let dir = damaged_store(damage);
        let store = dir.path().join("kv.redb");
        let before = std::fs::read(&store).unwrap();

        let (status, stderr) = Brink::start_expecting_failure(
            worker("kv-hostile.js"),
            &["--data-dir", dir.path().to_str().unwrap(), "--kv", "KV"],
        );
        assert_clear_refusal(&format!("brink dev on a {what} store"), status, &stderr, &store);

        for args in [&["get", "--namespace", "KV", "greeting"][..], &["put", "--namespace", "KV", "k", "v"]] {
            let out = kv_cli(dir.path(), args);
            assert_clear_refusal(&format!("brink kv {} on a {what} store", args[0]), out.status, &text(&out.stderr), &store);
        }
        // Refusing never rewrites (or reinitialises) the file.
        assert_eq!(std::fs::read(&store).unwrap(), before, "{what}: the store file changed");
    }
}

#[test]
fn reading_commands_on_a_missing_data_dir_create_nothing() {
    let parent = tempfile::tempdir().unwrap();
    let missing = parent.path().join("nowhere");
    for args in [&["get", "--namespace", "KV", "greeting"][..], &["list", "--namespace", "KV"]] {
        let out = kv_cli(&missing, args);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "brink kv {}: {stderr}", args[0]);
        assert!(stderr.contains(&format!("no KV store at {}", missing.display())), "brink kv {}: {stderr}", args[0]);
        assert!(!missing.exists(), "brink kv {} created {}", args[0], missing.display());
    }
    // A write creates the store, after which reads work.
    let out = kv_cli(&missing, &["put", "--namespace", "KV", "greeting", "hi"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = kv_cli(&missing, &["get", "--namespace", "KV", "greeting"]);
    assert_eq!(text(&out.stdout), "hi", "{}", text(&out.stderr));
}
