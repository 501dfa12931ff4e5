//! A deployment's worker as the gateway sees it: start it from a spec, send
//! it requests, shut it down. Behind it are one or more isolates, each on its
//! own thread; a terminated isolate is replaced from the pool in the
//! background while the others keep serving.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use std::sync::Mutex;
use std::time::Instant;

use http::Response;
use tokio::sync::{oneshot, Notify};

use crate::api::outbound_fetch::OutboundPolicy;
use crate::body::{RequestBody, ResponseBody};
use crate::context::SUBREQUEST_DEPTH_HEADER;
use crate::error::WorkerError;
use crate::isolate::{IsolateCommand, IsolateHandle, WorkerCode};
use crate::pool::IsolatePool;

/// How to run one worker.
#[derive(Clone, Debug)]
pub struct WorkerSpec {
    /// Name used in logs.
    pub name: String,
    /// The entry module: `export default { fetch }` or a service worker.
    pub entry: PathBuf,
    /// `env.NAME = value` bindings.
    pub vars: Vec<(String, String)>,
    /// KV bindings: `env.NAME` → namespace.
    pub kv: Vec<(String, brink_kv::KvNamespace)>,
    /// Where outbound `fetch()` may go.
    pub outbound: OutboundPolicy,
    /// Isolates serving this worker in parallel (each has its own globals,
    /// as on Cloudflare, where a worker runs in many isolates).
    pub isolates: usize,
}

/// A running worker.
pub struct Worker {
    code: Arc<WorkerCode>,
    pool: IsolatePool,
    slots: Arc<Slots>,
}

/// The worker's isolates. The lock is held only to look at or change the
/// list, never while an isolate loads: a replacement loads in a task of its
/// own and requests keep going to the other live isolates meanwhile.
struct Slots {
    list: Mutex<SlotList>,
    /// Woken whenever a load finishes.
    changed: Notify,
}

#[derive(Default)]
struct SlotList {
    slots: Vec<Slot>,
    shutting_down: bool,
}

#[derive(Default)]
struct Slot {
    isolate: Option<Arc<IsolateHandle>>,
    loading: bool,
    load_failed: bool,
}

impl Worker {
    /// Loads the worker into its isolates. Fails with the engine's message
    /// (file:line:column for a syntax error) if the code does not load.
    pub async fn start(spec: WorkerSpec, pool: IsolatePool) -> Result<Worker, WorkerError> {
        let entry = std::fs::canonicalize(&spec.entry)
            .map_err(|e| WorkerError::Load(format!("cannot open {}: {e}", spec.entry.display())))?;
        let root = entry
            .parent()
            .map(PathBuf::from)
            .ok_or_else(|| WorkerError::Load(format!("{} has no parent directory", entry.display())))?;
        let code = Arc::new(WorkerCode {
            name: spec.name,
            entry,
            root,
            vars: spec.vars,
            kv: spec.kv,
            outbound: spec.outbound,
            limits: pool.limits().clone(),
        });
        let mut slots = Vec::new();
        for _ in 0..spec.isolates.max(1) {
            let isolate = load_isolate(code.clone(), pool.clone()).await?;
            slots.push(Slot { isolate: Some(Arc::new(isolate)), loading: false, load_failed: false });
        }
        let slots = Arc::new(Slots {
            list: Mutex::new(SlotList { slots, shutting_down: false }),
            changed: Notify::new(),
        });
        Ok(Worker { code, pool, slots })
    }

    /// The worker's name.
    pub fn name(&self) -> &str {
        &self.code.name
    }

    /// Picks the least busy live isolate. Dead ones are replaced in the
    /// background; only when no isolate is live does the request wait for a
    /// replacement (bounded by the caller's wall-clock limit).
    async fn isolate(&self) -> Result<Arc<IsolateHandle>, WorkerError> {
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
                let mut any_loading = false;
                let mut any_failed = false;
                for index in 0..list.slots.len() {
                    let slot = &mut list.slots[index];
                    if let Some(isolate) = slot.isolate.as_ref().filter(|isolate| isolate.is_closed()) {
                        tracing::info!(worker = %self.code.name, isolate = isolate.id, "replacing a terminated isolate");
                        slot.isolate = None;
                    }
                    if waited && slot.load_failed {
                        any_failed = true;
                    } else if slot.isolate.is_none() && !slot.loading {
                        slot.loading = true;
                        slot.load_failed = false;
                        self.spawn_replacement(index);
                    }
                    any_loading |= slot.loading;
                }
                let best = list
                    .slots
                    .iter()
                    .filter_map(|slot| slot.isolate.as_ref())
                    .min_by_key(|isolate| isolate.in_flight())
                    .cloned();
                if let Some(best) = best {
                    return Ok(best);
                }
                if any_failed && !any_loading {
                    for slot in list.slots.iter_mut() {
                        slot.load_failed = false;
                    }
                    return Err(WorkerError::Unavailable);
                }
            }
            changed.await;
            waited = true;
        }
    }

    fn spawn_replacement(&self, index: usize) {
        let (code, pool, slots) = (self.code.clone(), self.pool.clone(), self.slots.clone());
        tokio::spawn(async move {
            let result = load_isolate(code.clone(), pool).await;
            if let Ok(mut list) = slots.list.lock() {
                let shutting_down = list.shutting_down;
                if let Some(slot) = list.slots.get_mut(index) {
                    slot.loading = false;
                    match result {
                        Ok(isolate) if !shutting_down => slot.isolate = Some(Arc::new(isolate)),
                        Ok(_) => {}
                        Err(error) => {
                            tracing::error!(worker = %code.name, %error, "could not start a replacement isolate");
                            slot.load_failed = true;
                        }
                    }
                }
            }
            slots.changed.notify_waiters();
        });
    }

    /// Runs the worker's fetch handler for `request`. The request's URI must
    /// be absolute (`http://host/path`). The wall-clock limit covers the
    /// whole wait: queueing, starting a replacement isolate, and the handler.
    pub async fn fetch(&self, request: http::Request<RequestBody>) -> Result<Response<ResponseBody>, WorkerError> {
        let limits = &self.code.limits;
        let wall_clock = limits.wall_clock;
        let deadline = Instant::now() + wall_clock;
        let depth = subrequest_depth(&request);
        if depth > limits.max_subrequest_depth {
            return Err(WorkerError::LoopDetected(depth));
        }
        let work = async {
            let isolate = self.isolate().await?;
            let (reply, response) = oneshot::channel();
            let counter = isolate.in_flight_counter();
            counter.fetch_add(1, Ordering::Relaxed);
            let _in_flight = InFlightGuard(counter);
            if !isolate.send(IsolateCommand::Fetch { request, reply, deadline, depth }) {
                return Err(WorkerError::Unavailable);
            }
            response.await.map_err(|_| WorkerError::Unavailable)?
        };
        match tokio::time::timeout_at(deadline.into(), work).await {
            Ok(result) => result,
            Err(_) => Err(WorkerError::Timeout(u64::try_from(wall_clock.as_millis()).unwrap_or(u64::MAX))),
        }
    }

    /// Stops taking requests and waits until every isolate has finished its
    /// in-flight work, `ctx.waitUntil()` included.
    pub async fn shutdown(&self) {
        let isolates: Vec<Arc<IsolateHandle>> = match self.slots.list.lock() {
            Ok(mut list) => {
                list.shutting_down = true;
                list.slots.iter_mut().filter_map(|slot| slot.isolate.take()).collect()
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

/// Takes a blank isolate from the pool and loads the worker into it.
async fn load_isolate(code: Arc<WorkerCode>, pool: IsolatePool) -> Result<IsolateHandle, WorkerError> {
    let isolate = tokio::task::spawn_blocking(move || pool.take())
        .await
        .map_err(|e| WorkerError::Engine(e.to_string()))??;
    let (reply, loaded) = oneshot::channel();
    if !isolate.send(IsolateCommand::Load { code, reply }) {
        return Err(WorkerError::Unavailable);
    }
    loaded.await.map_err(|_| WorkerError::Unavailable)??;
    Ok(isolate)
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

struct InFlightGuard(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
