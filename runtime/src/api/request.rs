//! The request/response boundary inside an isolate: the table of requests in
//! flight, the ops the worker host JS calls to answer them, and the resource
//! that streams a request body into JS.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use deno_error::JsErrorBox;
use deno_core::{op2, v8, AsyncRefCell, AsyncResult, BufView, ByteString, OpState, RcRef, Resource, ResourceId};
use http::{HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::BodyExt;
use tokio::sync::{mpsc, oneshot};

use crate::body::{RequestBody, ResponseBody};
use crate::error::WorkerError;
use crate::supervisor::IsolateWatch;

/// What the gateway waits on for one request.
pub type ResponseSender = oneshot::Sender<Result<Response<ResponseBody>, WorkerError>>;

/// One request in flight in this isolate.
struct InFlight {
    respond: Option<ResponseSender>,
    subrequests: u32,
}

/// Requests in flight in one isolate, keyed by the id JS sees.
#[derive(Default)]
pub struct RequestTable {
    next_id: u32,
    in_flight: HashMap<u32, InFlight>,
    /// `ctx.waitUntil()` promises not yet settled, over all requests.
    pub pending_wait_until: u32,
    /// Subrequests each request may make.
    pub subrequest_limit: u32,
}

impl RequestTable {
    /// Registers a request and returns the id to hand to JS.
    pub fn insert(&mut self, respond: ResponseSender) -> u32 {
        self.next_id = self.next_id.wrapping_add(1) & 0x3fff_ffff;
        let id = self.next_id;
        self.in_flight.insert(id, InFlight { respond: Some(respond), subrequests: 0 });
        id
    }

    /// Answers request `id` (if it is still waiting) and forgets it.
    pub fn complete(&mut self, id: u32, result: Result<Response<ResponseBody>, WorkerError>) {
        if let Some(mut entry) = self.in_flight.remove(&id) {
            if let Some(sender) = entry.respond.take() {
                let _ = sender.send(result);
            }
        }
    }

    /// Fails every request in flight, e.g. after the isolate was terminated.
    pub fn fail_all(&mut self, error: impl Fn() -> WorkerError) {
        for (_, mut entry) in self.in_flight.drain() {
            if let Some(sender) = entry.respond.take() {
                let _ = sender.send(Err(error()));
            }
        }
    }

    /// Number of requests still waiting for a response.
    pub fn len(&self) -> usize {
        self.in_flight.len()
    }

    /// True when no request is waiting for a response.
    pub fn is_empty(&self) -> bool {
        self.in_flight.is_empty()
    }
}

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
    state.borrow_mut().borrow_mut::<RequestTable>().complete(id, result);
}

/// Fails request `id` with the handler's error `message`, or with the limit
/// the supervisor terminated the isolate for: on some engines termination
/// surfaces as a catchable exception, and the client must still learn that a
/// limit was hit.
pub fn fail_request(state: &mut OpState, id: u32, message: String) {
    let error = match state.try_borrow::<Arc<IsolateWatch>>().and_then(|watch| watch.termination()) {
        Some(reason) => WorkerError::LimitExceeded(reason.limit_name()),
        None => WorkerError::Exception(message),
    };
    state.borrow_mut::<RequestTable>().complete(id, Err(error));
}

/// The handler failed: it threw, rejected, or returned a non-Response.
#[op2(fast)]
pub fn op_brink_respond_error(state: &mut OpState, #[smi] id: u32, #[string] message: String) {
    fail_request(state, id, message);
}

/// The worker answered with a streamed body: `rid` is a readable resource
/// made from the response's `ReadableStream`. Chunks are copied to the
/// gateway as they come, with backpressure from a bounded channel.
#[op2(fast)]
pub fn op_brink_respond_stream(
    scope: &mut v8::PinScope<'_, '_>,
    state: Rc<RefCell<OpState>>,
    #[smi] id: u32,
    #[smi] status: u32,
    headers: v8::Local<v8::Value>,
    #[smi] rid: ResourceId,
) -> Result<(), JsErrorBox> {
    let mut state = state.borrow_mut();
    let resource = state.resource_table.take_any(rid).map_err(JsErrorBox::from_err)?;
    let (tx, rx) = mpsc::channel(4);
    let result = header_list(scope, headers).and_then(|headers| build_response(status, headers, ResponseBody::Stream(rx)));
    state.borrow_mut::<RequestTable>().complete(id, result);
    drop(state);
    deno_core::unsync::spawn(async move {
        loop {
            match resource.clone().read(64 * 1024).await {
                Ok(view) if view.is_empty() => break,
                Ok(view) => {
                    if tx.send(Ok(Bytes::copy_from_slice(&view))).await.is_err() {
                        break; // the client went away
                    }
                }
                Err(error) => {
                    let _ = tx.send(Err(error.to_string().into())).await;
                    break;
                }
            }
        }
        resource.close();
    });
    Ok(())
}

#[op2(fast)]
pub fn op_brink_wait_until_started(state: &mut OpState) {
    state.borrow_mut::<RequestTable>().pending_wait_until += 1;
}

#[op2(fast)]
pub fn op_brink_wait_until_done(state: &mut OpState) {
    let table = state.borrow_mut::<RequestTable>();
    table.pending_wait_until = table.pending_wait_until.saturating_sub(1);
}

/// Counts one outbound `fetch()` against request `id`'s subrequest limit.
/// Returns false when the limit is exhausted.
#[op2(fast)]
pub fn op_brink_count_subrequest(state: &mut OpState, #[smi] id: u32) -> bool {
    let table = state.borrow_mut::<RequestTable>();
    let limit = table.subrequest_limit;
    // A fetch outside any request (e.g. at module top level) or after the
    // response was sent is charged to the only request in flight, if any.
    let only_one = table.in_flight.len() == 1;
    let entry = if table.in_flight.contains_key(&id) {
        table.in_flight.get_mut(&id)
    } else if only_one {
        table.in_flight.values_mut().next()
    } else {
        None
    };
    match entry {
        Some(entry) => {
            entry.subrequests += 1;
            entry.subrequests <= limit
        }
        None => true,
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
