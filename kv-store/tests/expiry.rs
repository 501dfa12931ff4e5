//! TTLs: expired keys are never returned, and the sweep reclaims them.

mod common;

use std::time::{Duration, Instant};

use brink_kv::{AtomicOperation, KvOptions, KvStore, ListOptions};
use bytes::Bytes;
use common::{
    check, expires_at, expires_in, fast_sweep, get_text, key_names, put, temp_store_with, unix_now,
};

#[test]
fn short_ttl_expires_and_is_reclaimed() {
    let (_dir, store) = temp_store_with(fast_sweep());
    let kv = store.blocking_namespace("TEST").unwrap();
    kv.put("short", Bytes::from_static(b"v"), expires_in(1))
        .unwrap();
    put(&kv, "keep", "v");
    kv.put("long", Bytes::from_static(b"v"), expires_in(3600))
        .unwrap();

    // Read through the cache too, so a cached copy must also respect expiry.
    let cached = kv
        .get("short", Some(Duration::from_secs(600)))
        .unwrap()
        .unwrap();
    let exp = cached.expiration.unwrap();
    let now = unix_now();
    assert!(exp > now && exp <= now + 2, "exp {exp} now {now}");
    assert_eq!(kv.list(ListOptions::default()).unwrap().keys.len(), 3);

    std::thread::sleep(Duration::from_millis(2100));
    assert!(kv.get("short", None).unwrap().is_none());
    assert!(kv
        .get("short", Some(Duration::from_secs(600)))
        .unwrap()
        .is_none());
    assert!(kv.get_many(&["short".to_string()], None).unwrap()[0].is_none());
    assert_eq!(
        key_names(&kv.list(ListOptions::default()).unwrap()),
        ["keep", "long"]
    );
    // An expired key counts as absent for atomic checks.
    let op = AtomicOperation {
        checks: vec![check("short", None)],
        mutations: vec![],
    };
    assert!(kv.atomic(op).unwrap().ok);

    // The sweep (every 200 ms) physically removes it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while store.stored_entries().unwrap() != 2 {
        assert!(
            Instant::now() < deadline,
            "sweep did not reclaim the expired key"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(kv.get("keep", None).unwrap().is_some());
    assert!(kv.get("long", None).unwrap().is_some());
}

#[test]
fn overwriting_removes_the_old_expiry() {
    let (_dir, store) = temp_store_with(fast_sweep());
    let kv = store.blocking_namespace("TEST").unwrap();
    kv.put("k", Bytes::from_static(b"old"), expires_in(1))
        .unwrap();
    put(&kv, "k", "new");
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(store.reclaim_expired().unwrap(), 0);
    assert_eq!(get_text(&kv, "k", None).as_deref(), Some("new"));
}

#[test]
fn absolute_expiration_and_manual_reclaim() {
    let (_dir, store) = temp_store_with(KvOptions {
        reclaim_interval: Duration::ZERO, // no background sweep
        ..Default::default()
    });
    let kv = store.blocking_namespace("TEST").unwrap();
    let now = unix_now();
    kv.put("k", Bytes::from_static(b"v"), expires_at(now + 2))
        .unwrap();
    assert_eq!(
        kv.get("k", None).unwrap().unwrap().expiration,
        Some(now + 2)
    );
    std::thread::sleep(Duration::from_millis(2100));
    assert!(kv.get("k", None).unwrap().is_none());
    assert_eq!(store.stored_entries().unwrap(), 1);
    assert_eq!(store.reclaim_expired().unwrap(), 1);
    assert_eq!(store.stored_entries().unwrap(), 0);
}

#[test]
fn dropping_the_store_stops_the_sweep_and_releases_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = KvStore::open(dir.path(), fast_sweep()).unwrap();
    let kv = store.blocking_namespace("TEST").unwrap();
    drop(store);
    drop(kv);
    // Reopening succeeds only if the sweep thread let go of the database.
    let again = KvStore::open(dir.path(), fast_sweep());
    assert!(again.is_ok(), "{:?}", again.err());
}
