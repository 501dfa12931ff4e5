//! `brink dev`: one worker, every host name routed to it; with `--tls`,
//! over TLS (and HTTP/3 on the same port) with a self-signed certificate
//! for localhost.

use std::sync::Arc;

use brink_runtime::{IsolatePool, ModuleBundle, OutboundPolicy, Scaling, Worker, WorkerError, WorkerSpec};
use tokio::net::TcpListener;

use crate::config::DevConfig;
use crate::router::{RouteTable, Routing};
use crate::server::{self, ConnectionSlots, PublicListener, TlsSettings};
use crate::tls::{self, CertificateSource, DevCertificate, SniResolver};

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
    /// TLS could not be set up.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// HTTP/3 could not be set up.
    #[error(transparent)]
    Http3(#[from] crate::http3::Http3Error),
    /// Serving failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Loads the worker, binds the listener, and serves until `shutdown`.
pub async fn run(config: DevConfig, shutdown: impl std::future::Future<Output = ()>) -> Result<(), DevError> {
    config.validate()?;
    brink_runtime::api::cache::configure(brink_runtime::api::cache::CacheConfig {
        memory_bytes: config.cache_bytes,
        ..Default::default()
    });
    // One warm isolate in reserve replaces a terminated one quickly.
    let pool = IsolatePool::new(1, config.limits.clone());
    let kv = bind_kv(&config)?;
    let bundle = ModuleBundle::from_entry_file(&config.entry).map_err(|error| WorkerError::Load(error.to_string()))?;
    let start = worker_starter(&config, kv, pool);
    let worker = Arc::new(start(bundle, 0).await?);
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| DevError::Listen { address: config.listen, source })?;
    let address = listener.local_addr()?;
    let router = Routing::new(RouteTable::catch_all(worker), None);
    let options = server::ServeOptions {
        max_request_body: config.max_request_body,
        header_read_timeout: config.header_read_timeout,
        idle_timeout: config.idle_timeout,
        max_connections: config.max_connections,
        shutdown_grace: config.shutdown_grace,
        trust_forwarded: brink_runtime::api::forwarding::TrustedProxies::new(Vec::new(), config.trust_forwarded, config.forwarded_headers),
        ..server::ServeOptions::with_defaults(config.max_request_body)
    };
    let slots = ConnectionSlots::new(config.max_connections);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let wait_for_stop = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let mut http3_task = None;
    let public = if config.tls {
        let certificate = DevCertificate::load_or_create(&config.data_dir.join("tls"))?;
        let path = certificate.cert_path.display().to_string();
        tracing::info!(cert = %path, "brink dev: self-signed certificate for localhost; trust it with `curl --cacert {path}`");
        let resolver = SniResolver::new(CertificateSource::Fixed(certificate.key), None);
        let acceptor = tokio_rustls::TlsAcceptor::from(tls::tcp_config(resolver.clone())?);
        let alt_svc = http::HeaderValue::from_str(&format!("h3=\":{}\"; ma=86400", address.port())).ok();
        let endpoint = crate::http3::bind(address, tls::quic_config(resolver)?, &options)?;
        http3_task = Some(tokio::spawn(crate::http3::serve(
            endpoint,
            router.clone(),
            options.clone(),
            slots.clone(),
            wait_for_stop(stopped.clone()),
        )));
        tracing::info!(worker = %config.name, %address, "brink dev listening on https://{address} (HTTP/1.1, h2 and HTTP/3)");
        PublicListener { listener, tls: Some(TlsSettings { acceptor, alt_svc }) }
    } else {
        tracing::info!(worker = %config.name, %address, "brink dev listening on http://{address}");
        PublicListener { listener, tls: None }
    };
    if config.watch {
        tokio::spawn(crate::watch::run(config.entry.clone(), router.clone(), start, stopped.clone()));
    }
    let serving = server::serve_listeners(vec![public], router.clone(), options, slots, wait_for_stop(stopped));
    tokio::pin!(serving);
    tokio::select! {
        _ = shutdown => {
            let _ = stop.send(true);
            serving.await?;
        }
        result = &mut serving => {
            let _ = stop.send(true);
            result?;
        }
    }
    if let Some(task) = http3_task {
        let _ = task.await;
    }
    for worker in router.current().workers() {
        worker.shutdown().await;
    }
    Ok(())
}

/// Starts the worker of one version of the entry's bundle (version 0 at
/// start; each reload on change is the next).
fn worker_starter(config: &DevConfig, kv: Vec<(String, brink_kv::KvNamespace)>, pool: IsolatePool) -> crate::watch::StartWorker {
    let config = config.clone();
    Arc::new(move |bundle: ModuleBundle, version: u64| {
        let spec = WorkerSpec {
            name: config.name.clone(),
            version,
            bundle: Arc::new(bundle),
            vars: config.vars.clone(),
            secrets: Vec::new(),
            kv: kv.clone(),
            outbound: OutboundPolicy {
                allowed_private_hosts: config.allowed_private_hosts.clone(),
                origin: config.origin.clone(),
                forwarded_headers: config.forwarded_headers,
            },
            limits: config.limits.clone(),
            scaling: Scaling::fixed(config.isolates),
            log_sink: None,
        };
        let pool = pool.clone();
        Box::pin(Worker::start(spec, pool))
    })
}

/// Opens the embedded store (only if the worker binds a namespace) and
/// resolves each binding to its namespace.
fn bind_kv(config: &DevConfig) -> Result<Vec<(String, brink_kv::KvNamespace)>, DevError> {
    if config.kv.is_empty() {
        return Ok(Vec::new());
    }
    let store = crate::kv_config::open_store(&config.kv_backend, &config.data_dir)?;
    let mut bound = Vec::new();
    for binding in &config.kv {
        bound.push((binding.binding.clone(), store.namespace(&binding.namespace)?));
    }
    tracing::info!(data_dir = %config.data_dir.display(), namespaces = bound.len(), "KV store open");
    Ok(bound)
}
