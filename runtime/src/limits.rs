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
        }
    }
}

impl Limits {
    /// The CPU limit in nanoseconds.
    pub fn cpu_ns(&self) -> u64 {
        u64::try_from(self.cpu_per_request.as_nanos()).unwrap_or(u64::MAX)
    }
}
