//! HTTP/3 over QUIC (quinn + h3) on the UDP side of the TLS listener's
//! port. Requests go through the same bridge as HTTP/1.1 and h2
//! ([`crate::worker_bridge`]): same routing, body limit, framing and error
//! mapping; bodies stream both ways with backpressure (a small channel
//! between the QUIC stream and the worker, and QUIC flow control beyond).
//!
//! Bounds, as on TCP: the handshake must finish within its timeout, a
//! connection carries at most `max_concurrent_streams` requests at once
//! (QUIC stream credit) with bounded header sections, one with no request
//! running is closed after the idle timeout, and new connections are
//! refused while the process-wide connection cap is reached.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use brink_runtime::body::BodyError;
use bytes::{Buf, Bytes};
use http::Response;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use tokio::sync::{mpsc, watch};

use crate::connection::{ConnectionActivity, PeerAddress};
use crate::router::Routing;
use crate::server::{ConnectionSlots, RateLimitedWarning, ServeOptions};
use crate::tls::SecureTransport;
use crate::worker_bridge;

/// Chunks of a request body in flight between the QUIC stream and the
/// worker; QUIC flow control holds back the rest.
const REQUEST_BODY_CHUNKS: usize = 4;

/// QUIC unidirectional streams a client may open: HTTP/3 needs three
/// (control, QPACK encoder and decoder); the rest is room for grease.
const MAX_UNI_STREAMS: u32 = 16;

/// Why HTTP/3 could not start.
#[derive(Debug, thiserror::Error)]
pub enum Http3Error {
    /// The TLS config cannot be used for QUIC.
    #[error("TLS config cannot be used for QUIC: {0}")]
    Crypto(String),
    /// A limit does not fit QUIC's encoding.
    #[error("invalid HTTP/3 setting: {0}")]
    Setting(String),
    /// The UDP socket could not be bound.
    #[error("cannot listen for HTTP/3 on udp/{address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Binds the QUIC endpoint on `address` (UDP) with `tls` (TLS 1.3, ALPN h3).
pub fn bind(address: SocketAddr, tls: rustls::ServerConfig, options: &ServeOptions) -> Result<quinn::Endpoint, Http3Error> {
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls).map_err(|e| Http3Error::Crypto(e.to_string()))?;
    let mut transport = quinn::TransportConfig::default();
    let idle = quinn::IdleTimeout::try_from(options.idle_timeout).map_err(|e| Http3Error::Setting(e.to_string()))?;
    transport
        .max_concurrent_bidi_streams(quinn::VarInt::from_u32(options.max_concurrent_streams))
        .max_concurrent_uni_streams(quinn::VarInt::from_u32(MAX_UNI_STREAMS))
        // Transport-level idleness (no packets at all); idleness with no
        // request running is handled per connection below.
        .max_idle_timeout(Some(idle));
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(Arc::new(transport));
    // Handshakes waiting to be accepted are bounded like TCP's backlog.
    config.max_incoming(options.max_connections.clamp(1, 65_536));
    quinn::Endpoint::server(config, address).map_err(|source| Http3Error::Bind { address, source })
}

/// Accepts QUIC connections until `shutdown` resolves, then asks every
/// connection to finish (GOAWAY) and waits up to the shutdown grace.
pub async fn serve(
    endpoint: quinn::Endpoint,
    router: Arc<Routing>,
    options: ServeOptions,
    slots: ConnectionSlots,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let (stopping, stop_requested) = watch::channel(false);
    let options = Arc::new(options);
    let mut limit_warning = RateLimitedWarning::default();
    tokio::pin!(shutdown);
    loop {
        let incoming = tokio::select! {
            incoming = endpoint.accept() => match incoming {
                Some(incoming) => incoming,
                None => break,
            },
            _ = &mut shutdown => break,
        };
        let Some(permit) = slots.try_acquire() else {
            // QUIC has no accept queue to leave it in: refuse, and the
            // client may retry (or use TCP).
            let max_connections = slots.max();
            limit_warning.warn(|suppressed| {
                tracing::warn!(max_connections, suppressed, "connection limit reached: refusing QUIC connections")
            });
            incoming.refuse();
            continue;
        };
        let peer = incoming.remote_address();
        let connecting = match incoming.accept() {
            Ok(connecting) => connecting,
            Err(error) => {
                tracing::debug!(%peer, %error, "QUIC connection failed before its handshake");
                continue;
            }
        };
        let router = router.clone();
        let options = options.clone();
        let stop_requested = stop_requested.clone();
        tokio::spawn(async move {
            let _slot = permit;
            let connection = match tokio::time::timeout(options.handshake_timeout, connecting).await {
                Ok(Ok(connection)) => connection,
                Ok(Err(error)) => {
                    tracing::debug!(%peer, %error, "QUIC handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "QUIC handshake timed out");
                    return;
                }
            };
            serve_connection(connection, peer, router, options, stop_requested).await;
        });
    }
    drop(stop_requested);
    let _ = stopping.send(true);
    if tokio::time::timeout(options.shutdown_grace, stopping.closed()).await.is_err() {
        tracing::warn!("HTTP/3 requests did not finish in time");
    }
    endpoint.close(quinn::VarInt::from_u32(0x100), b"shutting down");
}

async fn serve_connection(
    connection: quinn::Connection,
    peer: SocketAddr,
    router: Arc<Routing>,
    options: Arc<ServeOptions>,
    mut stop_requested: watch::Receiver<bool>,
) {
    let quic = connection.clone();
    let mut h3 = match h3::server::builder()
        .max_field_section_size(u64::from(options.max_header_list_bytes))
        // No GREASE frames: h3 sends one at the end of a response, and
        // clients such as aioquic then never see the response end.
        .send_grease(false)
        .build::<_, Bytes>(h3_quinn::Connection::new(connection))
        .await
    {
        Ok(h3) => h3,
        Err(error) => {
            tracing::debug!(%peer, %error, "HTTP/3 connection setup failed");
            return;
        }
    };
    let activity = ConnectionActivity::new();
    // The connection's requests: waited for before the connection (and its
    // slot) is let go.
    let mut requests = tokio::task::JoinSet::new();
    let mut stopping = false;
    loop {
        tokio::select! {
            accepted = h3.accept() => match accepted {
                Ok(Some(resolver)) => {
                    let running = activity.begin_request();
                    let router = router.clone();
                    let options = options.clone();
                    requests.spawn(async move {
                        let (request, stream) = match resolver.resolve_request().await {
                            Ok(resolved) => resolved,
                            Err(error) => {
                                tracing::debug!(%peer, %error, "malformed HTTP/3 request");
                                return;
                            }
                        };
                        if let Err(error) = serve_request(request, stream, router, &options, peer).await {
                            tracing::debug!(%peer, %error, "HTTP/3 request ended with an error");
                        }
                        drop(running);
                    });
                }
                Ok(None) => break,
                Err(error) => {
                    if !error.is_h3_no_error() {
                        tracing::debug!(%peer, %error, "HTTP/3 connection closed with an error");
                    }
                    break;
                }
            },
            Some(_) = requests.join_next(), if !requests.is_empty() => {
                if stopping && requests.is_empty() {
                    break;
                }
            }
            _ = activity.idle_for(options.idle_timeout) => {
                tracing::debug!(%peer, "closing an idle HTTP/3 connection");
                quic.close(quinn::VarInt::from_u32(0x100), b"idle");
                break;
            }
            _ = stop_requested.changed(), if !stopping => {
                stopping = true;
                // GOAWAY: no new requests; the connection closes once the
                // ones it has are answered (a client that went away
                // without closing would otherwise hold it until the
                // transport's idle timeout).
                // The GOAWAY's stream id is the first one not served, so 1
                // (not 0) keeps the last accepted request among the served.
                if h3.shutdown(1).await.is_err() || requests.is_empty() {
                    break;
                }
            }
        }
    }
    // Requests still running hold their streams (and thus the connection)
    // until they finish; waiting for them keeps the connection slot taken.
    while requests.join_next().await.is_some() {}
    if stopping {
        // The last response may still be in flight: closing at once would
        // discard it. Give the client a few round trips to receive it (and
        // to close by itself, having seen the GOAWAY).
        let linger = (quic.rtt() * 4).max(std::time::Duration::from_millis(100));
        let _ = tokio::time::timeout(linger, quic.closed()).await;
        quic.close(quinn::VarInt::from_u32(0x100), b"shutting down");
    }
}

type RequestStream<S> = h3::server::RequestStream<S, Bytes>;

async fn serve_request(
    request: http::Request<()>,
    stream: RequestStream<h3_quinn::BidiStream<Bytes>>,
    router: Arc<Routing>,
    options: &ServeOptions,
    peer: SocketAddr,
) -> Result<(), h3::error::StreamError> {
    let (mut send, receive) = stream.split();
    let (chunks, body) = mpsc::channel(REQUEST_BODY_CHUNKS);
    // Dropped (and so stopped) when the response is done: a worker that
    // never reads the body does not keep the upload running.
    let pump = AbortOnDrop(tokio::spawn(pump_request_body(receive, chunks)));
    let head = request.method() == http::Method::HEAD;
    let mut request = request.map(|()| ChannelBody { chunks: body });
    request.extensions_mut().insert(SecureTransport);
    request.extensions_mut().insert(PeerAddress(peer));
    let response = match worker_bridge::handle(request, router, options.max_request_body, options.trust_forwarded.clone()).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let (mut parts, mut body) = response.into_parts();
    // What hyper does on TCP: a body whose length is known gets it as
    // `content-length`, so the same response looks the same on every
    // protocol.
    let bodiless = head || parts.status.is_informational() || matches!(parts.status.as_u16(), 204 | 304);
    if !bodiless && !parts.headers.contains_key(http::header::CONTENT_LENGTH) {
        if let Some(length) = body.size_hint().exact() {
            parts.headers.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(length));
        }
    }
    send.send_response(Response::from_parts(parts, ())).await?;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    if !data.is_empty() {
                        send.send_data(data).await?;
                    }
                }
            }
            Err(error) => {
                // The body broke off (a worker's stream failed, or ran past
                // its declared length): reset the stream so the client
                // sees an incomplete response, not a short one.
                tracing::debug!(%error, "HTTP/3 response body failed");
                send.stop_stream(h3::error::Code::H3_INTERNAL_ERROR);
                return Ok(());
            }
        }
    }
    send.finish().await?;
    drop(pump);
    Ok(())
}

/// Moves the request body from the QUIC stream into the channel the
/// worker reads; ends when the client finishes the body, the stream fails
/// or the worker's side is dropped.
async fn pump_request_body(
    mut receive: RequestStream<h3_quinn::RecvStream>,
    chunks: mpsc::Sender<Result<Bytes, BodyError>>,
) {
    loop {
        let next = tokio::select! {
            next = receive.recv_data() => next,
            _ = chunks.closed() => return,
        };
        match next {
            Ok(Some(mut data)) => {
                let bytes = data.copy_to_bytes(data.remaining());
                if chunks.send(Ok(bytes)).await.is_err() {
                    return;
                }
            }
            Ok(None) => return,
            Err(error) => {
                let _ = chunks.send(Err(Box::new(error))).await;
                return;
            }
        }
    }
}

/// A request body fed by [`pump_request_body`].
struct ChannelBody {
    chunks: mpsc::Receiver<Result<Bytes, BodyError>>,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.chunks.poll_recv(cx).map(|chunk| chunk.map(|chunk| chunk.map(Frame::data)))
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
