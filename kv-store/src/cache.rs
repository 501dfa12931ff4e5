//! The per-process read cache in front of the backend (Workers' `cacheTtl`).
//!
//! Entries — including "key is absent" — are keyed by (namespace, key) and
//! bounded by total value bytes. A cached read is served only if it is younger
//! than the caller's `cacheTtl` and not past the entry's own expiration.
//!
//! Read-your-writes: every local write bumps an epoch counter of the key's stripe
//! after it commits, and a cached read is only valid if it was filled under the
//! current epoch. This closes the race where a read that started before a write
//! inserts its older result after the write's invalidation.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::limits::is_expired;
use crate::types::KvEntry;

/// Number of epoch stripes; a write makes cached reads of ~1/STRIPES of all
/// keys look stale, so this trades 8 bytes per stripe for fewer spurious misses.
const STRIPES: usize = 4096;
/// Approximate per-entry bookkeeping, so many tiny values still count.
const ENTRY_OVERHEAD_BYTES: usize = 64;

struct CachedRead {
    entry: Option<KvEntry>,
    fetched_at: Instant,
    epoch: u64,
}

/// A read about to be fetched from the backend, remembering the epoch it began in.
pub(crate) struct FillTicket {
    key: String,
    stripe: usize,
    epoch: u64,
}

/// Bounded cache of backend reads; disabled when its byte budget is 0.
pub(crate) struct ReadCache {
    cache: Option<moka::sync::Cache<String, Arc<CachedRead>>>,
    epochs: Box<[AtomicU64]>,
}

fn cache_key(namespace: &str, key: &str) -> String {
    let mut out = String::with_capacity(namespace.len() + 1 + key.len());
    out.push_str(namespace);
    out.push('\0');
    out.push_str(key);
    out
}

fn stripe_of(cache_key: &str) -> usize {
    let mut hasher = DefaultHasher::new();
    cache_key.hash(&mut hasher);
    (hasher.finish() % STRIPES as u64) as usize
}

impl ReadCache {
    /// A cache holding at most `max_bytes` of keys, values and metadata.
    pub(crate) fn new(max_bytes: u64) -> Self {
        let cache = (max_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|key: &String, read: &Arc<CachedRead>| {
                    let entry_bytes = read
                        .entry
                        .as_ref()
                        .map(|e| e.value.len() + e.metadata.as_ref().map_or(0, String::len))
                        .unwrap_or(0);
                    u32::try_from(key.len() + entry_bytes + ENTRY_OVERHEAD_BYTES)
                        .unwrap_or(u32::MAX)
                })
                .build()
        });
        let epochs = (0..STRIPES).map(|_| AtomicU64::new(0)).collect();
        ReadCache { cache, epochs }
    }

    /// A cached read of `key` no older than `max_age`: `Some(None)` is a cached
    /// "absent", `None` is a miss.
    pub(crate) fn lookup(
        &self,
        namespace: &str,
        key: &str,
        max_age: Duration,
        now_ms: u64,
    ) -> Option<Option<KvEntry>> {
        let cache = self.cache.as_ref()?;
        let ck = cache_key(namespace, key);
        let read = cache.get(&ck)?;
        let current_epoch = self.epochs[stripe_of(&ck)].load(Ordering::SeqCst);
        if read.epoch != current_epoch || read.fetched_at.elapsed() >= max_age {
            return None;
        }
        if let Some(entry) = &read.entry {
            if is_expired(entry.expiration, now_ms) {
                return None;
            }
        }
        Some(read.entry.clone())
    }

    /// Call before reading the backend; pass the result to [`ReadCache::fill`].
    pub(crate) fn begin_fill(&self, namespace: &str, key: &str) -> FillTicket {
        let key = cache_key(namespace, key);
        let stripe = stripe_of(&key);
        let epoch = self.epochs[stripe].load(Ordering::SeqCst);
        FillTicket { key, stripe, epoch }
    }

    /// Caches what the backend returned for a ticket, unless a local write to
    /// the stripe happened since the ticket was taken.
    pub(crate) fn fill(&self, ticket: FillTicket, entry: Option<KvEntry>) {
        let Some(cache) = &self.cache else { return };
        if self.epochs[ticket.stripe].load(Ordering::SeqCst) != ticket.epoch {
            return;
        }
        let read = CachedRead {
            entry,
            fetched_at: Instant::now(),
            epoch: ticket.epoch,
        };
        cache.insert(ticket.key, Arc::new(read));
    }

    /// Makes every cached read of `key` stale. Call after the write committed.
    pub(crate) fn invalidate(&self, namespace: &str, key: &str) {
        let ck = cache_key(namespace, key);
        self.epochs[stripe_of(&ck)].fetch_add(1, Ordering::SeqCst);
        if let Some(cache) = &self.cache {
            cache.invalidate(&ck);
        }
    }
}
