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
//! The trait is synchronous (callers run it on blocking threads); this
//! backend drives the async NATS client on a small runtime of its own.

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
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Duration;

use async_nats::jetstream::{self, stream::Stream};

use crate::backend::{Invalidator, KvBackend, ListQuery, ListSlice, StoredWrite};
use crate::error::KvError;
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

/// The backend's own tokio runtime. Dropping it never blocks (it shuts down
/// in the background), so a store may be opened, fail, or be dropped inside
/// an async context, where dropping a runtime the usual way would panic.
struct BackendRuntime(Option<tokio::runtime::Runtime>);

impl Drop for BackendRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// What the backend's tasks share.
pub(crate) struct Shared {
    pub(crate) client: async_nats::Client,
    pub(crate) jetstream: jetstream::Context,
    pub(crate) index: LocalIndex,
    pub(crate) options: NatsOptions,
    /// The largest message the servers accept (their `max_payload`).
    pub(crate) max_payload: usize,
    namespaces: Mutex<HashMap<String, Arc<NamespaceState>>>,
    invalidator: RwLock<Option<Invalidator>>,
}

/// A namespace this POP has used: its stream handle and whether its index
/// has caught up with the stream once.
pub(crate) struct NamespaceState {
    pub(crate) name: String,
    stream: tokio::sync::Mutex<Option<Stream>>,
    caught_up: Mutex<bool>,
    caught_up_signal: Condvar,
}

impl NamespaceState {
    pub(crate) fn mark_caught_up(&self) {
        if let Ok(mut done) = self.caught_up.lock() {
            if !*done {
                *done = true;
                self.caught_up_signal.notify_all();
            }
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
    /// `<data_dir>/kv-nats-index.redb`. Fails when no server answers, when a
    /// server is older than 2.12, or when another process holds the index.
    pub fn connect(options: NatsOptions) -> Result<NatsBackend, KvError> {
        if options.servers.is_empty() {
            return Err(NatsError::NoServers.into());
        }
        std::fs::create_dir_all(&options.data_dir).map_err(|source| KvError::DataDir {
            path: options.data_dir.clone(),
            source,
        })?;
        let index = LocalIndex::open(&options.data_dir.join(INDEX_FILE_NAME))?;
        let runtime = BackendRuntime(Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("brink-kv-nats")
                .enable_all()
                .build()
                .map_err(KvError::backend)?,
        ));
        let handle = runtime.handle()?.clone();
        let connect_options = options.clone();
        let client = run_on(&handle, async move { connect(&connect_options).await })??;
        let info = client.server_info();
        match parse_version(&info.version) {
            Some(v) if v >= MIN_SERVER => {}
            _ => return Err(NatsError::ServerTooOld { version: info.version }.into()),
        }
        // The JetStream context spawns a task of its own: build it inside the runtime.
        let mut jetstream = {
            let _entered = handle.enter();
            jetstream::new(client.clone())
        };
        jetstream.set_timeout(options.request_timeout);
        tracing::info!(pop = %options.pop, servers = ?options.servers, server_version = %info.version, max_payload = info.max_payload, "KV: connected to NATS JetStream");
        let shared = Arc::new(Shared {
            client,
            jetstream,
            index,
            max_payload: info.max_payload,
            options,
            namespaces: Mutex::new(HashMap::new()),
            invalidator: RwLock::new(None),
        });
        Ok(NatsBackend { shared, runtime })
    }

    /// The largest value this store accepts with the given metadata: the
    /// servers' `max_payload` less the message's own framing and headers.
    pub fn max_value_bytes(&self) -> usize {
        self.shared.max_value_bytes(None)
    }

    fn handle(&self) -> Result<&tokio::runtime::Handle, KvError> {
        self.runtime.handle()
    }

    /// Runs `work` on the backend's runtime and waits for it.
    fn block_on<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, KvError>> + Send + 'static,
    ) -> Result<T, KvError> {
        run_on(self.handle()?, work)?
    }

    /// The namespace's state, starting its watcher on first use and waiting
    /// (up to `catch_up_timeout`) until the local index has caught up.
    fn namespace(&self, name: &str) -> Result<Arc<NamespaceState>, KvError> {
        let (state, fresh) = {
            let mut map = self
                .shared
                .namespaces
                .lock()
                .map_err(|_| KvError::backend("the NATS backend's lock was poisoned"))?;
            match map.get(name) {
                Some(state) => (state.clone(), false),
                None => {
                    let state = Arc::new(NamespaceState {
                        name: name.to_owned(),
                        stream: tokio::sync::Mutex::new(None),
                        caught_up: Mutex::new(false),
                        caught_up_signal: Condvar::new(),
                    });
                    map.insert(name.to_owned(), state.clone());
                    (state, true)
                }
            }
        };
        if fresh {
            self.handle()?
                .spawn(watch::run(self.shared.clone(), state.clone()));
        }
        {
            let done = state
                .caught_up
                .lock()
                .map_err(|_| KvError::backend("the NATS backend's lock was poisoned"))?;
            if !*done {
                let (done, timeout) = state
                    .caught_up_signal
                    .wait_timeout_while(done, self.shared.options.catch_up_timeout, |done| !*done)
                    .map_err(|_| KvError::backend("the NATS backend's lock was poisoned"))?;
                let gave_up = timeout.timed_out() && !*done;
                drop(done);
                if gave_up {
                    // Later calls serve the index at once: a cluster that is
                    // down must not make every read wait.
                    state.mark_caught_up();
                    tracing::warn!(namespace = name, pop = %self.shared.options.pop, "KV: the local index has not caught up with the cluster; serving what it has");
                }
            }
        }
        Ok(state)
    }
}

impl BackendRuntime {
    fn handle(&self) -> Result<&tokio::runtime::Handle, KvError> {
        self.0
            .as_ref()
            .map(tokio::runtime::Runtime::handle)
            .ok_or_else(|| KvError::backend("the NATS backend is shut down"))
    }
}

/// Spawns `work` on `handle` and blocks the calling (non-runtime) thread until it ends.
fn run_on<T: Send + 'static>(
    handle: &tokio::runtime::Handle,
    work: impl Future<Output = T> + Send + 'static,
) -> Result<T, KvError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        let _ = tx.send(work.await);
    });
    rx.recv()
        .map_err(|_| KvError::backend("the NATS backend stopped while an operation was running"))
}

async fn connect(options: &NatsOptions) -> Result<async_nats::Client, KvError> {
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
    let connect_options = base
        .name(format!("brink-{}", options.pop))
        .connection_timeout(options.request_timeout)
        .request_timeout(Some(options.request_timeout))
        .event_callback(move |event| {
            let pop = pop.clone();
            async move {
                tracing::info!(pop = %pop, event = %event, "KV: NATS connection event");
            }
        });
    connect_options
        .connect(options.servers.clone())
        .await
        .map_err(|error| {
            NatsError::Connect {
                servers: options.servers.join(","),
                reason: error.to_string(),
            }
            .into()
        })
}

impl Shared {
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
                    version: message.sequence,
                }),
        };
        Ok((message.sequence, entry))
    }
}

impl KvBackend for NatsBackend {
    fn get(&self, namespace: &str, key: &str, now_ms: u64) -> Result<Option<KvEntry>, KvError> {
        self.namespace(namespace)?;
        self.shared.index.get(namespace, key, now_ms)
    }

    fn get_many(
        &self,
        namespace: &str,
        keys: &[&str],
        now_ms: u64,
        max_total_bytes: usize,
    ) -> Result<Vec<Option<KvEntry>>, KvError> {
        self.namespace(namespace)?;
        self.shared.index.get_many(namespace, keys, now_ms, max_total_bytes)
    }

    fn get_strong(&self, namespace: &str, key: &str, now_ms: u64) -> Result<Option<KvEntry>, KvError> {
        let state = self.namespace(namespace)?;
        let shared = self.shared.clone();
        let key = key.to_owned();
        self.block_on(async move { Ok(shared.read_strong(&state, &key, now_ms).await?.1) })
    }

    fn list(&self, namespace: &str, query: ListQuery<'_>, now_ms: u64) -> Result<ListSlice, KvError> {
        self.namespace(namespace)?;
        self.shared.index.list(namespace, query, now_ms)
    }

    fn commit(
        &self,
        namespace: &str,
        checks: &[AtomicCheck],
        writes: &[StoredWrite],
        now_ms: u64,
    ) -> Result<AtomicOutcome, KvError> {
        let state = self.namespace(namespace)?;
        let shared = self.shared.clone();
        let checks = checks.to_vec();
        let writes = writes.to_vec();
        self.block_on(async move { commit::commit(&shared, &state, checks, writes, now_ms).await })
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
