//! The background thread that physically deletes expired entries.
//!
//! Expired entries are already invisible to reads; sweeping only frees space.
//! The thread stops when its [`ReclaimThread`] is dropped (with the `KvStore`).

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::backend::KvBackend;
use crate::clock::unix_millis_now;

/// Handle of the running sweep thread; dropping it stops and joins the thread.
pub(crate) struct ReclaimThread {
    stop: Option<mpsc::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl ReclaimThread {
    /// Starts sweeping `backend` every `interval`.
    pub(crate) fn spawn(
        backend: Arc<dyn KvBackend>,
        interval: Duration,
    ) -> std::io::Result<ReclaimThread> {
        let (stop, stopped) = mpsc::channel::<()>();
        let handle = std::thread::Builder::new()
            .name("brink-kv-reclaim".into())
            .spawn(move || {
                // The sender is never used to send: its drop (Disconnected) is the stop signal.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    match backend.reclaim_expired(unix_millis_now()) {
                        Ok(0) => {}
                        Ok(reclaimed) => tracing::debug!(reclaimed, "kv expired entries reclaimed"),
                        Err(error) => tracing::warn!(%error, "kv expiry sweep failed"),
                    }
                }
            })?;
        Ok(ReclaimThread {
            stop: Some(stop),
            handle: Some(handle),
        })
    }
}

impl Drop for ReclaimThread {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(handle) = self.handle.take() {
            // Joining ensures the backend (and its file lock) is released once the
            // store is dropped, so the store can be reopened right away.
            if handle.join().is_err() {
                tracing::error!("kv expiry sweep thread panicked");
            }
        }
    }
}
