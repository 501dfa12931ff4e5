//! The ops behind the globals and bindings a worker sees. One file per API.

pub mod blob_store;
pub mod cache;
pub mod console;
pub mod crypto_extras;
pub mod forwarding;
pub mod headers;
pub mod html_rewriter;
pub mod kv;
pub mod outbound_fetch;
pub mod request;
pub mod websocket;
