//! A worker version as the gateway sees it: start it from a spec, send it
//! requests, drain it. Behind it are isolates, each on its own thread, that
//! come and go with load:
//!
//! - a worker may start with no isolate and get one on its first request
//!   (a cold start: a blank isolate from the pool plus the worker's modules);
//! - while every live isolate is saturated (requests in flight and its
//!   thread busy at least half the time), another is started in the
//!   background, up to `Scaling::max_isolates`. Requests merely waiting on
//!   I/O or timers share one isolate, as on Workers: an isolate per
//!   overlapping request would put a thread to sleep and wake another for
//!   every request, with each heap cold in the caches;
//! - an isolate idle for `Scaling::idle_timeout` is evicted (down to
//!   `Scaling::min_isolates`, zero by default). Eviction closes its channel:
//!   it finishes its in-flight requests and `waitUntil` work, then exits;
//! - a terminated isolate is replaced in the background while the others
//!   keep serving.
//!
//! The list of isolates is behind a lock that is never held while an isolate
//! loads.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use http::Response;
use tokio::sync::{oneshot, Notify};

use crate::api::outbound_fetch::OutboundPolicy;
use crate::body::{RequestBody, ResponseBody};
use crate::bundle::ModuleBundle;
use crate::context::SUBREQUEST_DEPTH_HEADER;
use crate::error::WorkerError;
use crate::isolate::{IsolateCommand, IsolateHandle, WorkerCode, WorkerCounters};
use crate::limits::{Limit, Limits};
use crate::logs::LogSink;
use crate::pool::IsolatePool;
use crate::supervisor::Termination;

/// How many isolates a worker runs, and when they go away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scaling {
    /// Isolates kept even when idle (0: the worker scales to zero).
    pub min_isolates: usize,
    /// Most isolates the worker runs at once.
    pub max_isolates: usize,
    /// An isolate idle this long is evicted (down to `min_isolates`).
    pub idle_timeout: Duration,
}

impl Default for Scaling {
    fn default() -> Self {
        Scaling {
            min_isolates: 0,
            max_isolates: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

impl Scaling {
    /// Exactly `n` isolates, never evicted (what `brink dev --isolates N`
    /// runs).
    pub fn fixed(n: usize) -> Scaling {
        Scaling { min_isolates: n.max(1), max_isolates: n.max(1), idle_timeout: Duration::MAX }
    }
}

/// How to run one worker version.
#[derive(Clone)]
pub struct WorkerSpec {
    /// Name used in logs and metrics.
    pub name: String,
    /// The version number (logs); 0 for `brink dev`.
    pub version: u64,
    /// The version's modules.
    pub bundle: Arc<ModuleBundle>,
    /// `env.NAME = value` bindings.
    pub vars: Vec<(String, String)>,
    /// Secret bindings: like vars, but never logged or listed.
    pub secrets: Vec<(String, String)>,
    /// KV bindings: `env.NAME` → namespace.
    pub kv: Vec<(String, brink_kv::KvNamespace)>,
    /// Where outbound `fetch()` may go.
    pub outbound: OutboundPolicy,
    /// The worker's limits. The heap limit is fixed when the pool builds an
    /// isolate, so a worker's heap limit is at most the pool's.
    pub limits: Limits,
    /// How many isolates, and when they go away.
    pub scaling: Scaling,
    /// The worker's own log stream (`brink tail`), if wanted.
    pub log_sink: Option<LogSink>,
}

impl std::fmt::Debug for WorkerSpec {
    // Names only: a secret's value must never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerSpec")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("entry", &self.bundle.entry())
            .field("secrets", &self.secrets.iter().map(|(name, _)| name).collect::<Vec<_>>())
            .field("scaling", &self.scaling)
            .finish_non_exhaustive()
    }
}

/// What a worker has done, for metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Isolates running the worker now.
    pub live_isolates: usize,
    /// Isolates started for it (its first request's, scale-ups and
    /// replacements).
    pub cold_starts: u64,
    /// Idle isolates evicted.
    pub evictions: u64,
    /// CPU its JavaScript used, in nanoseconds.
    pub cpu_ns: u64,
    /// How many times the long turns of its live isolates, run at the
    /// lowest priority, offered their core to other threads.
    pub demoted_yields: u64,
    /// Limit hits by limit: isolates terminated for CPU time or memory,
    /// requests that ran out of wall-clock time or broke a body size limit.
    pub limit_hits: Vec<(Limit, u64)>,
}

/// Every worker's isolates in the process, so that a process-wide cap on
/// live isolates can be kept: before an isolate is started while the process
/// is at the cap, the least recently used idle isolate of any worker is
/// evicted. In-flight work is never dropped for it: when no isolate is idle,
/// the new one starts anyway and the process is over the cap until one is.
pub struct IsolateRegistry {
    max_live: usize,
    /// Isolates in every worker's live list (a [`LiveIsolate`] counts itself
    /// while it exists), so that a cold start under the cap needs no walk
    /// over every worker.
    live: Arc<AtomicUsize>,
    workers: Mutex<Vec<Weak<Slots>>>,
}

impl IsolateRegistry {
    /// A registry that keeps at most `max_live` isolates.
    pub fn new(max_live: usize) -> IsolateRegistry {
        IsolateRegistry { max_live: max_live.max(1), live: Arc::new(AtomicUsize::new(0)), workers: Mutex::new(Vec::new()) }
    }

    fn register(&self, slots: &Arc<Slots>) {
        if let Ok(mut workers) = self.workers.lock() {
            workers.retain(|worker| worker.strong_count() > 0);
            workers.push(Arc::downgrade(slots));
        }
    }

    fn workers(&self) -> Vec<Arc<Slots>> {
        self.workers.lock().map(|workers| workers.iter().filter_map(Weak::upgrade).collect()).unwrap_or_default()
    }

    /// Live isolates in the process.
    pub fn live(&self) -> usize {
        self.workers().iter().map(|slots| slots.list.lock().map(|list| list.live.len()).unwrap_or(0)).sum()
    }

    /// Whether one more isolate fits under the cap without evicting one.
    fn has_room(&self) -> bool {
        self.live.load(Ordering::Relaxed) < self.max_live
    }

    /// Makes room for one more isolate: evicts least recently used idle
    /// isolates until the process is under its cap, or none is idle.
    fn make_room(&self) {
        loop {
            if self.has_room() {
                return;
            }
            let workers = self.workers();
            let live: usize = workers.iter().map(|slots| slots.list.lock().map(|list| list.live.len()).unwrap_or(0)).sum();
            if live < self.max_live {
                return;
            }
            // The idle isolate that was active longest ago, over all workers.
            let oldest = workers
                .iter()
                .filter_map(|slots| {
                    let list = slots.list.lock().ok()?;
                    list.live
                        .iter()
                        .filter(|isolate| isolate.handle.in_flight() == 0)
                        .map(|isolate| (isolate.last_active.load(Ordering::Relaxed), isolate.handle.id))
                        .min()
                        .map(|(at, id)| (at, id, slots.clone()))
                })
                .min_by_key(|(at, _, _)| *at);
            let Some((_, id, slots)) = oldest else {
                tracing::warn!(live, max = self.max_live, "over the live isolate cap: no isolate is idle");
                return;
            };
            let evicted = slots.list.lock().ok().and_then(|mut list| {
                let index = list.live.iter().position(|isolate| isolate.handle.id == id && isolate.handle.in_flight() == 0)?;
                Some(list.live.remove(index))
            });
            if let Some(isolate) = evicted {
                slots.evictions.fetch_add(1, Ordering::Relaxed);
                tracing::info!(isolate = isolate.handle.id, "evicting the least recently used idle isolate: the process is at its live isolate cap");
            }
        }
    }
}

/// A running worker version.
pub struct Worker {
    code: Arc<WorkerCode>,
    pool: IsolatePool,
    scaling: Scaling,
    slots: Arc<Slots>,
}

/// The worker's isolates.
struct Slots {
    list: Mutex<SlotList>,
    /// Woken whenever a load finishes.
    changed: Notify,
    cold_starts: AtomicU64,
    evictions: AtomicU64,
    /// The registry's count of live isolates.
    registry_live: Arc<AtomicUsize>,
}

#[derive(Default)]
struct SlotList {
    live: Vec<LiveIsolate>,
    /// Isolates being loaded.
    loading: usize,
    /// A load failed and no isolate is live: the next request retries.
    load_failed: bool,
    shutting_down: bool,
}

struct LiveIsolate {
    handle: Arc<IsolateHandle>,
    /// When a request last finished or started on it (ms on `clock_ms`).
    last_active: Arc<AtomicU64>,
    load: CpuLoad,
    _counted: LiveCount,
}

impl LiveIsolate {
    fn new(handle: Arc<IsolateHandle>, slots: &Slots) -> LiveIsolate {
        slots.registry_live.fetch_add(1, Ordering::Relaxed);
        let load = CpuLoad { sampled_at: Instant::now(), cpu_ns: handle.thread_cpu_ns(), saturated: false };
        LiveIsolate {
            handle,
            last_active: Arc::new(AtomicU64::new(clock_ms())),
            load,
            _counted: LiveCount(slots.registry_live.clone()),
        }
    }

    /// Whether its thread has been busy at least half of the last
    /// [`SATURATION_WINDOW`] or more: the sign that its requests queue for
    /// the CPU, not for I/O. Sampled at most once per window, by requests
    /// that find every isolate busy.
    fn saturated(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.load.sampled_at);
        if elapsed >= SATURATION_WINDOW {
            let cpu_ns = self.handle.thread_cpu_ns();
            let used = cpu_ns.saturating_sub(self.load.cpu_ns);
            self.load = CpuLoad { sampled_at: now, cpu_ns, saturated: u128::from(used) * 2 >= elapsed.as_nanos() };
        }
        self.load.saturated
    }
}

/// The shortest span over which an isolate's CPU use is judged for scaling.
const SATURATION_WINDOW: Duration = Duration::from_millis(10);

/// An isolate thread's CPU clock when last sampled, and the verdict then.
struct CpuLoad {
    sampled_at: Instant,
    cpu_ns: u64,
    saturated: bool,
}

/// One isolate in [`IsolateRegistry::live`], for as long as it is in a live
/// list.
struct LiveCount(Arc<AtomicUsize>);

impl Drop for LiveCount {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Milliseconds since the first call, on a monotonic clock.
fn clock_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    u64::try_from(START.get_or_init(Instant::now).elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl Worker {
    /// Loads the worker into one isolate (more if `min_isolates` says so),
    /// proving its code loads: a syntax error, a missing import or an
    /// exception at top level fails here with the engine's message
    /// (file:line:column).
    pub async fn start(spec: WorkerSpec, pool: IsolatePool) -> Result<Worker, WorkerError> {
        let worker = Worker::new_idle(spec, pool);
        let count = worker.scaling.min_isolates.max(1);
        for _ in 0..count {
            let registry = worker.pool.registry();
            let _ = tokio::task::spawn_blocking(move || registry.make_room()).await;
            let isolate = load_isolate(worker.code.clone(), worker.pool.clone()).await?;
            worker.slots.cold_starts.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut list) = worker.slots.list.lock() {
                list.live.push(LiveIsolate::new(Arc::new(isolate), &worker.slots));
            }
        }
        Ok(worker)
    }

    /// A worker with no isolate yet: its first request starts one. Used for
    /// workers restored after a restart, whose code loaded before.
    pub fn new_idle(spec: WorkerSpec, pool: IsolatePool) -> Worker {
        let mut limits = spec.limits;
        limits.heap_bytes = limits.heap_bytes.min(pool.limits().heap_bytes);
        let code = Arc::new(WorkerCode {
            name: spec.name,
            version: spec.version,
            bundle: spec.bundle,
            vars: spec.vars,
            secrets: spec.secrets,
            kv: spec.kv,
            outbound: spec.outbound,
            limits,
            log_sink: spec.log_sink,
            counters: Arc::new(WorkerCounters::default()),
        });
        let slots = Arc::new(Slots {
            list: Mutex::new(SlotList::default()),
            changed: Notify::new(),
            cold_starts: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            registry_live: pool.registry().live.clone(),
        });
        pool.registry().register(&slots);
        let scaling = spec.scaling;
        if scaling.idle_timeout < Duration::MAX && tokio::runtime::Handle::try_current().is_ok() {
            tokio::spawn(evict_idle_isolates(Arc::downgrade(&slots), scaling.clone(), code.name.clone()));
        }
        Worker { code, pool, scaling, slots }
    }

    /// The worker's name.
    pub fn name(&self) -> &str {
        &self.code.name
    }

    /// The worker's version.
    pub fn version(&self) -> u64 {
        self.code.version
    }

    /// What the worker has done so far.
    pub fn stats(&self) -> WorkerStats {
        // An isolate whose thread has ended (a failed load, a termination) is
        // not live, even before the list is next tidied.
        let (live_isolates, demoted_yields) = self
            .slots
            .list
            .lock()
            .map(|list| {
                let live = list.live.iter().filter(|isolate| !isolate.handle.is_closed());
                live.fold((0, 0), |(count, yields), isolate| (count + 1, yields + isolate.handle.demoted_yields()))
            })
            .unwrap_or((0, 0));
        let counters = &self.code.counters;
        WorkerStats {
            live_isolates,
            cold_starts: self.slots.cold_starts.load(Ordering::Relaxed),
            evictions: self.slots.evictions.load(Ordering::Relaxed),
            cpu_ns: counters.cpu_ns.load(Ordering::Relaxed),
            demoted_yields,
            limit_hits: Limit::ALL.iter().map(|limit| (*limit, counters.limit_hits(*limit))).collect(),
        }
    }

    /// Picks the least busy live isolate. Dead isolates are dropped and, as
    /// when every isolate is saturated, another is started in the background
    /// (up to `max_isolates`); only when no isolate is live does the
    /// request wait for one (bounded by the caller's wall-clock limit).
    async fn isolate(&self) -> Result<(Arc<IsolateHandle>, Arc<AtomicU64>), WorkerError> {
        let mut waited = false;
        loop {
            let changed = self.slots.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut list = self.slots.list.lock().map_err(|_| WorkerError::Unavailable)?;
                if list.shutting_down {
                    return Err(WorkerError::Unavailable);
                }
                list.live.retain(|isolate| {
                    let closed = isolate.handle.is_closed();
                    if closed {
                        tracing::info!(worker = %self.code.name, version = self.code.version, isolate = isolate.handle.id, "replacing a terminated isolate");
                        // Counted here, before its replacement starts: the
                        // isolate thread may log the termination only after
                        // the client already has its 503 and the next
                        // request is here.
                        if matches!(isolate.handle.termination(), Some(Termination::CpuTime | Termination::Memory)) {
                            self.code.counters.strikes.record();
                        }
                    }
                    !closed
                });
                if list.live.is_empty() && list.load_failed && waited && list.loading == 0 {
                    list.load_failed = false;
                    return Err(WorkerError::Unavailable);
                }
                let best = list
                    .live
                    .iter()
                    .min_by_key(|isolate| isolate.handle.in_flight())
                    .map(|isolate| (isolate.handle.clone(), isolate.last_active.clone()));
                let all_busy = best.as_ref().is_none_or(|(handle, _)| handle.in_flight() > 0);
                let room = list.live.len() + list.loading < self.scaling.max_isolates.max(1);
                let want_more = list.live.len() + list.loading < self.scaling.min_isolates;
                let scale_up = all_busy && room && list.loading == 0 && {
                    let now = Instant::now();
                    list.live.iter_mut().all(|isolate| isolate.saturated(now))
                };
                if scale_up || want_more || (list.live.is_empty() && list.loading == 0) {
                    list.loading += 1;
                    list.load_failed = false;
                    if list.live.is_empty() {
                        if let Some(picked) = self.start_warm(&mut list) {
                            return Ok(picked);
                        }
                    }
                    self.spawn_load();
                }
                if let Some(best) = best {
                    return Ok(best);
                }
            }
            changed.await;
            waited = true;
        }
    }

    /// Starts loading an isolate in the background when the worker has
    /// none live and none loading, so a request expected soon (a TLS
    /// handshake naming the worker's host is under way) finds one ready.
    /// Returns whether a load was started.
    pub fn prewarm(&self) -> bool {
        let Ok(mut list) = self.slots.list.lock() else { return false };
        if list.shutting_down || list.loading > 0 || list.live.iter().any(|isolate| !isolate.handle.is_closed()) {
            return false;
        }
        list.loading += 1;
        list.load_failed = false;
        self.spawn_load();
        true
    }

    /// A cold start on the request's own task, when a warm isolate is ready,
    /// the process is under its isolate cap and the worker's next isolate is
    /// not to be delayed: the worker's `Load` goes to the isolate now and the
    /// request's `Fetch` queues behind it on the same channel, so the
    /// isolate thread loads and serves in one wake-up, with no hand-off to
    /// another task or back. `list.loading` is already counted.
    fn start_warm(&self, list: &mut SlotList) -> Option<(Arc<IsolateHandle>, Arc<AtomicU64>)> {
        // A worker with strikes builds its own isolates (`spawn_load`).
        if !self.pool.registry().has_room() || self.code.counters.strikes.demote_from_start() {
            return None;
        }
        let started = Instant::now();
        let isolate = self.pool.try_take()?;
        begin_load(&self.code, &self.slots, list, isolate, started)
    }

    fn spawn_load(&self) {
        let (code, pool, slots) = (self.code.clone(), self.pool.clone(), self.slots.clone());
        tokio::spawn(async move {
            let delay = code.counters.strikes.replacement_delay();
            if !delay.is_zero() {
                tracing::warn!(worker = %code.name, version = code.version, delay_ms = delay.as_millis() as u64, "the worker keeps exceeding its limits; delaying its next isolate");
                tokio::time::sleep(delay).await;
            }
            let registry = pool.registry();
            if !registry.has_room() {
                let _ = tokio::task::spawn_blocking(move || registry.make_room()).await;
            }
            let started = Instant::now();
            let taken = if code.counters.strikes.demote_from_start() {
                pool.build_in_idle_class().await
            } else {
                pool.take_or_adopt().await
            };
            let isolate = taken.map(|isolate| {
                // Requests are waiting for the worker's only isolate: give
                // them this one now, their requests queued behind its load.
                let Ok(mut list) = slots.list.lock() else { return Some(isolate) };
                if !list.live.is_empty() || list.shutting_down {
                    return Some(isolate);
                }
                if begin_load(&code, &slots, &mut list, isolate, started).is_none() {
                    list.loading = list.loading.saturating_sub(1);
                    list.load_failed = true;
                }
                None
            });
            let result = match isolate {
                Ok(Some(isolate)) => load_into(&code, isolate, started).await,
                Ok(None) => {
                    slots.changed.notify_waiters();
                    return;
                }
                Err(error) => Err(error),
            };
            if let Ok(mut list) = slots.list.lock() {
                list.loading = list.loading.saturating_sub(1);
                match result {
                    Ok(isolate) if !list.shutting_down => {
                        slots.cold_starts.fetch_add(1, Ordering::Relaxed);
                        list.live.push(LiveIsolate::new(Arc::new(isolate), &slots));
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::error!(worker = %code.name, version = code.version, %error, "could not start an isolate");
                        list.load_failed = true;
                    }
                }
            }
            slots.changed.notify_waiters();
        });
    }

    /// Runs the worker's fetch handler for `request`. The request's URI must
    /// be absolute (`http://host/path`). The wall-clock limit covers the
    /// whole wait: queueing, starting an isolate, and the handler.
    pub async fn fetch(&self, request: http::Request<RequestBody>) -> Result<Response<ResponseBody>, WorkerError> {
        let limits = &self.code.limits;
        let wall_clock = limits.wall_clock;
        let deadline = Instant::now() + wall_clock;
        let depth = subrequest_depth(&request);
        if depth > limits.max_subrequest_depth {
            return Err(WorkerError::LoopDetected(depth));
        }
        let work = async {
            let (isolate, last_active) = self.isolate().await?;
            let (reply, response) = oneshot::channel();
            let _in_flight = InFlightGuard::new(isolate.in_flight_counter(), last_active);
            if !isolate.send(IsolateCommand::Fetch { request, reply, deadline, depth }) {
                return Err(WorkerError::Unavailable);
            }
            response.await.map_err(|_| WorkerError::Unavailable)?
        };
        let result = match tokio::time::timeout_at(deadline.into(), work).await {
            Ok(result) => result,
            Err(_) => Err(WorkerError::LimitExceeded(Limit::WallClock)),
        };
        if let Err(WorkerError::LimitExceeded(Limit::WallClock)) = &result {
            self.record_limit(Limit::WallClock);
        }
        result
    }

    /// The limits the worker's requests run under.
    pub fn limits(&self) -> &Limits {
        &self.code.limits
    }

    /// Counts and logs a limit that was enforced outside the isolate (the
    /// gateway's body size checks, the wall clock).
    pub fn record_limit(&self, limit: Limit) {
        self.code.counters.count_limit(limit);
        tracing::warn!(worker = %self.code.name, version = self.code.version, limit = limit.description(), "worker exceeded a limit");
        if let Some(sink) = &self.code.log_sink {
            sink.send("limit", format!("the worker exceeded its {}", limit.description()));
        }
    }

    /// Stops taking requests and waits until every isolate has finished its
    /// in-flight work, `ctx.waitUntil()` included.
    pub async fn shutdown(&self) {
        let isolates: Vec<Arc<IsolateHandle>> = match self.slots.list.lock() {
            Ok(mut list) => {
                list.shutting_down = true;
                list.live.drain(..).map(|isolate| isolate.handle).collect()
            }
            Err(_) => Vec::new(),
        };
        // Drop our handles first: an isolate exits only when its channel
        // closes, i.e. when the last handle (ours, or an in-flight request's,
        // bounded by the wall-clock limit) is gone.
        let exits: Vec<_> = isolates.iter().map(|isolate| isolate.exit_signal()).collect();
        drop(isolates);
        for mut exited in exits {
            let _ = exited.wait_for(|done| *done).await;
        }
    }
}

/// Evicts the worker's isolates that have been idle (no request in flight)
/// for `scaling.idle_timeout`, keeping `scaling.min_isolates`. Stops when the
/// worker is dropped.
async fn evict_idle_isolates(slots: Weak<Slots>, scaling: Scaling, name: String) {
    let timeout_ms = u64::try_from(scaling.idle_timeout.as_millis()).unwrap_or(u64::MAX);
    let tick = (scaling.idle_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
    loop {
        tokio::time::sleep(tick).await;
        let Some(slots) = slots.upgrade() else { return };
        let evicted: Vec<LiveIsolate> = {
            let Ok(mut list) = slots.list.lock() else { return };
            if list.shutting_down {
                return;
            }
            let now = clock_ms();
            let mut keep = Vec::new();
            let mut evicted = Vec::new();
            // Most recently used first, so the ones kept are the warmest.
            list.live.sort_by_key(|isolate| std::cmp::Reverse(isolate.last_active.load(Ordering::Relaxed)));
            for isolate in list.live.drain(..) {
                let idle = isolate.handle.in_flight() == 0
                    && now.saturating_sub(isolate.last_active.load(Ordering::Relaxed)) >= timeout_ms;
                if idle && keep.len() >= scaling.min_isolates {
                    evicted.push(isolate);
                } else {
                    keep.push(isolate);
                }
            }
            list.live = keep;
            evicted
        };
        for isolate in evicted {
            slots.evictions.fetch_add(1, Ordering::Relaxed);
            tracing::info!(worker = %name, isolate = isolate.handle.id, "evicting an idle isolate");
            // Dropping the handle closes the channel: the isolate finishes
            // its waitUntil work, then exits.
        }
    }
}

/// Takes a blank isolate from the pool and loads the worker into it.
async fn load_isolate(code: Arc<WorkerCode>, pool: IsolatePool) -> Result<IsolateHandle, WorkerError> {
    let started = Instant::now();
    let isolate = pool.take_or_adopt().await?;
    load_into(&code, isolate, started).await
}

/// Loads the worker into a blank isolate taken at `started`, and waits.
async fn load_into(code: &Arc<WorkerCode>, isolate: IsolateHandle, started: Instant) -> Result<IsolateHandle, WorkerError> {
    let taken_us = started.elapsed().as_micros() as u64;
    let (reply, loaded) = oneshot::channel();
    if !isolate.send(IsolateCommand::Load { code: code.clone(), reply }) {
        return Err(WorkerError::Unavailable);
    }
    loaded.await.map_err(|_| WorkerError::Unavailable)??;
    log_loaded(code, isolate.id, taken_us, started, false);
    Ok(isolate)
}

/// The `isolate loaded` debug event: a cold start's parts, for
/// bench/cold_start.sh. `queued` is a load that requests were queued behind.
fn log_loaded(code: &WorkerCode, isolate: u64, taken_us: u64, started: Instant, queued: bool) {
    tracing::debug!(
        worker = %code.name,
        version = code.version,
        isolate,
        taken_us,
        loaded_us = started.elapsed().as_micros() as u64,
        queued,
        "isolate loaded"
    );
}

/// Sends the worker's `Load` to a blank isolate taken at `started` and puts
/// the isolate in the live list at once, so requests queue behind the load
/// on the isolate's channel instead of waiting for it to be announced. The
/// load stays counted in `list.loading` (the caller counted it) until it
/// finishes; a load that fails takes the isolate out again, and the
/// requests queued behind it fail as they would have waiting. None when
/// the isolate is gone (its thread died in the pool).
fn begin_load(
    code: &Arc<WorkerCode>,
    slots: &Arc<Slots>,
    list: &mut SlotList,
    isolate: IsolateHandle,
    started: Instant,
) -> Option<(Arc<IsolateHandle>, Arc<AtomicU64>)> {
    let taken_us = started.elapsed().as_micros() as u64;
    let (reply, loaded) = oneshot::channel();
    if !isolate.send(IsolateCommand::Load { code: code.clone(), reply }) {
        return None;
    }
    let live = LiveIsolate::new(Arc::new(isolate), slots);
    let picked = (live.handle.clone(), live.last_active.clone());
    let id = live.handle.id;
    list.live.push(live);
    slots.cold_starts.fetch_add(1, Ordering::Relaxed);
    let (code, slots) = (code.clone(), Arc::downgrade(slots));
    tokio::spawn(async move {
        let result = loaded.await.map_err(|_| WorkerError::Unavailable).and_then(|loaded| loaded);
        let Some(slots) = slots.upgrade() else { return };
        if let Ok(mut list) = slots.list.lock() {
            list.loading = list.loading.saturating_sub(1);
            if let Err(error) = &result {
                tracing::error!(worker = %code.name, version = code.version, %error, "could not start an isolate");
                list.live.retain(|isolate| isolate.handle.id != id);
                list.load_failed = list.live.is_empty();
            }
        }
        if result.is_ok() {
            log_loaded(&code, id, taken_us, started, true);
        }
        slots.changed.notify_waiters();
    });
    Some(picked)
}

/// How many worker subrequests deep `request` is (0 for a client's request).
fn subrequest_depth<B>(request: &http::Request<B>) -> u32 {
    request
        .headers()
        .get(SUBREQUEST_DEPTH_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u32>().ok())
        .unwrap_or(0)
}

/// Counts a request in flight on an isolate, and marks the isolate active
/// when the request starts and ends.
struct InFlightGuard {
    in_flight: Arc<AtomicUsize>,
    last_active: Arc<AtomicU64>,
}

impl InFlightGuard {
    fn new(in_flight: Arc<AtomicUsize>, last_active: Arc<AtomicU64>) -> InFlightGuard {
        in_flight.fetch_add(1, Ordering::Relaxed);
        last_active.store(clock_ms(), Ordering::Relaxed);
        InFlightGuard { in_flight, last_active }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.last_active.store(clock_ms(), Ordering::Relaxed);
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}
