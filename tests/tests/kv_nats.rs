//! The replicated KV backend end to end: a real 3-node NATS JetStream
//! cluster and two `brink dev --kv-nats` processes (POPs A and B) running
//! `workers/kv.js`, which exposes the KV binding over HTTP.
//!
//! The bar of the fault tests is that no write acknowledged with a 2xx is
//! ever lost. Tests wait for conditions (with generous bounds), never for
//! fixed times. Without a nats-server binary they fail, saying how to
//! install it (`bash scripts/install-nats.sh`; `make test` does).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brink_kv::test_cluster::NatsCluster;
use brink_tests::{client, worker, Brink, BrinkServe};
use serde_json::{json, Value};

/// Upper bound for anything to converge on a busy CI machine.
const CONVERGE: Duration = Duration::from_secs(30);

fn cluster() -> NatsCluster {
    NatsCluster::start(3).unwrap_or_else(|error| panic!("{error}"))
}

fn pop(cluster: &NatsCluster, dir: &Path, name: &str) -> Brink {
    let data = dir.join(name);
    let data = data.to_str().expect("utf-8 path");
    let servers = cluster.urls_joined();
    Brink::start(worker("kv.js"), &["--data-dir", data, "--kv", "KV", "--kv-nats", &servers])
}

fn embedded(dir: &Path) -> Brink {
    let data = dir.join("embedded");
    Brink::start(worker("kv.js"), &["--data-dir", data.to_str().expect("utf-8 path"), "--kv", "KV"])
}

async fn request(brink: &Brink, path: &str, query: &[(&str, &str)], body: Option<Vec<u8>>) -> (u16, Value) {
    let url = brink.url(path);
    let http = client();
    let builder = match body {
        Some(body) => http.post(url).body(body),
        None => http.get(url),
    };
    let response = builder.query(query).timeout(Duration::from_secs(60)).send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn ok(brink: &Brink, path: &str, query: &[(&str, &str)], body: Option<Vec<u8>>) -> Value {
    let (status, value) = request(brink, path, query, body).await;
    assert_eq!(status, 200, "{path} {query:?}: {value}");
    value
}

async fn put(brink: &Brink, key: &str, value: &str) {
    ok(brink, "/put", &[("key", key)], Some(value.as_bytes().to_vec())).await;
}

async fn get(brink: &Brink, key: &str) -> Option<String> {
    ok(brink, "/get", &[("key", key)], None).await["value"].as_str().map(str::to_owned)
}

async fn get_strong(brink: &Brink, key: &str) -> Option<String> {
    ok(brink, "/get", &[("key", key), ("consistency", "strong")], None).await["value"].as_str().map(str::to_owned)
}

async fn wait_until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + CONVERGE;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn list_all(brink: &Brink, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("prefix", prefix.to_owned()), ("limit", "7".to_owned())];
        if let Some(c) = &cursor {
            query.push(("cursor", c.clone()));
        }
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = ok(brink, "/list", &query, None).await;
        for key in page["keys"].as_array().expect("keys") {
            keys.push(key["name"].as_str().expect("name").to_owned());
        }
        if page["list_complete"] == json!(true) {
            return keys;
        }
        cursor = page["cursor"].as_str().map(str::to_owned);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pops_one_store_same_api_as_embedded() {
    let cluster = cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let a = pop(&cluster, dir.path(), "a");
    let b = pop(&cluster, dir.path(), "b");

    // Read-your-writes at A; B sees it at once with a strong read, and
    // through its own index soon after. Keys NATS subjects cannot hold.
    let keys = ["user:1", "a.b.c", "*", ">", "with space", "ünï", "🙂"];
    for key in keys {
        put(&a, key, &format!("v-{key}")).await;
        assert_eq!(get(&a, key).await, Some(format!("v-{key}")));
        assert_eq!(get_strong(&b, key).await, Some(format!("v-{key}")));
    }
    wait_until("B to list A's keys", || async { list_all(&b, "").await.len() == keys.len() }).await;
    let mut sorted: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
    sorted.sort();
    assert_eq!(list_all(&b, "").await, sorted, "list in UTF-8 byte order, paged with cursors");

    // getWithMetadata with consistency, and a bad consistency.
    ok(&a, "/put", &[("key", "m")], Some(b"x".to_vec())).await;
    let meta = ok(&b, "/meta", &[("key", "m"), ("consistency", "strong")], None).await;
    assert_eq!(meta["value"], json!("x"));
    assert!(meta["version"].as_u64().is_some(), "{meta}");
    let (status, thrown) = request(&b, "/get", &[("key", "m"), ("consistency", "linearizable")], None).await;
    assert_eq!(status, 500);
    assert_eq!(thrown["thrown"]["name"], json!("TypeError"), "{thrown}");

    // Deletes propagate.
    ok(&b, "/delete", &[("key", "user:1")], None).await;
    assert_eq!(get(&b, "user:1").await, None);
    wait_until("A to see B's delete", || async { get(&a, "user:1").await.is_none() }).await;

    // Same limits, same errors as the embedded store, case by case.
    let reference = embedded(dir.path());
    let cases = [
        "key_too_long", "key_empty", "key_dot", "value_too_large_buffer", "metadata_too_large",
        "expiration_past", "expiration_ttl_zero", "expiration_both", "bulk_too_many", "list_limit_too_big",
        "list_bad_cursor", "atomic_too_many_mutations", "atomic_bad_value", "atomic_bad_key",
    ];
    for case in cases {
        let want = ok(&reference, "/bad", &[("case", case)], None).await;
        let got = ok(&a, "/bad", &[("case", case)], None).await;
        assert_eq!(got, want, "{case}: NATS backend vs embedded");
    }
    // Values at the limits work (the test cluster sets max_payload 32 MB).
    for case in ["key_512", "metadata_1024", "value_25mib", "bulk_100"] {
        let want = ok(&reference, "/edge", &[("case", case)], None).await;
        let got = ok(&a, "/edge", &[("case", case)], None).await;
        assert_eq!(got, want, "{case}: NATS backend vs embedded");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pops_race_atomic_increments_without_losing_one() {
    let cluster = cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let a = Arc::new(pop(&cluster, dir.path(), "a"));
    let b = Arc::new(pop(&cluster, dir.path(), "b"));
    // 1,000 rounds in all, half through each POP, two clients per POP.
    const PER_CLIENT: usize = 250;
    let mut tasks = Vec::new();
    for pop in [a.clone(), a.clone(), b.clone(), b.clone()] {
        tasks.push(tokio::spawn(async move {
            for _ in 0..PER_CLIENT {
                ok(&pop, "/incr", &[("key", "counter")], None).await;
            }
        }));
    }
    for task in tasks {
        task.await.expect("incr task");
    }
    let total = (4 * PER_CLIENT).to_string();
    assert_eq!(get_strong(&a, "counter").await, Some(total.clone()));
    wait_until("both POPs to agree on the counter", || async {
        get(&a, "counter").await.as_deref() == Some(total.as_str()) && get(&b, "counter").await.as_deref() == Some(total.as_str())
    })
    .await;

    // A multi-key commit whose check lost to the other POP writes nothing.
    let version = ok(&a, "/meta", &[("key", "counter"), ("consistency", "strong")], None).await["version"].clone();
    put(&b, "counter", "bumped-by-b").await;
    let spec = json!({"checks": [{"key": "counter", "version": version}], "set": [{"key": "counter", "value": "x"}, {"key": "other", "value": "y"}]});
    let outcome = ok(&a, "/atomic", &[], Some(spec.to_string().into_bytes())).await;
    assert_eq!(outcome["ok"], json!(false), "{outcome}");
    assert_eq!(get_strong(&a, "other").await, None);
    assert_eq!(get_strong(&a, "counter").await.as_deref(), Some("bumped-by-b"));
}

/// Puts `storm:{task}:{i}` through `pop` from `tasks` clients until `stop`
/// says so; returns the keys acknowledged with a 2xx.
async fn storm(base: String, tasks: usize, acked: Arc<Mutex<Vec<String>>>, count: Arc<AtomicUsize>, stop: Arc<AtomicUsize>) {
    let mut handles = Vec::new();
    for task in 0..tasks {
        let (base, acked, count, stop) = (base.clone(), acked.clone(), count.clone(), stop.clone());
        handles.push(tokio::spawn(async move {
            let http = client();
            let mut i = 0;
            while stop.load(Ordering::SeqCst) == 0 {
                let key = format!("storm:{task}:{i:05}");
                let url = format!("{base}/put");
                let sent = http
                    .post(url)
                    .query(&[("key", key.as_str())])
                    .body(format!("value of {key}"))
                    .timeout(Duration::from_secs(30))
                    .send()
                    .await;
                if let Ok(response) = sent {
                    if response.status().is_success() {
                        acked.lock().expect("lock").push(key);
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                }
                i += 1;
            }
        }));
    }
    for handle in handles {
        handle.await.expect("storm task");
    }
}

async fn wait_for_count(count: &AtomicUsize, at_least: usize) {
    let deadline = Instant::now() + CONVERGE;
    while count.load(Ordering::SeqCst) < at_least {
        assert!(Instant::now() < deadline, "only {} writes acknowledged", count.load(Ordering::SeqCst));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn assert_all_readable(pop: &Brink, acked: &[String], what: &str) {
    wait_until(what, || async { list_all(pop, "storm:").await.len() >= acked.len() }).await;
    let listed: BTreeSet<String> = list_all(pop, "storm:").await.into_iter().collect();
    let lost: Vec<&String> = acked.iter().filter(|k| !listed.contains(*k)).collect();
    assert!(lost.is_empty(), "{what}: {} acknowledged writes lost, e.g. {:?}", lost.len(), &lost[..lost.len().min(10)]);
    // Spot-check values through the worker's get (every 25th key).
    for key in acked.iter().step_by(25) {
        assert_eq!(get(pop, key).await, Some(format!("value of {key}")), "{what}: {key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_a_nats_node_during_a_write_storm_loses_no_acknowledged_write() {
    let mut cluster = cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let a = pop(&cluster, dir.path(), "a");
    let b = pop(&cluster, dir.path(), "b");
    put(&a, "before", "1").await;

    let acked = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicUsize::new(0));
    let storming = tokio::spawn(storm(a.base.clone(), 4, acked.clone(), count.clone(), stop.clone()));
    wait_for_count(&count, 200).await;
    // Kill the node leading the namespace's stream: the survivors must elect
    // a new leader while writes are in flight.
    let leader = cluster.leader_of_namespace("KV").unwrap_or_else(|e| panic!("{e}"));
    cluster.kill(leader);
    let at_kill = count.load(Ordering::SeqCst);
    // Writes keep being acknowledged by the two survivors.
    wait_for_count(&count, at_kill + 200).await;
    stop.store(1, Ordering::SeqCst);
    storming.await.expect("storm");
    let acked = acked.lock().expect("lock").clone();
    eprintln!("storm: {} writes acknowledged, {} after kill -9 of the stream leader (node {})", acked.len(), acked.len() - at_kill, leader + 1);

    assert_all_readable(&a, &acked, "POP A").await;
    assert_all_readable(&b, &acked, "POP B").await;
    cluster.restart(leader).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(get_strong(&b, "before").await.as_deref(), Some("1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pop_killed_with_9_catches_up_after_restart() {
    let cluster = cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let a = pop(&cluster, dir.path(), "a");
    let b = pop(&cluster, dir.path(), "b");
    put(&a, "storm:first", "value of storm:first").await;
    wait_until("B to see the first write", || async { get(&b, "storm:first").await.is_some() }).await;

    // SAFETY: kill(2) on the brink child this test started.
    unsafe {
        libc::kill(b.pid() as i32, libc::SIGKILL);
    }
    drop(b);
    let acked = Arc::new(Mutex::new(vec!["storm:first".to_owned()]));
    let count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicUsize::new(0));
    let storming = tokio::spawn(storm(a.base.clone(), 2, acked.clone(), count.clone(), stop.clone()));
    wait_for_count(&count, 300).await;
    stop.store(1, Ordering::SeqCst);
    storming.await.expect("storm");
    let acked = acked.lock().expect("lock").clone();

    let b = pop(&cluster, dir.path(), "b");
    assert_all_readable(&b, &acked, "restarted POP B").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_cluster_down_reads_are_served_and_writes_fail_fast() {
    let mut cluster = cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let a = pop(&cluster, dir.path(), "a");
    let b = pop(&cluster, dir.path(), "b");
    for i in 0..20 {
        put(&a, &format!("k{i:02}"), "before").await;
    }
    wait_until("B to see A's writes", || async { list_all(&b, "k").await.len() == 20 }).await;

    cluster.kill_all();
    // Reads come from each POP's index.
    assert_eq!(get(&b, "k07").await.as_deref(), Some("before"));
    assert_eq!(list_all(&b, "k").await.len(), 20);
    // A write fails with a clear storage error, well inside the 30 s wall-clock limit.
    let started = Instant::now();
    let (status, thrown) = request(&a, "/put", &[("key", "during")], Some(b"x".to_vec())).await;
    let took = started.elapsed();
    assert_eq!(status, 500, "{thrown}");
    let message = thrown["thrown"]["message"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains("KV storage error") && message.contains("unavailable"), "{message}");
    assert!(took < Duration::from_secs(25), "the failed write took {took:?}");

    // The cluster comes back: writes succeed again and both POPs converge.
    cluster.restart_all().unwrap_or_else(|e| panic!("{e}"));
    wait_until("writes to succeed again", || async {
        request(&a, "/put", &[("key", "after")], Some(b"back".to_vec())).await.0 == 200
    })
    .await;
    wait_until("B to see the write after the outage", || async { get(&b, "after").await.as_deref() == Some("back") }).await;
    assert_eq!(get(&b, "during").await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pop_started_with_the_cluster_down_serves_and_recovers() {
    let mut cluster = cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    cluster.kill_all();
    // The POP starts and answers requests that do not touch KV.
    let a = pop(&cluster, dir.path(), "a");
    let (status, _) = request(&a, "/nothing-here", &[], None).await;
    assert_eq!(status, 404);
    // KV operations fail at once with a clear error, reads included (the
    // POP has never seen the cluster, so its index is not served).
    for (path, body) in [("/get", None), ("/put", Some(b"x".to_vec())), ("/list", None)] {
        let started = Instant::now();
        let (status, thrown) = request(&a, path, &[("key", "k")], body).await;
        assert_eq!(status, 500, "{path}: {thrown}");
        let message = thrown["thrown"]["message"].as_str().unwrap_or_default().to_owned();
        assert!(
            message.contains("KV storage error") && message.contains("has not reached the NATS cluster"),
            "{path}: {message}"
        );
        assert!(started.elapsed() < Duration::from_secs(5), "{path} took {:?}", started.elapsed());
    }
    // The cluster comes up: the same POP writes and reads without a restart.
    cluster.restart_all().unwrap_or_else(|e| panic!("{e}"));
    wait_until("writes to succeed once the cluster is up", || async {
        request(&a, "/put", &[("key", "k")], Some(b"up".to_vec())).await.0 == 200
    })
    .await;
    assert_eq!(get(&a, "k").await.as_deref(), Some("up"));
    assert_eq!(get_strong(&a, "k").await.as_deref(), Some("up"));
    assert_eq!(list_all(&a, "").await, vec!["k".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brink_serve_pops_share_the_replicated_store() {
    let cluster = cluster();
    let servers = cluster.urls_joined();
    let a = BrinkServe::start(&["--kv-nats", &servers]);
    let b = BrinkServe::start(&["--kv-nats", &servers]);
    for pop in [&a, &b] {
        pop.deploy(worker("serve-app.js"), "counter", &["--route", "counter.test", "--var", "WHO=c", "--var", "V=1", "--kv", "COUNTS"]);
    }
    assert_eq!(a.get("counter.test", "/count").await, (200, "1".to_owned()));
    assert_eq!(a.get("counter.test", "/count").await, (200, "2".to_owned()));
    // `brink kv --admin` reads each server's view of the worker's namespace.
    let admin_get = |pop: &BrinkServe| {
        let output = pop.cli(&["kv", "get", "n", "--namespace", "counter__COUNTS", "--admin", &pop.admin]);
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    wait_until("POP B to see A's count", || async { admin_get(&b) == "2" }).await;
    assert_eq!(b.get("counter.test", "/count").await, (200, "3".to_owned()));
    wait_until("POP A to see B's count", || async { admin_get(&a) == "3" }).await;
}
