//! `brink serve`: many tenants' workers in one process. Opens the data
//! directory (deployments and the KV store), brings back every deployed
//! worker, deploys the workers the config file declares, and runs the
//! public listener and the admin API until shutdown.

use std::future::Future;
use std::sync::Arc;

use brink_runtime::bundle::ModuleBundle;
use brink_runtime::{IsolatePool, OutboundPolicy, Scaling};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::admin::{self, AdminApi};
use crate::certificates::CertificateStore;
use crate::config::parse_kv_binding;
use crate::deployments::{DeploymentStore, KvBindingRecord};
use crate::metrics::RequestMetrics;
use crate::router::{Route, RouteTable, Routing};
use crate::serve_config::{ServeConfig, StaticWorker};
use crate::server::{self, ConnectionSlots, PublicListener, TlsSettings};
use crate::tls::{self, CertificateSource, SniResolver};
use crate::tenants::{validate_origin, DeployRequest, TenantError, TenantRegistry, WorkerDefaults};

/// Why `brink serve` could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The deployment store could not be opened.
    #[error(transparent)]
    Store(#[from] crate::deployments::DeploymentError),
    /// The KV store could not be opened.
    #[error("{0}")]
    Kv(#[from] brink_kv::KvError),
    /// A worker declared in the config file could not be deployed.
    #[error("worker {name:?} from the config file: {message}")]
    StaticWorker {
        /// The worker.
        name: String,
        /// Why.
        message: String,
    },
    /// The certificate store could not be opened.
    #[error(transparent)]
    Certificates(#[from] crate::certificates::CertificateError),
    /// TLS could not be set up.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// HTTP/3 could not be set up.
    #[error(transparent)]
    Http3(#[from] crate::http3::Http3Error),
    /// Restoring the stored workers failed.
    #[error(transparent)]
    Tenants(#[from] TenantError),
    /// An address could not be bound.
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

/// Runs the server until `shutdown` resolves.
pub async fn run(config: ServeConfig, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
    brink_runtime::api::cache::open(config.cache.clone()).map_err(std::io::Error::other)?;
    let store = DeploymentStore::open(&config.data_dir)?;
    let certificates = CertificateStore::open(&config.data_dir, config.default_certificate.clone())?;
    let kv = crate::kv_config::open_store(&config.kv_backend, &config.data_dir)?;
    let pool = IsolatePool::with_max_live_isolates(config.warm_isolates, config.limits.clone(), config.max_live_isolates);
    let routing = Routing::new(RouteTable::default(), Some(Arc::new(RequestMetrics::default())));
    let defaults = WorkerDefaults {
        limits: config.limits.clone(),
        scaling: Scaling {
            min_isolates: config.min_isolates,
            max_isolates: config.max_isolates_per_worker,
            idle_timeout: config.isolate_idle_timeout,
        },
        outbound: OutboundPolicy { forwarded_headers: config.forwarded_headers, ..OutboundPolicy::default() },
    };
    let tenants = Arc::new(TenantRegistry::new(store, pool, kv, defaults, routing.clone()));
    let restored = tenants.restore().await?;
    tracing::info!(data_dir = %config.data_dir.display(), workers = restored, "deployments restored");
    for worker in &config.workers {
        deploy_static(&tenants, worker).await?;
    }
    let deployed: std::collections::HashSet<String> = tenants.list().into_iter().map(|worker| worker.name).collect();
    let purged = brink_runtime::api::cache::retain_workers(|worker| deployed.contains(worker));
    if purged > 0 {
        tracing::info!(entries = purged, "Cache API disk tier: dropped the entries of workers no longer deployed");
    }

    let public = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Listen { address: config.listen, source })?;
    let admin_listener = TcpListener::bind(config.admin_listen)
        .await
        .map_err(|source| ServeError::Listen { address: config.admin_listen, source })?;
    let public_address = public.local_addr()?;
    let admin_address = admin_listener.local_addr()?;
    tracing::info!(address = %public_address, "brink serve: public listener on http://{public_address}");
    tracing::info!(address = %admin_address, "brink serve: admin API on http://{admin_address}");

    let (stop, stopped) = watch::channel(false);
    let wait_for_stop = |mut stopped: watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let options = server::ServeOptions {
        max_request_body: config.max_request_body,
        header_read_timeout: config.header_read_timeout,
        idle_timeout: config.connection_idle_timeout,
        max_connections: config.max_connections,
        shutdown_grace: config.shutdown_grace,
        handshake_timeout: config.handshake_timeout,
        max_concurrent_streams: config.max_concurrent_streams,
        max_header_list_bytes: config.max_header_list_bytes,
        trust_forwarded: config.trust_forwarded,
    };
    // One connection cap over every public listener, QUIC included.
    let slots = ConnectionSlots::new(config.max_connections);
    let mut listeners = vec![PublicListener { listener: public, tls: None }];
    let mut http3_task = None;
    if let Some(address) = config.tls_listen {
        let tcp = TcpListener::bind(address).await.map_err(|source| ServeError::Listen { address, source })?;
        let bound = tcp.local_addr()?;
        let hook = config.prewarm_on_sni.then(|| tls::prewarm_hook(routing.clone()));
        let resolver = SniResolver::new(CertificateSource::Store(certificates.clone()), hook);
        let alt_svc = match config.http3 {
            true => http::HeaderValue::from_str(&format!("h3=\":{}\"; ma=86400", bound.port())).ok(),
            false => None,
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(tls::tcp_config(resolver.clone())?);
        listeners.push(PublicListener { listener: tcp, tls: Some(TlsSettings { acceptor, alt_svc }) });
        tracing::info!(address = %bound, "brink serve: TLS listener on https://{bound}");
        if config.http3 {
            let endpoint = crate::http3::bind(bound, tls::quic_config(resolver)?, &options)?;
            tracing::info!(address = %bound, "brink serve: HTTP/3 on udp://{bound}");
            http3_task = Some(tokio::spawn(crate::http3::serve(
                endpoint,
                routing.clone(),
                options.clone(),
                slots.clone(),
                wait_for_stop(stopped.clone()),
            )));
        }
    }
    let api = AdminApi::new(config.admin_token.clone(), tenants.clone(), routing.clone(), certificates);
    let admin_task = tokio::spawn(admin::serve(admin_listener, api, wait_for_stop(stopped.clone())));
    let public_task = server::serve_listeners(listeners, routing, options, slots, wait_for_stop(stopped));
    tokio::pin!(public_task);
    tokio::select! {
        _ = shutdown => {
            let _ = stop.send(true);
            public_task.await?;
        }
        result = &mut public_task => {
            let _ = stop.send(true);
            result?;
        }
    }
    if let Some(task) = http3_task {
        let _ = task.await;
    }
    let _ = admin_task.await;
    for worker in tenants.workers() {
        worker.shutdown().await;
    }
    Ok(())
}

/// Deploys a worker declared in the config file, unless its active
/// version already has the same code and settings (so restarts do not
/// pile up identical versions).
async fn deploy_static(tenants: &TenantRegistry, worker: &StaticWorker) -> Result<(), ServeError> {
    let failed = |message: String| ServeError::StaticWorker { name: worker.name.clone(), message };
    let bundle = ModuleBundle::from_entry_file(&worker.entry).map_err(|e| failed(e.to_string()))?;
    let mut kv = Vec::new();
    for text in &worker.kv {
        let binding = parse_kv_binding(text).map_err(|e| failed(e.to_string()))?;
        let namespace = text.contains('=').then_some(binding.namespace);
        kv.push(KvBindingRecord { binding: binding.binding, namespace });
    }
    let request = DeployRequest {
        entry: bundle.entry().to_string(),
        modules: bundle.modules().map(|(path, source)| (path.to_string(), source.to_vec())).collect(),
        routes: worker.routes.clone(),
        vars: worker.vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        secrets: Vec::new(),
        kv,
        limits: worker.limits.clone(),
        origin: worker.origin.clone(),
    };
    if let Some(active) = tenants.active_version(&worker.name).await? {
        let record = &active.record;
        // Stored routes are normalised (`A.example/*` is kept as `a.example`).
        let routes: Vec<String> = request
            .routes
            .iter()
            .map(|route| Route::parse(route).map(|route| route.to_string()).unwrap_or_else(|_| route.clone()))
            .collect();
        let same = active.modules == request.modules
            && record.entry == request.entry
            && record.routes == routes
            && record.vars == request.vars
            && record.kv == request.kv
            && record.limits == request.limits
            && record.origin.as_deref() == request.origin.as_deref().and_then(|origin| validate_origin(origin).ok()).as_deref()
            && active.secrets.is_empty();
        if same {
            tracing::info!(worker = %worker.name, version = record.version, "config worker unchanged");
            return Ok(());
        }
    }
    let version = tenants.deploy(&worker.name, request).await.map_err(|e| failed(e.to_string()))?;
    tracing::info!(worker = %worker.name, version, "config worker deployed");
    Ok(())
}
