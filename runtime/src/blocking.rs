//! One process-wide pool of threads for blocking work done on behalf of
//! isolates: DNS lookups. (KV storage runs on the KV store's own threads,
//! see `brink_kv::NamespaceBackend`.) Each isolate runs its own
//! current-thread tokio runtime, and that runtime's `spawn_blocking` would
//! start (and keep, for a while) a pool of threads per isolate; with
//! thousands of isolates that is thousands of idle threads. The shared pool
//! is bounded, and its handles can be awaited from any isolate's runtime.

use std::sync::OnceLock;

use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinHandle;

/// Most threads the pool runs at once; further work queues.
const MAX_THREADS: usize = 64;

fn pool() -> Option<&'static Runtime> {
    static POOL: OnceLock<Option<Runtime>> = OnceLock::new();
    POOL.get_or_init(|| {
        let built = Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(MAX_THREADS)
            .thread_name("brink-blocking")
            .enable_all()
            .build();
        match built {
            Ok(runtime) => Some(runtime),
            Err(error) => {
                tracing::error!(%error, "cannot start the shared blocking pool; using per-isolate threads");
                None
            }
        }
    })
    .as_ref()
}

/// Runs `work` on the shared blocking pool (or, if it could not be started,
/// on the calling runtime's own).
pub fn spawn_blocking<F, R>(work: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    match pool() {
        Some(pool) => pool.spawn_blocking(work),
        None => tokio::task::spawn_blocking(work),
    }
}
