//! The ops behind the globals and bindings a worker sees. One file per API.

pub mod console;
pub mod outbound_fetch;
pub mod request;
