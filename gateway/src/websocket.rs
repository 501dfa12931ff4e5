//! The gateway's half of WebSockets (docs/websockets.md): recognises an
//! HTTP/1.1 upgrade request, and when the worker answers it with `101` and
//! a socket, completes the handshake and joins the upgraded connection to
//! the worker's socket with the runtime's pump.
//!
//! Why the gateway writes the handshake's answer: the worker's response
//! says "this becomes a WebSocket", but `Sec-WebSocket-Accept`, `Upgrade`
//! and `Connection` describe the connection, which the gateway owns (see
//! `framing.rs`); a worker's own values are dropped with the other
//! hop-by-hop headers.

use std::sync::Arc;

use brink_runtime::api::websocket::{framing_config, pump, WebSocketUpgrade};
use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_TYPE, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE};
use http::{HeaderValue, Method, Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

use crate::framing::FramedBody;

/// A client's WebSocket handshake, taken from its request before the
/// request goes to the worker.
pub struct ClientHandshake {
    key: HeaderValue,
    upgrade: hyper::upgrade::OnUpgrade,
}

/// What a connection lends each of its upgraded sockets: its slot under
/// the connection cap (the socket is still a connection) and the server's
/// stop signal (a shutdown closes sockets with 1001).
#[derive(Clone)]
pub struct SocketLease {
    /// The connection's slot.
    pub slot: Arc<OwnedSemaphorePermit>,
    /// Turns true when the server stops.
    pub stop_requested: watch::Receiver<bool>,
}

/// Takes the handshake out of an HTTP/1.1 `GET` that asks for a WebSocket
/// (`Upgrade: websocket`, `Connection: upgrade`, version 13 and a key).
/// The request goes on to the worker unchanged otherwise.
pub fn take_handshake<B>(request: &mut Request<B>) -> Option<ClientHandshake> {
    if request.method() != Method::GET || request.version() != Version::HTTP_11 {
        return None;
    }
    let headers = request.headers();
    let has_token = |name, token: &str| {
        headers.get_all(name).iter().any(|value: &HeaderValue| {
            value.to_str().is_ok_and(|value| value.split(',').any(|part| part.trim().eq_ignore_ascii_case(token)))
        })
    };
    if !has_token(UPGRADE, "websocket") || !has_token(CONNECTION, "upgrade") {
        return None;
    }
    if headers.get(SEC_WEBSOCKET_VERSION).is_none_or(|version| version.as_bytes() != b"13") {
        return None;
    }
    let key = headers.get(SEC_WEBSOCKET_KEY)?.clone();
    Some(ClientHandshake { key, upgrade: hyper::upgrade::on(request) })
}

/// Completes a worker's `101`: with a handshake, answers it and starts the
/// pump once hyper hands over the connection; without one (the request was
/// not an upgrade, or came over h2 or h3), fails the request as Workers
/// does. Any other response passes unchanged.
pub fn finish(
    response: Response<FramedBody>,
    handshake: Option<ClientHandshake>,
    lease: &SocketLease,
) -> Response<FramedBody> {
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        return response;
    }
    let socket = response.extensions().get::<WebSocketUpgrade>().and_then(WebSocketUpgrade::take);
    let (Some(socket), Some(handshake)) = (socket, handshake) else {
        tracing::warn!(
            "the worker returned a WebSocket in a response to a request which did not contain the header \
             \"Upgrade: websocket\" (over HTTP/1.1)"
        );
        return refusal();
    };
    let (mut parts, body) = response.into_parts();
    parts.headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    parts.headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    match HeaderValue::from_str(&derive_accept_key(handshake.key.as_bytes())) {
        Ok(accept) => parts.headers.insert(SEC_WEBSOCKET_ACCEPT, accept),
        Err(_) => return refusal(),
    };
    let lease = lease.clone();
    tokio::spawn(async move {
        let upgraded = match handshake.upgrade.await {
            Ok(upgraded) => upgraded,
            Err(error) => {
                tracing::debug!(%error, "WebSocket upgrade failed");
                return;
            }
        };
        let stream = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(framing_config())).await;
        let SocketLease { slot, mut stop_requested } = lease;
        let stopping = async move {
            let _ = stop_requested.wait_for(|stop| *stop).await;
        };
        pump(stream, socket, stopping).await;
        drop(slot);
    });
    Response::from_parts(parts, body)
}

fn refusal() -> Response<FramedBody> {
    let mut response = Response::new(FramedBody::unchecked(brink_runtime::ResponseBody::full(Bytes::from_static(
        b"Worker returned a WebSocket response to a request that is not a WebSocket upgrade over HTTP/1.1\n",
    ))));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> Request<()> {
        let mut builder = Request::builder().uri("/").version(Version::HTTP_11);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).expect("test request")
    }

    const GOOD: [(&str, &str); 4] = [
        ("upgrade", "websocket"),
        ("connection", "keep-alive, Upgrade"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    #[test]
    fn a_websocket_upgrade_is_recognised() {
        assert!(take_handshake(&mut request(&GOOD)).is_some());
    }

    #[test]
    fn requests_missing_part_of_the_handshake_are_plain_requests() {
        for missing in 0..GOOD.len() {
            let headers: Vec<_> = GOOD.iter().enumerate().filter(|(i, _)| *i != missing).map(|(_, h)| *h).collect();
            assert!(take_handshake(&mut request(&headers)).is_none(), "without {:?}", GOOD[missing]);
        }
        let mut post = request(&GOOD);
        *post.method_mut() = Method::POST;
        assert!(take_handshake(&mut post).is_none());
        let mut old = request(&[("upgrade", "websocket"), ("connection", "upgrade"), ("sec-websocket-version", "8"), ("sec-websocket-key", "x")]);
        assert!(take_handshake(&mut old).is_none());
    }
}

/// The `brink dev` and `brink serve` flags for WebSockets (defaults as in
/// Workers where Workers has one).
#[derive(clap::Args, Clone, Debug)]
pub struct WebSocketArgs {
    /// Largest WebSocket message, bytes, either way; a larger incoming one
    /// closes the socket with 1009.
    #[arg(long, default_value_t = 1024 * 1024)]
    pub websocket_max_message_bytes: usize,
    /// Most WebSockets open at once in one isolate.
    #[arg(long, default_value_t = 1000)]
    pub websocket_max_per_isolate: usize,
    /// Bytes a worker may queue for one WebSocket whose peer does not read,
    /// before the socket is dropped.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    pub websocket_max_buffered_bytes: usize,
    /// Seconds of silence after which a WebSocket peer is pinged (and
    /// dropped if it stays silent as long again).
    #[arg(long, default_value_t = 30)]
    pub websocket_ping_secs: u64,
}

impl WebSocketArgs {
    /// Makes these the process's WebSocket settings.
    pub fn apply(&self) {
        let defaults = brink_runtime::api::websocket::WebSocketConfig::default();
        brink_runtime::api::websocket::configure(brink_runtime::api::websocket::WebSocketConfig {
            max_message_bytes: self.websocket_max_message_bytes.max(1),
            max_open_per_isolate: self.websocket_max_per_isolate,
            max_buffered_bytes: self.websocket_max_buffered_bytes,
            max_buffered_bytes_per_isolate: defaults.max_buffered_bytes_per_isolate.max(self.websocket_max_buffered_bytes),
            ping_interval: std::time::Duration::from_secs(self.websocket_ping_secs.max(1)),
            ..defaults
        });
    }
}
