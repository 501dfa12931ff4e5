//! The replicated backend: KV namespaces on a NATS JetStream cluster, with
//! every POP (Brink process) reading from a local copy.
//!
//! - **Storage.** Each namespace is one JetStream stream (`BRINK_KV_<ns>`,
//!   R3 by default, one message kept per subject, per-message TTLs and atomic
//!   batches allowed); each key is one subject ([`codec`] says how keys that
//!   subjects cannot hold are encoded). A key's version is the JetStream
//!   sequence of the message that last wrote it.
//! - **Reads** (`get`, `get_many`, `list`) come from the POP's local index
//!   ([`index`]), which a watcher per namespace ([`watch`]) keeps up to date
//!   from the stream, resuming after the last applied sequence after a
//!   restart or a disconnect. Every change the watcher applies invalidates the
//!   process's read cache for that key.
//! - **Writes** go to the cluster and resolve once JetStream acknowledged them
//!   (stored by a quorum of replicas); the POP then applies them to its index
//!   at once, so it reads its own writes without waiting for the watcher.
//! - **Strong reads** ([`KvBackend::get_strong`]) and `check`s ask the
//!   stream's leader for the subject's last message.
//! - **Atomic commits** publish all their writes as one JetStream atomic batch
//!   (all stored or none). A check on a key the commit writes travels with that
//!   write as `Nats-Expected-Last-Subject-Sequence`; checks on keys it does not
//!   write are guarded by `Nats-Expected-Last-Sequence` on the whole stream, so
//!   the batch is refused if anything in the namespace changed since the checks
//!   were read, and the commit is then re-evaluated.
//!
//! The async NATS client runs on a small runtime of the backend's own;
//! callers (isolates on their own current-thread runtimes) only await the
//! join handles of the work spawned there.
//! - **Reaching the cluster.** A POP starts even when no server answers; until
//!   a server is first reached, every operation fails at once with
//!   [`NatsError::NotReached`], and then everything works as usual.

mod apply;
mod codec;
mod commit;
mod error;
mod index;
#[cfg(feature = "test-cluster")]
pub mod test_cluster;
mod watch;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_nats::jetstream::{self, stream::Stream};

use crate::backend::{Invalidator, KvBackend, ListQuery, ListSlice, NamespaceBackend, StoredWrite};
use crate::error::KvError;
use crate::executor::{blocking, spawn_on, BackendRuntime, KvFuture};
use crate::limits::is_expired;
use crate::types::{AtomicCheck, AtomicOutcome, KvEntry};

pub use error::NatsError;
use index::LocalIndex;

/// The index file inside a POP's data directory.
pub const INDEX_FILE_NAME: &str = "kv-nats-index.redb";

/// Oldest server with per-message TTLs (2.11) and atomic batch publish (2.12).
const MIN_SERVER: (u64, u64) = (2, 12);

/// How a POP authenticates to NATS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NatsCredentials {
    /// No authentication.
    #[default]
    None,
    /// User name and password.
    UserPassword {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// A token.
    Token(String),
    /// A `.creds` file (JWT + NKey seed).
    CredsFile(PathBuf),
}

/// Settings of the replicated backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsOptions {
    /// Server URLs (`nats://host:port`); the client fails over between them.
    pub servers: Vec<String>,
    /// How to authenticate.
    pub credentials: NatsCredentials,
    /// Replicas of each namespace's stream (1, 3 or 5). Default 3.
    pub replicas: usize,
    /// This POP's name, for logs and the NATS connection name.
    pub pop: String,
    /// The POP's data directory; the local index lives there.
    pub data_dir: PathBuf,
    /// How long one request to the cluster may take before the operation
    /// fails as unavailable. Default 5 s.
    pub request_timeout: Duration,
    /// How long the first use of a namespace waits for the local index to
    /// catch up before serving what it has. Default 10 s.
    pub catch_up_timeout: Duration,
}

impl NatsOptions {
    /// Options with the defaults for everything but the servers and data directory.
    pub fn new(servers: Vec<String>, data_dir: PathBuf) -> Self {
        NatsOptions {
            servers,
            credentials: NatsCredentials::None,
            replicas: 3,
            pop: "pop".to_owned(),
            data_dir,
            request_timeout: Duration::from_secs(5),
            catch_up_timeout: Duration::from_secs(10),
        }
    }
}

/// KV storage on NATS JetStream with a local index per POP.
pub struct NatsBackend {
    shared: Arc<Shared>,
    runtime: BackendRuntime,
}

/// What the backend's tasks share.
pub(crate) struct Shared {
    pub(crate) client: async_nats::Client,
    pub(crate) jetstream: jetstream::Context,
    pub(crate) index: Arc<LocalIndex>,
    /// Writes `index` (the only writer besides the sweep and stream resets).
    pub(crate) applier: apply::Applier,
    pub(crate) options: NatsOptions,
    /// The largest message the servers accept (their `max_payload`); known
    /// once a server has been reached.
    max_payload: AtomicUsize,
    /// Set once a server of the cluster has been reached and its version
    /// accepted. Until then every operation fails at once (see [`Shared::ready`]).
    reached: AtomicBool,
    /// The last connection problem the client reported, for error messages.
    last_problem: Arc<Mutex<Option<String>>>,
    namespaces: Mutex<HashMap<String, Arc<NamespaceState>>>,
    invalidator: RwLock<Option<Invalidator>>,
}

/// A namespace this POP has used: its stream handle and whether its index
/// has caught up with the stream once.
pub(crate) struct NamespaceState {
    pub(crate) name: String,
    stream: tokio::sync::Mutex<Option<Stream>>,
    caught_up: tokio::sync::watch::Sender<bool>,
}

impl NamespaceState {
    pub(crate) fn mark_caught_up(&self) {
        self.caught_up.send_if_modified(|done| !std::mem::replace(done, true));
    }

    fn is_caught_up(&self) -> bool {
        *self.caught_up.borrow()
    }

    /// Waits (up to `catch_up_timeout`) until the local index has caught up
    /// with the stream once; after that, and after giving up, returns at once.
    async fn wait_caught_up(&self, shared: &Shared) {
        let mut caught_up = self.caught_up.subscribe();
        let waited = tokio::time::timeout(shared.options.catch_up_timeout, caught_up.wait_for(|done| *done)).await;
        if waited.is_err() {
            // Later calls serve the index at once: a cluster that is down
            // must not make every read wait.
            self.mark_caught_up();
            tracing::warn!(namespace = %self.name, pop = %shared.options.pop, "KV: the local index has not caught up with the cluster; serving what it has");
        }
    }
}

fn parse_version(version: &str) -> Option<(u64, u64)> {
    let mut parts = version.trim_start_matches('v').split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

impl NatsBackend {
    /// Connects to the cluster and opens the local index
    /// `<data_dir>/kv-nats-index.redb`. Fails when a server refuses the
    /// connection (credentials) or is older than 2.12, or when another
    /// process holds the index.
    ///
    /// When no server can be reached at all, the backend still opens: the
    /// client keeps trying in the background, and until it first reaches
    /// the cluster every KV operation fails with [`NatsError::NotReached`]
    /// (the local index may be arbitrarily old, so it is not served either).
    pub fn connect(options: NatsOptions) -> Result<NatsBackend, KvError> {
        if options.servers.is_empty() {
            return Err(NatsError::NoServers.into());
        }
        std::fs::create_dir_all(&options.data_dir).map_err(|source| KvError::DataDir {
            path: options.data_dir.clone(),
            source,
        })?;
        let index = Arc::new(LocalIndex::open(&options.data_dir.join(INDEX_FILE_NAME))?);
        let applier = apply::Applier::start(index.clone())?;
        let runtime = BackendRuntime::new("brink-kv-nats", 2)?;
        let handle = runtime.handle()?.clone();
        let last_problem = Arc::new(Mutex::new(None));
        let client = futures::executor::block_on(spawn_on(&handle, connect(options.clone(), last_problem.clone())))?;
        // The JetStream context spawns a task of its own: build it inside the runtime.
        let mut jetstream = {
            let _entered = handle.enter();
            jetstream::new(client.clone())
        };
        jetstream.set_timeout(options.request_timeout);
        let shared = Arc::new(Shared {
            client,
            jetstream,
            index,
            applier,
            max_payload: AtomicUsize::new(0),
            reached: AtomicBool::new(false),
            last_problem,
            options,
            namespaces: Mutex::new(HashMap::new()),
            invalidator: RwLock::new(None),
        });
        match shared.ready() {
            Ok(()) => {}
            Err(error @ KvError::Backend(_)) if shared.client.connection_state() != async_nats::connection::State::Connected => {
                tracing::warn!(pop = %shared.options.pop, servers = ?shared.options.servers, %error, "KV: starting without the NATS cluster; KV operations fail until it is reachable");
            }
            Err(error) => return Err(error),
        }
        Ok(NatsBackend { shared, runtime })
    }

    /// The largest value this store accepts with the given metadata: the
    /// servers' `max_payload` less the message's own framing and headers
    /// (0 until a server has been reached).
    pub fn max_value_bytes(&self) -> usize {
        self.shared.max_value_bytes(None)
    }

    /// The namespace's state, starting its watcher on first use.
    fn state(&self, name: &str) -> Result<Arc<NamespaceState>, KvError> {
        let mut map = self
            .shared
            .namespaces
            .lock()
            .map_err(|_| KvError::backend("the NATS backend's lock was poisoned"))?;
        if let Some(state) = map.get(name) {
            return Ok(state.clone());
        }
        let state = Arc::new(NamespaceState {
            name: name.to_owned(),
            stream: tokio::sync::Mutex::new(None),
            caught_up: tokio::sync::watch::Sender::new(false),
        });
        map.insert(name.to_owned(), state.clone());
        self.runtime
            .handle()?
            .spawn(watch::run(self.shared.clone(), state.clone()));
        Ok(state)
    }
}

/// Connects; see [`NatsBackend::connect`] for what an unreachable cluster does.
async fn connect(options: NatsOptions, last_problem: Arc<Mutex<Option<String>>>) -> Result<async_nats::Client, KvError> {
    let servers = options.servers.clone();
    let failed = |error: async_nats::ConnectError| -> KvError {
        NatsError::Connect {
            servers: servers.join(","),
            reason: error.to_string(),
        }
        .into()
    };
    match connect_options(&options, last_problem.clone()).await?.connect(servers.clone()).await {
        Ok(client) => Ok(client),
        // Nothing answered: start anyway and keep trying in the background.
        // Anything else (refused credentials, a bad URL) is the operator's to fix.
        Err(error) if matches!(error.kind(), async_nats::ConnectErrorKind::Io | async_nats::ConnectErrorKind::TimedOut) => {
            if let Ok(mut slot) = last_problem.lock() {
                *slot = Some(error.to_string());
            }
            connect_options(&options, last_problem)
                .await?
                .retry_on_initial_connect()
                .connect(servers.clone())
                .await
                .map_err(failed)
        }
        Err(error) => Err(failed(error)),
    }
}

async fn connect_options(
    options: &NatsOptions,
    last_problem: Arc<Mutex<Option<String>>>,
) -> Result<async_nats::ConnectOptions, KvError> {
    let base = match &options.credentials {
        NatsCredentials::None => async_nats::ConnectOptions::new(),
        NatsCredentials::UserPassword { user, password } => {
            async_nats::ConnectOptions::with_user_and_password(user.clone(), password.clone())
        }
        NatsCredentials::Token(token) => async_nats::ConnectOptions::with_token(token.clone()),
        NatsCredentials::CredsFile(path) => async_nats::ConnectOptions::with_credentials_file(path)
            .await
            .map_err(|source| NatsError::Credentials {
                path: path.clone(),
                reason: source.to_string(),
            })?,
    };
    let pop = options.pop.clone();
    Ok(base
        .name(format!("brink-{}", options.pop))
        .connection_timeout(options.request_timeout)
        .request_timeout(Some(options.request_timeout))
        .event_callback(move |event| {
            let pop = pop.clone();
            let last_problem = last_problem.clone();
            async move {
                tracing::info!(pop = %pop, event = %event, "KV: NATS connection event");
                if let async_nats::Event::ServerError(_) | async_nats::Event::ClientError(_) = event {
                    if let Ok(mut slot) = last_problem.lock() {
                        *slot = Some(event.to_string());
                    }
                }
            }
        }))
}

impl Shared {
    /// Ok once a server of the cluster has been reached (checking its
    /// version the first time); until then, [`NatsError::NotReached`].
    pub(crate) fn ready(&self) -> Result<(), KvError> {
        if self.reached.load(Ordering::Acquire) {
            return Ok(());
        }
        let connected = self.client.connection_state() == async_nats::connection::State::Connected;
        let Some(info) = self.client.try_server_info().filter(|_| connected) else {
            let problem = self.last_problem.lock().ok().and_then(|slot| slot.clone());
            return Err(NatsError::NotReached {
                servers: self.options.servers.join(","),
                problem: problem.map(|p| format!(" (last problem: {p})")).unwrap_or_default(),
            }
            .into());
        };
        match parse_version(&info.version) {
            Some(v) if v >= MIN_SERVER => {}
            _ => return Err(NatsError::ServerTooOld { version: info.version }.into()),
        }
        self.max_payload.store(info.max_payload, Ordering::Release);
        if !self.reached.swap(true, Ordering::AcqRel) {
            tracing::info!(pop = %self.options.pop, servers = ?self.options.servers, server_version = %info.version, max_payload = info.max_payload, "KV: connected to NATS JetStream");
        }
        Ok(())
    }

    /// The stream of `namespace`, created with this POP's settings if missing.
    pub(crate) async fn stream(&self, state: &NamespaceState) -> Result<Stream, KvError> {
        let mut slot = state.stream.lock().await;
        if let Some(stream) = slot.as_ref() {
            return Ok(stream.clone());
        }
        let config = jetstream::stream::Config {
            name: codec::stream_name(&state.name),
            subjects: vec![codec::stream_subjects(&state.name)],
            max_messages_per_subject: 1,
            num_replicas: self.options.replicas,
            storage: jetstream::stream::StorageType::File,
            discard: jetstream::stream::DiscardPolicy::Old,
            allow_direct: true,
            allow_message_ttl: true,
            allow_atomic_publish: true,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        };
        let stream = self
            .jetstream
            .get_or_create_stream(config)
            .await
            .map_err(|error| NatsError::Request {
                what: "create the namespace's stream",
                reason: error.to_string(),
            })?;
        *slot = Some(stream.clone());
        Ok(stream)
    }

    /// Drops the cached stream handle, so the next use looks the stream up
    /// (creating it if it was deleted).
    pub(crate) async fn forget_stream(&self, state: &NamespaceState) {
        *state.stream.lock().await = None;
    }

    pub(crate) fn max_value_bytes(&self, metadata: Option<&str>) -> usize {
        // Headers of a write: Nats-TTL, Nats-Msg-Id or the batch headers, and
        // the expected-sequence headers; 512 bytes is ample for all of them.
        self.max_payload
            .load(Ordering::Acquire)
            .saturating_sub(codec::put_overhead(metadata))
            .saturating_sub(512)
    }

    /// Tells the read cache that `keys` of `namespace` changed.
    pub(crate) fn invalidate(&self, namespace: &str, keys: &[String]) {
        if keys.is_empty() {
            return;
        }
        if let Ok(guard) = self.invalidator.read() {
            if let Some(invalidate) = guard.as_ref() {
                for key in keys {
                    invalidate(namespace, key);
                }
            }
        }
    }

    /// The subject's last message from the stream's leader: `(raw sequence,
    /// entry)`. The raw sequence is 0 when the subject has no message; the
    /// entry is `None` for a delete, an expired put or no message.
    pub(crate) async fn read_strong(
        &self,
        state: &NamespaceState,
        key: &str,
        now_ms: u64,
    ) -> Result<(u64, Option<KvEntry>), KvError> {
        let stream = self.stream(state).await?;
        let subject = codec::subject(&state.name, key);
        let budget = self.options.request_timeout * 2;
        let deadline = std::time::Instant::now() + budget;
        let message = loop {
            match stream.get_last_raw_message_by_subject(&subject).await {
                Ok(message) => break message,
                Err(error) if error.kind() == jetstream::stream::LastRawMessageErrorKind::NoMessageFound => {
                    return Ok((0, None))
                }
                Err(error) if error.kind() == jetstream::stream::LastRawMessageErrorKind::InvalidSubject => {
                    return Err(NatsError::Request { what: "read from the cluster", reason: error.to_string() }.into())
                }
                // A timeout or a stream between leaders: a read is safe to repeat.
                Err(error) => {
                    if std::time::Instant::now() >= deadline {
                        tracing::warn!(namespace = %state.name, %error, "KV: strong read failed");
                        return Err(NatsError::Unavailable { what: "reading from the cluster", timeout: budget }.into());
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        let entry = match codec::decode(&message.payload, &subject)? {
            codec::Record::Delete => None,
            codec::Record::Put { value, expiration, metadata } => (!is_expired(expiration, now_ms))
                .then_some(KvEntry {
                    value,
                    metadata,
                    expiration,
                    version: codec::version(message.sequence, Some(&message.headers)),
                }),
        };
        Ok((message.sequence, entry))
    }
}

impl KvBackend for NatsBackend {
    fn namespace(self: Arc<Self>, name: &str) -> Result<Arc<dyn NamespaceBackend>, KvError> {
        Ok(Arc::new(NatsNamespace {
            state: self.state(name)?,
            shared: self.shared.clone(),
            handle: self.runtime.handle()?.clone(),
        }))
    }

    fn reclaim_expired(&self, now_ms: u64) -> Result<usize, KvError> {
        self.shared.index.reclaim(now_ms)
    }

    fn stored_entries(&self) -> Result<u64, KvError> {
        self.shared.index.stored_entries()
    }

    fn set_invalidator(&self, invalidator: Invalidator) {
        if let Ok(mut slot) = self.shared.invalidator.write() {
            *slot = Some(invalidator);
        }
    }
}

/// One namespace on the cluster. Reads go to the local index on the KV
/// blocking pool; anything that talks to the cluster runs on the backend's
/// runtime. Every operation first checks that the cluster has been reached
/// and then that the index has caught up with the stream once.
struct NatsNamespace {
    shared: Arc<Shared>,
    state: Arc<NamespaceState>,
    handle: tokio::runtime::Handle,
}

impl NatsNamespace {
    /// Reads the local index once it may be served.
    fn local<T: Send + 'static>(
        &self,
        read: impl FnOnce(&LocalIndex) -> Result<T, KvError> + Send + 'static,
    ) -> KvFuture<T> {
        if let Err(error) = self.shared.ready() {
            return Box::pin(std::future::ready(Err(error)));
        }
        let shared = self.shared.clone();
        if self.state.is_caught_up() {
            return blocking(move || read(&shared.index));
        }
        let state = self.state.clone();
        spawn_on(&self.handle, async move {
            state.wait_caught_up(&shared).await;
            blocking(move || read(&shared.index)).await
        })
    }

    /// Runs `work` against the cluster on the backend's runtime.
    fn remote<T, F>(&self, work: impl FnOnce(Arc<Shared>, Arc<NamespaceState>) -> F) -> KvFuture<T>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, KvError>> + Send + 'static,
    {
        if let Err(error) = self.shared.ready() {
            return Box::pin(std::future::ready(Err(error)));
        }
        let (shared, state) = (self.shared.clone(), self.state.clone());
        let work = work(shared.clone(), state.clone());
        spawn_on(&self.handle, async move {
            state.wait_caught_up(&shared).await;
            work.await
        })
    }
}

impl NamespaceBackend for NatsNamespace {
    fn get(&self, key: String, now_ms: u64) -> KvFuture<Option<KvEntry>> {
        let name = self.state.name.clone();
        self.local(move |index| index.get(&name, &key, now_ms))
    }

    fn get_many(&self, keys: Vec<String>, now_ms: u64, max_total_bytes: usize) -> KvFuture<Vec<Option<KvEntry>>> {
        let name = self.state.name.clone();
        self.local(move |index| index.get_many(&name, &keys, now_ms, max_total_bytes))
    }

    fn get_strong(&self, key: String, now_ms: u64) -> KvFuture<Option<KvEntry>> {
        self.remote(move |shared, state| async move { Ok(shared.read_strong(&state, &key, now_ms).await?.1) })
    }

    fn list(&self, query: ListQuery, now_ms: u64) -> KvFuture<ListSlice> {
        let name = self.state.name.clone();
        self.local(move |index| index.list(&name, &query, now_ms))
    }

    fn commit(&self, checks: Vec<AtomicCheck>, writes: Vec<StoredWrite>, now_ms: u64) -> KvFuture<AtomicOutcome> {
        self.remote(move |shared, state| async move { commit::commit(&shared, &state, checks, writes, now_ms).await })
    }
}
