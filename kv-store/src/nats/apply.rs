//! The one thread that writes a POP's local index: the POP's own
//! acknowledged writes (for read-your-writes) and the watchers' batches both
//! queue here, and whatever has queued while a transaction ran goes into the
//! next one together. Transactions are synced to disk at most once a
//! second ([`LocalIndex::apply_all`] says why that is safe).
//!
//! Each write used to be its own redb transaction on the backend's runtime:
//! concurrent writers then queued for redb's single write lock while holding
//! the runtime's worker threads, which also carry every NATS round trip, so
//! throughput under concurrency collapsed. Now the runtime only awaits.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::index::{Applied, LocalIndex};
use crate::error::KvError;

/// Most queued batches put into one transaction.
const MAX_GROUP: usize = 256;
/// How often a transaction is synced to disk (which is also when redb frees
/// the pages of replaced records); the others are not.
const SYNC_EVERY: Duration = Duration::from_secs(1);

struct Job {
    namespace: Arc<str>,
    writes: Vec<Applied>,
    watermark: Option<u64>,
    done: tokio::sync::oneshot::Sender<Result<Vec<String>, KvError>>,
}

/// The handle to the index-writing thread; the thread ends when this drops.
pub(crate) struct Applier {
    jobs: mpsc::Sender<Job>,
}

impl Applier {
    /// Starts the thread writing `index`.
    pub(crate) fn start(index: Arc<LocalIndex>) -> Result<Applier, KvError> {
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("brink-kv-index".into())
            .spawn(move || run(&index, &queue))
            .map_err(KvError::backend)?;
        Ok(Applier { jobs })
    }

    /// Applies `writes` to `namespace` (and moves its watermark, if given);
    /// resolves with the keys whose record changed.
    pub(crate) async fn apply(
        &self,
        namespace: Arc<str>,
        writes: Vec<Applied>,
        watermark: Option<u64>,
    ) -> Result<Vec<String>, KvError> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Job { namespace, writes, watermark, done })
            .map_err(|_| KvError::backend("the local index's writer has stopped"))?;
        result
            .await
            .map_err(|_| KvError::backend("the local index's writer has stopped"))?
    }
}

fn run(index: &LocalIndex, queue: &mpsc::Receiver<Job>) {
    let mut last_sync = Instant::now();
    while let Ok(first) = queue.recv() {
        let sync = last_sync.elapsed() >= SYNC_EVERY;
        if sync {
            last_sync = Instant::now();
        }
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let batches: Vec<(&str, &[Applied], Option<u64>)> = group
            .iter()
            .map(|job| (&*job.namespace, job.writes.as_slice(), job.watermark))
            .collect();
        match index.apply_all(&batches, sync) {
            Ok(changed) => {
                for (job, changed) in group.into_iter().zip(changed) {
                    let _ = job.done.send(Ok(changed));
                }
            }
            Err(error) if group.len() == 1 => {
                if let Some(job) = group.pop() {
                    let _ = job.done.send(Err(error));
                }
            }
            // One bad batch must not fail the others it was grouped with:
            // apply each on its own.
            Err(_) => {
                for job in group {
                    let result = index.apply(&job.namespace, &job.writes, job.watermark, sync);
                    let _ = job.done.send(result);
                }
            }
        }
    }
}
