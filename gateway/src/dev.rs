//! `brink dev`: one worker, every host name routed to it.

use std::sync::Arc;

use brink_runtime::{IsolatePool, OutboundPolicy, Worker, WorkerSpec};
use tokio::net::TcpListener;

use crate::config::DevConfig;
use crate::router::Router;
use crate::server;

/// Why `brink dev` could not start.
#[derive(Debug, thiserror::Error)]
pub enum DevError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
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
    let spec = WorkerSpec {
        name: config.name.clone(),
        entry: config.entry.clone(),
        vars: config.vars.clone(),
        outbound: OutboundPolicy { allowed_private_hosts: config.allowed_private_hosts.clone() },
        isolates: config.isolates,
    };
    let worker = Arc::new(Worker::start(spec, pool).await?);
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| DevError::Listen { address: config.listen, source })?;
    let address = listener.local_addr()?;
    tracing::info!(worker = %config.name, %address, "brink dev listening on http://{address}");
    let router = Arc::new(Router::catch_all(worker));
    server::serve(listener, router, config.max_request_body, config.shutdown_grace, shutdown).await?;
    Ok(())
}
