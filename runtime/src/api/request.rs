//! The request/response boundary inside an isolate: the ops the worker host
//! JS calls to answer requests, count their subrequests and register their
//! `waitUntil` work (all kept in the request's context, `crate::context`),
//! and the resource that streams a request body into JS.

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use deno_error::JsErrorBox;
use deno_core::{op2, v8, AsyncRefCell, AsyncResult, BufView, ByteString, OpState, RcRef, Resource, ResourceId};
use http::{HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::BodyExt;
use tokio::sync::{mpsc, oneshot};

use crate::context::{ContextTable, RequestId, SubrequestVerdict};

use crate::body::{BodyError, RequestBody, ResponseBody};
use crate::error::WorkerError;
use crate::supervisor::IsolateWatch;
use crate::api::console::LogIdentity;
use crate::isolate::WorkerCounters;
use crate::limits::Limit;

/// The status text a worker gave its `Response` (`statusText`), carried in
/// the response's extensions for the gateway to send as the HTTP/1.1 reason
/// phrase, as workerd does. Absent when the worker gave none: the status's
/// own phrase goes out then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusText(pub Bytes);

/// The reason phrase argument of the respond ops: a string, or null for
/// none. deno_fetch has already checked it is a valid reason phrase; the
/// gateway checks again before sending it.
fn status_text(scope: &mut v8::PinScope<'_, '_>, reason: v8::Local<v8::Value>) -> Option<StatusText> {
    let text = v8::Local::<v8::String>::try_from(reason).ok()?;
    let mut bytes = vec![0u8; text.length()];
    text.write_one_byte_v2(scope, 0, &mut bytes, v8::WriteFlags::empty());
    Some(StatusText(Bytes::from(bytes)))
}

fn build_response(
    status: u32,
    reason: Option<StatusText>,
    headers: Vec<ByteString>,
    body: ResponseBody,
) -> Result<Response<ResponseBody>, WorkerError> {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| WorkerError::Exception(format!("RangeError: invalid response status {status}")))?;
    let mut response = Response::new(body);
    *response.status_mut() = status;
    if let Some(reason) = reason {
        response.extensions_mut().insert(reason);
    }
    let map = response.headers_mut();
    for pair in headers.chunks_exact(2) {
        let name = HeaderName::from_bytes(&pair[0])
            .map_err(|_| WorkerError::Exception("TypeError: invalid response header name".into()))?;
        let value = HeaderValue::from_bytes(&pair[1])
            .map_err(|_| WorkerError::Exception("TypeError: invalid response header value".into()))?;
        map.append(name, value);
    }
    Ok(response)
}

fn body_bytes(scope: &mut v8::PinScope<'_, '_>, body: v8::Local<v8::Value>) -> Option<Bytes> {
    if body.is_null_or_undefined() {
        return None;
    }
    if let Ok(view) = v8::Local::<v8::ArrayBufferView>::try_from(body) {
        let mut bytes = vec![0u8; view.byte_length()];
        view.copy_contents(&mut bytes);
        return Some(Bytes::from(bytes));
    }
    Some(Bytes::from(body.to_rust_string_lossy(scope)))
}

/// Reads a response's flat `[name, value, name, value, ...]` array of byte
/// strings directly, which is several times cheaper than serde.
fn header_list(scope: &mut v8::PinScope<'_, '_>, headers: v8::Local<v8::Value>) -> Result<Vec<ByteString>, WorkerError> {
    let invalid = || WorkerError::Exception("TypeError: invalid response headers".into());
    let array = v8::Local::<v8::Array>::try_from(headers).map_err(|_| invalid())?;
    let mut list = Vec::with_capacity(array.length() as usize);
    for index in 0..array.length() {
        let item = array.get_index(scope, index).ok_or_else(invalid)?;
        let text = v8::Local::<v8::String>::try_from(item).map_err(|_| invalid())?;
        let mut bytes = vec![0u8; text.length()];
        text.write_one_byte_v2(scope, 0, &mut bytes, v8::WriteFlags::empty());
        list.push(ByteString::from(bytes));
    }
    Ok(list)
}

/// A handler's promise settled after its first turn; the isolate hands the
/// answer back once the turn's microtasks have run (`flushSettled`).
#[op2(fast)]
pub fn op_brink_answers_ready(state: &mut OpState) {
    state.borrow_mut::<ContextTable>().mark_answers_ready();
}

/// The worker answered with a status, headers and a body known in full.
#[op2(fast)]
pub fn op_brink_respond(
    scope: &mut v8::PinScope<'_, '_>,
    state: Rc<RefCell<OpState>>,
    #[smi] id: u32,
    #[smi] status: u32,
    headers: v8::Local<v8::Value>,
    body: v8::Local<v8::Value>,
    reason: v8::Local<v8::Value>,
) {
    let body = body_bytes(scope, body);
    let reason = status_text(scope, reason);
    let mut state = state.borrow_mut();
    let limit = state.borrow::<ContextTable>().response_body_limit();
    let result = match body {
        Some(bytes) if limit.is_some_and(|limit| bytes.len() as u64 > limit) => {
            Err(response_body_limit_exceeded(&state))
        }
        Some(bytes) => header_list(scope, headers).and_then(|headers| build_response(status, reason, headers, ResponseBody::full(bytes))),
        None => header_list(scope, headers).and_then(|headers| build_response(status, reason, headers, ResponseBody::empty())),
    };
    state.borrow_mut::<ContextTable>().respond(id, result);
}

/// Counts and logs a response body over the worker's limit; returns the
/// error for a response whose head has not gone out yet.
fn response_body_limit_exceeded(state: &OpState) -> WorkerError {
    let limit = Limit::ResponseBody;
    if let Some(counters) = state.try_borrow::<Arc<WorkerCounters>>() {
        counters.count_limit(limit);
    }
    if let Some(identity) = state.try_borrow::<LogIdentity>() {
        tracing::warn!(worker = %identity.worker, version = identity.version, isolate = identity.isolate, limit = limit.description(), "worker exceeded a limit; response refused or cut off");
        if let Some(sink) = &identity.sink {
            sink.send("limit", format!("the worker exceeded its {}", limit.description()));
        }
    }
    WorkerError::LimitExceeded(limit)
}

/// The `content-length` a worker declared, if it is one number.
fn declared_length(response: &Response<ResponseBody>) -> Option<u64> {
    let mut values = response.headers().get_all(http::header::CONTENT_LENGTH).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    value.to_str().ok()?.trim().parse().ok()
}

/// Fails request `id` with the handler's error `message`, or with the limit
/// the supervisor terminated the isolate for: on some engines termination
/// surfaces as a catchable exception, and the client must still learn that a
/// limit was hit.
pub fn fail_request(state: &mut OpState, id: RequestId, message: String) {
    let error = match state.try_borrow::<Arc<IsolateWatch>>().and_then(|watch| watch.termination()) {
        Some(reason) => WorkerError::LimitExceeded(reason.limit()),
        None => WorkerError::Exception(message),
    };
    state.borrow_mut::<ContextTable>().respond(id, Err(error));
}

/// The handler failed: it threw, rejected, or returned a non-Response.
#[op2(fast)]
pub fn op_brink_respond_error(state: &mut OpState, #[smi] id: u32, #[string] message: String) {
    fail_request(state, id, message);
}

/// The worker answered with a streamed body: `rid` is a readable resource
/// made from the response's `ReadableStream`. Chunks are copied to the
/// gateway as they come, with backpressure from a bounded channel. The pump
/// belongs to the request's context: the context lives until the body is
/// sent, the client goes away, or the isolate ends it.
#[op2(fast)]
pub fn op_brink_respond_stream(
    scope: &mut v8::PinScope<'_, '_>,
    state: Rc<RefCell<OpState>>,
    #[smi] id: u32,
    #[smi] status: u32,
    headers: v8::Local<v8::Value>,
    #[smi] rid: ResourceId,
    reason: v8::Local<v8::Value>,
) -> Result<(), JsErrorBox> {
    let reason = status_text(scope, reason);
    let mut op_state = state.borrow_mut();
    let resource = op_state.resource_table.take_any(rid).map_err(JsErrorBox::from_err)?;
    let (tx, rx) = mpsc::channel(4);
    let (cancel, cancelled) = oneshot::channel();
    let limit = op_state.borrow::<ContextTable>().response_body_limit();
    let result = header_list(scope, headers)
        .and_then(|headers| build_response(status, reason, headers, ResponseBody::Stream(rx)))
        .and_then(|response| match (declared_length(&response), limit) {
            (Some(length), Some(limit)) if length > limit => Err(response_body_limit_exceeded(&op_state)),
            _ => Ok(response),
        });
    let table = op_state.borrow_mut::<ContextTable>();
    let pumping = result.is_ok() && table.body_pump_started(id, cancel);
    table.respond(id, result);
    drop(op_state);
    if !pumping {
        resource.close();
        return Ok(());
    }
    deno_core::unsync::spawn(async move {
        let outcome = pump_body(resource, tx, cancelled, limit).await;
        let mut state = state.borrow_mut();
        if outcome == PumpOutcome::OverLimit {
            response_body_limit_exceeded(&state);
        }
        state.borrow_mut::<ContextTable>().body_pump_finished(id);
    });
    Ok(())
}

#[derive(PartialEq, Eq)]
enum PumpOutcome {
    Finished,
    OverLimit,
}

/// Copies the body to the gateway. A body that would cross `limit` bytes is
/// cut off there: the client sees the response end with an error.
async fn pump_body(
    resource: Rc<dyn Resource>,
    tx: mpsc::Sender<Result<Bytes, BodyError>>,
    mut cancelled: oneshot::Receiver<()>,
    limit: Option<u64>,
) -> PumpOutcome {
    let mut sent: u64 = 0;
    let mut outcome = PumpOutcome::Finished;
    loop {
        let chunk = tokio::select! {
            chunk = resource.clone().read(64 * 1024) => chunk,
            _ = tx.closed() => break, // the client went away
            _ = &mut cancelled => {
                let _ = tx.try_send(Err("the worker's response body was cut off".into()));
                break;
            }
        };
        let item = match chunk {
            Ok(view) if view.is_empty() => break,
            Ok(view) => {
                sent = sent.saturating_add(view.len() as u64);
                if limit.is_some_and(|limit| sent > limit) {
                    outcome = PumpOutcome::OverLimit;
                    Err(BodyError::from("the worker's response body exceeded its size limit"))
                } else {
                    Ok(Bytes::copy_from_slice(&view))
                }
            }
            Err(error) => Err(BodyError::from(error.to_string())),
        };
        let failed = item.is_err();
        tokio::select! {
            sent = tx.send(item) => if sent.is_err() { break },
            _ = &mut cancelled => break,
        }
        if failed {
            break;
        }
    }
    resource.close();
    outcome
}

/// Registers a `ctx.waitUntil()` promise with request `id`'s context.
/// Returns false when the request has already ended.
#[op2(fast)]
pub fn op_brink_wait_until_started(state: &mut OpState, #[smi] id: u32) -> bool {
    state.borrow_mut::<ContextTable>().wait_until_started(id)
}

/// A `ctx.waitUntil()` promise of request `id` settled.
#[op2(fast)]
pub fn op_brink_wait_until_done(state: &mut OpState, #[smi] id: u32) {
    state.borrow_mut::<ContextTable>().wait_until_settled(id);
}

/// Charges one outbound `fetch()` to request `id`. Returns the nesting depth
/// to stamp on the outgoing request (>= 1), `-1` when the request has used up
/// its subrequests, or `-2` when it has ended (its work is cancelled).
#[op2(fast)]
pub fn op_brink_count_subrequest(state: &mut OpState, #[smi] id: u32) -> i32 {
    match state.borrow_mut::<ContextTable>().charge_subrequest(id) {
        SubrequestVerdict::Allowed { depth } => i32::try_from(depth).unwrap_or(i32::MAX),
        SubrequestVerdict::LimitReached => -1,
        SubrequestVerdict::NoRequest => -2,
    }
}

/// A request body, readable from JS as a stream (`readableStreamForRid`).
pub struct RequestBodyResource {
    body: AsyncRefCell<RequestBody>,
    // The part of a frame larger than the reader's buffer, kept for the next read.
    leftover: RefCell<Bytes>,
}

impl RequestBodyResource {
    /// Wraps a streamed request body.
    pub fn new(body: RequestBody) -> Self {
        RequestBodyResource { body: AsyncRefCell::new(body), leftover: RefCell::new(Bytes::new()) }
    }

    fn take_up_to(&self, data: Bytes, limit: usize) -> BufView {
        let mut data = data;
        if data.len() > limit {
            *self.leftover.borrow_mut() = data.split_off(limit);
        }
        BufView::from(data)
    }
}

impl Resource for RequestBodyResource {
    fn name(&self) -> Cow<'_, str> {
        "requestBody".into()
    }

    fn read(self: Rc<Self>, limit: usize) -> AsyncResult<BufView> {
        Box::pin(async move {
            let limit = limit.max(1);
            let leftover = std::mem::take(&mut *self.leftover.borrow_mut());
            if !leftover.is_empty() {
                return Ok(self.take_up_to(leftover, limit));
            }
            let mut body = RcRef::map(&self, |r| &r.body).borrow_mut().await;
            loop {
                match body.frame().await {
                    None => return Ok(BufView::empty()),
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            if !data.is_empty() {
                                return Ok(self.take_up_to(data, limit));
                            }
                        }
                    }
                    Some(Err(error)) => return Err(JsErrorBox::generic(error.to_string())),
                }
            }
        })
    }
}
