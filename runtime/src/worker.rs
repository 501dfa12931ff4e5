//! A deployment's worker as the gateway sees it: start it from a spec, send
//! it requests, shut it down. Behind it are one or more isolates, each on its
//! own thread; a terminated isolate is replaced from the pool on the next
//! request.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use http::Response;
use tokio::sync::{oneshot, Mutex};

use crate::api::outbound_fetch::OutboundPolicy;
use crate::body::{RequestBody, ResponseBody};
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
    isolates: Mutex<Vec<Arc<IsolateHandle>>>,
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
        let worker = Worker { code, pool, isolates: Mutex::new(Vec::new()) };
        let mut isolates = Vec::new();
        for _ in 0..spec.isolates.max(1) {
            isolates.push(Arc::new(worker.load_isolate().await?));
        }
        *worker.isolates.lock().await = isolates;
        Ok(worker)
    }

    /// The worker's name.
    pub fn name(&self) -> &str {
        &self.code.name
    }

    async fn load_isolate(&self) -> Result<IsolateHandle, WorkerError> {
        let pool = self.pool.clone();
        let isolate = tokio::task::spawn_blocking(move || pool.take())
            .await
            .map_err(|e| WorkerError::Engine(e.to_string()))??;
        let (reply, loaded) = oneshot::channel();
        if !isolate.send(IsolateCommand::Load { code: self.code.clone(), reply }) {
            return Err(WorkerError::Unavailable);
        }
        loaded.await.map_err(|_| WorkerError::Unavailable)??;
        Ok(isolate)
    }

    /// Picks the least busy live isolate, replacing dead ones.
    async fn isolate(&self) -> Result<Arc<IsolateHandle>, WorkerError> {
        let mut isolates = self.isolates.lock().await;
        for slot in isolates.iter_mut() {
            if slot.is_closed() {
                tracing::info!(worker = %self.code.name, isolate = slot.id, "replacing a terminated isolate");
                *slot = Arc::new(self.load_isolate().await?);
            }
        }
        isolates
            .iter()
            .min_by_key(|isolate| isolate.in_flight())
            .cloned()
            .ok_or(WorkerError::Unavailable)
    }

    /// Runs the worker's fetch handler for `request`. The request's URI must
    /// be absolute (`http://host/path`).
    pub async fn fetch(&self, request: http::Request<RequestBody>) -> Result<Response<ResponseBody>, WorkerError> {
        let isolate = self.isolate().await?;
        let (reply, response) = oneshot::channel();
        let counter = isolate.in_flight_counter();
        counter.fetch_add(1, Ordering::Relaxed);
        let _in_flight = InFlightGuard(counter);
        if !isolate.send(IsolateCommand::Fetch { request, reply }) {
            return Err(WorkerError::Unavailable);
        }
        let wall_clock = self.code.limits.wall_clock;
        match tokio::time::timeout(wall_clock, response).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(WorkerError::Unavailable),
            Err(_) => Err(WorkerError::Timeout(wall_clock.as_millis() as u64)),
        }
    }

    /// Stops taking requests and waits until every isolate has finished its
    /// in-flight work, `ctx.waitUntil()` included.
    pub async fn shutdown(&self) {
        let isolates: Vec<Arc<IsolateHandle>> = std::mem::take(&mut *self.isolates.lock().await);
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

struct InFlightGuard(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
