//! Handing a request to the worker host's JavaScript (`js/worker_host.js`)
//! and taking its answer back.
//!
//! The answer is taken only after the microtasks of the handler's turn have
//! run, as on workerd: a handler may return a `Response` and set its headers
//! from a microtask it queued before returning. So `dispatchFetch` answers
//! nothing itself; it returns the handler's result, and once the event loop
//! has drained the microtasks, [`Handoff::answer_settled`] reads each
//! result's promise state here, without a promise reaction in JavaScript.
//! A result still pending then (the handler awaits I/O or a timer) gets a
//! reaction, which queues the answer and tells Rust through
//! `op_brink_answers_ready`; those are handed back after the turn they
//! settled in, the same way. docs/architecture.md, "Handing back the
//! response".

use deno_core::{v8, JsRuntime};
use http_body::Body;

use crate::api::request::{fail_request, RequestBodyResource};
use crate::body::RequestBody;
use crate::context::{ContextTable, RequestId, SUBREQUEST_DEPTH_HEADER};
use crate::isolate::{caught_exception, HostFunctions};

/// Requests dispatched since the event loop last ran, with what
/// `dispatchFetch` returned for each: `[result, request, ctx, headers]`.
#[derive(Default)]
pub(crate) struct Handoff {
    dispatched: Vec<(RequestId, v8::Global<v8::Array>)>,
}

impl Handoff {
    /// Hands one request, whose context is `id`, to `dispatchFetch`; its
    /// answer is taken by the next [`Handoff::answer_settled`]. Never
    /// inlined, so that `bench/profile.sh` finds it in a profile.
    #[inline(never)]
    pub(crate) fn dispatch(
        &mut self,
        runtime: &mut JsRuntime,
        host: &HostFunctions,
        id: RequestId,
        request: http::Request<RequestBody>,
    ) {
        let (parts, body) = request.into_parts();
        let op_state = runtime.op_state();
        let body_rid = {
            let mut state = op_state.borrow_mut();
            // A request that declares a body, even an empty one
            // (`Content-Length: 0`), gets a body stream, as on workerd.
            let declares_body = !body.is_end_stream() || parts.headers.contains_key(http::header::CONTENT_LENGTH);
            let no_body = !declares_body || parts.method == http::Method::GET || parts.method == http::Method::HEAD;
            if no_body { -1 } else { state.resource_table.add(RequestBodyResource::new(body)) as i32 }
        };
        let url = parts.uri.to_string();
        let outcome = {
            deno_core::scope!(scope, runtime);
            v8::tc_scope!(let tc, scope);
            let args = request_args(tc, id, &parts, &url, body_rid);
            let function = v8::Local::new(tc, &host.dispatch_fetch);
            let undefined = v8::undefined(tc).into();
            match args {
                Some(args) => match function.call(tc, undefined, &args) {
                    Some(returned) => {
                        if let Ok(pending) = v8::Local::<v8::Array>::try_from(returned) {
                            mark_handled(tc, pending);
                            self.dispatched.push((id, v8::Global::new(tc, pending)));
                        }
                        Ok(())
                    }
                    None => Err(caught_exception(tc)),
                },
                None => Err("out of memory building the request".to_string()),
            }
        };
        if let Err(message) = outcome {
            fail_request(&mut op_state.borrow_mut(), id, message);
        }
    }

    /// Runs the microtasks queued by the turns of the requests just
    /// dispatched and hands back the answers that settled in them, before
    /// the event loop fires a timer: a timer is a later task, as on workerd,
    /// so a flood of zero-delay timers cannot hold back a response its
    /// handler has already returned. True when any was handed back.
    pub(crate) fn answer_dispatched(&mut self, runtime: &mut JsRuntime, host: &HostFunctions) -> bool {
        if self.dispatched.is_empty() {
            return false;
        }
        {
            deno_core::scope!(scope, runtime);
            scope.perform_microtask_checkpoint();
        }
        self.answer_settled(runtime, host)
    }

    /// Hands back the answers that have settled, once the event loop has
    /// run the microtasks after the handlers' turns. True when any was
    /// handed back (its response may have started work for the event loop).
    #[inline(never)]
    pub(crate) fn answer_settled(&mut self, runtime: &mut JsRuntime, host: &HostFunctions) -> bool {
        let op_state = runtime.op_state();
        let flush = op_state.borrow_mut().borrow_mut::<ContextTable>().take_answers_ready();
        if self.dispatched.is_empty() && !flush {
            return false;
        }
        let dispatched = std::mem::take(&mut self.dispatched);
        let mut failed = Vec::new();
        {
            deno_core::scope!(scope, runtime);
            v8::tc_scope!(let tc, scope);
            for (id, pending) in dispatched {
                let pending = v8::Local::new(tc, pending);
                let call = match settled_outcome(tc, pending) {
                    Some((ok, value)) => {
                        let function = v8::Local::new(tc, &host.settle_fetch);
                        let id = v8::Integer::new(tc, id as i32).into();
                        let ok = v8::Boolean::new(tc, ok).into();
                        call(tc, function, &[id, ok, value, pending.into()])
                    }
                    None => {
                        let function = v8::Local::new(tc, &host.await_fetch);
                        let id = v8::Integer::new(tc, id as i32).into();
                        call(tc, function, &[id, pending.into()])
                    }
                };
                if let Err(message) = call {
                    failed.push((id, message));
                }
            }
            if flush {
                let function = v8::Local::new(tc, &host.flush_settled);
                if let Err(message) = call(tc, function, &[]) {
                    tracing::error!(error = %message, "handing back settled answers failed");
                }
            }
        }
        let mut state = op_state.borrow_mut();
        for (id, message) in failed {
            fail_request(&mut state, id, message);
        }
        true
    }
}

/// Calls a worker host function; the exception's description if it threw.
fn call(
    tc: &mut v8::PinnedRef<'_, v8::TryCatch<'_, '_, v8::HandleScope<'_>>>,
    function: v8::Local<'_, v8::Function>,
    args: &[v8::Local<'_, v8::Value>],
) -> Result<(), String> {
    let undefined = v8::undefined(tc).into();
    match function.call(tc, undefined, args) {
        Some(_) => Ok(()),
        None => Err(caught_exception(tc)),
    }
}

/// `pending[0]`: a `Response` (settled) or a promise of one.
fn result_of<'s>(scope: &mut v8::PinScope<'s, '_>, pending: v8::Local<'s, v8::Array>) -> Option<v8::Local<'s, v8::Value>> {
    pending.get_index(scope, 0)
}

/// A promise result is marked handled at once, so that a handler whose
/// promise rejects is not also reported as an unhandled rejection.
fn mark_handled<'s>(scope: &mut v8::PinScope<'s, '_>, pending: v8::Local<'s, v8::Array>) {
    if let Some(promise) = result_of(scope, pending).and_then(|r| v8::Local::<v8::Promise>::try_from(r).ok()) {
        promise.mark_as_handled();
    }
}

/// Whether the handler's result has settled, and how: `(fulfilled, value)`.
fn settled_outcome<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    pending: v8::Local<'s, v8::Array>,
) -> Option<(bool, v8::Local<'s, v8::Value>)> {
    let result = result_of(scope, pending)?;
    let Ok(promise) = v8::Local::<v8::Promise>::try_from(result) else {
        return Some((true, result));
    };
    match promise.state() {
        v8::PromiseState::Pending => None,
        v8::PromiseState::Fulfilled => Some((true, promise.result(scope))),
        v8::PromiseState::Rejected => Some((false, promise.result(scope))),
    }
}

fn request_args<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    id: u32,
    parts: &http::request::Parts,
    url: &str,
    body_rid: i32,
) -> Option<Vec<v8::Local<'s, v8::Value>>> {
    let mut headers = Vec::with_capacity(parts.headers.len() * 2);
    for (name, value) in &parts.headers {
        if name.as_str() == SUBREQUEST_DEPTH_HEADER {
            continue; // Brink's own bookkeeping, not the worker's business
        }
        headers.push(v8::String::new_from_one_byte(scope, name.as_str().as_bytes(), v8::NewStringType::Normal)?.into());
        headers.push(v8::String::new_from_one_byte(scope, value.as_bytes(), v8::NewStringType::Normal)?.into());
    }
    Some(vec![
        v8::Integer::new(scope, id as i32).into(),
        v8::String::new(scope, parts.method.as_str())?.into(),
        v8::String::new(scope, url)?.into(),
        v8::Array::new_with_elements(scope, &headers).into(),
        v8::Integer::new(scope, body_rid).into(),
    ])
}
