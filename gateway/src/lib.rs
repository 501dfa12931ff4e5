//! Brink's gateway: accepts HTTP connections, routes each request by host
//! name to a worker, and streams the worker's response back.
//!
//! - [`config`]: the one config struct the CLI maps its flags onto.
//! - [`router`]: host and path → worker, swappable while serving.
//! - [`server`]: the HTTP/1.1 + h2c listener with graceful shutdown.
//! - [`connection`]: per-connection activity, for closing idle connections.
//! - [`worker_bridge`]: turns hyper requests into worker requests and worker
//!   errors into client responses.
//! - [`framing`]: makes a worker's response safe to write to a shared
//!   connection (the gateway, not the worker, decides the framing).
//! - [`logging`]: `tracing` set-up.
//!
//! `brink serve` (many tenants, deployed at run time):
//!
//! - [`serve_config`]: the TOML config file and flags.
//! - [`serve`]: starts the server: stores, restored workers, listeners.
//! - [`deployments`]: immutable numbered versions on disk.
//! - [`tenants`]: the live workers and the changes the admin API makes.
//! - [`admin`]: the admin HTTP API; [`admin_client`]: the CLI's side of it;
//!   [`admin_kv`]: its KV endpoints; [`kv_cli`]: `brink kv`, local or remote.
//! - [`kv_config`]: which KV backend (embedded, or NATS JetStream) a server uses.
//! - [`metrics`]: request counters and the Prometheus text format.
//!
//! Edge protocols (docs/tls.md):
//!
//! - [`tls`]: rustls set-up, the SNI certificate resolver, pre-warm on SNI.
//! - [`certificates`]: per-host certificates on disk and their admin API;
//!   [`certs_cli`]: `brink certs`.
//! - [`http3`]: HTTP/3 over QUIC on the TLS port.
//! - [`websocket`]: WebSocket upgrades joined to the worker's sockets.

pub mod admin;
pub mod admin_kv;
pub mod admin_client;
pub mod certificates;
pub mod certs_cli;
pub mod config;
pub mod connection;
pub mod deployments;
pub mod dev;
pub mod framing;
pub mod http3;
pub mod init;
pub mod kv_cli;
pub mod kv_config;
pub mod logging;
pub mod metrics;
pub mod router;
pub mod serve;
pub mod serve_config;
pub mod server;
pub mod tenants;
pub mod tls;
pub mod websocket;
pub mod watch;
pub mod worker_bridge;
