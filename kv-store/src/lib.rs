//! Brink's Workers-KV-compatible key-value store.
//!
//! A [`KvStore`] is opened once per process (embedded: one redb file in the data
//! directory) and hands out [`KvNamespace`]s, whose methods mirror a worker's
//! `env.MY_KV` binding: `get`, `get_many`, `put`, `delete`, `list`, plus a
//! Deno-KV-style `atomic` compare-and-set on per-key versions. The API is
//! async, and its futures run on the store's own threads, so awaiting them
//! never blocks the caller (an isolate's event loop);
//! [`KvNamespace::blocking`] gives plain threads a blocking form.
//!
//! Two backends: the embedded one (default, one process) and a replicated
//! one on NATS JetStream ([`KvStore::open_nats`]), where every process keeps
//! a local index for reads.
//!
//! ```no_run
//! use brink_kv::{KvOptions, KvStore, PutOptions};
//! # fn main() -> Result<(), brink_kv::KvError> {
//! let store = KvStore::open(std::path::Path::new(".brink"), KvOptions::default())?;
//! let kv = store.blocking_namespace("MY_KV")?;
//! kv.put("greeting", "hello".into(), PutOptions::default())?;
//! let entry = kv.get("greeting", None)?;
//! assert_eq!(entry.map(|e| e.value), Some("hello".into()));
//! # Ok(()) }
//! ```

mod backend;
mod cache;
mod clock;
mod cursor;
mod embedded;
mod executor;
mod error;
mod limits;
mod namespace;
mod nats;
mod panic_guard;
mod reclaim;
mod store;
mod types;

pub use backend::{Invalidator, KvBackend, KvFuture, ListQuery, ListSlice, NamespaceBackend, StoredWrite};
pub use embedded::{RedbBackend, STORE_FILE_NAME};
pub use error::KvError;
pub use limits::{
    MAX_ATOMIC_BYTES, MAX_ATOMIC_CHECKS, MAX_ATOMIC_MUTATIONS, MAX_GET_MANY_BYTES,
    MAX_GET_MANY_KEYS, MAX_KEY_BYTES, MAX_LIST_LIMIT, MAX_METADATA_BYTES,
    MAX_NAMESPACE_NAME_BYTES, MAX_VALUE_BYTES,
};
pub use namespace::{BlockingNamespace, KvNamespace};
pub use nats::{NatsBackend, NatsCredentials, NatsError, NatsOptions, INDEX_FILE_NAME as NATS_INDEX_FILE_NAME};
pub use store::{KvOptions, KvStore};
/// A real NATS JetStream cluster for tests (feature `test-cluster`).
#[cfg(feature = "test-cluster")]
pub use nats::test_cluster;
pub use types::{
    AtomicCheck, AtomicOperation, AtomicOutcome, KvEntry, ListKey, ListOptions, ListPage, Mutation,
    PutOptions,
};
