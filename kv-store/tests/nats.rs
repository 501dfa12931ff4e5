//! The replicated backend against a real 3-node NATS JetStream cluster
//! started by each test: the Workers KV API (keys NATS subjects cannot hold,
//! list order and cursors, limits, expiry), two POPs seeing each other's
//! writes, strong reads, compare-and-set across POPs, all-or-nothing
//! multi-key commits, and catching up after a restart.
//!
//! Without a nats-server binary these tests fail (with how to install it).

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use brink_kv::test_cluster::NatsCluster;
use brink_kv::{
    AtomicCheck, AtomicOperation, KvError, BlockingNamespace, KvOptions, KvStore, ListOptions, Mutation,
    NatsOptions, PutOptions,
};
use common::{expires_in, get_text, key_names, put, with_metadata};

/// Long enough for anything on a busy CI machine; tests wait for a
/// condition, never for a fixed time.
const CONVERGE: Duration = Duration::from_secs(30);

fn cluster() -> NatsCluster {
    match NatsCluster::start(3) {
        Ok(cluster) => cluster,
        Err(error) => panic!("{error}"),
    }
}

fn pop_options(cluster: &NatsCluster, dir: &Path, pop: &str) -> NatsOptions {
    let mut options = NatsOptions::new(cluster.urls(), dir.join(pop));
    options.pop = pop.to_owned();
    options
}

fn pop(cluster: &NatsCluster, dir: &Path, name: &str) -> Arc<KvStore> {
    KvStore::open_nats(pop_options(cluster, dir, name), KvOptions::default()).expect("connect POP")
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + CONVERGE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn set(key: &str, value: &str) -> Mutation {
    Mutation::Set {
        key: key.to_owned(),
        value: value.to_owned().into(),
        options: PutOptions::default(),
    }
}

fn check(key: &str, version: Option<u64>) -> AtomicCheck {
    AtomicCheck {
        key: key.to_owned(),
        version,
    }
}

fn version_of(kv: &BlockingNamespace, key: &str) -> Option<u64> {
    kv.get_strong(key).expect("strong get").map(|e| e.version)
}

#[test]
fn workers_kv_api_on_the_replicated_backend() {
    let cluster = cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = pop(&cluster, dir.path(), "a");
    let kv = store.blocking_namespace("KV").expect("namespace");

    // Keys that NATS subjects cannot hold as they are.
    let keys = ["a.b", "*", ">", "with space", "ünïcödé/é", "🙂", "a", "tab\tkey"];
    for (i, key) in keys.iter().enumerate() {
        put(&kv, key, format!("v{i}"));
    }
    let long = "k".repeat(512);
    put(&kv, &long, "long");
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(get_text(&kv, key, None).as_deref(), Some(format!("v{i}").as_str()), "{key}");
    }
    assert_eq!(get_text(&kv, &long, None).as_deref(), Some("long"));

    // list: UTF-8 byte order of the original keys, pages with cursors.
    let mut expected: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
    expected.push(long.clone());
    expected.sort();
    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let page = kv
            .list(ListOptions { limit: Some(3), cursor: cursor.clone(), ..Default::default() })
            .expect("list");
        listed.extend(key_names(&page).into_iter().map(str::to_owned));
        if page.list_complete {
            break;
        }
        cursor = page.cursor;
    }
    assert_eq!(listed, expected);
    let page = kv
        .list(ListOptions { prefix: Some("a".into()), ..Default::default() })
        .expect("list prefix");
    assert_eq!(key_names(&page), vec!["a", "a.b"]);

    // Metadata (with a newline, which a NATS header could not carry) and delete.
    kv.put("m", "x".into(), with_metadata("{\n\"plan\": \"pro\"}")).expect("put");
    let entry = kv.get("m", None).expect("get").expect("present");
    assert_eq!(entry.metadata.as_deref(), Some("{\n\"plan\": \"pro\"}"));
    kv.delete("m").expect("delete");
    assert_eq!(get_text(&kv, "m", None), None);
    assert_eq!(kv.get_strong("m").expect("strong"), None);
    kv.delete("never-existed").expect("delete absent");

    // The same limits and errors as the embedded store.
    assert!(matches!(kv.put(&"k".repeat(513), "x".into(), PutOptions::default()), Err(KvError::KeyTooLong { .. })));
    assert!(matches!(kv.get("", None), Err(KvError::EmptyKey { .. })));
    assert!(matches!(
        kv.put("x", "x".into(), with_metadata("x".repeat(1025))),
        Err(KvError::MetadataTooLarge { .. })
    ));

    // Versions are JetStream sequences: every write gets a larger one.
    let v1 = put(&kv, "ver", "1");
    let v2 = put(&kv, "ver", "2");
    assert!(v2 > v1);
    assert_eq!(kv.get("ver", None).expect("get").map(|e| e.version), Some(v2));
    assert_eq!(version_of(&kv, "ver"), Some(v2));
}

#[test]
fn values_up_to_25_mib_and_a_clear_error_past_the_servers_max_payload() {
    let cluster = cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = pop(&cluster, dir.path(), "a");
    let kv = store.blocking_namespace("BIG").expect("namespace");
    let big = bytes::Bytes::from(vec![7u8; brink_kv::MAX_VALUE_BYTES]);
    kv.put("big", big.clone(), PutOptions::default()).expect("25 MiB put");
    assert_eq!(kv.get("big", None).expect("get").map(|e| e.value.len()), Some(big.len()));
    assert_eq!(kv.get_strong("big").expect("strong").map(|e| e.value), Some(big));
    drop(kv);
    drop(store);

    // A server left at the default max_payload (1 MB) refuses more, clearly.
    let small = NatsCluster::start_with(1, None).unwrap_or_else(|e| panic!("{e}"));
    let mut options = NatsOptions::new(small.urls(), dir.path().join("small"));
    options.replicas = 1;
    let store = KvStore::open_nats(options, KvOptions::default()).expect("connect");
    let kv = store.blocking_namespace("BIG").expect("namespace");
    let error = kv
        .put("big", vec![0u8; 2 * 1024 * 1024].into(), PutOptions::default())
        .expect_err("2 MiB over a 1 MB max_payload");
    assert!(matches!(error, KvError::ValueTooLargeForStore { .. }), "{error}");
    assert!(error.is_range_error());
    assert!(error.to_string().contains("max_payload"), "{error}");
    kv.put("fits", vec![0u8; 1000 * 1000].into(), PutOptions::default()).expect("1 MB fits");
}

#[test]
fn two_pops_see_each_others_writes_and_read_their_own_at_once() {
    let cluster = cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let a = pop(&cluster, dir.path(), "a").blocking_namespace("KV").expect("ns a");
    let b = pop(&cluster, dir.path(), "b").blocking_namespace("KV").expect("ns b");

    for i in 0..50 {
        let key = format!("k{i:02}");
        put(&a, &key, format!("a{i}"));
        // Read-your-writes at the writing POP, with the 60 s cache too.
        assert_eq!(get_text(&a, &key, Some(Duration::from_secs(60))).as_deref(), Some(format!("a{i}").as_str()));
    }
    // B caches "absent" for a key, then A writes it: B's cache is
    // invalidated by its watch stream, not left stale for 60 s.
    assert_eq!(get_text(&b, "late", Some(Duration::from_secs(60))), None);
    put(&a, "late", "here");
    assert_eq!(b.get_strong("late").expect("strong").map(|e| e.value), Some("here".into()));
    wait_for("B to see A's write", || {
        get_text(&b, "late", Some(Duration::from_secs(60))).as_deref() == Some("here")
    });
    wait_for("B to list all of A's keys", || {
        b.list(ListOptions::default()).map(|p| p.keys.len()).unwrap_or(0) == 51
    });
    for i in 0..50 {
        assert_eq!(get_text(&b, &format!("k{i:02}"), None).as_deref(), Some(format!("a{i}").as_str()));
    }
    // Deletes propagate too.
    b.delete("k00").expect("delete via b");
    wait_for("A to see B's delete", || get_text(&a, "k00", None).is_none());
}

#[test]
fn compare_and_set_across_pops_has_one_winner_per_round() {
    let cluster = cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let a = pop(&cluster, dir.path(), "a").blocking_namespace("CAS").expect("ns a");
    let b = pop(&cluster, dir.path(), "b").blocking_namespace("CAS").expect("ns b");
    put(&a, "counter", "0");
    let rounds = 100;
    let increment = |kv: BlockingNamespace| {
        std::thread::spawn(move || {
            let mut wins = 0u32;
            let mut losses = 0u32;
            while wins < rounds {
                let entry = kv.get_strong("counter").expect("get").expect("present");
                let n: u32 = String::from_utf8_lossy(&entry.value).parse().expect("number");
                let outcome = kv
                    .atomic(AtomicOperation {
                        checks: vec![check("counter", Some(entry.version))],
                        mutations: vec![set("counter", &(n + 1).to_string())],
                    })
                    .expect("commit");
                if outcome.ok {
                    wins += 1;
                } else {
                    losses += 1;
                }
            }
            (wins, losses)
        })
    };
    let ta = increment(a.clone());
    let tb = increment(b.clone());
    let (wa, _la) = ta.join().expect("thread a");
    let (wb, _lb) = tb.join().expect("thread b");
    // Every successful check-and-set added exactly one: no lost update.
    let expected = (wa + wb).to_string();
    assert_eq!(a.get_strong("counter").expect("get").map(|e| e.value), Some(expected.clone().into()));
    wait_for("both POPs to agree", || {
        get_text(&a, "counter", None).as_deref() == Some(expected.as_str())
            && get_text(&b, "counter", None).as_deref() == Some(expected.as_str())
    });
}

#[test]
fn multi_key_commits_are_all_or_nothing() {
    let cluster = cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let a = pop(&cluster, dir.path(), "a").blocking_namespace("TX").expect("ns a");
    let b = pop(&cluster, dir.path(), "b").blocking_namespace("TX").expect("ns b");
    put(&a, "x", "1");
    let vx = version_of(&a, "x");

    // A failing check on an unwritten key: none of the writes happen.
    let outcome = a
        .atomic(AtomicOperation {
            checks: vec![check("x", vx), check("lock", Some(12345))],
            mutations: vec![set("p", "1"), set("q", "1"), Mutation::Delete { key: "x".into() }],
        })
        .expect("commit");
    assert!(!outcome.ok);
    assert_eq!(get_text(&a, "p", None), None);
    assert_eq!(get_text(&a, "x", None).as_deref(), Some("1"));

    // Passing checks (one on a key the commit does not write): all happen.
    let outcome = a
        .atomic(AtomicOperation {
            checks: vec![check("x", vx), check("lock", None)],
            mutations: vec![set("p", "2"), set("q", "2"), set("p", "3"), Mutation::Delete { key: "x".into() }],
        })
        .expect("commit");
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!(get_text(&a, "p", None).as_deref(), Some("3"));
    assert_eq!(get_text(&a, "q", None).as_deref(), Some("2"));
    assert_eq!(get_text(&a, "x", None), None);
    wait_for("B to see the whole commit", || {
        get_text(&b, "p", None).as_deref() == Some("3")
            && get_text(&b, "q", None).as_deref() == Some("2")
            && get_text(&b, "x", None).is_none()
    });
    // Every key of the commit has the commit's version, as on the embedded
    // store: at the writing POP, at the other one, and from the leader.
    assert!(outcome.version.is_some());
    for key in ["p", "q"] {
        assert_eq!(a.get(key, None).expect("get").map(|e| e.version), outcome.version, "{key} at A");
        assert_eq!(b.get(key, None).expect("get").map(|e| e.version), outcome.version, "{key} at B");
        assert_eq!(b.get_strong(key).expect("get").map(|e| e.version), outcome.version, "{key} strong");
    }
    // Both versions work as checks in a later commit.
    let outcome = b
        .atomic(AtomicOperation {
            checks: vec![check("p", version_of(&b, "p")), check("q", version_of(&b, "q"))],
            mutations: vec![set("p", "4")],
        })
        .expect("commit");
    assert!(outcome.ok, "{outcome:?}");

    // A check that lost to B's write fails cleanly, writing nothing.
    let vq = version_of(&a, "q");
    put(&b, "q", "from-b");
    let outcome = a
        .atomic(AtomicOperation {
            checks: vec![check("q", vq)],
            mutations: vec![set("q", "from-a"), set("r", "from-a")],
        })
        .expect("commit");
    assert!(!outcome.ok);
    assert_eq!(a.get_strong("q").expect("get").map(|e| e.value), Some("from-b".into()));
    assert_eq!(a.get_strong("r").expect("get"), None);

    // Checks only: no version, nothing written.
    let outcome = a
        .atomic(AtomicOperation { checks: vec![check("r", None)], mutations: vec![] })
        .expect("commit");
    assert_eq!((outcome.ok, outcome.version), (true, None));
}

#[test]
fn ttls_under_a_minute_expire_everywhere() {
    let cluster = cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let a = pop(&cluster, dir.path(), "a").blocking_namespace("TTL").expect("ns a");
    let b = pop(&cluster, dir.path(), "b").blocking_namespace("TTL").expect("ns b");
    a.put("short", "x".into(), expires_in(1)).expect("put");
    a.put("long", "y".into(), expires_in(3600)).expect("put");
    let entry = a.get("short", None).expect("get").expect("present");
    assert!(entry.expiration.is_some());
    wait_for("B to see the key", || get_text(&b, "long", None).is_some());
    wait_for("the key to expire on both POPs and in the cluster", || {
        get_text(&a, "short", None).is_none()
            && get_text(&b, "short", None).is_none()
            && a.get_strong("short").ok() == Some(None)
    });
    assert_eq!(key_names(&b.list(ListOptions::default()).expect("list")), vec!["long"]);
    // An expired key is absent for atomic checks too.
    let outcome = a
        .atomic(AtomicOperation { checks: vec![check("short", None)], mutations: vec![set("short", "again")] })
        .expect("commit");
    assert!(outcome.ok);
}

#[test]
fn a_restarted_pop_catches_up_from_where_it_stopped() {
    let cluster = cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let a = pop(&cluster, dir.path(), "a").blocking_namespace("CATCH").expect("ns a");
    let b_store = pop(&cluster, dir.path(), "b");
    let b = b_store.blocking_namespace("CATCH").expect("ns b");
    put(&a, "before", "1");
    wait_for("B to see the first write", || get_text(&b, "before", None).is_some());
    drop(b);
    drop(b_store);

    for i in 0..200 {
        put(&a, &format!("while-down-{i:03}"), "x");
    }
    a.delete("before").expect("delete");

    let b = pop(&cluster, dir.path(), "b").blocking_namespace("CATCH").expect("ns b again");
    // The first use waits until B's index has caught up.
    assert_eq!(get_text(&b, "before", None), None);
    assert_eq!(b.list(ListOptions::default()).expect("list").keys.len(), 200);
}

#[test]
fn list_pages_through_thousands_of_keys_written_in_full_size_batches() {
    let cluster = cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let a = pop(&cluster, dir.path(), "a").blocking_namespace("MANY").expect("ns a");
    let b = pop(&cluster, dir.path(), "b").blocking_namespace("MANY").expect("ns b");
    let keys: Vec<String> = (0..2500).map(|i| format!("key:{:05}", (i * 7919) % 2500)).collect();
    // 1,000 mutations is both Brink's limit per commit and JetStream's per atomic batch.
    for chunk in keys.chunks(1000) {
        let outcome = a
            .atomic(AtomicOperation {
                checks: vec![],
                mutations: chunk.iter().map(|k| set(k, k)).collect(),
            })
            .expect("commit");
        assert!(outcome.ok);
    }
    let mut sorted = keys.clone();
    sorted.sort();
    for (pop, name) in [(&a, "A"), (&b, "B")] {
        // Each batch is applied whole: its last key present means all of it is.
        wait_for(&format!("POP {name} to hold every key"), || {
            keys.chunks(1000).all(|chunk| chunk.last().is_some_and(|k| get_text(pop, k, None).is_some()))
        });
        let mut listed = Vec::new();
        let mut cursor = None;
        let mut pages = 0;
        loop {
            let page = pop.list(ListOptions { cursor: cursor.clone(), ..Default::default() }).expect("list");
            pages += 1;
            listed.extend(key_names(&page).into_iter().map(str::to_owned));
            if page.list_complete {
                break;
            }
            cursor = page.cursor;
        }
        assert_eq!((pages, &listed), (3, &sorted), "POP {name}");
    }
}

#[test]
fn a_deleted_namespace_stream_is_made_again_and_pops_start_over() {
    let cluster = cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let a = pop(&cluster, dir.path(), "a").blocking_namespace("GONE").expect("ns a");
    let b = pop(&cluster, dir.path(), "b").blocking_namespace("GONE").expect("ns b");
    put(&a, "old", "1");
    wait_for("B to see the first write", || get_text(&b, "old", None).is_some());

    cluster.delete_namespace_stream("GONE").unwrap_or_else(|e| panic!("{e}"));
    // A write after the deletion makes the stream again and succeeds.
    put(&a, "new", "2");
    // Both POPs notice the new stream and drop what the old one held.
    for (pop, name) in [(&a, "A"), (&b, "B")] {
        wait_for(&format!("POP {name} to start over"), || {
            get_text(pop, "new", None).as_deref() == Some("2") && get_text(pop, "old", None).is_none()
        });
    }
}
