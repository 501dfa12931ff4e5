//! What the listener knows about one open connection: who is at the other
//! end ([`PeerAddress`], put on each of its requests), when bytes last moved
//! on it and how many requests are running on it, so a connection that
//! carries no request can be closed once it has been idle too long.
//!
//! Why: a client that connects and sends nothing (or only the HTTP/2
//! preface, or nothing after a keep-alive response) has not started a
//! request head, so the head timeout never applies to it; without an idle
//! limit each one holds a file descriptor forever.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The address of the other end of the connection a request arrived on
/// (TCP, TLS or QUIC), in the request's extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddress(pub std::net::SocketAddr);

/// Activity of one connection, shared by its IO, its requests and the task
/// that closes it when idle.
#[derive(Debug)]
pub struct ConnectionActivity {
    opened: Instant,
    /// Milliseconds after `opened` when bytes last moved or a request ended.
    last_active_ms: AtomicU64,
    in_flight: AtomicUsize,
}

impl ConnectionActivity {
    /// Activity of a connection opened now.
    pub fn new() -> Arc<Self> {
        Arc::new(ConnectionActivity { opened: Instant::now(), last_active_ms: AtomicU64::new(0), in_flight: AtomicUsize::new(0) })
    }

    fn touch(&self) {
        let now = self.opened.elapsed().as_millis() as u64;
        self.last_active_ms.store(now, Ordering::Relaxed);
    }

    fn idle(&self) -> Duration {
        let last = Duration::from_millis(self.last_active_ms.load(Ordering::Relaxed));
        self.opened.elapsed().saturating_sub(last)
    }

    /// Marks a request as running until the returned guard is dropped (the
    /// guard travels with the response body, so a response still being sent
    /// counts as running).
    pub fn begin_request(self: &Arc<Self>) -> RequestGuard {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.touch();
        RequestGuard { activity: self.clone() }
    }

    /// Requests running on the connection now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Resolves once no request has been running and no bytes have moved for
    /// `limit`. A request that takes longer than `limit` keeps the
    /// connection open: only idleness between requests counts.
    pub async fn idle_for(&self, limit: Duration) {
        loop {
            let idle = self.idle();
            if self.in_flight() == 0 && idle >= limit {
                return;
            }
            // While a request runs, look again a whole `limit` later: its
            // end touches the activity, so the idle clock restarts then.
            let wait = if self.in_flight() > 0 { limit } else { limit - idle };
            tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
        }
    }
}

/// A running request; dropping it ends the request for idle accounting.
#[derive(Debug)]
pub struct RequestGuard {
    activity: Arc<ConnectionActivity>,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.activity.touch();
        self.activity.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A connection's socket that records when bytes move in either direction.
#[derive(Debug)]
pub struct TrackedIo<T> {
    inner: T,
    activity: Arc<ConnectionActivity>,
}

impl<T> TrackedIo<T> {
    /// Wraps `inner`, reporting to `activity`.
    pub fn new(inner: T, activity: Arc<ConnectionActivity>) -> Self {
        TrackedIo { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TrackedIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TrackedIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A response body that keeps its request counted as running until hyper
/// has sent it all (or dropped it).
pub struct InFlightBody<B> {
    inner: B,
    _request: RequestGuard,
}

impl<B> InFlightBody<B> {
    /// `inner`, holding `request` until the body is dropped.
    pub fn new(inner: B, request: RequestGuard) -> Self {
        InFlightBody { inner, _request: request }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for InFlightBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_only_counts_while_no_request_runs() {
        let activity = ConnectionActivity::new();
        let request = activity.begin_request();
        // A long request is not idleness.
        let waited = tokio::time::timeout(Duration::from_millis(300), activity.idle_for(Duration::from_millis(100))).await;
        assert!(waited.is_err());
        drop(request);
        assert_eq!(activity.in_flight(), 0);
        tokio::time::timeout(Duration::from_secs(5), activity.idle_for(Duration::from_millis(100)))
            .await
            .expect("idle once the request ended");
    }
}
