//! Brink's JavaScript runtime.
//!
//! Every live isolate owns one OS thread (docs/architecture.md: `TerminateExecution` is
//! only reliable with one isolate per thread), runs a current-thread tokio
//! runtime inside it, and talks to the gateway over channels. The pieces:
//!
//! - [`engine`]: builds a `JsRuntime` with the Web APIs and Brink's bootstrap.
//! - [`isolate`]: the isolate thread and the commands it accepts.
//! - [`pool`]: pre-warmed blank isolates, so a deployment starts without
//!   paying the bootstrap.
//! - [`context`]: the per-request context that owns a request's counters,
//!   `waitUntil` work, body pump and deadline.
//! - [`supervisor`]: enforces the [`Limits`] (CPU, heap, wall clock).
//! - [`worker`]: a deployment's worker as the gateway sees it: `fetch()`.
//! - [`api`]: the ops behind the globals and bindings a worker sees.

pub mod api;
pub mod blocking;
pub mod body;
pub mod bundle;
pub mod context;
mod embedded_js;
pub mod engine;
pub mod error;
mod handoff;
pub mod isolate;
pub mod limits;
pub mod logs;
pub mod module_loader;
pub mod pool;
pub mod snapshot;
pub mod supervisor;
pub mod typescript;
pub mod worker;

pub use api::outbound_fetch::OutboundPolicy;
pub use body::{RequestBody, ResponseBody};
pub use bundle::{BundleError, ModuleBundle};
pub use error::WorkerError;
pub use limits::{Limit, Limits};
pub use logs::{LogLine, LogSink};
pub use pool::IsolatePool;
pub use worker::{Scaling, Worker, WorkerSpec, WorkerStats};
