//! Brink's gateway: accepts HTTP connections, routes each request by host
//! name to a worker, and streams the worker's response back.
//!
//! - [`config`]: the one config struct the CLI maps its flags onto.
//! - [`router`]: host name → worker.
//! - [`server`]: the HTTP/1.1 + h2c listener with graceful shutdown.
//! - [`worker_bridge`]: turns hyper requests into worker requests and worker
//!   errors into client responses.
//! - [`logging`]: `tracing` set-up.

pub mod config;
pub mod dev;
pub mod kv_cli;
pub mod logging;
pub mod router;
pub mod server;
pub mod worker_bridge;
