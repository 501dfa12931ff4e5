//! `brink kv ... --admin URL` against a running `brink serve`, which holds
//! its store locked: reads and writes go through the admin API, see exactly
//! what the workers see, and need the token.

use brink_tests::worker;
use kv_backend::Backend;

#[macro_use]
mod kv_backend;

fn text(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

on_each_backend!(brink_kv_with_admin_reads_and_writes_a_running_servers_store);

async fn brink_kv_with_admin_reads_and_writes_a_running_servers_store(backend: Backend) {
    let serve = backend.serve(&[]);
    serve.deploy(worker("serve-app.js"), "counter", &["--route", "counter.test", "--var", "WHO=c", "--var", "V=1", "--kv", "COUNTS"]);
    assert_eq!(serve.get("counter.test", "/count").await, (200, "1".to_string()));
    assert_eq!(serve.get("counter.test", "/count").await, (200, "2".to_string()));
    let admin = serve.admin.clone();
    let kv = |args: &[&str]| {
        let mut all = vec!["kv"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--namespace", "counter__COUNTS", "--admin", &admin]);
        serve.cli(&all)
    };

    // The worker's writes are visible…
    let got = kv(&["get", "n"]);
    assert!(got.status.success(), "{}", String::from_utf8_lossy(&got.stderr));
    assert_eq!(text(&got), "2");
    // …and the CLI's writes reach the worker.
    let put = kv(&["put", "n", "41", "--metadata", "{\"by\":\"cli\"}"]);
    assert!(put.status.success(), "{}", String::from_utf8_lossy(&put.stderr));
    assert!(text(&put).starts_with("stored n (version "), "{}", text(&put));
    assert_eq!(serve.get("counter.test", "/count").await, (200, "42".to_string()));
    // Keys with characters that need encoding survive the round trip.
    assert!(kv(&["put", "a/b c?d%", "odd"]).status.success());
    assert_eq!(text(&kv(&["get", "a/b c?d%"])), "odd");
    let list = text(&kv(&["list"]));
    let names: Vec<String> = list
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["a/b c?d%", "n"]);
    assert_eq!(text(&kv(&["list", "--prefix", "a/"])).lines().count(), 1);

    // Delete, then the key is gone (non-zero exit, clear message).
    assert!(kv(&["delete", "n"]).status.success());
    let missing = kv(&["get", "n"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not found"));

    // A bad key gets the store's own error; a wrong token changes nothing.
    let too_long = "k".repeat(600);
    let refused = kv(&["put", &too_long, "x"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("512"), "{}", String::from_utf8_lossy(&refused.stderr));
    let intruder = serve.cli_with_token(
        &["kv", "put", "a/b c?d%", "hacked", "--namespace", "counter__COUNTS", "--admin", &admin],
        Some("wrong-token"),
    );
    assert!(!intruder.status.success());
    assert!(String::from_utf8_lossy(&intruder.stderr).contains("401"), "{}", String::from_utf8_lossy(&intruder.stderr));
    assert_eq!(text(&kv(&["get", "a/b c?d%"])), "odd");
}
