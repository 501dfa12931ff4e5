//! The resource limits one worker runs under. One type owns them so the
//! policy can change without touching request code.

use std::time::Duration;

/// Limits applied to every request of a deployment's worker.
#[derive(Clone, Debug)]
pub struct Limits {
    /// CPU time one request may use, cumulative over all of its JavaScript
    /// turns (the handler, promise continuations, timers, its streamed body
    /// and its `waitUntil` work). A `while (true) {}` is stopped after this
    /// much CPU. Background work left after every request has ended gets
    /// this much in total before the isolate is recycled.
    pub cpu_per_request: Duration,
    /// Wall-clock time from a request's arrival (queueing and isolate
    /// start-up included) until its response head must exist; also how long
    /// `waitUntil` work may run after the response.
    pub wall_clock: Duration,
    /// Heap an isolate may use before its execution is terminated.
    pub heap_bytes: usize,
    /// Outbound `fetch()` calls one request may make (its `waitUntil` work
    /// included).
    pub subrequests: u32,
    /// How deep worker-to-worker (or self) subrequests may nest before the
    /// gateway answers `508 Loop Detected`.
    pub max_subrequest_depth: u32,
    /// Bytes a request body may have. A larger declared body is refused with
    /// `413` before the worker runs; a chunked one errors the worker's body
    /// stream when it crosses the limit.
    pub request_body_bytes: u64,
    /// Bytes a response body may have, or no limit. A larger body known up
    /// front is answered with `503`; a streamed one is cut off where it
    /// crosses the limit.
    pub response_body_bytes: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // Cloudflare Workers' default on its Standard plan.
            cpu_per_request: Duration::from_secs(30),
            wall_clock: Duration::from_secs(30),
            heap_bytes: 128 * 1024 * 1024,
            subrequests: 50,
            max_subrequest_depth: 16,
            // Cloudflare's request body limit on its Free and Pro plans.
            request_body_bytes: 100 * 1024 * 1024,
            // Workers does not limit response bodies either.
            response_body_bytes: None,
        }
    }
}

impl Limits {
    /// The CPU limit in nanoseconds.
    pub fn cpu_ns(&self) -> u64 {
        u64::try_from(self.cpu_per_request.as_nanos()).unwrap_or(u64::MAX)
    }
}

/// A limit a request can exceed: the reason carried by errors, logs and
/// metrics, so none of them has to parse a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    /// [`Limits::cpu_per_request`], or background work's CPU budget.
    CpuTime,
    /// [`Limits::heap_bytes`] (the JS heap plus memory held outside it).
    Memory,
    /// [`Limits::wall_clock`], or a turn stuck in native code past it.
    WallClock,
    /// [`Limits::request_body_bytes`].
    RequestBody,
    /// [`Limits::response_body_bytes`].
    ResponseBody,
}

impl Limit {
    /// Every limit, in the order metrics list them.
    pub const ALL: [Limit; 5] = [Limit::CpuTime, Limit::Memory, Limit::WallClock, Limit::RequestBody, Limit::ResponseBody];

    /// What people read: "CPU time limit".
    pub fn description(self) -> &'static str {
        match self {
            Limit::CpuTime => "CPU time limit",
            Limit::Memory => "memory limit",
            Limit::WallClock => "wall-clock limit",
            Limit::RequestBody => "request body size limit",
            Limit::ResponseBody => "response body size limit",
        }
    }

    /// The metrics label and log field value: `cpu`, `memory`, `wall_clock`,
    /// `request_body`, `response_body`.
    pub fn label(self) -> &'static str {
        match self {
            Limit::CpuTime => "cpu",
            Limit::Memory => "memory",
            Limit::WallClock => "wall_clock",
            Limit::RequestBody => "request_body",
            Limit::ResponseBody => "response_body",
        }
    }

    /// This limit's position in [`Limit::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}
