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
//! Cold starts that find nothing to take or adopt queue for isolates built
//! on demand, by at most one builder thread per core, each handing what it
//! builds to the oldest waiting cold start: a thousand first requests at
//! once make a queue, not a thousand bootstraps sharing two cores, which
//! would all finish late (and hold a thousand half-built heaps meanwhile).
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
    /// Most builder threads building for waiting cold starts at once.
    max_builders: usize,
}

#[derive(Default)]
struct Ready {
    isolates: VecDeque<IsolateHandle>,
    /// Isolates being built by refill threads right now.
    building: usize,
    /// Cold starts waiting for an isolate being built, oldest first.
    adopters: VecDeque<oneshot::Sender<IsolateHandle>>,
    /// Builder threads building for waiting cold starts right now.
    builders: usize,
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

    /// Counts one more builder when waiting cold starts outnumber the
    /// isolates being built (refills and builders; those that gave up are
    /// forgotten) and fewer than `max_builders` run. Whether it did: the
    /// caller then starts (or goes on as) that builder.
    fn claim_builder(&mut self, max_builders: usize) -> bool {
        self.adopters.retain(|adopter| !adopter.is_closed());
        let claimed = self.adopters.len() > self.building + self.builders && self.builders < max_builders;
        if claimed {
            self.builders += 1;
        }
        claimed
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
            max_builders: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
        });
        let cores = inner.max_builders;
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

    /// Takes a warm isolate; with none ready, waits for one being built:
    /// a refill under way that no other cold start is waiting for, or else
    /// one a builder thread builds on demand (at most one builder per core;
    /// beyond that the cold start queues for the next isolate built). Fails
    /// when the isolate built for it could not be.
    pub async fn take_or_adopt(&self) -> Result<IsolateHandle, WorkerError> {
        let (adopted, start_builder) = {
            let mut ready = self.inner.ready.lock().map_err(|_| WorkerError::Unavailable)?;
            if let Some(isolate) = ready.isolates.pop_front() {
                drop(ready);
                self.inner.wanted.notify_one();
                return Ok(isolate);
            }
            let (adopter, adopted) = oneshot::channel();
            ready.adopters.push_back(adopter);
            // A request waits: no refill may starve now.
            for refill in ready.in_background.drain(..) {
                refill.promote();
            }
            (adopted, ready.claim_builder(self.inner.max_builders))
        };
        self.inner.wanted.notify_one();
        if start_builder {
            start_builder_thread(&self.inner);
        }
        adopted.await.map_err(|_| WorkerError::Engine("could not build a blank isolate".into()))
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

    /// Builder threads building isolates for waiting cold starts right now
    /// (at most one per core).
    pub fn builders(&self) -> usize {
        self.inner.ready.lock().map(|ready| ready.builders).unwrap_or(0)
    }

    /// Blank isolates built on demand so far, for cold starts that found
    /// no warm isolate and no refill to adopt.
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
                // The cold start that counted on this refill gets a builder.
                let start_builder = ready.claim_builder(inner.max_builders);
                drop(ready);
                if start_builder {
                    start_builder_thread(&inner);
                }
                tracing::error!(%error, "could not pre-warm an isolate");
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        }
    }
}

/// Starts a builder thread (already counted by `Ready::claim_builder`): it builds
/// blank isolates in the normal class, each for the oldest waiting cold
/// start, until no cold start is left waiting for one. An isolate it could
/// not build fails the oldest waiting cold start.
fn start_builder_thread(inner: &Arc<PoolInner>) {
    let pool = Arc::downgrade(inner);
    let spawned = std::thread::Builder::new().name("isolate-builder".into()).spawn(move || loop {
        let Some(inner) = pool.upgrade() else { return };
        inner.built_on_demand.fetch_add(1, Ordering::Relaxed);
        let built = spawn_blank_isolate(inner.limits.clone());
        let Ok(mut ready) = inner.ready.lock() else { return };
        match built {
            Ok(isolate) => ready.deliver(isolate),
            Err(error) => {
                ready.adopters.pop_front();
                tracing::error!(%error, "could not build a blank isolate for a cold start");
            }
        }
        // Goes on only if it would have been started now.
        ready.builders -= 1;
        if !ready.claim_builder(inner.max_builders) {
            return;
        }
    });
    if let Err(error) = spawned {
        tracing::error!(%error, "could not start an isolate builder thread");
        if let Ok(mut ready) = inner.ready.lock() {
            ready.builders -= 1;
            ready.adopters.pop_front();
        }
    }
}
