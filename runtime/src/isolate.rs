//! One isolate on its own OS thread. The thread runs a current-thread tokio
//! runtime; the gateway reaches it only through [`IsolateCommand`]s on a
//! channel. An isolate starts blank (Web APIs loaded, no tenant code), takes
//! one `Load` for its worker, and then serves `Fetch`es until its channel
//! closes or the supervisor terminates it.

use std::future::{poll_fn, Future};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;

use deno_core::{v8, JsRuntime, ModuleSpecifier, PollEventLoopOptions};
use futures::FutureExt;
use tokio::sync::{mpsc, oneshot};

use crate::api::console::LogIdentity;
use crate::bundle::ModuleBundle;
use crate::logs::LogSink;
use crate::api::kv::KvBindings;
use crate::api::outbound_fetch::{install_policy, OutboundPolicy};
use crate::context::{ContextTable, CpuOverrun, ResponseSender};
use crate::body::RequestBody;
use crate::handoff::Handoff;
use crate::engine::{new_blank_isolate, BlankIsolate};
use crate::error::WorkerError;
use crate::limits::{Limit, Limits};
use crate::supervisor::{BootstrapPriority, IsolateWatch, Strikes, Termination};

/// Everything an isolate needs to run one worker version. Immutable: every
/// isolate of the version loads exactly this.
pub struct WorkerCode {
    /// Name used in logs and metrics.
    pub name: String,
    /// The version number (logs).
    pub version: u64,
    /// The version's modules.
    pub bundle: Arc<ModuleBundle>,
    /// Plain-text bindings: `env.NAME` (or the global `NAME` in
    /// service-worker format).
    pub vars: Vec<(String, String)>,
    /// Secret bindings, exposed like vars; never logged.
    pub secrets: Vec<(String, String)>,
    /// KV bindings: `env.NAME` → namespace.
    pub kv: Vec<(String, brink_kv::KvNamespace)>,
    /// Where outbound `fetch()` may go.
    pub outbound: OutboundPolicy,
    /// Limits to enforce.
    pub limits: Limits,
    /// The worker's own log stream (`brink tail`).
    pub log_sink: Option<LogSink>,
    /// Counters every isolate of the worker adds to.
    pub counters: Arc<WorkerCounters>,
}

impl std::fmt::Debug for WorkerCode {
    // Names only: a secret's value must never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerCode")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("entry", &self.bundle.entry())
            .field("vars", &self.vars.iter().map(|(name, _)| name).collect::<Vec<_>>())
            .field("secrets", &self.secrets.iter().map(|(name, _)| name).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// What the isolates of one worker have done, for metrics.
#[derive(Debug, Default)]
pub struct WorkerCounters {
    /// CPU nanoseconds charged to the worker's JavaScript.
    pub cpu_ns: AtomicU64,
    /// Limit hits, indexed by [`Limit::index`]: isolates terminated for CPU
    /// time or memory; requests that ran out of wall-clock time or broke a
    /// body size limit.
    limit_hits: [AtomicU64; Limit::ALL.len()],
    /// Recent isolate terminations, which make the worker's next isolates
    /// cheaper for its neighbours.
    pub strikes: Strikes,
}

impl WorkerCounters {
    /// Counts one hit of `limit`.
    pub fn count_limit(&self, limit: Limit) {
        self.limit_hits[limit.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Hits of `limit` so far.
    pub fn limit_hits(&self, limit: Limit) -> u64 {
        self.limit_hits[limit.index()].load(Ordering::Relaxed)
    }
}

/// What an isolate thread accepts.
// `Fetch` is the large, hot variant; boxing it would allocate per request.
#[allow(clippy::large_enum_variant)]
pub enum IsolateCommand {
    /// Load the worker into this blank isolate.
    Load {
        code: Arc<WorkerCode>,
        reply: oneshot::Sender<Result<(), WorkerError>>,
    },
    /// Run the worker's fetch handler for a request.
    Fetch {
        request: http::Request<RequestBody>,
        reply: ResponseSender,
        /// When the response head must exist (arrival + wall-clock limit).
        deadline: std::time::Instant,
        /// How many worker subrequests deep the request is.
        depth: u32,
    },
}

/// The gateway's handle on an isolate thread.
pub struct IsolateHandle {
    /// Process-unique isolate number, for logs.
    pub id: u64,
    sender: mpsc::UnboundedSender<IsolateCommand>,
    in_flight: Arc<AtomicUsize>,
    exited: tokio::sync::watch::Receiver<bool>,
    watch: Arc<IsolateWatch>,
    bootstrapped_idle: bool,
}

impl IsolateHandle {
    /// Sends a command; false when the isolate is gone.
    pub fn send(&self, command: IsolateCommand) -> bool {
        self.sender.send(command).is_ok()
    }

    /// Why the supervisor terminated the isolate, if it did.
    pub fn termination(&self) -> Option<Termination> {
        self.watch.termination()
    }

    /// How many times its demoted turns offered their core to other threads.
    pub fn demoted_yields(&self) -> u64 {
        self.watch.demoted_yields()
    }

    /// True when the isolate can take no more requests: its thread has
    /// exited, or the supervisor has terminated it and it is unwinding.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed() || self.watch.termination().is_some()
    }

    /// Requests dispatched to this isolate and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// CPU its thread has used, in nanoseconds (0 once the thread is gone).
    pub fn thread_cpu_ns(&self) -> u64 {
        self.watch.thread_cpu_ns().unwrap_or(0)
    }

    /// A signal that turns true when the isolate thread has exited. The
    /// thread exits once every handle is dropped (its channel closes) and its
    /// in-flight work is done.
    pub fn exit_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.exited.clone()
    }

    /// A counter the caller bumps around each request it sends.
    pub fn in_flight_counter(&self) -> Arc<AtomicUsize> {
        self.in_flight.clone()
    }

    /// Whether its bootstrap ran in the idle scheduling class (a pool
    /// refill's, where the process can leave that class again).
    pub fn bootstrapped_in_idle_class(&self) -> bool {
        self.bootstrapped_idle
    }

    /// Whether its thread is in the idle scheduling class now.
    pub fn in_idle_class(&self) -> bool {
        self.watch.in_idle_class()
    }
}

static NEXT_ISOLATE_ID: AtomicU64 = AtomicU64::new(1);

/// Renames the calling thread (as `ps -L` and /proc show it); the kernel
/// keeps the first 15 bytes.
fn set_thread_name(name: &str) {
    if let Ok(name) = std::ffi::CString::new(name) {
        // SAFETY: `name` is a valid NUL-terminated string for the duration
        // of the call; PR_SET_NAME copies at most 16 bytes of it.
        unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr(), 0, 0, 0) };
    }
}

/// Starts a blank isolate on a new thread and waits until its bootstrap is
/// done. Blocks the caller for the bootstrap's duration.
pub fn spawn_blank_isolate(limits: Limits) -> Result<IsolateHandle, WorkerError> {
    spawn_blank(limits, None)
}

/// Like [`spawn_blank_isolate`]; with `background`, the bootstrap runs in
/// the idle scheduling class (a pool refill: no request waits for it, so it
/// must never delay a thread that serves one) until a cold start waits for
/// it, and back in the normal class once it is done. While in the idle
/// class its thread is named `warming-N` rather than `isolate-N`.
pub(crate) fn spawn_blank(limits: Limits, background: Option<Arc<BootstrapPriority>>) -> Result<IsolateHandle, WorkerError> {
    let id = NEXT_ISOLATE_ID.fetch_add(1, Ordering::Relaxed);
    let (sender, receiver) = mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (exited_tx, exited) = tokio::sync::watch::channel(false);
    std::thread::Builder::new()
        .name(format!("isolate-{id}"))
        .spawn(move || {
            // A panic anywhere in this thread ends this isolate only: it is
            // caught here (or, while serving, in `run_isolate`, which fails
            // the isolate's requests first), never taking the process down.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                isolate_thread(id, limits, receiver, ready_tx, background)
            }));
            if outcome.is_err() {
                tracing::error!(isolate = id, "isolate thread panicked; isolate ended");
            }
            let _ = exited_tx.send(true);
        })
        .map_err(|e| WorkerError::Engine(format!("could not start an isolate thread: {e}")))?;
    match ready_rx.recv() {
        Ok(Ok((watch, bootstrapped_idle))) => {
            Ok(IsolateHandle { id, sender, in_flight: Arc::new(AtomicUsize::new(0)), exited, watch, bootstrapped_idle })
        }
        Ok(Err(error)) => Err(error),
        Err(_) => Err(WorkerError::Engine("isolate thread exited during bootstrap".into())),
    }
}

/// What an isolate thread reports when its bootstrap is done: its watch,
/// and whether the bootstrap ran in the idle scheduling class.
type Ready = std::sync::mpsc::Sender<Result<(Arc<IsolateWatch>, bool), WorkerError>>;

fn isolate_thread(
    id: u64,
    limits: Limits,
    receiver: mpsc::UnboundedReceiver<IsolateCommand>,
    ready: Ready,
    background: Option<Arc<BootstrapPriority>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(WorkerError::Engine(format!("tokio runtime: {e}"))));
            return;
        }
    };
    runtime.block_on(run_isolate(id, limits, receiver, ready, background));
}

/// Functions of the worker host JS (`js/worker_host.js`), taken once after
/// the bootstrap and removed from the global object.
pub(crate) struct HostFunctions {
    pub(crate) dispatch_fetch: v8::Global<v8::Function>,
    pub(crate) settle_fetch: v8::Global<v8::Function>,
    pub(crate) await_fetch: v8::Global<v8::Function>,
    pub(crate) flush_settled: v8::Global<v8::Function>,
    start_worker: v8::Global<v8::Function>,
    define_binding_globals: v8::Global<v8::Function>,
    create_kv_namespace: v8::Global<v8::Function>,
}

impl HostFunctions {
    fn take(runtime: &mut JsRuntime) -> Result<Self, WorkerError> {
        let host = runtime
            .execute_script("[brink:host]", include_str!("../js/take_host.js"))
            .map_err(|e| WorkerError::Engine(e.to_string()))?;
        deno_core::scope!(scope, runtime);
        let host = v8::Local::new(scope, host);
        let host: v8::Local<v8::Object> =
            host.try_into().map_err(|_| WorkerError::Engine("worker host missing".into()))?;
        let function = |name: &str| -> Result<v8::Global<v8::Function>, WorkerError> {
            let key = v8::String::new(scope, name).ok_or_else(|| WorkerError::Engine("out of memory".into()))?;
            let value = host
                .get(scope, key.into())
                .ok_or_else(|| WorkerError::Engine(format!("worker host has no {name}")))?;
            let function: v8::Local<v8::Function> =
                value.try_into().map_err(|_| WorkerError::Engine(format!("{name} is not a function")))?;
            Ok(v8::Global::new(scope, function))
        };
        Ok(HostFunctions {
            dispatch_fetch: function("dispatchFetch")?,
            settle_fetch: function("settleFetch")?,
            await_fetch: function("awaitFetch")?,
            flush_settled: function("flushSettled")?,
            start_worker: function("startWorker")?,
            define_binding_globals: function("defineBindingGlobals")?,
            create_kv_namespace: function("createKvNamespace")?,
        })
    }
}

async fn run_isolate(
    id: u64,
    limits: Limits,
    mut receiver: mpsc::UnboundedReceiver<IsolateCommand>,
    ready: Ready,
    background: Option<Arc<BootstrapPriority>>,
) {
    let started = std::time::Instant::now();
    let started_cpu = crate::supervisor::thread_cpu_now();
    let in_idle_class = background.filter(|priority| priority.enter());
    let idle = in_idle_class.is_some();
    if idle {
        set_thread_name(&format!("warming-{id}"));
    }
    let blank = new_blank_isolate(&limits);
    // Back to the normal class before anything can fail or serve: the
    // isolate's turns are demoted by the supervisor when they run long.
    if let Some(priority) = in_idle_class {
        if !priority.leave() {
            tracing::warn!(isolate = id, "could not leave the idle scheduling class after a bootstrap");
        }
        set_thread_name(&format!("isolate-{id}"));
    }
    let blank = match blank {
        Ok(blank) => blank,
        Err(error) => {
            let _ = ready.send(Err(error));
            return;
        }
    };
    let BlankIsolate { mut runtime, loader, outbound, blobs } = blank;
    let host = match HostFunctions::take(&mut runtime) {
        Ok(host) => host,
        Err(error) => {
            let _ = ready.send(Err(error));
            return;
        }
    };
    let watch = IsolateWatch::register(runtime.v8_isolate().thread_safe_handle(), limits.wall_clock);
    runtime.op_state().borrow_mut().put(watch.clone());
    blobs.watch(watch.clone());
    terminate_near_heap_limit(&mut runtime, &watch);
    if tracing::enabled!(tracing::Level::DEBUG) {
        let heap = runtime.v8_isolate().get_heap_statistics();
        tracing::debug!(
            isolate = id,
            elapsed_us = started.elapsed().as_micros() as u64,
            cpu_us = crate::supervisor::thread_cpu_now().saturating_sub(started_cpu) / 1000,
            heap_used_kib = heap.used_heap_size() / 1024,
            heap_total_kib = heap.total_heap_size() / 1024,
            external_kib = heap.external_memory() / 1024,
            idle_class = idle,
            "blank isolate ready"
        );
    }
    // The bootstrap's temporary allocations are freed by now; give the
    // pages back rather than keep them in this thread's malloc arena
    // (~5 % of the process's RSS with 60 isolates).
    // SAFETY: malloc_trim has no preconditions.
    unsafe { libc::malloc_trim(0) };
    let _ = ready.send(Ok((watch.clone(), idle)));

    // A blank isolate waits for its worker.
    let code = loop {
        match receiver.recv().await {
            Some(IsolateCommand::Load { code, reply }) => {
                loader.set_bundle(code.bundle.clone());
                install_policy(&outbound, code.outbound.clone());
                if code.limits.heap_bytes < limits.heap_bytes {
                    // The pool built this isolate with the server's heap
                    // limit; this worker asked for less.
                    runtime.remove_near_heap_limit_callback(code.limits.heap_bytes);
                    terminate_near_heap_limit(&mut runtime, &watch);
                    blobs.set_limit(code.limits.heap_bytes);
                }
                if code.counters.strikes.demote_from_start() {
                    watch.demote_for_good();
                }
                let started = watch.begin_turn(code.limits.cpu_ns());
                let result = load_worker(&mut runtime, &host, &watch, id, &code).await;
                watch.end_turn(started);
                let failed = result.is_err();
                let result = match watch.termination() {
                    Some(reason) => Err(WorkerError::Load(format!(
                        "its top-level code exceeded the {}",
                        reason.limit().description()
                    ))),
                    None => result,
                };
                let _ = reply.send(result);
                if failed {
                    watch.finish();
                    return; // the isolate ran foreign code; never reuse it
                }
                break code;
            }
            Some(IsolateCommand::Fetch { reply, .. }) => {
                let _ = reply.send(Err(WorkerError::Unavailable));
            }
            None => return,
        }
    };

    let served = AssertUnwindSafe(serve(&mut runtime, &host, &watch, &mut receiver, &code)).catch_unwind().await;
    if served.is_err() {
        // Its state may be broken: end it like a terminated isolate. Closing
        // the channel first has new requests go to its replacement.
        receiver.close();
        tracing::error!(worker = %code.name, version = code.version, isolate = id, "isolate thread panicked; isolate ended");
        if let Some(sink) = &code.log_sink {
            sink.send("error", "an internal error ended the worker's isolate; it is replaced".to_string());
        }
        runtime.op_state().borrow_mut().borrow_mut::<ContextTable>().fail_all(|| WorkerError::Crashed);
        drop(runtime);
        watch.finish();
        return;
    }
    let reason = watch.termination();
    if let Some(reason) = reason {
        let limit = reason.limit();
        tracing::warn!(worker = %code.name, version = code.version, isolate = id, limit = limit.description(), "worker exceeded a limit; isolate terminated");
        // A stuck turn fails its requests with the wall-clock limit, and
        // `Worker::fetch` counts those; counting here too would count twice.
        if reason != Termination::StuckTurn {
            code.counters.count_limit(limit);
        }
        if let Some(sink) = &code.log_sink {
            sink.send("limit", format!("the worker exceeded its {}; its isolate was terminated", limit.description()));
        }
    }
    {
        let op_state = runtime.op_state();
        let mut state = op_state.borrow_mut();
        let table = state.borrow_mut::<ContextTable>();
        match reason {
            Some(reason) => table.fail_all(|| WorkerError::LimitExceeded(reason.limit())),
            None => table.fail_all(|| WorkerError::Unavailable),
        }
    }
    // A terminated isolate never runs JavaScript again: drop it here, on its
    // own thread, and let the thread exit.
    drop(runtime);
    watch.finish();
}

/// Terminates the isolate for the memory limit when its heap nears the
/// limit in force (V8's near-heap-limit callback; the quickjs backend
/// emulates it).
fn terminate_near_heap_limit(runtime: &mut JsRuntime, watch: &Arc<IsolateWatch>) {
    let watch = watch.clone();
    runtime.add_near_heap_limit_callback(move |current, _initial| {
        if watch.termination().is_some() {
            // Already terminating: no more room, so allocation fails fast.
            return current;
        }
        watch.terminate(Termination::Memory);
        // A little room, once, to unwind the terminated execution.
        current + current / 4
    });
}

/// Loads and evaluates the worker's modules and finds its fetch handler.
async fn load_worker(
    runtime: &mut JsRuntime,
    host: &HostFunctions,
    watch: &IsolateWatch,
    id: u64,
    code: &WorkerCode,
) -> Result<(), WorkerError> {
    {
        let op_state = runtime.op_state();
        let mut state = op_state.borrow_mut();
        state.put(LogIdentity {
            worker: code.name.clone(),
            version: code.version,
            isolate: id,
            sink: code.log_sink.clone(),
        });
        state.put(ContextTable::new(&code.limits));
        state.put(code.counters.clone());
        state.put(KvBindings::new(code.kv.iter().map(|(_, namespace)| namespace.clone()).collect()));
    }
    let source = String::from_utf8_lossy(code.bundle.entry_source());
    let env = make_env(runtime, host, code)?;
    if !looks_like_module(&source) {
        call_host(runtime, &host.define_binding_globals, |_scope| Ok(vec![]), Some(&env))?;
    }
    let specifier = ModuleSpecifier::parse(&ModuleBundle::specifier(code.bundle.entry()))
        .map_err(|_| WorkerError::Load(format!("invalid entry path {}", code.bundle.entry())))?;
    let module_id = runtime
        .load_main_es_module(&specifier)
        .await
        .map_err(|e| WorkerError::Load(e.to_string()))?;
    let evaluation = runtime.mod_evaluate(module_id);
    // A module that never finishes evaluating (a top-level endless loop) is
    // terminated by the supervisor, but its evaluation promise then never
    // settles: stop waiting as soon as the isolate is terminated.
    tokio::select! {
        evaluated = runtime.with_event_loop_future(evaluation, PollEventLoopOptions::default()) => {
            evaluated.map_err(|e| WorkerError::Load(e.to_string()))?;
        }
        reason = terminated(watch) => return Err(WorkerError::LimitExceeded(reason.limit())),
    }
    crate::engine::forbid_code_generation_from_strings(runtime);
    let namespace = runtime
        .get_module_namespace(module_id)
        .map_err(|e| WorkerError::Load(e.to_string()))?;
    let format = call_host(
        runtime,
        &host.start_worker,
        |scope| Ok(vec![v8::Local::new(scope, &namespace).into()]),
        Some(&env),
    )?;
    tracing::info!(worker = %code.name, version = code.version, isolate = id, format = %format, "worker loaded");
    Ok(())
}

/// Resolves once the supervisor has terminated the isolate.
async fn terminated(watch: &IsolateWatch) -> Termination {
    loop {
        if let Some(reason) = watch.termination() {
            return reason;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// A service-worker script has no `export`; a module worker has one.
fn looks_like_module(source: &str) -> bool {
    source.lines().any(|line| {
        let line = line.trim_start();
        line.starts_with("export ") || line.starts_with("export{") || line.starts_with("import ")
    })
}

fn make_env(runtime: &mut JsRuntime, host: &HostFunctions, code: &WorkerCode) -> Result<v8::Global<v8::Value>, WorkerError> {
    deno_core::scope!(scope, runtime);
    let env = v8::Object::new(scope);
    let create_kv_namespace = v8::Local::new(scope, &host.create_kv_namespace);
    for (handle, (name, _)) in code.kv.iter().enumerate() {
        let oom = || WorkerError::Engine("out of memory".into());
        let key = v8::String::new(scope, name).ok_or_else(oom)?;
        let handle = v8::Integer::new(scope, handle as i32).into();
        let undefined = v8::undefined(scope).into();
        let namespace = create_kv_namespace
            .call(scope, undefined, &[handle])
            .ok_or_else(|| WorkerError::Engine("could not create a KV binding".into()))?;
        env.set(scope, key.into(), namespace);
    }
    for (name, value) in code.vars.iter().chain(&code.secrets) {
        let oom = || WorkerError::Engine("out of memory".into());
        let key = v8::String::new(scope, name).ok_or_else(oom)?;
        let value = v8::String::new(scope, value).ok_or_else(oom)?;
        env.set(scope, key.into(), value.into());
    }
    let env: v8::Local<v8::Value> = env.into();
    Ok(v8::Global::new(scope, env))
}

/// Calls a worker host function with `args` followed by `env`, and returns
/// its result as a string; a thrown exception becomes a load error.
fn call_host(
    runtime: &mut JsRuntime,
    function: &v8::Global<v8::Function>,
    args: impl for<'s, 'i> FnOnce(&mut v8::PinScope<'s, 'i>) -> Result<Vec<v8::Local<'s, v8::Value>>, WorkerError>,
    env: Option<&v8::Global<v8::Value>>,
) -> Result<String, WorkerError> {
    deno_core::scope!(scope, runtime);
    v8::tc_scope!(let tc, scope);
    let mut args = args(tc)?;
    if let Some(env) = env {
        args.push(v8::Local::new(tc, env));
    }
    let function = v8::Local::new(tc, function);
    let undefined = v8::undefined(tc).into();
    match function.call(tc, undefined, &args) {
        Some(result) => Ok(result.to_rust_string_lossy(tc)),
        None => Err(WorkerError::Load(caught_exception(tc))),
    }
}

/// The exception a failed call left in `tc` (with its stack), or a note that
/// the call was terminated and left none.
pub(crate) fn caught_exception(tc: &mut v8::PinnedRef<'_, v8::TryCatch<'_, '_, v8::HandleScope<'_>>>) -> String {
    match tc.exception() {
        Some(exception) => describe_exception(tc, exception),
        None => "execution terminated".to_string(),
    }
}

fn describe_exception(scope: &mut v8::PinScope<'_, '_>, exception: v8::Local<v8::Value>) -> String {
    if let Ok(object) = v8::Local::<v8::Object>::try_from(exception) {
        if let Some(key) = v8::String::new(scope, "stack") {
            if let Some(stack) = object.get(scope, key.into()) {
                if stack.is_string() {
                    return stack.to_rust_string_lossy(scope);
                }
            }
        }
    }
    exception.to_rust_string_lossy(scope)
}

/// Requests dispatched before their answers are handed back. Answering a
/// batch only once the channel was empty held every answer until the last
/// request queued behind it had run (50 at `wrk -c50`): the gateway sat
/// idle while the isolate ran, then the isolate while the gateway wrote,
/// and a batch's objects outgrew the caches. Four at a time keeps both
/// cores busy: hello +24 %, json +38 % req/s (`bench/RESULTS.md`).
const DISPATCH_BATCH: usize = 4;

/// Serves requests until the channel closes (and in-flight work is done, or
/// the wall-clock limit has passed since) or the supervisor terminates the
/// isolate.
///
/// Every turn of JavaScript is charged to the request contexts it ran for:
/// a handler's first turn to its request, shared turns (continuations,
/// timers, I/O callbacks) split over the live requests, or to the background
/// budget when none is live. A request over its CPU limit, or background
/// work over its budget, terminates the isolate.
async fn serve(
    runtime: &mut JsRuntime,
    host: &HostFunctions,
    watch: &IsolateWatch,
    receiver: &mut mpsc::UnboundedReceiver<IsolateCommand>,
    code: &WorkerCode,
) {
    let drain_limit = code.limits.wall_clock;
    let cpu_total = &code.counters.cpu_ns;
    let op_state = runtime.op_state();
    let mut closed = false;
    // Set when the channel closes: `waitUntil` work that never settles must
    // not keep a shutting-down process alive forever.
    let mut drain_deadline: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    let mut expiry: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    let mut handoff = Handoff::default();
    let charge = |overrun: Option<CpuOverrun>| match overrun {
        Some(CpuOverrun::Request) => watch.terminate(Termination::CpuTime),
        Some(CpuOverrun::Background) => {
            tracing::warn!("background JavaScript, after every request had ended, used up its CPU budget");
            watch.terminate(Termination::CpuTime);
        }
        None => {}
    };
    poll_fn(|cx| {
        let mut dispatched = 0;
        let mut more_waiting = false;
        while !closed {
            if dispatched == DISPATCH_BATCH {
                more_waiting = true;
                break;
            }
            match receiver.poll_recv(cx) {
                Poll::Ready(Some(IsolateCommand::Fetch { request, reply, deadline, depth })) => {
                    dispatched += 1;
                    let (id, budget) = {
                        let mut state = op_state.borrow_mut();
                        let table = state.borrow_mut::<ContextTable>();
                        let id = table.open(reply, deadline, depth);
                        table.set_client_address(id, request.extensions().get().copied());
                        (id, table.budget_for(id))
                    };
                    panic_for_tests(code, &request);
                    let started = watch.begin_turn(budget);
                    handoff.dispatch(runtime, host, id, request);
                    let used = watch.end_turn(started);
                    cpu_total.fetch_add(used, Ordering::Relaxed);
                    charge(op_state.borrow_mut().borrow_mut::<ContextTable>().charge_cpu_to(id, used));
                    if watch.termination().is_some() {
                        return Poll::Ready(());
                    }
                }
                Poll::Ready(Some(IsolateCommand::Load { reply, .. })) => {
                    let _ = reply.send(Err(WorkerError::Engine("isolate already has a worker".into())));
                }
                Poll::Ready(None) => {
                    closed = true;
                    // A new version (or a removal) took over: open WebSockets
                    // are told so (1012) rather than cut off at the drain limit.
                    crate::api::websocket::close_all(&mut op_state.borrow_mut(), 1012, "the worker was restarted");
                }
                Poll::Pending => break,
            }
        }
        let budget = op_state.borrow().borrow::<ContextTable>().shared_budget();
        let started = watch.begin_turn(budget);
        let answered = handoff.answer_dispatched(runtime, host);
        let polled = runtime.poll_event_loop(cx, PollEventLoopOptions::default());
        if handoff.answer_settled(runtime, host) || answered || more_waiting {
            // A response may have started a body pump or queued microtasks;
            // or requests are still waiting in the channel.
            cx.waker().wake_by_ref();
        }
        let used = watch.end_turn(started);
        cpu_total.fetch_add(used, Ordering::Relaxed);
        charge(op_state.borrow_mut().borrow_mut::<ContextTable>().charge_shared_cpu(used));
        if watch.termination().is_some() {
            return Poll::Ready(());
        }
        match polled {
            Poll::Ready(Err(error)) => {
                tracing::error!(error = %error, "uncaught error in worker");
            }
            Poll::Ready(Ok(())) if closed => return Poll::Ready(()),
            _ => {}
        }
        expire_contexts(&op_state, &mut expiry, cx);
        if closed {
            let state = op_state.borrow();
            let table = state.borrow::<ContextTable>();
            if table.is_empty() {
                return Poll::Ready(());
            }
            let deadline = drain_deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(drain_limit)));
            if deadline.as_mut().poll(cx).is_ready() {
                tracing::warn!(
                    requests = table.len(),
                    wait_until = table.pending_wait_until(),
                    "shutting down with unfinished work after the drain limit"
                );
                return Poll::Ready(());
            }
        }
        Poll::Pending
    })
    .await;
}

/// The worker named by `BRINK_TEST_PANIC_WORKER` panics its isolate thread
/// on a request for `/__brink_test_panic`, after the request's context is
/// open. Tests use it to check that a panic ends one isolate only; the
/// variable is read from the server's environment, which no worker can
/// set, and is unset in production.
fn panic_for_tests(code: &WorkerCode, request: &http::Request<RequestBody>) {
    static WORKER: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let worker = WORKER.get_or_init(|| std::env::var("BRINK_TEST_PANIC_WORKER").ok());
    if worker.as_deref() == Some(code.name.as_str()) && request.uri().path() == "/__brink_test_panic" {
        panic!("BRINK_TEST_PANIC_WORKER: a deliberate panic in {}'s isolate thread", code.name);
    }
}

/// Ends the contexts past their deadline and arms a timer for the next one.
fn expire_contexts(
    op_state: &std::rc::Rc<std::cell::RefCell<deno_core::OpState>>,
    timer: &mut Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    cx: &mut std::task::Context<'_>,
) {
    loop {
        let next = {
            let mut state = op_state.borrow_mut();
            let table = state.borrow_mut::<ContextTable>();
            let abandoned = table.expire(std::time::Instant::now());
            if abandoned > 0 {
                tracing::warn!(requests = abandoned, "waitUntil work cancelled: it outlived the wall-clock limit");
            }
            table.next_deadline()
        };
        let Some(next) = next else { return };
        let next = tokio::time::Instant::from_std(next);
        let sleep = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(next)));
        if sleep.deadline() != next {
            sleep.as_mut().reset(next);
        }
        if sleep.as_mut().poll(cx).is_pending() {
            return;
        }
    }
}
