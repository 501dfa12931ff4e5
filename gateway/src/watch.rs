//! `brink dev`'s reload on change: watches every file of the worker's
//! module graph and, when one changes, builds the new bundle, starts the
//! new version's worker and swaps it into the route table. The server
//! stays up throughout; an edit that does not bundle or load is logged and
//! the last good version keeps serving.
//!
//! The files are polled (their size and modification time, a few times a
//! second) rather than watched through inotify: a graph is at most a
//! thousand files, polling them costs microseconds, and it behaves the same
//! on every filesystem, editors' rename-into-place saves included.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use brink_runtime::bundle::module_files;
use brink_runtime::{ModuleBundle, Worker, WorkerError};

use crate::router::{RouteTable, Routing};

/// How often the graph's files are checked.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Size and modification time of each file of a module graph, as last seen.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot(Vec<(PathBuf, Option<(u64, SystemTime)>)>);

impl Snapshot {
    fn of(files: Vec<PathBuf>) -> Snapshot {
        Snapshot(
            files
                .into_iter()
                .map(|file| {
                    let stat = std::fs::metadata(&file).ok().and_then(|m| Some((m.len(), m.modified().ok()?)));
                    (file, stat)
                })
                .collect(),
        )
    }

    fn files(&self) -> Vec<PathBuf> {
        self.0.iter().map(|(file, _)| file.clone()).collect()
    }
}

/// Starts a version's worker from its bundle (what `brink dev` does at
/// start, with the next version number).
pub type StartWorker = Arc<
    dyn Fn(ModuleBundle, u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Worker, WorkerError>> + Send>>
        + Send
        + Sync,
>;

/// Watches `entry`'s module graph until `stop` turns true, reloading the
/// worker behind `router` on every change.
pub async fn run(entry: PathBuf, router: Arc<Routing>, start: StartWorker, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut seen = walk(&entry).await;
    let mut version = 0;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        let files = seen.files();
        let now = tokio::task::spawn_blocking(move || Snapshot::of(files)).await.unwrap_or(Snapshot(Vec::new()));
        if now == seen {
            continue;
        }
        // Something changed: the graph itself may have (a new import), so
        // walk it again, and let a burst of saves settle first.
        tokio::time::sleep(Duration::from_millis(50)).await;
        seen = walk(&entry).await;
        version += 1;
        reload(&entry, &router, &start, version).await;
    }
}

async fn walk(entry: &Path) -> Snapshot {
    let entry = entry.to_path_buf();
    tokio::task::spawn_blocking(move || Snapshot::of(module_files(&entry)))
        .await
        .unwrap_or(Snapshot(Vec::new()))
}

async fn reload(entry: &Path, router: &Arc<Routing>, start: &StartWorker, version: u64) {
    let path = entry.to_path_buf();
    let bundled = tokio::task::spawn_blocking(move || ModuleBundle::from_entry_file(&path)).await;
    let bundle = match bundled {
        Ok(Ok(bundle)) => bundle,
        Ok(Err(error)) => return reload_failed(entry, &error),
        Err(error) => return reload_failed(entry, &error),
    };
    let started = std::time::Instant::now();
    match start(bundle, version).await {
        Ok(worker) => {
            let old = router.replace(RouteTable::catch_all(Arc::new(worker)));
            tracing::info!(entry = %entry.display(), version, load_ms = started.elapsed().as_millis() as u64, "worker reloaded");
            // The old version finishes its in-flight requests, then exits.
            tokio::spawn(async move {
                for worker in old.workers() {
                    worker.shutdown().await;
                }
            });
        }
        Err(error) => reload_failed(entry, &error),
    }
}

fn reload_failed(entry: &Path, error: &dyn std::fmt::Display) {
    tracing::error!(entry = %entry.display(), %error, "reload failed; still serving the last good version");
}
