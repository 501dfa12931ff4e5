//! Logs go to stderr through `tracing`; `RUST_LOG` overrides the level.

use tracing_subscriber::EnvFilter;

/// Installs the process-wide subscriber. Safe to call more than once.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true)
        .try_init();
}
