//! The pool of pre-warmed blank isolates: bootstrap done, no tenant code.
//! A deployment that needs an isolate takes one from here and only pays for
//! loading its own modules; a background thread refills the pool.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

use crate::error::WorkerError;
use crate::isolate::{spawn_blank_isolate, IsolateHandle};
use crate::limits::Limits;

/// Pre-warmed blank isolates, shared by every deployment in the process.
#[derive(Clone)]
pub struct IsolatePool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    limits: Limits,
    target: usize,
    ready: Mutex<VecDeque<IsolateHandle>>,
    wanted: Condvar,
}

impl IsolatePool {
    /// A pool that keeps `target` blank isolates warm, each built with
    /// `limits` (the heap limit is fixed when an isolate is created).
    pub fn new(target: usize, limits: Limits) -> IsolatePool {
        let inner = Arc::new(PoolInner {
            limits,
            target,
            ready: Mutex::new(VecDeque::new()),
            wanted: Condvar::new(),
        });
        if target > 0 {
            let filler = Arc::downgrade(&inner);
            let spawned = std::thread::Builder::new()
                .name("isolate-pool".into())
                .spawn(move || refill(filler));
            if let Err(error) = spawned {
                tracing::error!(%error, "could not start the isolate pool thread");
            }
        }
        IsolatePool { inner }
    }

    /// The limits isolates from this pool are built with.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Takes a warm isolate, or builds one now if none is ready. Blocks while
    /// building: call it from a blocking context.
    pub fn take(&self) -> Result<IsolateHandle, WorkerError> {
        let warm = self.inner.ready.lock().ok().and_then(|mut ready| ready.pop_front());
        self.inner.wanted.notify_one();
        match warm {
            Some(isolate) => Ok(isolate),
            None => spawn_blank_isolate(self.inner.limits.clone()),
        }
    }

    /// Number of warm isolates waiting.
    pub fn warm(&self) -> usize {
        self.inner.ready.lock().map(|ready| ready.len()).unwrap_or(0)
    }
}

fn refill(pool: std::sync::Weak<PoolInner>) {
    loop {
        let Some(inner) = pool.upgrade() else { return };
        let missing = match inner.ready.lock() {
            Ok(ready) if ready.len() >= inner.target => {
                // Wait until someone takes an isolate (or a second passes, to
                // notice the pool being dropped).
                let _ = inner.wanted.wait_timeout(ready, std::time::Duration::from_secs(1));
                continue;
            }
            Ok(ready) => inner.target - ready.len(),
            Err(_) => return,
        };
        for _ in 0..missing {
            match spawn_blank_isolate(inner.limits.clone()) {
                Ok(isolate) => {
                    if let Ok(mut ready) = inner.ready.lock() {
                        ready.push_back(isolate);
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "could not pre-warm an isolate");
                    std::thread::sleep(std::time::Duration::from_secs(1));
                }
            }
        }
    }
}
