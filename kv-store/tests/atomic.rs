//! atomic(): version checks and all-or-nothing mutations.

mod common;

use std::time::Duration;

use brink_kv::{AtomicOperation, AtomicOutcome, KvError, Mutation};
use bytes::Bytes;
use common::{check, get_text, put, set, temp_store};

#[test]
fn success_applies_all_mutations_with_one_version() {
    let (_dir, store) = temp_store();
    let kv = store.blocking_namespace("TEST").unwrap();
    let v0 = put(&kv, "a", "a0");
    put(&kv, "gone", "x");

    let out = kv
        .atomic(AtomicOperation {
            checks: vec![check("a", Some(v0)), check("b", None)],
            mutations: vec![
                set("a", "a1"),
                set("b", "b1"),
                Mutation::Delete { key: "gone".into() },
            ],
        })
        .unwrap();
    assert!(out.ok);
    let v = out.version.unwrap();
    assert!(v > v0);
    assert_eq!(kv.get("a", None).unwrap().unwrap().version, v);
    assert_eq!(kv.get("b", None).unwrap().unwrap().version, v);
    assert_eq!(get_text(&kv, "a", None).as_deref(), Some("a1"));
    assert!(kv.get("gone", None).unwrap().is_none());
}

#[test]
fn conflict_writes_nothing() {
    let (_dir, store) = temp_store();
    let kv = store.blocking_namespace("TEST").unwrap();
    let v0 = put(&kv, "a", "a0");
    // Warm the cache so a wrong invalidation would show.
    kv.get("a", Some(Duration::from_secs(60))).unwrap();
    let v1 = put(&kv, "a", "a1");

    // Stale version.
    let out = kv
        .atomic(AtomicOperation {
            checks: vec![check("a", Some(v0))],
            mutations: vec![set("a", "lost"), set("c", "lost")],
        })
        .unwrap();
    assert_eq!(
        out,
        AtomicOutcome {
            ok: false,
            version: None
        }
    );
    // "Must not exist" on an existing key.
    let out = kv
        .atomic(AtomicOperation {
            checks: vec![check("a", None)],
            mutations: vec![set("c", "lost")],
        })
        .unwrap();
    assert!(!out.ok);
    // A version on an absent key.
    let out = kv
        .atomic(AtomicOperation {
            checks: vec![check("nope", Some(v1))],
            mutations: vec![set("c", "lost")],
        })
        .unwrap();
    assert!(!out.ok);

    let a = kv.get("a", Some(Duration::from_secs(60))).unwrap().unwrap();
    assert_eq!((a.value, a.version), (Bytes::from_static(b"a1"), v1));
    assert!(kv.get("c", None).unwrap().is_none());
}

#[test]
fn compare_and_set_loop_under_contention() {
    let (_dir, store) = temp_store();
    let kv = store.blocking_namespace("TEST").unwrap();
    put(&kv, "counter", "0");
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let kv = kv.clone();
            std::thread::spawn(move || {
                for _ in 0..10 {
                    loop {
                        let e = kv.get("counter", None).unwrap().unwrap();
                        let n: u64 = std::str::from_utf8(&e.value).unwrap().parse().unwrap();
                        let op = AtomicOperation {
                            checks: vec![check("counter", Some(e.version))],
                            mutations: vec![set("counter", (n + 1).to_string())],
                        };
                        if kv.atomic(op).unwrap().ok {
                            break;
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        get_text(&kv, "counter", Some(Duration::from_secs(60))).as_deref(),
        Some("40")
    );
}

#[test]
fn invalid_mutation_rejects_the_whole_operation() {
    let (_dir, store) = temp_store();
    let kv = store.blocking_namespace("TEST").unwrap();
    let err = kv
        .atomic(AtomicOperation {
            checks: vec![],
            mutations: vec![set("ok", "v"), set(&"k".repeat(513), Bytes::new())],
        })
        .unwrap_err();
    assert!(matches!(err, KvError::KeyTooLong { op: "atomic", .. }));
    assert!(kv.get("ok", None).unwrap().is_none());

    let too_many = AtomicOperation {
        checks: (0..101).map(|i| check(&i.to_string(), None)).collect(),
        mutations: vec![],
    };
    assert!(matches!(
        kv.atomic(too_many),
        Err(KvError::TooManyChecks { count: 101 })
    ));
}

#[test]
fn checks_only_commit_reports_ok_without_version() {
    let (_dir, store) = temp_store();
    let kv = store.blocking_namespace("TEST").unwrap();
    let out = kv
        .atomic(AtomicOperation {
            checks: vec![check("x", None)],
            mutations: vec![],
        })
        .unwrap();
    assert_eq!(
        out,
        AtomicOutcome {
            ok: true,
            version: None
        }
    );
}
