//! The pool of pre-warmed blank isolates: bootstrap done, no tenant code.
//! A deployment that needs an isolate takes one from here and only pays for
//! loading its own modules; background threads (one per core, at most one
//! per missing isolate) refill the pool in parallel. A cold start that finds
//! the pool empty adopts a refill already under way instead of starting a
//! bootstrap of its own next to it: on a machine whose cores are busy, a
//! third bootstrap only slows the two already running, and the refill is
//! further along.
//!
//! A refill that starts while another warm isolate is ready bootstraps in
//! the idle scheduling class, so it never competes with a thread serving a
//! request (a cold start loading its worker right then was 5-8x slower next
//! to a normal-class bootstrap, bench/RESULTS.md). Where the cores are kept
//! busy, idle-class refills starve and the pool runs dry; so a cold start
//! that finds it empty promotes the refills under way to the normal class,
//! and a refill that starts on an empty pool runs there from the start.
//!
//! A worker whose isolates keep running into their limits takes nothing
//! from the pool: its isolates are built for it in the idle class
//! ([`IsolatePool::build_in_idle_class`]), so its replacements can neither
//! empty the pool for its neighbours nor make refills run in their way.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use tokio::sync::oneshot;

use crate::error::WorkerError;
use crate::isolate::{spawn_blank, spawn_blank_isolate, IsolateHandle};
use crate::limits::Limits;
use crate::supervisor::BootstrapPriority;
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
    /// Blank isolates built for a cold start that found nothing to take or
    /// adopt.
    built_on_demand: AtomicU64,
}

#[derive(Default)]
struct Ready {
    isolates: VecDeque<IsolateHandle>,
    /// Isolates being built by refill threads right now.
    building: usize,
    /// Cold starts waiting for a refill under way, oldest first; never more
    /// than `building`, so each has a refill of its own to wait for.
    adopters: VecDeque<oneshot::Sender<IsolateHandle>>,
    /// The refills under way in the idle scheduling class.
    in_background: Vec<Arc<BootstrapPriority>>,
}

impl Ready {
    /// Hands a freshly built isolate to the oldest cold start still
    /// waiting for one, or keeps it warm.
    fn deliver(&mut self, mut isolate: IsolateHandle) {
        while let Some(adopter) = self.adopters.pop_front() {
            match adopter.send(isolate) {
                Ok(()) => return,
                // That cold start gave up (its request ended): next one.
                Err(unsent) => isolate = unsent,
            }
        }
        self.isolates.push_back(isolate);
    }
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
            built_on_demand: AtomicU64::new(0),
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

    /// Takes a warm isolate if one is ready. Never blocks, so a cold start
    /// that finds one skips the hand-off to a blocking thread.
    pub fn try_take(&self) -> Option<IsolateHandle> {
        let warm = self.inner.ready.lock().ok().and_then(|mut ready| ready.isolates.pop_front());
        // Wake a refill thread either way: one isolate fewer is ready, or
        // the caller is about to build one itself.
        self.inner.wanted.notify_one();
        warm
    }

    /// Takes a warm isolate; with none ready, waits for a refill already
    /// under way that no other cold start is waiting for, and only builds
    /// one itself (on a blocking thread) when there is none, or when the
    /// refill it waited for failed.
    pub async fn take_or_adopt(&self) -> Result<IsolateHandle, WorkerError> {
        let adopted = {
            let mut ready = self.inner.ready.lock().map_err(|_| WorkerError::Unavailable)?;
            match ready.isolates.pop_front() {
                Some(isolate) => {
                    drop(ready);
                    self.inner.wanted.notify_one();
                    return Ok(isolate);
                }
                None if ready.adopters.len() < ready.building => {
                    let (adopter, adopted) = oneshot::channel();
                    ready.adopters.push_back(adopter);
                    // A request waits: no refill may starve now.
                    for refill in ready.in_background.drain(..) {
                        refill.promote();
                    }
                    Some(adopted)
                }
                None => None,
            }
        };
        self.inner.wanted.notify_one();
        if let Some(adopted) = adopted {
            if let Ok(isolate) = adopted.await {
                return Ok(isolate);
            }
        }
        self.inner.built_on_demand.fetch_add(1, Ordering::Relaxed);
        let limits = self.inner.limits.clone();
        tokio::task::spawn_blocking(move || spawn_blank_isolate(limits))
            .await
            .map_err(|error| WorkerError::Engine(error.to_string()))?
    }

    /// Builds a blank isolate in the idle scheduling class, never promoted
    /// and without touching the warm ones: for a worker whose isolates keep
    /// running into their limits. Its replacements would otherwise drain
    /// the shared pool and make the refills that follow run in the normal
    /// class, next to the well-behaved tenants' requests; this way it pays
    /// for its own bootstraps, with CPU no one else wants.
    pub async fn build_in_idle_class(&self) -> Result<IsolateHandle, WorkerError> {
        let limits = self.inner.limits.clone();
        let priority = Arc::new(BootstrapPriority::default());
        tokio::task::spawn_blocking(move || spawn_blank(limits, Some(priority)))
            .await
            .map_err(|error| WorkerError::Engine(error.to_string()))?
    }

    /// Isolates refill threads are building right now.
    pub fn building(&self) -> usize {
        self.inner.ready.lock().map(|ready| ready.building).unwrap_or(0)
    }

    /// Blank isolates cold starts have built themselves so far, having
    /// found no warm isolate and no refill to adopt.
    pub fn built_on_demand(&self) -> u64 {
        self.inner.built_on_demand.load(Ordering::Relaxed)
    }

    /// Number of warm isolates waiting.
    pub fn warm(&self) -> usize {
        self.inner.ready.lock().map(|ready| ready.isolates.len()).unwrap_or(0)
    }
}

fn refill(pool: std::sync::Weak<PoolInner>) {
    loop {
        let Some(inner) = pool.upgrade() else { return };
        let background = match inner.ready.lock() {
            Ok(ready) if ready.isolates.len() + ready.building >= inner.target => {
                // Wait until someone takes an isolate (or a second passes, to
                // notice the pool being dropped).
                let _ = inner.wanted.wait_timeout(ready, std::time::Duration::from_secs(1));
                continue;
            }
            Ok(mut ready) => {
                ready.building += 1;
                // Idle class only while a cold start would still find one.
                (!ready.isolates.is_empty()).then(|| {
                    let priority = Arc::new(BootstrapPriority::default());
                    ready.in_background.push(priority.clone());
                    priority
                })
            }
            Err(_) => return,
        };
        let built = spawn_blank(inner.limits.clone(), background.clone());
        let Ok(mut ready) = inner.ready.lock() else { return };
        ready.building -= 1;
        if let Some(priority) = &background {
            ready.in_background.retain(|refill| !Arc::ptr_eq(refill, priority));
        }
        match built {
            Ok(isolate) => ready.deliver(isolate),
            Err(error) => {
                // The cold start waiting for this refill builds its own.
                if ready.adopters.len() > ready.building {
                    ready.adopters.pop_front();
                }
                drop(ready);
                tracing::error!(%error, "could not pre-warm an isolate");
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        }
    }
}
