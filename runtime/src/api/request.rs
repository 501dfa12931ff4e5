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

fn build_response(
    status: u32,
    headers: Vec<ByteString>,
    body: ResponseBody,
) -> Result<Response<ResponseBody>, WorkerError> {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| WorkerError::Exception(format!("RangeError: invalid response status {status}")))?;
    let mut response = Response::new(body);
    *response.status_mut() = status;
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

/// The worker answered with a status, headers and a body known in full.
#[op2(fast)]
pub fn op_brink_respond(
    scope: &mut v8::PinScope<'_, '_>,
    state: Rc<RefCell<OpState>>,
    #[smi] id: u32,
    #[smi] status: u32,
    headers: v8::Local<v8::Value>,
    body: v8::Local<v8::Value>,
) {
    let body = match body_bytes(scope, body) {
        Some(bytes) => ResponseBody::full(bytes),
        None => ResponseBody::empty(),
    };
    let result = header_list(scope, headers).and_then(|headers| build_response(status, headers, body));
    state.borrow_mut().borrow_mut::<ContextTable>().respond(id, result);
}

/// Fails request `id` with the handler's error `message`, or with the limit
/// the supervisor terminated the isolate for: on some engines termination
/// surfaces as a catchable exception, and the client must still learn that a
/// limit was hit.
pub fn fail_request(state: &mut OpState, id: RequestId, message: String) {
    let error = match state.try_borrow::<Arc<IsolateWatch>>().and_then(|watch| watch.termination()) {
        Some(reason) => WorkerError::LimitExceeded(reason.limit_name()),
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
) -> Result<(), JsErrorBox> {
    let mut op_state = state.borrow_mut();
    let resource = op_state.resource_table.take_any(rid).map_err(JsErrorBox::from_err)?;
    let (tx, rx) = mpsc::channel(4);
    let (cancel, cancelled) = oneshot::channel();
    let result = header_list(scope, headers).and_then(|headers| build_response(status, headers, ResponseBody::Stream(rx)));
    let table = op_state.borrow_mut::<ContextTable>();
    let pumping = result.is_ok() && table.body_pump_started(id, cancel);
    table.respond(id, result);
    drop(op_state);
    if !pumping {
        resource.close();
        return Ok(());
    }
    deno_core::unsync::spawn(async move {
        pump_body(resource, tx, cancelled).await;
        state.borrow_mut().borrow_mut::<ContextTable>().body_pump_finished(id);
    });
    Ok(())
}

async fn pump_body(
    resource: Rc<dyn Resource>,
    tx: mpsc::Sender<Result<Bytes, BodyError>>,
    mut cancelled: oneshot::Receiver<()>,
) {
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
            Ok(view) => Ok(Bytes::copy_from_slice(&view)),
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
