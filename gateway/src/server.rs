//! The public TCP listeners: HTTP/1.1 and h2c (prior knowledge) in plain
//! text, or HTTP/1.1 and h2 over TLS (ALPN), bodies streamed both ways,
//! and a graceful shutdown that lets in-flight requests finish.
//!
//! Connections are a resource a client can hoard, so the listeners bound
//! them: a TLS handshake must finish within its timeout, a connection with
//! no request running is closed after the idle timeout, an h2 connection
//! carries a bounded number of concurrent streams with bounded header
//! lists, and at most `max_connections` are open at once over every
//! listener, HTTP/3 included (further TCP connections wait in the kernel's
//! accept queue until one closes; QUIC ones are refused).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::ALT_SVC;
use http::HeaderValue;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use crate::connection::{ConnectionActivity, InFlightBody, PeerAddress, TrackedIo};
use crate::router::Routing;
use crate::tls::SecureTransport;
use crate::{websocket, worker_bridge};

/// How the listener treats connections.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Largest request body accepted, in bytes.
    pub max_request_body: u64,
    /// How long a client may take to send a request's head (slow clients
    /// holding connections open are cut off after this).
    pub header_read_timeout: Duration,
    /// How long a connection may stay open with no request running and no
    /// bytes moving (after connecting, after the h2 preface, between
    /// keep-alive requests).
    pub idle_timeout: Duration,
    /// Most connections open at once; accepting pauses while at the limit.
    pub max_connections: usize,
    /// How long a graceful shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// How long a client may take to finish a TLS (or QUIC) handshake.
    pub handshake_timeout: Duration,
    /// Most concurrent requests (streams) on one h2 or h3 connection.
    pub max_concurrent_streams: u32,
    /// Largest request header list on h2 and h3 (names and values plus 32
    /// bytes per field, as HTTP/2 counts it).
    pub max_header_list_bytes: u32,
    /// Which peers' `X-Forwarded-For`, `X-Real-IP` and `Forwarded`
    /// headers are believed (trusted proxies in front); others' are removed.
    pub trust_forwarded: brink_runtime::api::forwarding::TrustedProxies,
}

impl ServeOptions {
    /// Options with the documented defaults for everything but the request
    /// body limit.
    pub fn with_defaults(max_request_body: u64) -> ServeOptions {
        ServeOptions {
            max_request_body,
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            shutdown_grace: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(10),
            max_concurrent_streams: 100,
            max_header_list_bytes: 32 * 1024,
            trust_forwarded: Default::default(),
        }
    }
}

/// TLS on a TCP listener.
#[derive(Clone)]
pub struct TlsSettings {
    /// Does the handshake (certificate by SNI, ALPN).
    pub acceptor: tokio_rustls::TlsAcceptor,
    /// `Alt-Svc` added to every response (HTTP/3 on the same port), if any.
    pub alt_svc: Option<HeaderValue>,
}

/// One public TCP listener: plain HTTP, or TLS.
pub struct PublicListener {
    /// The bound socket.
    pub listener: TcpListener,
    /// TLS, or `None` for plain HTTP.
    pub tls: Option<TlsSettings>,
}

/// The connection cap shared by every public listener (TCP and QUIC).
#[derive(Clone, Debug)]
pub struct ConnectionSlots {
    semaphore: Arc<Semaphore>,
    max: usize,
}

impl ConnectionSlots {
    /// At most `max` connections at once (at least one).
    pub fn new(max: usize) -> ConnectionSlots {
        ConnectionSlots { semaphore: Arc::new(Semaphore::new(max.max(1))), max }
    }

    /// A slot if one is free now.
    pub fn try_acquire(&self) -> Option<OwnedSemaphorePermit> {
        self.semaphore.clone().try_acquire_owned().ok()
    }

    /// The configured maximum.
    pub fn max(&self) -> usize {
        self.max
    }
}

/// How often a condition that repeats under attack (connection limit
/// reached, accept failing) is logged at most.
pub(crate) const REPEATED_WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// Accepts plain connections on `listener` until `shutdown` resolves, then
/// stops accepting, waits up to `options.shutdown_grace` for open
/// connections, and shuts the routed workers down.
pub async fn serve(
    listener: TcpListener,
    router: Arc<Routing>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let slots = ConnectionSlots::new(options.max_connections);
    serve_listeners(vec![PublicListener { listener, tls: None }], router.clone(), options, slots, shutdown).await?;
    for worker in router.current().workers() {
        worker.shutdown().await;
    }
    Ok(())
}

/// Accepts connections on every listener until `shutdown` resolves, then
/// stops accepting and waits up to `options.shutdown_grace` for open
/// connections. The routing handle is read per request, so a route change
/// reaches keep-alive and h2 connections that are already open.
pub async fn serve_listeners(
    listeners: Vec<PublicListener>,
    router: Arc<Routing>,
    options: ServeOptions,
    slots: ConnectionSlots,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let grace = options.shutdown_grace;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(options.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(options.max_concurrent_streams)
        .max_header_list_size(options.max_header_list_bytes);
    // Every accept loop and connection task holds a receiver: `send` asks
    // them all to wind down, and `closed` resolves once the last one has
    // ended.
    let (stopping, stop_requested) = watch::channel(false);
    let options = Arc::new(options);
    let accepting = tokio::spawn(accept_loop(listeners, router, options, builder, slots, stop_requested.clone()));
    shutdown.await;
    drop(stop_requested);
    let _ = stopping.send(true);
    let _ = accepting.await;
    tracing::info!("shutting down: waiting for in-flight requests");
    if tokio::time::timeout(grace, stopping.closed()).await.is_err() {
        tracing::warn!(grace_ms = grace.as_millis() as u64, "in-flight requests did not finish in time");
    }
    Ok(())
}

/// Accepts on every listener from one loop. One loop, not one per
/// listener: a slot is taken before accepting (so at the cap nothing more
/// is accepted and clients wait in the kernel's queue), and a loop per
/// listener would hold a slot while waiting in `accept`, keeping it from a
/// listener that has a client waiting.
async fn accept_loop(
    listeners: Vec<PublicListener>,
    router: Arc<Routing>,
    options: Arc<ServeOptions>,
    builder: auto::Builder<TokioExecutor>,
    slots: ConnectionSlots,
    mut stop_requested: watch::Receiver<bool>,
) {
    if listeners.is_empty() {
        return;
    }
    let mut limit_warning = RateLimitedWarning::default();
    let mut accept_warning = RateLimitedWarning::default();
    // Where the next poll starts, so a busy listener cannot starve the others.
    let mut first = 0usize;
    loop {
        let permit = tokio::select! {
            permit = connection_slot(&slots, &mut limit_warning) => permit,
            _ = stop_signal(&mut stop_requested) => break,
        };
        let (accepted, index) = tokio::select! {
            accepted = std::future::poll_fn(|cx| {
                for offset in 0..listeners.len() {
                    let index = (first + offset) % listeners.len();
                    if let std::task::Poll::Ready(accepted) = listeners[index].listener.poll_accept(cx) {
                        return std::task::Poll::Ready((accepted, index));
                    }
                }
                std::task::Poll::Pending
            }) => accepted,
            _ = stop_signal(&mut stop_requested) => break,
        };
        first = index + 1;
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: back off, keep serving.
                accept_warning.warn(|suppressed| tracing::warn!(%error, suppressed, "accept failed"));
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let tls = listeners[index].tls.clone();
        let _ = stream.set_nodelay(true);
        let activity = ConnectionActivity::new();
        let io = TrackedIo::new(stream, activity.clone());
        let connection = Connection {
            peer,
            activity,
            builder: builder.clone(),
            router: router.clone(),
            options: options.clone(),
            stop_requested: stop_requested.clone(),
            slot: Arc::new(permit),
        };
        match tls.clone() {
            None => {
                tokio::spawn(async move {
                    connection.run(TokioIo::new(io), None).await;
                });
            }
            Some(tls) => {
                let handshake_timeout = options.handshake_timeout;
                tokio::spawn(async move {
                    // The slot is held from accept on (the connection owns
                    // it), so clients stuck in handshakes count toward the
                    // cap too.
                    match tokio::time::timeout(handshake_timeout, tls.acceptor.accept(io)).await {
                        Ok(Ok(stream)) => connection.run(TokioIo::new(stream), Some(tls.alt_svc)).await,
                        Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        }
    }
}

/// Resolves once a stop has been asked for (the guard `wait_for` returns
/// is dropped here: it must not be held across an await).
async fn stop_signal(stop_requested: &mut watch::Receiver<bool>) {
    let _ = stop_requested.wait_for(|stop| *stop).await;
}

/// One accepted connection, ready to serve HTTP.
struct Connection {
    peer: std::net::SocketAddr,
    activity: Arc<ConnectionActivity>,
    builder: auto::Builder<TokioExecutor>,
    router: Arc<Routing>,
    options: Arc<ServeOptions>,
    stop_requested: watch::Receiver<bool>,
    /// Its slot under the connection cap; a WebSocket upgraded from the
    /// connection holds it too.
    slot: Arc<OwnedSemaphorePermit>,
}

impl Connection {
    /// Serves requests until the connection ends. `tls` is `Some` (with the
    /// `Alt-Svc` to add, if any) on a TLS connection.
    async fn run<I>(self, io: TokioIo<I>, tls: Option<Option<HeaderValue>>)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Connection { peer, activity, builder, router, options, mut stop_requested, slot } = self;
        let lease = websocket::SocketLease { slot, stop_requested: stop_requested.clone() };
        let secure = tls.is_some();
        let alt_svc = tls.flatten();
        let max_request_body = options.max_request_body;
        let trust_forwarded = options.trust_forwarded.clone();
        let idle_timeout = options.idle_timeout;
        let requests = activity.clone();
        let service = service_fn(move |mut request: http::Request<hyper::body::Incoming>| {
            let running = requests.begin_request();
            if secure {
                request.extensions_mut().insert(SecureTransport);
            }
            request.extensions_mut().insert(PeerAddress(peer));
            let handshake = websocket::take_handshake(&mut request);
            let response = worker_bridge::handle(request, router.clone(), max_request_body, trust_forwarded.clone());
            let alt_svc = alt_svc.clone();
            let lease = lease.clone();
            async move {
                let mut response = websocket::finish(response.await?, handshake, &lease);
                if let Some(alt_svc) = alt_svc {
                    response.headers_mut().insert(ALT_SVC, alt_svc);
                }
                Ok::<_, std::convert::Infallible>(response.map(|body| InFlightBody::new(body, running)))
            }
        });
        let connection = builder.serve_connection_with_upgrades(io, service);
        tokio::pin!(connection);
        // Runs the connection until it ends. When it has been idle too
        // long, or the server stops, it is shut down gracefully (h2 clients
        // get a GOAWAY, so they do not send a request into a closing
        // connection). An idle one that does not finish closing within the
        // idle timeout (a client ignoring the GOAWAY) is dropped, which
        // closes the socket.
        let mut stopping = false;
        let result = loop {
            tokio::select! {
                result = connection.as_mut() => break result,
                _ = activity.idle_for(idle_timeout) => {
                    tracing::debug!(%peer, "closing an idle connection");
                    connection.as_mut().graceful_shutdown();
                    break tokio::time::timeout(idle_timeout, connection.as_mut()).await.unwrap_or(Ok(()));
                }
                _ = stop_requested.changed(), if !stopping => {
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        };
        if let Err(error) = result {
            tracing::debug!(%peer, error = %error, "connection closed with an error");
        }
    }
}

/// Waits for a free connection slot; warns (rate-limited) when the limit
/// has been reached.
async fn connection_slot(slots: &ConnectionSlots, warning: &mut RateLimitedWarning) -> OwnedSemaphorePermit {
    if let Some(permit) = slots.try_acquire() {
        return permit;
    }
    let max_connections = slots.max;
    warning.warn(|suppressed| {
        tracing::warn!(max_connections, suppressed, "connection limit reached: not accepting until a connection closes")
    });
    match slots.semaphore.clone().acquire_owned().await {
        Ok(permit) => permit,
        // The semaphore is never closed; if it were, accepting would stop
        // here until shutdown rather than run without a limit.
        Err(_) => std::future::pending().await,
    }
}

/// Logs a condition at most once per [`REPEATED_WARNING_INTERVAL`], with
/// how many occurrences were not logged in between.
#[derive(Default)]
pub(crate) struct RateLimitedWarning {
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimitedWarning {
    pub(crate) fn warn(&mut self, log: impl FnOnce(u64)) {
        if self.last.is_some_and(|last| last.elapsed() < REPEATED_WARNING_INTERVAL) {
            self.suppressed += 1;
            return;
        }
        log(self.suppressed);
        self.last = Some(Instant::now());
        self.suppressed = 0;
    }
}

/// Raises this process's soft limit on open files to its hard limit, so
/// the connection limit, not the default soft limit (often 1024), is what
/// bounds connections. Returns the limit now in force.
#[cfg(unix)]
pub fn raise_open_file_limit() -> std::io::Result<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a valid resource and a pointer to a
    // live, properly sized struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            limit = raised;
        }
    }
    Ok(limit.rlim_cur as u64)
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
