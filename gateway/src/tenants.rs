//! The live tenants of `brink serve`: which version of each worker runs,
//! which routes point at it, and the changes the admin API makes (deploy,
//! rollback, delete) — each persisted in the [`DeploymentStore`] before it
//! is acknowledged and made visible to requests by one route-table swap.
//!
//! A replaced or deleted worker is not stopped explicitly: the old route
//! table, and with it the last long-lived handle to the worker, is dropped
//! at the swap, and the worker drains when the requests that already hold
//! it finish (their `waitUntil` work included).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use brink_kv::KvStore;
use brink_runtime::bundle::ModuleBundle;
use brink_runtime::{IsolatePool, Limits, LogLine, LogSink, OutboundPolicy, Scaling, Worker, WorkerError, WorkerSpec};
use serde::Serialize;

use crate::deployments::{
    validate_worker_name, DeploymentError, DeploymentStore, KvBindingRecord, LimitOverrides, SecretValue, StoredVersion,
    VersionRecord,
};
use crate::metrics::WorkerSample;
use crate::router::{Route, RouteTable, Routing};

/// What a deploy uploads.
#[derive(Clone, Debug, Default)]
pub struct DeployRequest {
    /// The entry module's path within `modules`.
    pub entry: String,
    /// Module path → source.
    pub modules: BTreeMap<String, Vec<u8>>,
    /// Route patterns.
    pub routes: Vec<String>,
    /// Plain-text bindings.
    pub vars: Vec<(String, String)>,
    /// Secret bindings.
    pub secrets: Vec<(String, SecretValue)>,
    /// KV bindings.
    pub kv: Vec<KvBindingRecord>,
    /// Limit overrides.
    pub limits: LimitOverrides,
    /// The origin behind the worker (`http(s)://host[:port]`), checked by
    /// [`validate_origin`].
    pub origin: Option<String>,
}

/// How every worker of the server runs unless its deploy says otherwise.
#[derive(Clone, Debug)]
pub struct WorkerDefaults {
    /// Default limits; the heap limit is also the most a deploy may ask for.
    pub limits: Limits,
    /// Isolate scaling.
    pub scaling: Scaling,
    /// Where outbound `fetch()` may go.
    pub outbound: OutboundPolicy,
}

/// Why an admin change was refused or failed. Messages never contain a
/// secret's value.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// The request is malformed (bad name, binding, route, limit).
    #[error("{0}")]
    Invalid(String),
    /// The modules do not form a bundle.
    #[error("{0}")]
    Bundle(#[from] brink_runtime::bundle::BundleError),
    /// The code does not load (syntax error, missing handler, …).
    #[error("{0}")]
    Load(String),
    /// A route belongs to another worker.
    #[error("route {route} is already used by worker {owner:?}; delete it there first")]
    RouteConflict {
        /// The route.
        route: String,
        /// The worker that has it.
        owner: String,
    },
    /// No such worker.
    #[error("no worker named {0:?}")]
    NoSuchWorker(String),
    /// No such version.
    #[error("worker {name:?} has no version {version}")]
    NoSuchVersion {
        /// The worker.
        name: String,
        /// The version asked for.
        version: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(DeploymentError),
    /// The KV store refused a namespace.
    #[error("{0}")]
    Kv(#[from] brink_kv::KvError),
    /// The runtime failed for another reason than the code.
    #[error("{0}")]
    Worker(WorkerError),
}

impl From<DeploymentError> for TenantError {
    fn from(error: DeploymentError) -> Self {
        match error {
            DeploymentError::InvalidName(_) => TenantError::Invalid(error.to_string()),
            DeploymentError::NoSuchWorker(name) => TenantError::NoSuchWorker(name),
            DeploymentError::NoSuchVersion { name, version } => TenantError::NoSuchVersion { name, version },
            other => TenantError::Store(other),
        }
    }
}

impl TenantError {
    /// The admin API's status for this error.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            TenantError::Invalid(_) | TenantError::Bundle(_) | TenantError::Load(_) | TenantError::Kv(_) => {
                StatusCode::BAD_REQUEST
            }
            TenantError::RouteConflict { .. } => StatusCode::CONFLICT,
            TenantError::NoSuchWorker(_) | TenantError::NoSuchVersion { .. } => StatusCode::NOT_FOUND,
            TenantError::Store(_) | TenantError::Worker(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// One worker as the admin API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerSummary {
    /// Its name.
    pub name: String,
    /// The version serving.
    pub version: u64,
    /// Its routes.
    pub routes: Vec<String>,
    /// Isolates running its code now.
    pub live_isolates: usize,
    /// Isolates that had to load its code since it started.
    pub cold_starts: u64,
    /// The origin of the version serving, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

/// One version as the admin API lists it (secret names only).
#[derive(Debug, Clone, Serialize)]
pub struct VersionSummary {
    /// The version record.
    #[serde(flatten)]
    pub record: VersionRecord,
    /// Whether it is the one serving.
    pub active: bool,
}

struct LiveWorker {
    version: u64,
    worker: Arc<Worker>,
    routes: Vec<Route>,
    origin: Option<String>,
}

/// Every worker the server runs, and the admin changes to them.
pub struct TenantRegistry {
    store: DeploymentStore,
    pool: IsolatePool,
    kv: Arc<KvStore>,
    defaults: WorkerDefaults,
    routing: Arc<Routing>,
    live: Mutex<BTreeMap<String, LiveWorker>>,
    /// One admin change at a time, so version numbers and route ownership
    /// are decided in order. Requests never take it; it is held while a new
    /// version loads, which only delays other admin changes.
    changes: tokio::sync::Mutex<()>,
    /// Log sinks by worker name, kept across versions so a `brink tail`
    /// keeps streaming through deploys and rollbacks.
    sinks: Mutex<HashMap<String, LogSink>>,
    /// Counters of replaced versions, by worker name, so a worker's
    /// counters keep growing across deploys instead of restarting at zero.
    retired: Mutex<HashMap<String, WorkerSample>>,
    /// Evictions of deleted workers' isolates.
    deleted_evictions: std::sync::atomic::AtomicU64,
}

impl TenantRegistry {
    /// The KV store every worker's namespaces live in.
    pub fn kv_store(&self) -> Arc<KvStore> {
        self.kv.clone()
    }

    /// A registry with no workers, serving through `routing`.
    pub fn new(
        store: DeploymentStore,
        pool: IsolatePool,
        kv: Arc<KvStore>,
        defaults: WorkerDefaults,
        routing: Arc<Routing>,
    ) -> TenantRegistry {
        TenantRegistry {
            store,
            pool,
            kv,
            defaults,
            routing,
            live: Mutex::new(BTreeMap::new()),
            changes: tokio::sync::Mutex::new(()),
            sinks: Mutex::new(HashMap::new()),
            retired: Mutex::new(HashMap::new()),
            deleted_evictions: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The isolate pool (for metrics).
    pub fn pool(&self) -> &IsolatePool {
        &self.pool
    }

    /// Brings back every worker's active version from the store, without
    /// starting isolates (each gets one on its first request). A worker
    /// whose stored version cannot be used is logged and left out, so one
    /// damaged worker does not keep the others down.
    pub async fn restore(&self) -> Result<usize, TenantError> {
        let _change = self.changes.lock().await;
        let store = self.store.clone();
        let stored = blocking(move || {
            let mut stored = Vec::new();
            for name in store.worker_names()? {
                match store.active(&name)? {
                    Some(version) => match store.load(&name, version) {
                        Ok(loaded) => stored.push((name, loaded)),
                        Err(error) => tracing::error!(worker = %name, version, %error, "cannot restore worker"),
                    },
                    None => {}
                }
            }
            Ok::<_, TenantError>(stored)
        })
        .await?;
        let mut restored = 0;
        for (name, version) in stored {
            let number = version.record.version;
            let origin = version.record.origin.clone();
            let result = self.spec(&name, &version).and_then(|(spec, routes)| {
                self.check_routes(&name, &routes)?;
                Ok((Worker::new_idle(spec, self.pool.clone()), routes))
            });
            match result {
                Ok((worker, routes)) => {
                    self.install(&name, LiveWorker { version: number, worker: Arc::new(worker), routes, origin });
                    tracing::info!(worker = %name, version = number, "worker restored");
                    restored += 1;
                }
                Err(error) => tracing::error!(worker = %name, version = number, %error, "cannot restore worker"),
            }
        }
        Ok(restored)
    }

    /// Makes `upload` the next version of worker `name` and switches to it
    /// once it has loaded and is stored. Returns the version number.
    pub async fn deploy(&self, name: &str, upload: DeployRequest) -> Result<u64, TenantError> {
        validate_worker_name(name)?;
        let _change = self.changes.lock().await;
        let routes = parse_routes(&upload.routes)?;
        self.check_routes(name, &routes)?;
        let origin = upload.origin.as_deref().map(validate_origin).transpose()?;
        let store = self.store.clone();
        let owned = name.to_string();
        let number = blocking(move || store.next_version(&owned)).await?;
        let record = VersionRecord {
            version: number,
            created_ms: now_ms(),
            entry: upload.entry.clone(),
            modules: upload.modules.keys().cloned().collect(),
            bytes: upload.modules.values().map(Vec::len).sum(),
            routes: routes.iter().map(ToString::to_string).collect(),
            vars: upload.vars,
            secret_names: upload.secrets.iter().map(|(name, _)| name.clone()).collect(),
            kv: upload.kv,
            limits: upload.limits,
            origin: origin.clone(),
        };
        let version = StoredVersion { record, modules: upload.modules, secrets: upload.secrets };
        let (spec, routes) = self.spec(name, &version)?;
        let worker = start(spec, self.pool.clone()).await?;
        let store = self.store.clone();
        let owned = name.to_string();
        blocking(move || {
            store.write_version(&owned, &version)?;
            store.set_active(&owned, number)
        })
        .await?;
        self.install(name, LiveWorker { version: number, worker: Arc::new(worker), routes, origin });
        tracing::info!(worker = %name, version = number, "version deployed and serving");
        Ok(number)
    }

    /// Switches worker `name` back (or forward) to a stored version.
    pub async fn rollback(&self, name: &str, version: u64) -> Result<u64, TenantError> {
        validate_worker_name(name)?;
        let _change = self.changes.lock().await;
        if !self.live_lock().contains_key(name) {
            return Err(TenantError::NoSuchWorker(name.to_string()));
        }
        let store = self.store.clone();
        let owned = name.to_string();
        let stored = blocking(move || store.load(&owned, version)).await?;
        let (spec, routes) = self.spec(name, &stored)?;
        self.check_routes(name, &routes)?;
        let worker = start(spec, self.pool.clone()).await?;
        let origin = stored.record.origin.clone();
        let store = self.store.clone();
        let owned = name.to_string();
        blocking(move || store.set_active(&owned, version)).await?;
        self.install(name, LiveWorker { version, worker: Arc::new(worker), routes, origin });
        tracing::info!(worker = %name, version, "rolled back");
        Ok(version)
    }

    /// Stops routing to worker `name` at once and removes it and its
    /// versions from the store; its isolates finish what they are doing.
    pub async fn delete(&self, name: &str) -> Result<(), TenantError> {
        validate_worker_name(name)?;
        let _change = self.changes.lock().await;
        let removed = {
            let mut live = self.live_lock();
            let removed = live.remove(name);
            if removed.is_some() {
                self.rebuild_routes(&live);
            }
            removed
        };
        let Some(removed) = removed else {
            return Err(TenantError::NoSuchWorker(name.to_string()));
        };
        let retired = self.retired_lock().remove(name).map_or(0, |sample| sample.evictions);
        let evictions = retired + removed.worker.stats().evictions;
        self.deleted_evictions.fetch_add(evictions, std::sync::atomic::Ordering::Relaxed);
        drop(removed);
        let store = self.store.clone();
        let owned = name.to_string();
        blocking(move || store.delete(&owned)).await?;
        if let Ok(mut sinks) = self.sinks.lock() {
            sinks.remove(name);
        }
        if let Some(metrics) = self.routing.metrics() {
            metrics.forget(name);
        }
        tracing::info!(worker = %name, "worker deleted");
        Ok(())
    }

    /// Every worker, by name.
    pub fn list(&self) -> Vec<WorkerSummary> {
        self.live_lock()
            .iter()
            .map(|(name, live)| {
                let stats = live.worker.stats();
                WorkerSummary {
                    name: name.clone(),
                    version: live.version,
                    routes: live.routes.iter().map(ToString::to_string).collect(),
                    live_isolates: stats.live_isolates,
                    cold_starts: stats.cold_starts,
                    origin: live.origin.clone(),
                }
            })
            .collect()
    }

    /// Every stored version of worker `name`.
    pub async fn versions(&self, name: &str) -> Result<Vec<VersionSummary>, TenantError> {
        validate_worker_name(name)?;
        let active = match self.live_lock().get(name) {
            Some(live) => live.version,
            None => return Err(TenantError::NoSuchWorker(name.to_string())),
        };
        let store = self.store.clone();
        let owned = name.to_string();
        let records = blocking(move || store.versions(&owned)).await?;
        Ok(records.into_iter().map(|record| VersionSummary { active: record.version == active, record }).collect())
    }

    /// A live stream of worker `name`'s log lines.
    pub fn tail(&self, name: &str) -> Result<tokio::sync::broadcast::Receiver<LogLine>, TenantError> {
        if !self.live_lock().contains_key(name) {
            return Err(TenantError::NoSuchWorker(name.to_string()));
        }
        Ok(self.sink(name).subscribe())
    }

    /// Runtime counters of every worker (its replaced versions included),
    /// for `/metrics`.
    pub fn samples(&self) -> Vec<WorkerSample> {
        let live = self.live_lock();
        let retired = self.retired_lock();
        live.iter()
            .map(|(name, live)| {
                let mut sample = sample_of(name, &live.worker);
                if let Some(old) = retired.get(name) {
                    sample.add(old);
                }
                sample
            })
            .collect()
    }

    /// Idle isolates evicted, over all workers ever served.
    pub fn evictions(&self) -> u64 {
        let live: u64 = self.live_lock().values().map(|live| live.worker.stats().evictions).sum();
        let retired: u64 = self.retired_lock().values().map(|sample| sample.evictions).sum();
        live + retired + self.deleted_evictions.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn retired_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, WorkerSample>> {
        self.retired.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The active version of worker `name` as stored, for comparing a
    /// statically declared worker with what runs.
    pub async fn active_version(&self, name: &str) -> Result<Option<StoredVersion>, TenantError> {
        let Some(version) = self.live_lock().get(name).map(|live| live.version) else {
            return Ok(None);
        };
        let store = self.store.clone();
        let owned = name.to_string();
        Ok(Some(blocking(move || store.load(&owned, version)).await?))
    }

    /// Every live worker, for shutdown.
    pub fn workers(&self) -> Vec<Arc<Worker>> {
        self.live_lock().values().map(|live| live.worker.clone()).collect()
    }

    fn live_lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, LiveWorker>> {
        // Every critical section only inserts, removes or reads; a panic
        // inside one cannot leave the map half-changed.
        self.live.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn sink(&self, name: &str) -> LogSink {
        let mut sinks = self.sinks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        sinks.entry(name.to_string()).or_insert_with(LogSink::new).clone()
    }

    /// Refuses routes that another worker has.
    fn check_routes(&self, name: &str, routes: &[Route]) -> Result<(), TenantError> {
        let live = self.live_lock();
        for (owner, worker) in live.iter().filter(|(owner, _)| owner.as_str() != name) {
            if let Some(route) = routes.iter().find(|route| worker.routes.contains(route)) {
                return Err(TenantError::RouteConflict { route: route.to_string(), owner: owner.clone() });
            }
        }
        Ok(())
    }

    /// Puts `worker` in place of the worker's previous version and swaps the
    /// route table. The previous version is dropped here.
    fn install(&self, name: &str, worker: LiveWorker) {
        let previous = {
            let mut live = self.live_lock();
            let previous = live.insert(name.to_string(), worker);
            self.rebuild_routes(&live);
            previous
        };
        if let Some(previous) = previous {
            // Counted when replaced: what the old version still does while
            // draining is not counted.
            let mut sample = sample_of(name, &previous.worker);
            sample.live_isolates = 0;
            let mut retired = self.retired_lock();
            match retired.get_mut(name) {
                Some(total) => total.add(&sample),
                None => {
                    retired.insert(name.to_string(), sample);
                }
            }
        }
    }

    fn rebuild_routes(&self, live: &BTreeMap<String, LiveWorker>) {
        let table = RouteTable::new(
            live.values().flat_map(|live| live.routes.iter().map(move |route| (route, live.worker.clone()))),
        );
        drop(self.routing.replace(table));
    }

    /// The runtime's spec for a stored version, and its parsed routes.
    fn spec(&self, name: &str, version: &StoredVersion) -> Result<(WorkerSpec, Vec<Route>), TenantError> {
        let record = &version.record;
        let routes = parse_routes(&record.routes)?;
        check_bindings(record, &version.secrets)?;
        let bundle = ModuleBundle::new(record.entry.clone(), version.modules.clone())?;
        let mut kv = Vec::new();
        for binding in &record.kv {
            let namespace = match &binding.namespace {
                Some(shared) => shared.clone(),
                None => scoped_namespace(name, &binding.binding)?,
            };
            kv.push((binding.binding.clone(), self.kv.namespace(&namespace)?));
        }
        let limits = effective_limits(&self.defaults.limits, &record.limits)?;
        let spec = WorkerSpec {
            name: name.to_string(),
            version: record.version,
            bundle: Arc::new(bundle),
            vars: record.vars.clone(),
            secrets: version.secrets.iter().map(|(key, value)| (key.clone(), value.0.clone())).collect(),
            kv,
            // The version's origin; a version without one has none (the
            // server-wide policy carries no origin).
            outbound: OutboundPolicy { origin: record.origin.clone(), ..self.defaults.outbound.clone() },
            limits,
            scaling: self.defaults.scaling.clone(),
            log_sink: Some(self.sink(name)),
        };
        Ok((spec, routes))
    }
}

fn sample_of(name: &str, worker: &Worker) -> WorkerSample {
    let stats = worker.stats();
    WorkerSample {
        worker: name.to_string(),
        live_isolates: stats.live_isolates,
        cold_starts: stats.cold_starts,
        evictions: stats.evictions,
        cpu_ns: stats.cpu_ns,
        limit_hits: stats.limit_hits,
    }
}

/// Checks a deploy's origin and returns it as stored and used (see
/// `brink_runtime::api::outbound_fetch::validate_origin`). A private or
/// loopback origin is allowed: see docs/cdn.md.
pub fn validate_origin(origin: &str) -> Result<String, TenantError> {
    brink_runtime::api::outbound_fetch::validate_origin(origin).map_err(|error| TenantError::Invalid(error.to_string()))
}

/// The namespace a worker's KV binding uses when the deploy names none:
/// `<worker>__<BINDING>`. Worker names have no `_`, so the first `__` splits
/// the name unambiguously, and explicit namespaces may not contain `__`, so
/// no deploy can name another worker's private namespace.
pub fn scoped_namespace(worker: &str, binding: &str) -> Result<String, TenantError> {
    let namespace = format!("{worker}__{binding}");
    if !is_namespace_name(&namespace) {
        return Err(TenantError::Invalid(format!(
            "KV binding {binding:?} of worker {worker:?} cannot get a namespace of its own ({namespace:?} must be at most {} bytes of letters, digits, `_` and `-`); name a namespace with BINDING=NAMESPACE",
            brink_kv::MAX_NAMESPACE_NAME_BYTES
        )));
    }
    Ok(namespace)
}

/// The store's rule for namespace names, checked here to give a message
/// that says what to do about it.
fn is_namespace_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= brink_kv::MAX_NAMESPACE_NAME_BYTES
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn parse_routes(patterns: &[String]) -> Result<Vec<Route>, TenantError> {
    let mut routes: Vec<Route> = Vec::new();
    for pattern in patterns {
        let route = Route::parse(pattern).map_err(|error| TenantError::Invalid(error.to_string()))?;
        if !routes.contains(&route) {
            routes.push(route);
        }
    }
    Ok(routes)
}

/// Binding names must be JavaScript identifiers and unique across vars,
/// secrets and KV; explicit namespaces must be valid and outside the
/// per-worker space.
fn check_bindings(record: &VersionRecord, secrets: &[(String, SecretValue)]) -> Result<(), TenantError> {
    let names = record
        .vars
        .iter()
        .map(|(name, _)| name)
        .chain(secrets.iter().map(|(name, _)| name))
        .chain(record.kv.iter().map(|binding| &binding.binding));
    let mut seen = std::collections::HashSet::new();
    for name in names {
        let mut chars = name.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
        if !valid {
            return Err(TenantError::Invalid(format!(
                "binding name {name:?} must be a JavaScript identifier (letters, digits, _ and $, not starting with a digit)"
            )));
        }
        if !seen.insert(name.as_str()) {
            return Err(TenantError::Invalid(format!("binding {name:?} is defined twice")));
        }
    }
    for binding in &record.kv {
        if let Some(namespace) = &binding.namespace {
            if !is_namespace_name(namespace) {
                return Err(TenantError::Invalid(format!(
                    "KV namespace {namespace:?} must be 1 to {} bytes of letters, digits, `_` and `-`",
                    brink_kv::MAX_NAMESPACE_NAME_BYTES
                )));
            }
            if namespace.contains("__") {
                return Err(TenantError::Invalid(format!(
                    "KV namespace {namespace:?}: names containing `__` are reserved for workers' own namespaces"
                )));
            }
        }
    }
    Ok(())
}

/// The server's limits with a deploy's overrides. The heap (what the pool's
/// isolates are built with) and the body sizes cannot exceed the server's.
fn effective_limits(defaults: &Limits, overrides: &LimitOverrides) -> Result<Limits, TenantError> {
    let positive = |name: &str, value: Option<u64>| match value {
        Some(0) => Err(TenantError::Invalid(format!("limit {name} must be greater than 0"))),
        other => Ok(other),
    };
    let mut limits = defaults.clone();
    if let Some(ms) = positive("cpu_ms", overrides.cpu_ms)? {
        limits.cpu_per_request = std::time::Duration::from_millis(ms);
    }
    if let Some(ms) = positive("wall_ms", overrides.wall_ms)? {
        limits.wall_clock = std::time::Duration::from_millis(ms);
    }
    if let Some(mib) = positive("heap_mib", overrides.heap_mib)? {
        let bytes = usize::try_from(mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);
        limits.heap_bytes = bytes.min(defaults.heap_bytes);
    }
    if let Some(subrequests) = overrides.subrequests {
        limits.subrequests = subrequests;
    }
    if let Some(bytes) = positive("max_request_body_bytes", overrides.max_request_body_bytes)? {
        limits.request_body_bytes = bytes.min(defaults.request_body_bytes);
    }
    if let Some(bytes) = positive("max_response_body_bytes", overrides.max_response_body_bytes)? {
        limits.response_body_bytes = Some(defaults.response_body_bytes.map_or(bytes, |cap| bytes.min(cap)));
    }
    Ok(limits)
}

/// Starts a worker, telling code that does not load apart from other
/// failures.
async fn start(spec: WorkerSpec, pool: IsolatePool) -> Result<Worker, TenantError> {
    match Worker::start(spec, pool).await {
        Ok(worker) => Ok(worker),
        Err(WorkerError::Load(message)) => Err(TenantError::Load(message)),
        Err(other) => Err(TenantError::Worker(other)),
    }
}

/// Runs file-system work off the async threads.
async fn blocking<T: Send + 'static, E>(work: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, TenantError>
where
    E: Into<TenantError> + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(Into::into),
        Err(error) => Err(TenantError::Worker(WorkerError::Engine(format!("storage task failed: {error}")))),
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_namespaces_are_per_worker_unless_named() {
        assert_eq!(scoped_namespace("a", "COUNTS").unwrap(), "a__COUNTS");
        assert_ne!(scoped_namespace("a", "COUNTS").unwrap(), scoped_namespace("b", "COUNTS").unwrap());
        assert!(scoped_namespace("a", "$x").is_err());
        let record = |namespace: &str| VersionRecord {
            version: 1,
            created_ms: 0,
            entry: "w.js".into(),
            modules: vec![],
            bytes: 0,
            routes: vec![],
            vars: vec![],
            secret_names: vec![],
            kv: vec![KvBindingRecord { binding: "C".into(), namespace: Some(namespace.into()) }],
            limits: LimitOverrides::default(),
            origin: None,
        };
        assert!(check_bindings(&record("shared"), &[]).is_ok());
        assert!(check_bindings(&record("a__COUNTS"), &[]).is_err());
    }

    #[test]
    fn origins_are_http_urls_without_credentials_or_paths() {
        assert_eq!(validate_origin("http://10.0.0.5:8080").unwrap(), "http://10.0.0.5:8080");
        assert_eq!(validate_origin("https://Origin.Example:443/").unwrap(), "https://origin.example");
        assert_eq!(validate_origin("http://[::1]:81").unwrap(), "http://[::1]:81");
        for bad in [
            "ftp://origin.example",
            "file:///etc/passwd",
            "origin.example",
            "http://user:pw@origin.example",
            "http://user@origin.example",
            "http://origin.example/base",
            "http://origin.example/?q",
            "http://origin.example/#f",
            "",
        ] {
            assert!(matches!(validate_origin(bad), Err(TenantError::Invalid(_))), "{bad:?}");
        }
    }

    #[test]
    fn overrides_apply_and_the_heap_is_capped() {
        let defaults = Limits::default();
        let overrides = LimitOverrides { cpu_ms: Some(7), heap_mib: Some(1 << 20), ..LimitOverrides::default() };
        let limits = effective_limits(&defaults, &overrides).unwrap();
        assert_eq!(limits.cpu_per_request, std::time::Duration::from_millis(7));
        assert_eq!(limits.heap_bytes, defaults.heap_bytes);
        assert!(effective_limits(&defaults, &LimitOverrides { wall_ms: Some(0), ..LimitOverrides::default() }).is_err());
    }
}
