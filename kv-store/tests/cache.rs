//! The read cache: cacheTtl is honoured, misses are cached, local writes invalidate.
//!
//! A counting backend wraps redb so the tests can see which reads reached
//! storage, and can write "behind the cache" the way another POP would.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use brink_kv::{
    AtomicCheck, AtomicOperation, AtomicOutcome, KvBackend, KvEntry, KvError, KvFuture, KvOptions, KvStore,
    ListQuery, ListSlice, NamespaceBackend, RedbBackend, StoredWrite,
};
use bytes::Bytes;
use common::{get_text, put, set};

/// Counts the reads that reach the wrapped redb backend.
struct CountingBackend {
    inner: Arc<RedbBackend>,
    reads: Arc<AtomicUsize>,
}

struct CountingNamespace {
    inner: Arc<dyn NamespaceBackend>,
    reads: Arc<AtomicUsize>,
}

impl KvBackend for CountingBackend {
    fn namespace(self: Arc<Self>, name: &str) -> Result<Arc<dyn NamespaceBackend>, KvError> {
        Ok(Arc::new(CountingNamespace { inner: self.inner.clone().namespace(name)?, reads: self.reads.clone() }))
    }
    fn reclaim_expired(&self, now_ms: u64) -> Result<usize, KvError> {
        self.inner.reclaim_expired(now_ms)
    }
    fn stored_entries(&self) -> Result<u64, KvError> {
        self.inner.stored_entries()
    }
}

impl NamespaceBackend for CountingNamespace {
    fn get(&self, key: String, now_ms: u64) -> KvFuture<Option<KvEntry>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key, now_ms)
    }
    fn get_many(&self, keys: Vec<String>, now_ms: u64, max_total_bytes: usize) -> KvFuture<Vec<Option<KvEntry>>> {
        self.reads.fetch_add(keys.len(), Ordering::SeqCst);
        self.inner.get_many(keys, now_ms, max_total_bytes)
    }
    fn list(&self, query: ListQuery, now_ms: u64) -> KvFuture<ListSlice> {
        self.inner.list(query, now_ms)
    }
    fn commit(&self, checks: Vec<AtomicCheck>, writes: Vec<StoredWrite>, now_ms: u64) -> KvFuture<AtomicOutcome> {
        self.inner.commit(checks, writes, now_ms)
    }
}

fn counting_store() -> (tempfile::TempDir, Arc<CountingBackend>, Arc<KvStore>) {
    counting_store_with(KvOptions::default())
}

fn counting_store_with(
    options: KvOptions,
) -> (tempfile::TempDir, Arc<CountingBackend>, Arc<KvStore>) {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(CountingBackend {
        inner: Arc::new(RedbBackend::open(&dir.path().join("kv.redb")).unwrap()),
        reads: Arc::new(AtomicUsize::new(0)),
    });
    let store = KvStore::with_backend(backend.clone(), options).unwrap();
    (dir, backend, store)
}

/// Writes without going through the namespace, so the cache doesn't hear of it.
fn remote_put(backend: &CountingBackend, key: &str, value: &'static [u8]) {
    let w = StoredWrite::Put {
        key: key.into(),
        value: Bytes::from_static(value),
        expiration: None,
        metadata: None,
    };
    let namespace = backend.inner.clone().namespace("TEST").unwrap();
    futures::executor::block_on(namespace.commit(Vec::new(), vec![w], 0)).unwrap();
}

const MINUTE: Option<Duration> = Some(Duration::from_secs(60));

#[test]
fn cache_ttl_serves_cached_copy_until_it_is_older_than_ttl() {
    let (_dir, backend, store) = counting_store();
    let kv = store.blocking_namespace("TEST").unwrap();
    put(&kv, "k", "v1");
    let reads = || backend.reads.load(Ordering::SeqCst);

    assert_eq!(get_text(&kv, "k", MINUTE).as_deref(), Some("v1"));
    assert_eq!(reads(), 1);
    kv.get("k", MINUTE).unwrap();
    assert_eq!(
        reads(),
        1,
        "second read within cacheTtl is served from the cache"
    );

    remote_put(&backend, "k", b"v2");
    // Within cacheTtl the stale copy may be served...
    assert_eq!(get_text(&kv, "k", MINUTE).as_deref(), Some("v1"));
    // ...but not once it is older than the caller's cacheTtl.
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(
        get_text(&kv, "k", Some(Duration::from_millis(100))).as_deref(),
        Some("v2")
    );
    assert_eq!(reads(), 2);
}

#[test]
fn no_cache_ttl_reads_the_store_and_refreshes_the_cache() {
    let (_dir, backend, store) = counting_store();
    let kv = store.blocking_namespace("TEST").unwrap();
    put(&kv, "k", "v1");
    kv.get("k", MINUTE).unwrap();
    remote_put(&backend, "k", b"v2");
    assert_eq!(get_text(&kv, "k", None).as_deref(), Some("v2"));
    // The uncached read refreshed the cache.
    let before = backend.reads.load(Ordering::SeqCst);
    assert_eq!(get_text(&kv, "k", MINUTE).as_deref(), Some("v2"));
    assert_eq!(backend.reads.load(Ordering::SeqCst), before);
}

#[test]
fn local_writes_invalidate() {
    let (_dir, backend, store) = counting_store();
    let kv = store.blocking_namespace("TEST").unwrap();
    put(&kv, "k", "v1");
    kv.get("k", MINUTE).unwrap();
    put(&kv, "k", "v2");
    assert_eq!(get_text(&kv, "k", MINUTE).as_deref(), Some("v2"));
    kv.delete("k").unwrap();
    assert!(kv.get("k", MINUTE).unwrap().is_none());
    let out = kv
        .atomic(AtomicOperation {
            checks: vec![],
            mutations: vec![set("k", "v3")],
        })
        .unwrap();
    assert!(out.ok);
    assert_eq!(get_text(&kv, "k", MINUTE).as_deref(), Some("v3"));
    // A clone of the namespace shares the same cache.
    let kv2 = kv.clone();
    put(&kv2, "k", "v4");
    assert_eq!(get_text(&kv, "k", MINUTE).as_deref(), Some("v4"));
    let _ = backend;
}

#[test]
fn misses_are_cached_too() {
    let (_dir, backend, store) = counting_store();
    let kv = store.blocking_namespace("TEST").unwrap();
    assert!(kv.get("absent", MINUTE).unwrap().is_none());
    assert!(kv.get("absent", MINUTE).unwrap().is_none());
    assert_eq!(backend.reads.load(Ordering::SeqCst), 1);
    // A remote write stays invisible within cacheTtl, like Workers KV's negative caching.
    remote_put(&backend, "absent", b"now here");
    assert!(kv.get("absent", MINUTE).unwrap().is_none());
    assert!(kv.get("absent", None).unwrap().is_some());
    // A local put is visible at once.
    assert!(kv.get("other", MINUTE).unwrap().is_none());
    put(&kv, "other", "v");
    assert!(kv.get("other", MINUTE).unwrap().is_some());
}

#[test]
fn get_many_uses_and_fills_the_cache() {
    let (_dir, backend, store) = counting_store();
    let kv = store.blocking_namespace("TEST").unwrap();
    put(&kv, "a", "1");
    kv.get("a", MINUTE).unwrap();
    assert_eq!(backend.reads.load(Ordering::SeqCst), 1);
    let keys = vec!["a".to_string(), "b".to_string()];
    kv.get_many(&keys, MINUTE).unwrap();
    assert_eq!(
        backend.reads.load(Ordering::SeqCst),
        2,
        "only the miss reached storage"
    );
    kv.get_many(&keys, MINUTE).unwrap();
    assert_eq!(backend.reads.load(Ordering::SeqCst), 2);
}

#[test]
fn cache_is_bounded_by_bytes() {
    let (_dir, backend, store) = counting_store_with(KvOptions {
        cache_max_bytes: 64 * 1024,
        ..Default::default()
    });
    let kv = store.blocking_namespace("TEST").unwrap();
    let mut op = AtomicOperation::default();
    for i in 0..64 {
        op.mutations
            .push(set(&format!("k{i}"), vec![0u8; 16 * 1024]));
    }
    kv.atomic(op).unwrap();
    for round in 0..2 {
        for i in 0..64 {
            kv.get(&format!("k{i}"), MINUTE).unwrap();
        }
        let _ = round;
    }
    // 1 MiB of values cannot fit in a 64 KiB cache, so the second round misses too.
    assert!(
        backend.reads.load(Ordering::SeqCst) > 64 + 32,
        "reads: {}",
        backend.reads.load(Ordering::SeqCst)
    );
}
