//! Helpers shared by the integration tests: stores in temporary directories, and
//! short forms of the puts, gets, options and atomic parts the tests build over
//! and over, so each test reads as the behaviour it checks.
// Each test file is its own crate and uses only some of these.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use brink_kv::{AtomicCheck, BlockingNamespace, KvOptions, KvStore, ListPage, Mutation, PutOptions};
use bytes::Bytes;
use tempfile::TempDir;

/// A store in a fresh temporary directory (kept alive by the returned `TempDir`).
pub fn temp_store() -> (TempDir, Arc<KvStore>) {
    temp_store_with(KvOptions::default())
}

/// Like [`temp_store`] with explicit options.
pub fn temp_store_with(options: KvOptions) -> (TempDir, Arc<KvStore>) {
    let dir = tempfile::tempdir().expect("create tempdir");
    let store = KvStore::open(dir.path(), options).expect("open store");
    (dir, store)
}

/// Options with a fast expiry sweep.
pub fn fast_sweep() -> KvOptions {
    KvOptions {
        reclaim_interval: Duration::from_millis(200),
        ..KvOptions::default()
    }
}

/// Now in unix seconds, the unit of `expiration`.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Puts `value` under `key` with default options; returns the new version.
pub fn put(kv: &BlockingNamespace, key: &str, value: impl Into<Bytes>) -> u64 {
    kv.put(key, value.into(), PutOptions::default())
        .expect("put")
}

/// The value under `key` as UTF-8 text, `None` when the key is absent.
pub fn get_text(kv: &BlockingNamespace, key: &str, cache_ttl: Option<Duration>) -> Option<String> {
    kv.get(key, cache_ttl)
        .expect("get")
        .map(|entry| String::from_utf8(entry.value.to_vec()).expect("UTF-8 value"))
}

/// The key names of a list page, in order.
pub fn key_names(page: &ListPage) -> Vec<&str> {
    page.keys.iter().map(|k| k.name.as_str()).collect()
}

/// Put options that expire the key at `unix_secs`.
pub fn expires_at(unix_secs: u64) -> PutOptions {
    PutOptions {
        expiration: Some(unix_secs),
        ..PutOptions::default()
    }
}

/// Put options that expire the key `secs` from now.
pub fn expires_in(secs: u64) -> PutOptions {
    PutOptions {
        expiration_ttl: Some(secs),
        ..PutOptions::default()
    }
}

/// Put options that attach `metadata` (JSON text).
pub fn with_metadata(metadata: impl Into<String>) -> PutOptions {
    PutOptions {
        metadata: Some(metadata.into()),
        ..PutOptions::default()
    }
}

/// An atomic mutation that sets `key` to `value` with default options.
pub fn set(key: &str, value: impl Into<Bytes>) -> Mutation {
    Mutation::Set {
        key: key.into(),
        value: value.into(),
        options: PutOptions::default(),
    }
}

/// An atomic check that `key` is at `version` (`None`: that it is absent).
pub fn check(key: &str, version: Option<u64>) -> AtomicCheck {
    AtomicCheck {
        key: key.into(),
        version,
    }
}
