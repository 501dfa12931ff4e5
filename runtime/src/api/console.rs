//! `console.*` from a worker: lines go to Brink's log, tagged with the
//! worker's name, never to another tenant.

use deno_core::{op2, OpState};

/// Who is logging: set when an isolate loads a worker.
#[derive(Clone, Debug, Default)]
pub struct LogIdentity {
    /// The worker (deployment) name.
    pub worker: String,
    /// The isolate's number, for telling isolates of one worker apart.
    pub isolate: u64,
}

#[op2(fast)]
pub fn op_brink_log(state: &mut OpState, #[smi] level: u32, #[string] message: &str) {
    let identity = state.borrow::<LogIdentity>();
    let worker = identity.worker.as_str();
    let isolate = identity.isolate;
    match level {
        0 => tracing::debug!(target: "worker", worker, isolate, "{message}"),
        1 => tracing::info!(target: "worker", worker, isolate, "{message}"),
        2 => tracing::warn!(target: "worker", worker, isolate, "{message}"),
        _ => tracing::error!(target: "worker", worker, isolate, "{message}"),
    }
}
