//! The storage interface every KV backend implements.
//!
//! The embedded redb backend ([`crate::RedbBackend`]) is the default; the
//! replicated backend ([`crate::NatsBackend`], NATS JetStream with sequences
//! as versions) implements the same trait. Backends receive inputs that are already validated
//! and expirations that are already absolute, plus the current time, so they
//! hold no policy of their own beyond storage.

use std::sync::Arc;

use bytes::Bytes;

use crate::error::KvError;
pub use crate::executor::KvFuture;
use crate::types::{AtomicCheck, AtomicOutcome, KvEntry, ListKey};

/// A validated write, with the expiration resolved to absolute unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredWrite {
    /// Store a value.
    Put {
        /// The key.
        key: String,
        /// The value.
        value: Bytes,
        /// Absolute expiration, unix seconds.
        expiration: Option<u64>,
        /// Metadata as JSON text.
        metadata: Option<String>,
    },
    /// Remove a key.
    Delete {
        /// The key.
        key: String,
    },
}

impl StoredWrite {
    /// The key this write touches.
    pub fn key(&self) -> &str {
        match self {
            StoredWrite::Put { key, .. } | StoredWrite::Delete { key } => key,
        }
    }
}

/// What one `list` call asks a backend for.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Only keys starting with this prefix (may be empty).
    pub prefix: String,
    /// Only keys strictly after this one (from a cursor).
    pub start_after: Option<String>,
    /// Most keys to return.
    pub limit: usize,
}

/// What a backend returns for one `list` call.
#[derive(Debug, Clone, Default)]
pub struct ListSlice {
    /// Unexpired keys in byte order.
    pub keys: Vec<ListKey>,
    /// True when more unexpired keys match after the last one returned.
    pub more: bool,
}

/// Called by a backend when a key changed by means other than this process's
/// own commits (a replicated backend's watch stream), with the namespace and
/// key, so the read cache can drop what it holds for the key.
pub type Invalidator = std::sync::Arc<dyn Fn(&str, &str) + Send + Sync>;

/// A KV storage engine. Object-safe; shared across threads as `Arc<dyn KvBackend>`.
///
/// Storage operations live on the per-namespace handle it hands out
/// ([`KvBackend::namespace`]), because versions are per namespace: a
/// replicated backend keeps each namespace in its own log (a JetStream
/// stream) whose sequences are its versions, and a namespace is also the
/// unit of an atomic commit.
pub trait KvBackend: Send + Sync {
    /// The handle of namespace `name` (already validated). May start
    /// background work for it (a replicated backend's watcher); cheap to call
    /// again for the same name.
    fn namespace(self: Arc<Self>, name: &str) -> Result<Arc<dyn NamespaceBackend>, KvError>;

    /// Physically removes entries expired at `now_ms`; returns how many.
    /// Called from the store's sweep thread, never from an isolate.
    fn reclaim_expired(&self, now_ms: u64) -> Result<usize, KvError>;

    /// How many entries are stored across all namespaces, counting expired
    /// ones not yet reclaimed.
    fn stored_entries(&self) -> Result<u64, KvError>;

    /// Registers the hook to call when a key changes by means other than a
    /// commit in this process. Backends whose data only this process writes
    /// ignore it.
    fn set_invalidator(&self, _invalidator: Invalidator) {}
}

/// The storage operations of one namespace. Every operation returns a
/// [`KvFuture`] that runs elsewhere (a blocking pool, the backend's own
/// runtime), so awaiting it never blocks the caller's thread: an isolate's
/// event loop keeps serving other requests meanwhile.
///
/// `now_ms` is the current unix time in milliseconds; an entry whose
/// expiration (unix seconds) × 1000 is ≤ `now_ms` must be treated as absent
/// everywhere.
///
/// **Versions** are per namespace: a commit's version is larger than every
/// version the namespace handed out before, and all writes of one commit
/// share it. Versions of different namespaces are unrelated (the embedded
/// backend happens to draw them from one counter; the NATS backend uses
/// each namespace's stream sequence).
pub trait NamespaceBackend: Send + Sync {
    /// Reads one entry.
    fn get(&self, key: String, now_ms: u64) -> KvFuture<Option<KvEntry>>;

    /// Reads several entries, ideally from one consistent snapshot. Fails with
    /// [`KvError::GetManyTooLarge`] once the values read add up to more than
    /// `max_total_bytes`; a backend should stop reading then rather than hold
    /// every value first.
    fn get_many(
        &self,
        keys: Vec<String>,
        now_ms: u64,
        max_total_bytes: usize,
    ) -> KvFuture<Vec<Option<KvEntry>>>;

    /// Reads one entry as of now from the authoritative copy (a replicated
    /// backend asks its cluster rather than a local replica). A backend with
    /// one copy reads it as [`NamespaceBackend::get`] does.
    fn get_strong(&self, key: String, now_ms: u64) -> KvFuture<Option<KvEntry>> {
        self.get(key, now_ms)
    }

    /// Lists unexpired keys in byte order.
    fn list(&self, query: ListQuery, now_ms: u64) -> KvFuture<ListSlice>;

    /// Atomically: evaluates every check against current versions, and if all
    /// hold applies every write with one new version (see the trait's docs).
    /// A plain put or delete is a commit without checks. Durable once the
    /// future resolves.
    fn commit(
        &self,
        checks: Vec<AtomicCheck>,
        writes: Vec<StoredWrite>,
        now_ms: u64,
    ) -> KvFuture<AtomicOutcome>;
}
