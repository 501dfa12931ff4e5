//! The isolate's blob store, with its bytes counted toward the isolate's
//! memory limit. deno_web keeps every `Blob`'s bytes in Rust, outside the
//! JS heap, so without this a worker holding blobs could grow the process
//! without bound while its heap stayed small.
//!
//! Blob bytes may use as much as the heap limit again; past that, the
//! isolate is terminated for the memory limit like a heap overrun.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use deno_core::url::Url;
use deno_web::{Blob, BlobPart, BlobStore, BlobStoreTrait};
use uuid::Uuid;

use crate::supervisor::{IsolateWatch, Termination};

/// A [`BlobStore`] that counts its bytes and terminates its isolate when
/// they exceed the limit.
#[derive(Debug)]
pub struct MeteredBlobStore {
    inner: BlobStore,
    bytes: AtomicUsize,
    limit: AtomicUsize,
    watch: OnceLock<Arc<IsolateWatch>>,
}

impl MeteredBlobStore {
    /// A store that allows `limit` bytes of blobs.
    pub fn new(limit: usize) -> MeteredBlobStore {
        MeteredBlobStore { inner: BlobStore::default(), bytes: AtomicUsize::new(0), limit: AtomicUsize::new(limit), watch: OnceLock::new() }
    }

    /// Tells the store which isolate to terminate when it is over its limit.
    pub fn watch(&self, watch: Arc<IsolateWatch>) {
        let _ = self.watch.set(watch);
    }

    /// Lowers or raises the limit (a worker's own heap limit, set when it
    /// is loaded into a blank isolate).
    pub fn set_limit(&self, limit: usize) {
        self.limit.store(limit, Ordering::Relaxed);
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }
}

impl BlobStoreTrait for MeteredBlobStore {
    fn insert_part(&self, part: Arc<dyn BlobPart + Send + Sync>) -> Uuid {
        let total = self.bytes.fetch_add(part.size(), Ordering::Relaxed).saturating_add(part.size());
        if total > self.limit.load(Ordering::Relaxed) {
            if let Some(watch) = self.watch.get() {
                watch.terminate(Termination::Memory);
            }
        }
        self.inner.insert_part(part)
    }

    fn get_part(&self, id: &Uuid) -> Option<Arc<dyn BlobPart + Send + Sync>> {
        self.inner.get_part(id)
    }

    fn remove_part(&self, id: &Uuid) -> Option<Arc<dyn BlobPart + Send + Sync>> {
        let part = self.inner.remove_part(id)?;
        let size = part.size();
        let _ = self.bytes.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bytes| Some(bytes.saturating_sub(size)));
        Some(part)
    }

    fn get_object_url(&self, url: Url) -> Option<Arc<Blob>> {
        self.inner.get_object_url(url)
    }

    fn insert_object_url(&self, blob: Blob, maybe_location: Option<Url>) -> Url {
        self.inner.insert_object_url(blob, maybe_location)
    }

    fn remove_object_url(&self, url: &Url) {
        self.inner.remove_object_url(url)
    }

    fn clear(&self) {
        self.inner.clear();
        self.bytes.store(0, Ordering::Relaxed);
    }
}
