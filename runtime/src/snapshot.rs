//! The startup snapshot: a serialized blank isolate (Web APIs and Brink's
//! bootstrap loaded) that new isolates are restored from instead of running
//! the bootstrap.
//!
//! Only the `v8` engine uses it. On `quickjs`, snapshots do not keep the
//! identity of unique symbols, which deno_web relies on (docs/architecture.md), so
//! isolates run the bootstrap and the pre-warmed pool hides its cost.
//!
//! V8 can run in snapshotting mode or in serving mode, not both in one
//! process, so the snapshot is made by a child process: the `brink` binary
//! re-run as `brink __make-startup-snapshot PATH` (see
//! [`SNAPSHOT_SUBCOMMAND`] and [`write_startup_snapshot`]). If that fails,
//! isolates fall back to running the bootstrap, which is always correct.

/// The hidden subcommand a binary embedding this crate must route to
/// [`write_startup_snapshot`].
pub const SNAPSHOT_SUBCOMMAND: &str = "__make-startup-snapshot";

/// Makes the startup snapshot and writes it to `path`.
pub fn write_startup_snapshot(path: &std::path::Path) -> Result<(), crate::WorkerError> {
    let bytes = crate::engine::make_startup_snapshot()?;
    std::fs::write(path, &bytes)
        .map_err(|e| crate::WorkerError::Engine(format!("cannot write the snapshot to {}: {e}", path.display())))
}

/// The snapshot new isolates start from, if this engine uses one.
#[cfg(feature = "v8")]
pub fn startup_snapshot() -> Option<&'static [u8]> {
    static SNAPSHOT: std::sync::OnceLock<Option<&'static [u8]>> = std::sync::OnceLock::new();
    *SNAPSHOT.get_or_init(|| match make_in_child_process() {
        Ok(bytes) => {
            tracing::info!(bytes = bytes.len(), "startup snapshot ready");
            Some(Box::leak(bytes.into_boxed_slice()))
        }
        Err(error) => {
            tracing::warn!(%error, "no startup snapshot; isolates will run the bootstrap");
            None
        }
    })
}

/// The snapshot new isolates start from, if this engine uses one.
#[cfg(not(feature = "v8"))]
pub fn startup_snapshot() -> Option<&'static [u8]> {
    None
}

#[cfg(feature = "v8")]
fn make_in_child_process() -> Result<Vec<u8>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the brink binary: {e}"))?;
    let path = std::env::temp_dir().join(format!("brink-startup-snapshot-{}.bin", std::process::id()));
    let status = std::process::Command::new(exe)
        .arg(SNAPSHOT_SUBCOMMAND)
        .arg(&path)
        .stdin(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("cannot run the snapshot process: {e}"))?;
    let result = if status.success() {
        std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    } else {
        Err(format!("the snapshot process failed with {status}"))
    };
    let _ = std::fs::remove_file(&path);
    result
}
