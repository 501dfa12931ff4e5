//! Brink's gateway: accepts HTTP connections, routes each request by host
//! name to a worker, and streams the worker's response back.
//!
//! - [`config`]: the one config struct the CLI maps its flags onto.
//! - [`router`]: host name → worker.
//! - [`server`]: the HTTP/1.1 + h2c listener with graceful shutdown.
//! - [`connection`]: per-connection activity, for closing idle connections.
//! - [`worker_bridge`]: turns hyper requests into worker requests and worker
//!   errors into client responses.
//! - [`framing`]: makes a worker's response safe to write to a shared
//!   connection (the gateway, not the worker, decides the framing).
//! - [`logging`]: `tracing` set-up.

pub mod config;
pub mod connection;
pub mod dev;
pub mod framing;
pub mod kv_cli;
pub mod logging;
pub mod router;
pub mod server;
pub mod worker_bridge;
