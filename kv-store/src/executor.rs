//! Where backend work runs, so that callers only ever await it.
//!
//! A worker's isolate runs its own current-thread tokio runtime: a KV
//! operation that blocked it (an fsync, a round trip to a NATS cluster)
//! would stall every request of that isolate. Backends therefore hand out
//! [`KvFuture`]s that are driven elsewhere: redb calls run on one
//! process-wide pool of blocking threads ([`blocking`]); the NATS backend's
//! async work runs on that backend's own runtime ([`spawn_on`]). A caller on
//! any runtime (or on none: [`crate::BlockingNamespace`]) only awaits a join
//! handle.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use crate::error::KvError;

/// What every backend operation returns: owned, `Send` and `'static`, so it
/// can be awaited from any runtime, or blocked on from a plain thread.
pub type KvFuture<T> = Pin<Box<dyn Future<Output = Result<T, KvError>> + Send + 'static>>;

/// Most threads the blocking pool runs at once; further work queues.
const MAX_BLOCKING_THREADS: usize = 64;

fn pool() -> Result<&'static tokio::runtime::Runtime, KvError> {
    static POOL: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    POOL.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(MAX_BLOCKING_THREADS)
            .thread_name("brink-kv-io")
            .enable_all()
            .build()
            .map_err(|error| tracing::error!(%error, "KV: cannot start the storage thread pool"))
            .ok()
    })
    .as_ref()
    .ok_or_else(|| KvError::backend("the KV storage thread pool could not be started"))
}

fn joined<T>(result: Result<Result<T, KvError>, tokio::task::JoinError>) -> Result<T, KvError> {
    match result {
        Ok(result) => result,
        // A panic's text may name internals: log it, answer generically.
        Err(error) if error.is_panic() => {
            tracing::error!(%error, "KV: a storage task panicked");
            Err(KvError::backend("a storage task failed unexpectedly"))
        }
        Err(_) => Err(KvError::backend("the KV store shut down while an operation was running")),
    }
}

/// Runs blocking storage work (redb) on the process-wide pool.
pub(crate) fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, KvError> + Send + 'static,
) -> KvFuture<T> {
    match pool() {
        Ok(pool) => {
            let handle = pool.spawn_blocking(work);
            Box::pin(async move { joined(handle.await) })
        }
        Err(error) => Box::pin(std::future::ready(Err(error))),
    }
}

/// Runs `work` on `handle`'s runtime (a backend's own), awaitable from anywhere.
pub(crate) fn spawn_on<T: Send + 'static>(
    handle: &tokio::runtime::Handle,
    work: impl Future<Output = Result<T, KvError>> + Send + 'static,
) -> KvFuture<T> {
    let task = handle.spawn(work);
    Box::pin(async move { joined(task.await) })
}

/// A backend's own tokio runtime. Dropping it never blocks (it shuts down in
/// the background), so a store may be opened, fail, or be dropped inside an
/// async context, where dropping a runtime the usual way would panic.
pub(crate) struct BackendRuntime(Option<tokio::runtime::Runtime>);

impl BackendRuntime {
    /// A multi-thread runtime with `workers` threads named `name`.
    pub(crate) fn new(name: &str, workers: usize) -> Result<BackendRuntime, KvError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name(name)
            .enable_all()
            .build()
            .map_err(KvError::backend)?;
        Ok(BackendRuntime(Some(runtime)))
    }

    /// The runtime's handle.
    pub(crate) fn handle(&self) -> Result<&tokio::runtime::Handle, KvError> {
        self.0
            .as_ref()
            .map(tokio::runtime::Runtime::handle)
            .ok_or_else(|| KvError::backend("the KV backend is shut down"))
    }
}

impl Drop for BackendRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}
