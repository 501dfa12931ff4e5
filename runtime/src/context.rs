//! The per-request context: one object per request that owns everything the
//! request may still do in its isolate — its response sender, subrequest and
//! CPU counters, its `ctx.waitUntil()` work, its streamed response body and
//! its deadline (see "A request's lifetime" in `docs/architecture.md`).
//!
//! A context ends when all of those have settled, not when the response head
//! is sent. Limits are charged to it until then. Work that outlives its
//! context (a `waitUntil` promise past the deadline, a timer left behind) is
//! cut off: its subrequests are refused, and the CPU it uses is charged to
//! the isolate's background budget, which recycles the isolate when spent.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use http::Response;
use tokio::sync::oneshot;

use crate::api::forwarding::ClientAddress;
use crate::body::ResponseBody;
use crate::error::WorkerError;
use crate::limits::{Limit, Limits};

/// What the gateway waits on for one request.
pub type ResponseSender = oneshot::Sender<Result<Response<ResponseBody>, WorkerError>>;

/// The header that carries how many worker subrequests deep a request is.
/// Outbound `fetch()` sets it (the worker cannot remove it); the runtime
/// reads it and hides it from the worker.
pub const SUBREQUEST_DEPTH_HEADER: &str = "brink-subrequest-depth";

/// The id JavaScript sees for a request (its async context).
pub type RequestId = u32;

/// One request's context.
struct RequestContext {
    /// Until the response head is sent.
    respond: Option<ResponseSender>,
    subrequests: u32,
    cpu_ns: u64,
    wait_until: u32,
    /// Cancels the response-body pump, while one runs.
    body_pump: Option<oneshot::Sender<()>>,
    /// The head must exist by then; once it was sent, `waitUntil` work must
    /// settle by then.
    deadline: Instant,
    /// How many worker subrequests deep this request is.
    depth: u32,
    /// Open WebSockets of this request (`crate::api::websocket`): each
    /// keeps the context alive, past the deadline, until it closes.
    websockets: u32,
    /// Who sent the request, when it came through a listener.
    client: Option<ClientAddress>,
}

impl RequestContext {
    fn settled(&self) -> bool {
        self.respond.is_none() && self.wait_until == 0 && self.body_pump.is_none() && self.websockets == 0
    }

    /// Work whose lifetime is its own (a body being sent, an open
    /// WebSocket), which the wall-clock deadline does not cut off.
    fn has_open_stream(&self) -> bool {
        self.body_pump.is_some() || self.websockets > 0
    }
}

/// What an outbound `fetch()` may do, asked of the request that makes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubrequestVerdict {
    /// Go ahead; stamp the outgoing request with this nesting depth.
    Allowed { depth: u32 },
    /// The request has used up its subrequests.
    LimitReached,
    /// The request has ended (or there is none): its work is cancelled.
    NoRequest,
}

/// A CPU charge put a request (or the background budget) over its limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuOverrun {
    /// A request used more than its CPU limit.
    Request,
    /// Background work, after every request ended, used up its budget.
    Background,
}

/// Every live request context of one isolate.
pub struct ContextTable {
    next_id: RequestId,
    live: HashMap<RequestId, RequestContext>,
    subrequest_limit: u32,
    cpu_limit_ns: u64,
    wall_clock: Duration,
    response_body_bytes: Option<u64>,
    /// CPU used by JavaScript that ran while no request was live.
    background_cpu_ns: u64,
    /// Set when a handler's promise settled after its first turn: the
    /// worker host holds its answer until the turn's microtasks have run.
    answers_ready: bool,
}

impl Default for ContextTable {
    fn default() -> Self {
        ContextTable::new(&Limits::default())
    }
}

impl ContextTable {
    /// An empty table enforcing `limits`.
    pub fn new(limits: &Limits) -> ContextTable {
        ContextTable {
            next_id: 0,
            live: HashMap::new(),
            subrequest_limit: limits.subrequests,
            cpu_limit_ns: limits.cpu_ns(),
            wall_clock: limits.wall_clock,
            response_body_bytes: limits.response_body_bytes,
            background_cpu_ns: 0,
            answers_ready: false,
        }
    }

    /// Notes that the worker host holds settled answers to hand back.
    pub fn mark_answers_ready(&mut self) {
        self.answers_ready = true;
    }

    /// Whether the worker host holds settled answers; clears the note.
    pub fn take_answers_ready(&mut self) -> bool {
        std::mem::take(&mut self.answers_ready)
    }

    /// Opens a context for a request that must have its response head by
    /// `deadline`, `depth` subrequests deep. Returns the id JS sees.
    pub fn open(&mut self, respond: ResponseSender, deadline: Instant, depth: u32) -> RequestId {
        loop {
            // Ids stay small positive integers (a JS smi); skip ones in use.
            self.next_id = self.next_id.wrapping_add(1) & 0x3fff_ffff;
            if self.next_id != 0 && !self.live.contains_key(&self.next_id) {
                break;
            }
        }
        let context = RequestContext {
            respond: Some(respond),
            subrequests: 0,
            cpu_ns: 0,
            wait_until: 0,
            body_pump: None,
            deadline,
            depth,
            websockets: 0,
            client: None,
        };
        self.live.insert(self.next_id, context);
        self.next_id
    }

    /// Records who sent request `id` (for the origin's forwarding headers).
    pub fn set_client_address(&mut self, id: RequestId, client: Option<ClientAddress>) {
        if let Some(context) = self.live.get_mut(&id) {
            context.client = client;
        }
    }

    /// Who sent request `id`, if known and the request is live.
    pub fn client_address(&self, id: RequestId) -> Option<ClientAddress> {
        self.live.get(&id).and_then(|context| context.client)
    }

    /// Sends request `id`'s response head (or error), if it still waits for
    /// one. The context lives on while its body or `waitUntil` work runs.
    pub fn respond(&mut self, id: RequestId, result: Result<Response<ResponseBody>, WorkerError>) {
        let wall_clock = self.wall_clock;
        let Some(context) = self.live.get_mut(&id) else { return };
        let Some(sender) = context.respond.take() else { return };
        let _ = sender.send(result);
        // `waitUntil` work gets the wall-clock limit again after the response.
        context.deadline = Instant::now() + wall_clock;
        self.close_if_settled(id);
    }

    /// Registers a `waitUntil` promise of request `id`. False when the
    /// request has already ended (the promise then runs unaccounted for and
    /// its subrequests are refused).
    pub fn wait_until_started(&mut self, id: RequestId) -> bool {
        match self.live.get_mut(&id) {
            Some(context) => {
                context.wait_until += 1;
                true
            }
            None => false,
        }
    }

    /// One `waitUntil` promise of request `id` settled.
    pub fn wait_until_settled(&mut self, id: RequestId) {
        if let Some(context) = self.live.get_mut(&id) {
            context.wait_until = context.wait_until.saturating_sub(1);
            self.close_if_settled(id);
        }
    }

    /// A response-body pump starts for request `id`; `cancel` stops it.
    /// False when the request has already ended (nobody waits for the body).
    pub fn body_pump_started(&mut self, id: RequestId, cancel: oneshot::Sender<()>) -> bool {
        match self.live.get_mut(&id) {
            Some(context) if context.respond.is_some() => {
                context.body_pump = Some(cancel);
                true
            }
            _ => false,
        }
    }

    /// Request `id`'s response body has been sent (or abandoned).
    pub fn body_pump_finished(&mut self, id: RequestId) {
        if let Some(context) = self.live.get_mut(&id) {
            context.body_pump = None;
            self.close_if_settled(id);
        }
    }

    /// A WebSocket of request `id` opened; false when the request has ended.
    pub fn websocket_opened(&mut self, id: RequestId) -> bool {
        match self.live.get_mut(&id) {
            Some(context) => {
                context.websockets += 1;
                true
            }
            None => false,
        }
    }

    /// A WebSocket of request `id` closed.
    pub fn websocket_closed(&mut self, id: RequestId) {
        if let Some(context) = self.live.get_mut(&id) {
            context.websockets = context.websockets.saturating_sub(1);
            self.close_if_settled(id);
        }
    }

    /// A WebSocket message was delivered to request `id`'s worker: like a
    /// new request, its handler gets a whole CPU limit and subrequest
    /// budget (a socket may stay open for hours).
    pub fn websocket_event(&mut self, id: RequestId) {
        if let Some(context) = self.live.get_mut(&id) {
            context.cpu_ns = 0;
            context.subrequests = 0;
        }
    }

    /// Charges one outbound `fetch()` to request `id`. A fetch whose async
    /// context was lost (id 0) is charged to the only live request, if there
    /// is exactly one.
    pub fn charge_subrequest(&mut self, id: RequestId) -> SubrequestVerdict {
        let limit = self.subrequest_limit;
        let key = if id == 0 && self.live.len() == 1 { self.live.keys().next().copied() } else { Some(id) };
        let context = key.and_then(|key| self.live.get_mut(&key));
        let Some(context) = context else { return SubrequestVerdict::NoRequest };
        context.subrequests = context.subrequests.saturating_add(1);
        if context.subrequests > limit {
            SubrequestVerdict::LimitReached
        } else {
            SubrequestVerdict::Allowed { depth: context.depth.saturating_add(1) }
        }
    }

    /// CPU a turn that runs request `id`'s handler may use.
    pub fn budget_for(&self, id: RequestId) -> u64 {
        self.live
            .get(&id)
            .map(|context| self.cpu_limit_ns.saturating_sub(context.cpu_ns))
            .unwrap_or(self.cpu_limit_ns)
    }

    /// CPU a shared turn (promise continuations, timers, I/O callbacks of
    /// any live request) may use: what the request with the most left has
    /// left, or the background budget when no request is live.
    pub fn shared_budget(&self) -> u64 {
        // A context with an open WebSocket may be handed a message in
        // this turn, which starts a whole CPU limit for it
        // (`websocket_event`); what it used before counts only when the
        // turn is charged.
        let used = |context: &RequestContext| if context.websockets > 0 { 0 } else { context.cpu_ns };
        match self.live.values().map(used).min() {
            Some(least_used) => self.cpu_limit_ns.saturating_sub(least_used),
            None => self.cpu_limit_ns.saturating_sub(self.background_cpu_ns),
        }
    }

    /// Charges a turn that ran request `id`'s handler.
    pub fn charge_cpu_to(&mut self, id: RequestId, cpu_ns: u64) -> Option<CpuOverrun> {
        let limit = self.cpu_limit_ns;
        let context = self.live.get_mut(&id)?;
        context.cpu_ns = context.cpu_ns.saturating_add(cpu_ns);
        (context.cpu_ns > limit).then_some(CpuOverrun::Request)
    }

    /// Charges a shared turn: split evenly over the live requests (the turn
    /// ran their continuations), or to the background budget when none is
    /// live.
    pub fn charge_shared_cpu(&mut self, cpu_ns: u64) -> Option<CpuOverrun> {
        let limit = self.cpu_limit_ns;
        if self.live.is_empty() {
            self.background_cpu_ns = self.background_cpu_ns.saturating_add(cpu_ns);
            return (self.background_cpu_ns > limit).then_some(CpuOverrun::Background);
        }
        let share = cpu_ns / self.live.len() as u64;
        let mut overrun = None;
        for context in self.live.values_mut() {
            context.cpu_ns = context.cpu_ns.saturating_add(share);
            if context.cpu_ns > limit {
                overrun = Some(CpuOverrun::Request);
            }
        }
        overrun
    }

    /// Ends every context past its deadline: a request still without a
    /// response fails with the wall-clock limit; a `waitUntil` still pending is abandoned (its
    /// later subrequests are refused). Returns how many contexts ended with
    /// unfinished `waitUntil` work, for the log.
    pub fn expire(&mut self, now: Instant) -> usize {
        let expired: Vec<RequestId> = self
            .live
            .iter()
            .filter(|(_, context)| context.deadline <= now && !context.has_open_stream())
            .map(|(id, _)| *id)
            .collect();
        let mut abandoned = 0;
        for id in expired {
            if let Some(mut context) = self.live.remove(&id) {
                if let Some(sender) = context.respond.take() {
                    let _ = sender.send(Err(WorkerError::LimitExceeded(Limit::WallClock)));
                }
                if context.wait_until > 0 {
                    abandoned += 1;
                }
            }
        }
        abandoned
    }

    /// How many bytes a response body may have, if limited.
    pub fn response_body_limit(&self) -> Option<u64> {
        self.response_body_bytes
    }

    /// The earliest deadline of a live context.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.live
            .values()
            .filter(|context| !context.has_open_stream())
            .map(|context| context.deadline)
            .min()
    }

    /// Fails every live request that still waits for its response, stops
    /// every body pump, and ends every context (the isolate is going away).
    pub fn fail_all(&mut self, error: impl Fn() -> WorkerError) {
        for (_, mut context) in self.live.drain() {
            if let Some(sender) = context.respond.take() {
                let _ = sender.send(Err(error()));
            }
            if let Some(cancel) = context.body_pump.take() {
                let _ = cancel.send(());
            }
        }
    }

    /// Number of live contexts.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// True when no request is live in this isolate.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Live contexts with `waitUntil` work pending.
    pub fn pending_wait_until(&self) -> usize {
        self.live.values().filter(|context| context.wait_until > 0).count()
    }

    fn close_if_settled(&mut self, id: RequestId) {
        if self.live.get(&id).is_some_and(RequestContext::settled) {
            self.live.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits { subrequests: 2, cpu_per_request: Duration::from_millis(10), ..Limits::default() }
    }

    fn open(table: &mut ContextTable) -> (RequestId, oneshot::Receiver<Result<Response<ResponseBody>, WorkerError>>) {
        let (tx, rx) = oneshot::channel();
        (table.open(tx, Instant::now() + Duration::from_secs(30), 0), rx)
    }

    #[test]
    fn a_context_lives_until_its_wait_until_work_settles() {
        let mut table = ContextTable::new(&limits());
        let (id, _rx) = open(&mut table);
        assert!(table.wait_until_started(id));
        table.respond(id, Ok(Response::new(ResponseBody::empty())));
        assert_eq!(table.len(), 1, "ended when the head was sent");
        // Subrequests from the waitUntil work still count against the request.
        assert_eq!(table.charge_subrequest(id), SubrequestVerdict::Allowed { depth: 1 });
        assert_eq!(table.charge_subrequest(id), SubrequestVerdict::Allowed { depth: 1 });
        assert_eq!(table.charge_subrequest(id), SubrequestVerdict::LimitReached);
        table.wait_until_settled(id);
        assert!(table.is_empty());
        assert_eq!(table.charge_subrequest(id), SubrequestVerdict::NoRequest);
    }

    #[test]
    fn a_context_lives_until_its_body_is_sent() {
        let mut table = ContextTable::new(&limits());
        let (id, _rx) = open(&mut table);
        let (cancel, _cancelled) = oneshot::channel();
        assert!(table.body_pump_started(id, cancel));
        table.respond(id, Ok(Response::new(ResponseBody::empty())));
        assert_eq!(table.len(), 1);
        table.body_pump_finished(id);
        assert!(table.is_empty());
    }

    #[test]
    fn cpu_is_cumulative_per_request_and_shared_turns_are_split() {
        let mut table = ContextTable::new(&limits());
        let (a, _ra) = open(&mut table);
        let (b, _rb) = open(&mut table);
        assert_eq!(table.charge_cpu_to(a, 6_000_000), None);
        assert_eq!(table.budget_for(a), 4_000_000);
        // 8 ms over two requests: 4 each; a is now at 10 ms, not over.
        assert_eq!(table.charge_shared_cpu(8_000_000), None);
        assert_eq!(table.charge_cpu_to(b, 1_000_000), None);
        assert_eq!(table.charge_cpu_to(a, 1), Some(CpuOverrun::Request));
    }

    #[test]
    fn background_cpu_after_every_request_ended_has_a_budget() {
        let mut table = ContextTable::new(&limits());
        assert_eq!(table.charge_shared_cpu(9_000_000), None);
        assert_eq!(table.shared_budget(), 1_000_000);
        assert_eq!(table.charge_shared_cpu(2_000_000), Some(CpuOverrun::Background));
    }

    #[test]
    fn expired_requests_time_out_and_abandoned_wait_until_is_cut_off() {
        let mut table = ContextTable::new(&limits());
        let (tx, mut rx) = oneshot::channel();
        let id = table.open(tx, Instant::now(), 0);
        assert!(table.wait_until_started(id));
        assert_eq!(table.expire(Instant::now() + Duration::from_millis(1)), 1);
        assert!(matches!(rx.try_recv(), Ok(Err(WorkerError::LimitExceeded(Limit::WallClock)))));
        assert_eq!(table.charge_subrequest(id), SubrequestVerdict::NoRequest);
    }

    #[test]
    fn each_websocket_message_gets_a_whole_cpu_limit() {
        let mut table = ContextTable::new(&limits());
        let (id, _rx) = open(&mut table);
        assert!(table.websocket_opened(id));
        table.respond(id, Ok(Response::new(ResponseBody::empty())));
        assert_eq!(table.len(), 1, "an open socket keeps its request");
        assert_eq!(table.expire(Instant::now() + Duration::from_secs(3600)), 0);
        assert_eq!(table.len(), 1, "an open socket outlives the deadline");
        for _ in 0..3 {
            assert_eq!(table.shared_budget(), 10_000_000);
            table.websocket_event(id);
            assert_eq!(table.charge_shared_cpu(8_000_000), None);
        }
        assert_eq!(table.charge_shared_cpu(3_000_000), Some(CpuOverrun::Request));
        table.websocket_closed(id);
        assert!(table.is_empty());
    }

    #[test]
    fn depth_is_carried_to_subrequests() {
        let mut table = ContextTable::new(&limits());
        let (tx, _rx) = oneshot::channel();
        let id = table.open(tx, Instant::now() + Duration::from_secs(1), 3);
        assert_eq!(table.charge_subrequest(id), SubrequestVerdict::Allowed { depth: 4 });
    }
}
