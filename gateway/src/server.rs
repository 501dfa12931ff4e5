//! The HTTP listener: HTTP/1.1 and h2c (prior knowledge) on one port,
//! bodies streamed both ways, and a graceful shutdown that lets in-flight
//! requests finish.
//!
//! Connections are a resource a client can hoard, so the listener bounds
//! them: a connection with no request running is closed after the idle
//! timeout, and at most `max_connections` are open at once (further ones
//! wait in the kernel's accept queue until one closes).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use crate::connection::{ConnectionActivity, InFlightBody, TrackedIo};
use crate::router::Routing;
use crate::worker_bridge;

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
}

/// How often a condition that repeats under attack (connection limit
/// reached, accept failing) is logged at most.
const REPEATED_WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// Accepts connections on `listener` until `shutdown` resolves, then stops
/// accepting and waits up to `options.shutdown_grace` for open connections.
/// The routing handle is read per request, so a route change reaches
/// keep-alive and h2 connections that are already open.
pub async fn serve(
    listener: TcpListener,
    router: Arc<Routing>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let ServeOptions { max_request_body, header_read_timeout, idle_timeout, max_connections, shutdown_grace: grace } =
        options;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    // Every connection task holds a receiver: `send` asks them all to wind
    // down, and `closed` resolves once the last one has ended.
    let (stopping, stop_requested) = watch::channel(false);
    let connections = Arc::new(Semaphore::new(max_connections.max(1)));
    let mut limit_warning = RateLimitedWarning::default();
    let mut accept_warning = RateLimitedWarning::default();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = connection_slot(&connections, max_connections, &mut limit_warning) => permit,
            _ = &mut shutdown => break,
        };
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        accept_warning.warn(|suppressed| tracing::warn!(%error, suppressed, "accept failed"));
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let activity = ConnectionActivity::new();
                let io = TokioIo::new(TrackedIo::new(stream, activity.clone()));
                let router = router.clone();
                let requests = activity.clone();
                let service = service_fn(move |request| {
                    let running = requests.begin_request();
                    let response = worker_bridge::handle(request, router.clone(), max_request_body);
                    async move {
                        let response = response.await?;
                        Ok::<_, std::convert::Infallible>(response.map(|body| InFlightBody::new(body, running)))
                    }
                });
                let connection = builder.serve_connection(io, service).into_owned();
                let mut stop_requested = stop_requested.clone();
                // Runs the connection until it ends. When it has been idle
                // too long, or the server stops, it is shut down gracefully
                // (h2 clients get a GOAWAY, so they do not send a request
                // into a closing connection). An idle one that does not
                // finish closing within the idle timeout (a client ignoring
                // the GOAWAY) is dropped, which closes the socket.
                tokio::spawn(async move {
                    let _slot = permit;
                    tokio::pin!(connection);
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
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: waiting for in-flight requests");
    drop(stop_requested);
    let _ = stopping.send(true);
    if tokio::time::timeout(grace, stopping.closed()).await.is_err() {
        tracing::warn!(grace_ms = grace.as_millis() as u64, "in-flight requests did not finish in time");
    }
    for worker in router.current().workers() {
        worker.shutdown().await;
    }
    Ok(())
}

/// Waits for a free connection slot; warns (rate-limited) when the limit
/// has been reached.
async fn connection_slot(
    connections: &Arc<Semaphore>,
    max_connections: usize,
    warning: &mut RateLimitedWarning,
) -> OwnedSemaphorePermit {
    if let Ok(permit) = connections.clone().try_acquire_owned() {
        return permit;
    }
    warning.warn(|suppressed| {
        tracing::warn!(max_connections, suppressed, "connection limit reached: not accepting until a connection closes")
    });
    match connections.clone().acquire_owned().await {
        Ok(permit) => permit,
        // The semaphore is never closed; if it were, accepting would stop
        // here until shutdown rather than run without a limit.
        Err(_) => std::future::pending().await,
    }
}

/// Logs a condition at most once per [`REPEATED_WARNING_INTERVAL`], with
/// how many occurrences were not logged in between.
#[derive(Default)]
struct RateLimitedWarning {
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimitedWarning {
    fn warn(&mut self, log: impl FnOnce(u64)) {
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
