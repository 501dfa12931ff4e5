//! [`KvStore`]: the process-wide handle that owns the backend, the read cache
//! and the expiry sweep, and hands out [`KvNamespace`]s.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::backend::KvBackend;
use crate::cache::ReadCache;
use crate::clock::unix_millis_now;
use crate::embedded::{RedbBackend, STORE_FILE_NAME};
use crate::error::KvError;
use crate::limits::validate_namespace_name;
use crate::namespace::{BlockingNamespace, KvNamespace};
use crate::nats::{NatsBackend, NatsOptions};
use crate::reclaim::ReclaimThread;

/// Tuning of a [`KvStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvOptions {
    /// Byte budget of the read cache (keys + values + metadata); 0 disables it.
    /// Default 64 MiB.
    pub cache_max_bytes: u64,
    /// How often the background sweep deletes expired entries; zero disables
    /// the sweep. Default 60 s.
    pub reclaim_interval: Duration,
}

impl Default for KvOptions {
    fn default() -> Self {
        KvOptions {
            cache_max_bytes: 64 * 1024 * 1024,
            reclaim_interval: Duration::from_secs(60),
        }
    }
}

/// The KV store of one process. Open it once and share the `Arc`.
pub struct KvStore {
    pub(crate) backend: Arc<dyn KvBackend>,
    pub(crate) cache: Arc<ReadCache>,
    location: Option<PathBuf>,
    _reclaim: Option<ReclaimThread>,
}

impl std::fmt::Debug for KvStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvStore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl KvStore {
    /// Opens the embedded store `<data_dir>/kv.redb`, creating the directory and
    /// file if needed.
    ///
    /// Fails with [`KvError::StoreLocked`] while another process (typically a
    /// running `brink`) or another `KvStore` in this process holds the file,
    /// and with [`KvError::Corrupted`] when the file exists but is not a
    /// readable store (an empty file included: existing data is never
    /// reinitialised).
    pub fn open(data_dir: &Path, options: KvOptions) -> Result<Arc<KvStore>, KvError> {
        std::fs::create_dir_all(data_dir).map_err(|source| KvError::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let path = data_dir.join(STORE_FILE_NAME);
        let backend = Arc::new(RedbBackend::open(&path)?);
        let mut store = Self::build(backend, options)?;
        store.location = Some(path);
        Ok(Arc::new(store))
    }

    /// Opens the existing embedded store `<data_dir>/kv.redb` without creating
    /// anything: fails with [`KvError::NoStore`] when the directory or the
    /// file does not exist. For commands that only read.
    pub fn open_existing(data_dir: &Path, options: KvOptions) -> Result<Arc<KvStore>, KvError> {
        let path = data_dir.join(STORE_FILE_NAME);
        if !data_dir.is_dir() || !path.exists() {
            return Err(KvError::NoStore {
                path: data_dir.to_owned(),
            });
        }
        let backend = Arc::new(RedbBackend::open_existing(&path)?);
        let mut store = Self::build(backend, options)?;
        store.location = Some(path);
        Ok(Arc::new(store))
    }

    /// Connects to a NATS JetStream cluster (the replicated backend) with a
    /// local index in `nats.data_dir`; see [`NatsOptions`].
    pub fn open_nats(nats: NatsOptions, options: KvOptions) -> Result<Arc<KvStore>, KvError> {
        let index = nats.data_dir.join(crate::nats::INDEX_FILE_NAME);
        let backend = Arc::new(NatsBackend::connect(nats)?);
        let mut store = Self::build(backend, options)?;
        store.location = Some(index);
        Ok(Arc::new(store))
    }

    /// Wraps any backend (e.g. a replicated one) with the read cache and sweep.
    pub fn with_backend(
        backend: Arc<dyn KvBackend>,
        options: KvOptions,
    ) -> Result<Arc<KvStore>, KvError> {
        Ok(Arc::new(Self::build(backend, options)?))
    }

    fn build(backend: Arc<dyn KvBackend>, options: KvOptions) -> Result<KvStore, KvError> {
        let reclaim = if options.reclaim_interval.is_zero() {
            None
        } else {
            Some(
                ReclaimThread::spawn(backend.clone(), options.reclaim_interval)
                    .map_err(KvError::backend)?,
            )
        };
        let cache = Arc::new(ReadCache::new(options.cache_max_bytes));
        let invalidated = cache.clone();
        backend.set_invalidator(Arc::new(move |namespace: &str, key: &str| {
            invalidated.invalidate(namespace, key)
        }));
        Ok(KvStore {
            backend,
            cache,
            location: None,
            _reclaim: reclaim,
        })
    }

    /// A handle to the namespace `name` (1–64 characters of `[A-Za-z0-9_-]`).
    /// Namespaces need no creation; an unused one is simply empty.
    pub fn namespace(self: &Arc<Self>, name: &str) -> Result<KvNamespace, KvError> {
        validate_namespace_name(name)?;
        let backend = self.backend.clone().namespace(name)?;
        Ok(KvNamespace::new(self.clone(), name, backend))
    }

    /// [`KvStore::namespace`] with blocking methods, for plain threads.
    pub fn blocking_namespace(self: &Arc<Self>, name: &str) -> Result<BlockingNamespace, KvError> {
        Ok(self.namespace(name)?.blocking())
    }

    /// The store file, for the embedded backend.
    pub fn location(&self) -> Option<&Path> {
        self.location.as_deref()
    }

    /// Deletes expired entries now instead of waiting for the sweep; returns how many.
    pub fn reclaim_expired(&self) -> Result<usize, KvError> {
        self.backend.reclaim_expired(unix_millis_now())
    }

    /// Entries stored across all namespaces, including expired ones not yet reclaimed.
    pub fn stored_entries(&self) -> Result<u64, KvError> {
        self.backend.stored_entries()
    }
}
