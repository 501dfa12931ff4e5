//! `brink dev`: one worker, every host name routed to it.

use std::sync::Arc;

use brink_runtime::{IsolatePool, ModuleBundle, OutboundPolicy, Scaling, Worker, WorkerError, WorkerSpec};
use tokio::net::TcpListener;

use crate::config::DevConfig;
use crate::router::{RouteTable, Routing};
use crate::server;

/// Why `brink dev` could not start.
#[derive(Debug, thiserror::Error)]
pub enum DevError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The KV store could not be opened.
    #[error("{0}")]
    Kv(#[from] brink_kv::KvError),
    /// The worker's code did not load.
    #[error("{0}")]
    Worker(#[from] brink_runtime::WorkerError),
    /// The address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Loads the worker, binds the listener, and serves until `shutdown`.
pub async fn run(config: DevConfig, shutdown: impl std::future::Future<Output = ()>) -> Result<(), DevError> {
    config.validate()?;
    // One warm isolate in reserve replaces a terminated one quickly.
    let pool = IsolatePool::new(1, config.limits.clone());
    let kv = bind_kv(&config)?;
    let bundle = ModuleBundle::from_entry_file(&config.entry).map_err(|error| WorkerError::Load(error.to_string()))?;
    let spec = WorkerSpec {
        name: config.name.clone(),
        version: 0,
        bundle: Arc::new(bundle),
        vars: config.vars.clone(),
        secrets: Vec::new(),
        kv,
        outbound: OutboundPolicy { allowed_private_hosts: config.allowed_private_hosts.clone() },
        limits: config.limits.clone(),
        scaling: Scaling::fixed(config.isolates),
        log_sink: None,
    };
    let worker = Arc::new(Worker::start(spec, pool).await?);
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| DevError::Listen { address: config.listen, source })?;
    let address = listener.local_addr()?;
    tracing::info!(worker = %config.name, %address, "brink dev listening on http://{address}");
    let router = Routing::new(RouteTable::catch_all(worker), None);
    let options = server::ServeOptions {
        max_request_body: config.max_request_body,
        header_read_timeout: config.header_read_timeout,
        idle_timeout: config.idle_timeout,
        max_connections: config.max_connections,
        shutdown_grace: config.shutdown_grace,
    };
    server::serve(listener, router, options, shutdown).await?;
    Ok(())
}

/// Opens the embedded store (only if the worker binds a namespace) and
/// resolves each binding to its namespace.
fn bind_kv(config: &DevConfig) -> Result<Vec<(String, brink_kv::KvNamespace)>, DevError> {
    if config.kv.is_empty() {
        return Ok(Vec::new());
    }
    let store = brink_kv::KvStore::open(&config.data_dir, brink_kv::KvOptions::default())?;
    let mut bound = Vec::new();
    for binding in &config.kv {
        bound.push((binding.binding.clone(), store.namespace(&binding.namespace)?));
    }
    tracing::info!(data_dir = %config.data_dir.display(), namespaces = bound.len(), "KV store open");
    Ok(bound)
}
