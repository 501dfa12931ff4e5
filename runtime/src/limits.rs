//! The resource limits one worker runs under. One type owns them so the
//! policy can change without touching request code.

use std::time::Duration;

/// Limits applied to every isolate that runs a deployment's worker.
#[derive(Clone, Debug)]
pub struct Limits {
    /// CPU time one uninterrupted run of the worker's JavaScript may take
    /// (a handler, a promise continuation, a timer callback). A
    /// `while (true) {}` is stopped after this much CPU.
    pub cpu_per_turn: Duration,
    /// Wall-clock time from dispatch until the response head must exist.
    pub wall_clock: Duration,
    /// Heap an isolate may use before its execution is terminated.
    pub heap_bytes: usize,
    /// Outbound `fetch()` calls one request may make.
    pub subrequests: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu_per_turn: Duration::from_millis(500),
            wall_clock: Duration::from_secs(30),
            heap_bytes: 128 * 1024 * 1024,
            subrequests: 50,
        }
    }
}
