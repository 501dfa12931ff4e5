//! The pool of pre-warmed blank isolates: bootstrap done, no tenant code.
//! A deployment that needs an isolate takes one from here and only pays for
//! loading its own modules; background threads (one per core, at most one
//! per missing isolate) refill the pool in parallel. Refills bootstrap in
//! the normal scheduling class: in the idle class they starved whenever
//! other processes kept the cores busy, and cold starts found the pool
//! empty (bench/RESULTS.md), so `BACKGROUND_REFILLS` is off.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

use crate::error::WorkerError;
use crate::isolate::{spawn_blank, spawn_blank_isolate, IsolateHandle};
use crate::limits::Limits;
use crate::worker::IsolateRegistry;

/// Pre-warmed blank isolates, shared by every deployment in the process.
#[derive(Clone)]
pub struct IsolatePool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    limits: Limits,
    registry: Arc<IsolateRegistry>,
    target: usize,
    ready: Mutex<Ready>,
    wanted: Condvar,
}

#[derive(Default)]
struct Ready {
    isolates: VecDeque<IsolateHandle>,
    /// Isolates being built by refill threads right now.
    building: usize,
}

impl IsolatePool {
    /// A pool that keeps `target` blank isolates warm, each built with
    /// `limits` (the heap limit is fixed when an isolate is created).
    pub fn new(target: usize, limits: Limits) -> IsolatePool {
        IsolatePool::with_max_live_isolates(target, limits, usize::MAX)
    }

    /// Like [`IsolatePool::new`], with a process-wide cap on isolates that
    /// run a worker: at the cap, the least recently used idle one is evicted
    /// before another starts.
    pub fn with_max_live_isolates(target: usize, limits: Limits, max_live: usize) -> IsolatePool {
        let inner = Arc::new(PoolInner {
            limits,
            registry: Arc::new(IsolateRegistry::new(max_live)),
            target,
            ready: Mutex::new(Ready::default()),
            wanted: Condvar::new(),
        });
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        for _ in 0..target.min(cores) {
            let filler = Arc::downgrade(&inner);
            let spawned = std::thread::Builder::new()
                .name("isolate-pool".into())
                .spawn(move || refill(filler));
            if let Err(error) = spawned {
                tracing::error!(%error, "could not start an isolate pool thread");
            }
        }
        IsolatePool { inner }
    }

    /// Every worker's isolates, for the process-wide cap.
    pub fn registry(&self) -> Arc<IsolateRegistry> {
        self.inner.registry.clone()
    }

    /// The limits isolates from this pool are built with.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Takes a warm isolate, or builds one now if none is ready. Blocks while
    /// building: call it from a blocking context.
    pub fn take(&self) -> Result<IsolateHandle, WorkerError> {
        match self.try_take() {
            Some(isolate) => Ok(isolate),
            None => spawn_blank_isolate(self.inner.limits.clone()),
        }
    }

    /// Takes a warm isolate if one is ready. Never blocks, so a cold start
    /// that finds one skips the hand-off to a blocking thread.
    pub fn try_take(&self) -> Option<IsolateHandle> {
        let warm = self.inner.ready.lock().ok().and_then(|mut ready| ready.isolates.pop_front());
        // Wake a refill thread either way: one isolate fewer is ready, or
        // the caller is about to build one itself.
        self.inner.wanted.notify_one();
        warm
    }

    /// Number of warm isolates waiting.
    pub fn warm(&self) -> usize {
        self.inner.ready.lock().map(|ready| ready.isolates.len()).unwrap_or(0)
    }
}

/// Whether a refill started while another warm isolate is ready bootstraps
/// in the idle class (`crate::isolate::spawn_blank`).
const BACKGROUND_REFILLS: bool = false;

fn refill(pool: std::sync::Weak<PoolInner>) {
    loop {
        let Some(inner) = pool.upgrade() else { return };
        let in_background = match inner.ready.lock() {
            Ok(ready) if ready.isolates.len() + ready.building >= inner.target => {
                // Wait until someone takes an isolate (or a second passes, to
                // notice the pool being dropped).
                let _ = inner.wanted.wait_timeout(ready, std::time::Duration::from_secs(1));
                continue;
            }
            Ok(mut ready) => {
                ready.building += 1;
                // Idle class only while a cold start would still find one.
                !ready.isolates.is_empty()
            }
            Err(_) => return,
        };
        let built = spawn_blank(inner.limits.clone(), BACKGROUND_REFILLS && in_background);
        let Ok(mut ready) = inner.ready.lock() else { return };
        ready.building -= 1;
        match built {
            Ok(isolate) => ready.isolates.push_back(isolate),
            Err(error) => {
                drop(ready);
                tracing::error!(%error, "could not pre-warm an isolate");
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        }
    }
}
