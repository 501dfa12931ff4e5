//! The gateway owns HTTP framing: a worker decides its status, headers and
//! body, never how they are delimited on the connection.
//!
//! Why: on a keep-alive or pipelined HTTP/1.1 connection the next response
//! starts wherever the previous body is said to end. A worker's
//! `content-length` that is shorter than its body would let the extra bytes
//! be read as the response to the next request (possibly another tenant's);
//! a longer one would swallow the next response. So every hop-by-hop header
//! a worker sets is dropped, and `content-length` is kept only where the
//! gateway can enforce it:
//!
//! - a body known in full: the worker's value is dropped and hyper writes the
//!   real length;
//! - a streamed body with one valid value: kept, and the body is cut off with
//!   an error (which closes the connection instead of reusing it) when it runs
//!   longer or ends shorter than declared;
//! - HEAD: a valid value describes the body a GET would get, so it is kept,
//!   and the body is dropped;
//! - 204 and 304 carry no body, so neither a body nor a length goes out.
//!
//! The HTTP/1.1 reason phrase is the worker's `statusText` when it gave one
//! (an empty one included), as on workerd; otherwise the status's own
//! phrase. HTTP/2 and HTTP/3 have no reason phrase.

use std::pin::Pin;
use std::task::{Context, Poll};

use brink_runtime::api::request::StatusText;
use brink_runtime::body::BodyError;
use brink_runtime::ResponseBody;
use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, TE, TRAILER, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use hyper::ext::ReasonPhrase;

/// Headers that describe one connection rather than the message (RFC 9110
/// §7.6.1, plus the non-standard `keep-alive` and `proxy-connection`).
/// `content-length` is handled separately.
const HOP_BY_HOP: [HeaderName; 7] = [
    CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    TE,
    TRAILER,
    TRANSFER_ENCODING,
    UPGRADE,
];

/// A streamed body that did not match the `content-length` its worker
/// declared. Returned from the body, so hyper aborts the connection.
#[derive(Debug, thiserror::Error)]
pub enum FramingError {
    /// The worker produced more bytes than it declared.
    #[error("worker's response body is longer than its content-length of {declared} bytes")]
    LongerThanDeclared {
        /// The worker's `content-length`.
        declared: u64,
    },
    /// The worker's body ended before the declared length.
    #[error("worker's response body ended after {sent} of its declared {declared} bytes")]
    ShorterThanDeclared {
        /// The worker's `content-length`.
        declared: u64,
        /// Bytes the body actually had.
        sent: u64,
    },
}

/// A response body as the gateway sends it: the worker's body, held to the
/// length it declared when that length goes out as a header.
pub struct FramedBody {
    inner: ResponseBody,
    declared: Option<DeclaredLength>,
    finished: bool,
}

struct DeclaredLength {
    length: u64,
    sent: u64,
    /// The chunk that completes the declared length, kept back until the
    /// worker's stream is seen to end there: once hyper has written the
    /// declared bytes it stops reading the body and reuses the connection,
    /// so a longer body must be caught before its last allowed chunk goes out.
    last_chunk: Option<Frame<Bytes>>,
    worker: String,
}

impl FramedBody {
    /// A body whose framing hyper works out by itself.
    pub fn unchecked(inner: ResponseBody) -> Self {
        FramedBody { inner, declared: None, finished: false }
    }

    fn held_to(inner: ResponseBody, length: u64, worker: &str) -> Self {
        let declared = DeclaredLength { length, sent: 0, last_chunk: None, worker: worker.to_string() };
        FramedBody { inner, declared: Some(declared), finished: false }
    }

    fn fail(&mut self, error: FramingError) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.finished = true;
        let worker = self.declared.as_ref().map(|d| d.worker.as_str()).unwrap_or_default();
        tracing::warn!(worker, error = %error, "response cut off: the connection is closed, not reused");
        Poll::Ready(Some(Err(Box::new(error))))
    }
}

impl Body for FramedBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        if self.finished {
            return Poll::Ready(None);
        }
        if self.declared.is_none() {
            return Pin::new(&mut self.inner).poll_frame(cx);
        }
        loop {
            let polled = Pin::new(&mut self.inner).poll_frame(cx);
            let Some(declared) = self.declared.as_mut() else {
                return Poll::Ready(None);
            };
            match polled {
                Poll::Ready(Some(Ok(frame))) => {
                    let length = frame.data_ref().map_or(0, |data| data.len() as u64);
                    if length == 0 {
                        // Empty chunks (and trailers, which a worker cannot
                        // produce) have nothing to frame.
                        continue;
                    }
                    let sent = declared.sent.saturating_add(length);
                    if sent > declared.length || declared.last_chunk.is_some() {
                        // Not even the part that would fit is sent: a body
                        // short of its declared length tells the client the
                        // response is broken, and makes hyper close the
                        // connection.
                        let declared = declared.length;
                        return self.fail(FramingError::LongerThanDeclared { declared });
                    }
                    declared.sent = sent;
                    if sent < declared.length {
                        return Poll::Ready(Some(Ok(frame)));
                    }
                    declared.last_chunk = Some(frame);
                }
                Poll::Ready(None) => {
                    if let Some(last) = declared.last_chunk.take() {
                        self.finished = true;
                        return Poll::Ready(Some(Ok(last)));
                    }
                    if declared.sent < declared.length {
                        let error = FramingError::ShorterThanDeclared { declared: declared.length, sent: declared.sent };
                        return self.fail(error);
                    }
                    self.finished = true;
                    return Poll::Ready(None);
                }
                other => return other,
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.finished || (self.declared.is_none() && self.inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        match &self.declared {
            Some(declared) => {
                let held = declared.last_chunk.as_ref().and_then(Frame::data_ref).map_or(0, |d| d.len() as u64);
                SizeHint::with_exact(declared.length.saturating_sub(declared.sent).saturating_add(held))
            }
            None => self.inner.size_hint(),
        }
    }
}

/// Makes a worker's response safe to write to a shared connection: drops
/// hop-by-hop headers and every `content-length` the gateway cannot hold the
/// body to (see the module documentation). `method` is the request's.
pub fn frame_response(method: &Method, worker: &str, response: Response<ResponseBody>) -> Response<FramedBody> {
    let (mut parts, body) = response.into_parts();
    if let Some(reason) = reason_phrase(parts.status, parts.extensions.remove::<StatusText>()) {
        parts.extensions.insert(reason);
    }
    for name in &HOP_BY_HOP {
        parts.headers.remove(name);
    }
    let declared = single_content_length(&parts.headers);
    parts.headers.remove(CONTENT_LENGTH);
    let body = if matches!(parts.status, StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED) {
        FramedBody::unchecked(ResponseBody::empty())
    } else if method == Method::HEAD {
        let length = declared.or(match &body {
            ResponseBody::Full(Some(bytes)) => Some(bytes.len() as u64),
            ResponseBody::Full(None) | ResponseBody::Stream(_) => None,
        });
        if let Some(length) = length {
            parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
        }
        FramedBody::unchecked(ResponseBody::empty())
    } else {
        match (body, declared) {
            (body @ ResponseBody::Stream(_), Some(length)) => {
                parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
                FramedBody::held_to(body, length, worker)
            }
            (body, _) => FramedBody::unchecked(body),
        }
    };
    Response::from_parts(parts, body)
}

/// The reason phrase to send when hyper's own (`StatusCode::canonical_reason`)
/// is not the right one: the worker's status text, or the registered phrase
/// where hyper spells it differently or has none. A status text that is not
/// a valid reason phrase (deno_fetch refuses those already) is not sent.
fn reason_phrase(status: StatusCode, given: Option<StatusText>) -> Option<ReasonPhrase> {
    if let Some(StatusText(text)) = given {
        return ReasonPhrase::try_from(text).ok();
    }
    if status == StatusCode::NON_AUTHORITATIVE_INFORMATION {
        // hyper writes "Non Authoritative Information".
        return Some(ReasonPhrase::from_static(b"Non-Authoritative Information"));
    }
    if status.canonical_reason().is_some() {
        return None;
    }
    // hyper's placeholder for an unregistered status is "<none>": send the
    // name of its class (RFC 9110 section 15) instead.
    Some(ReasonPhrase::from_static(match status.as_u16() {
        100..=199 => b"Informational",
        200..=299 => b"Successful",
        300..=399 => b"Redirection",
        400..=499 => b"Client Error",
        _ => b"Server Error",
    }))
}

/// The `content-length` value if there is exactly one and it is a plain
/// decimal number (`u64::from_str` alone would also take a leading `+`).
fn single_content_length(headers: &HeaderMap) -> Option<u64> {
    let mut values = headers.get_all(CONTENT_LENGTH).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let bytes = value.as_bytes();
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tokio::sync::mpsc;

    fn response(body: ResponseBody, headers: &[(&'static str, &'static str)]) -> Response<ResponseBody> {
        let mut response = Response::new(body);
        for (name, value) in headers {
            response.headers_mut().append(*name, HeaderValue::from_static(value));
        }
        response
    }

    fn stream(chunks: &[&'static str]) -> ResponseBody {
        let (tx, rx) = mpsc::channel(chunks.len().max(1));
        for chunk in chunks {
            tx.try_send(Ok(Bytes::from_static(chunk.as_bytes()))).expect("channel has room");
        }
        ResponseBody::Stream(rx)
    }

    #[test]
    fn content_length_must_be_one_plain_number() {
        let parse = |values: &[&'static str]| {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append(CONTENT_LENGTH, HeaderValue::from_static(value));
            }
            single_content_length(&headers)
        };
        assert_eq!(parse(&["12"]), Some(12));
        assert_eq!(parse(&[]), None);
        assert_eq!(parse(&["+12"]), None);
        assert_eq!(parse(&["12, 12"]), None);
        assert_eq!(parse(&["12", "12"]), None);
        assert_eq!(parse(&[" 12"]), None);
        assert_eq!(parse(&["99999999999999999999999"]), None);
    }

    #[test]
    fn hop_by_hop_headers_and_full_body_lengths_are_dropped() {
        let worker = response(
            ResponseBody::full("hello world"),
            &[
                ("content-length", "5"),
                ("transfer-encoding", "chunked"),
                ("connection", "close"),
                ("keep-alive", "timeout=5"),
                ("upgrade", "h2c"),
                ("x-kept", "yes"),
            ],
        );
        let framed = frame_response(&Method::GET, "w", worker);
        let names: Vec<&str> = framed.headers().keys().map(|n| n.as_str()).collect();
        assert_eq!(names, ["x-kept"]);
        assert_eq!(framed.body().size_hint().exact(), Some(11));
    }

    #[tokio::test]
    async fn a_streamed_body_is_held_to_its_declared_length() {
        let exact = frame_response(&Method::GET, "w", response(stream(&["he", "llo"]), &[("content-length", "5")]));
        assert_eq!(exact.headers()[CONTENT_LENGTH], "5");
        assert_eq!(exact.into_body().collect().await.expect("exact body").to_bytes(), "hello");

        let longer = frame_response(&Method::GET, "w", response(stream(&["hello", " world"]), &[("content-length", "5")]));
        let error = longer.into_body().collect().await.err().expect("longer body fails");
        assert!(error.to_string().contains("longer"), "{error}");

        let shorter = frame_response(&Method::GET, "w", response(stream(&["hi"]), &[("content-length", "5")]));
        let error = shorter.into_body().collect().await.err().expect("shorter body fails");
        assert!(error.to_string().contains("after 2 of its declared 5"), "{error}");

        let invalid = frame_response(&Method::GET, "w", response(stream(&["hi"]), &[("content-length", "5, 7")]));
        assert!(invalid.headers().get(CONTENT_LENGTH).is_none());
        assert_eq!(invalid.into_body().collect().await.expect("unframed body").to_bytes(), "hi");
    }

    #[tokio::test]
    async fn head_keeps_a_valid_length_and_drops_the_body() {
        let declared = frame_response(&Method::HEAD, "w", response(stream(&["x"]), &[("content-length", "1234")]));
        assert_eq!(declared.headers()[CONTENT_LENGTH], "1234");
        assert!(declared.body().is_end_stream());

        let from_body = frame_response(&Method::HEAD, "w", response(ResponseBody::full("hello"), &[("content-length", "x")]));
        assert_eq!(from_body.headers()[CONTENT_LENGTH], "5");
        assert!(from_body.body().is_end_stream());
    }

    #[test]
    fn no_content_and_not_modified_carry_neither_body_nor_length() {
        for status in [StatusCode::NO_CONTENT, StatusCode::NOT_MODIFIED] {
            let mut worker = response(ResponseBody::full("x"), &[("content-length", "1")]);
            *worker.status_mut() = status;
            let framed = frame_response(&Method::GET, "w", worker);
            assert!(framed.headers().get(CONTENT_LENGTH).is_none());
            assert!(framed.body().is_end_stream());
        }
    }
}
