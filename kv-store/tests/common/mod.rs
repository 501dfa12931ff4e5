//! Helpers shared by the integration tests: stores in temporary directories.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use brink_kv::{KvOptions, KvStore};
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
