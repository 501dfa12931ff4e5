//! The storage interface every KV backend implements.
//!
//! The embedded redb backend ([`crate::RedbBackend`]) is the default; the
//! replicated backend ([`crate::NatsBackend`], NATS JetStream with sequences
//! as versions) implements the same trait. Backends receive inputs that are already validated
//! and expirations that are already absolute, plus the current time, so they
//! hold no policy of their own beyond storage.

use bytes::Bytes;

use crate::error::KvError;
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
#[derive(Debug, Clone, Copy)]
pub struct ListQuery<'a> {
    /// Only keys starting with this prefix (may be empty).
    pub prefix: &'a str,
    /// Only keys strictly after this one (from a cursor).
    pub start_after: Option<&'a str>,
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
/// `now_ms` is the current unix time in milliseconds; an entry whose expiration
/// (unix seconds) × 1000 is ≤ `now_ms` must be treated as absent everywhere.
pub trait KvBackend: Send + Sync {
    /// Reads one entry.
    fn get(&self, namespace: &str, key: &str, now_ms: u64) -> Result<Option<KvEntry>, KvError>;

    /// Reads several entries, ideally from one consistent snapshot. Fails with
    /// [`KvError::GetManyTooLarge`] once the values read add up to more than
    /// `max_total_bytes`; a backend should stop reading then rather than hold
    /// every value first.
    fn get_many(
        &self,
        namespace: &str,
        keys: &[&str],
        now_ms: u64,
        max_total_bytes: usize,
    ) -> Result<Vec<Option<KvEntry>>, KvError> {
        let mut total = 0usize;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let entry = self.get(namespace, key, now_ms)?;
            total = total.saturating_add(entry.as_ref().map_or(0, |e| e.value.len()));
            if total > max_total_bytes {
                return Err(KvError::GetManyTooLarge);
            }
            out.push(entry);
        }
        Ok(out)
    }

    /// Reads one entry as of now from the authoritative copy (a replicated
    /// backend asks its cluster rather than a local replica). A backend with
    /// one copy reads it as [`KvBackend::get`] does.
    fn get_strong(&self, namespace: &str, key: &str, now_ms: u64) -> Result<Option<KvEntry>, KvError> {
        self.get(namespace, key, now_ms)
    }

    /// Lists unexpired keys in byte order.
    fn list(
        &self,
        namespace: &str,
        query: ListQuery<'_>,
        now_ms: u64,
    ) -> Result<ListSlice, KvError>;

    /// Atomically: evaluates every check against current versions, and if all
    /// hold applies every write with one new, larger-than-ever version. A plain
    /// put or delete is a commit without checks. Must be durable on return.
    fn commit(
        &self,
        namespace: &str,
        checks: &[AtomicCheck],
        writes: &[StoredWrite],
        now_ms: u64,
    ) -> Result<AtomicOutcome, KvError>;

    /// Physically removes entries expired at `now_ms`; returns how many.
    fn reclaim_expired(&self, now_ms: u64) -> Result<usize, KvError>;

    /// How many entries are stored across all namespaces, counting expired
    /// ones not yet reclaimed.
    fn stored_entries(&self) -> Result<u64, KvError>;

    /// Registers the hook to call when a key changes by means other than
    /// [`KvBackend::commit`] in this process. Backends whose data only this
    /// process writes ignore it.
    fn set_invalidator(&self, _invalidator: Invalidator) {}
}
