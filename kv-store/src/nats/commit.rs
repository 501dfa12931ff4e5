//! Commits on the replicated backend: checks read from the stream's leader,
//! writes published as one message or one atomic batch, with optimistic
//! concurrency headers so the server refuses the commit if a checked key (or,
//! for checks on keys the commit does not write, anything in the namespace)
//! changed after it was read. A refused commit is re-evaluated from the
//! start, so its outcome is exactly what a serial execution would give.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use bytes::Bytes;
use serde::Deserialize;

use super::codec;
use super::error::NatsError;
use super::index::{Applied, AppliedPut};
use super::{NamespaceState, Shared};
use crate::backend::StoredWrite;
use crate::error::KvError;
use crate::types::{AtomicCheck, AtomicOutcome};

/// JetStream's error code for a failed `Nats-Expected-Last-*Sequence` check.
const WRONG_LAST_SEQUENCE: u64 = 10071;
/// A TTL longer than this (about 68 years) is left to the local expiry alone:
/// the server's duration type would overflow.
const MAX_SERVER_TTL_SECS: u64 = i32::MAX as u64;

/// The server's answer to a publish.
#[derive(Debug, Deserialize)]
struct PubAckReply {
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    count: Option<u64>,
    #[serde(default)]
    error: Option<ApiError>,
}

#[derive(Debug, Deserialize)]
struct ApiError {
    #[serde(default)]
    err_code: u64,
    #[serde(default)]
    description: String,
}

/// One message of a commit.
struct Outgoing {
    subject: String,
    headers: HeaderMap,
    payload: Bytes,
}

enum Published {
    /// Stored; the sequence of the last message.
    Stored(u64),
    /// An expected-sequence header did not hold: re-evaluate.
    Conflict,
}

/// Keeps the last write of each key, in the order of those last writes: the
/// final state is the same, and a batch then never holds one subject twice.
fn collapse(writes: Vec<StoredWrite>) -> Vec<StoredWrite> {
    let mut last: HashMap<String, usize> = HashMap::new();
    for (i, write) in writes.iter().enumerate() {
        last.insert(write.key().to_owned(), i);
    }
    writes
        .into_iter()
        .enumerate()
        .filter(|(i, write)| last.get(write.key()) == Some(i))
        .map(|(_, write)| write)
        .collect()
}

fn ttl_header(expiration: u64, now_ms: u64) -> Option<String> {
    let remaining_ms = expiration.saturating_mul(1000).saturating_sub(now_ms);
    // One second of slack: the server counts from when it stores the message,
    // a little after `now_ms`, and must never drop a key before its expiration.
    let secs = remaining_ms.div_ceil(1000).saturating_add(1);
    (secs <= MAX_SERVER_TTL_SECS).then(|| format!("{secs}s"))
}

/// Runs one commit; see the module docs.
pub(crate) async fn commit(
    shared: &Shared,
    state: &NamespaceState,
    checks: Vec<AtomicCheck>,
    writes: Vec<StoredWrite>,
    now_ms: u64,
) -> Result<AtomicOutcome, KvError> {
    let writes = collapse(writes);
    for write in &writes {
        if let StoredWrite::Put { value, metadata, .. } = write {
            let limit = shared.max_value_bytes(metadata.as_deref());
            if value.len() > limit {
                return Err(KvError::ValueTooLargeForStore { len: value.len(), limit });
            }
        }
    }
    let written: HashSet<&str> = writes.iter().map(StoredWrite::key).collect();
    let needs_fence = checks.iter().any(|c| !written.contains(c.key.as_str()));
    let timeout = shared.options.request_timeout;
    let deadline = Instant::now() + timeout * 2;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let fence = if needs_fence && !writes.is_empty() {
            let mut stream = shared.stream(state).await?;
            match stream.info().await {
                Ok(info) => Some(info.state.last_sequence),
                // A timeout or a stream between leaders: safe to repeat.
                Err(error) if Instant::now() < deadline => {
                    tracing::debug!(namespace = %state.name, %error, "KV: reading the namespace's last sequence failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                Err(_) => {
                    return Err(NatsError::Unavailable { what: "reading the namespace's last sequence", timeout: timeout * 2 }.into())
                }
            }
        } else {
            None
        };
        let mut raw_sequences: HashMap<&str, u64> = HashMap::new();
        for check in &checks {
            let (raw, entry) = shared.read_strong(state, &check.key, now_ms).await?;
            if entry.map(|e| e.version) != check.version {
                return Ok(AtomicOutcome { ok: false, version: None });
            }
            raw_sequences.insert(check.key.as_str(), raw);
        }
        if writes.is_empty() {
            return Ok(AtomicOutcome { ok: true, version: None });
        }
        let mut outgoing = Vec::with_capacity(writes.len());
        for (i, write) in writes.iter().enumerate() {
            let mut headers = HeaderMap::new();
            let payload = match write {
                StoredWrite::Put { value, expiration, metadata, .. } => {
                    if let Some(ttl) = expiration.and_then(|at| ttl_header(at, now_ms)) {
                        headers.insert(async_nats::header::NATS_MESSAGE_TTL, ttl.as_str());
                    }
                    codec::encode_put(value, *expiration, metadata.as_deref())
                }
                StoredWrite::Delete { .. } => codec::encode_delete(),
            };
            if let Some(raw) = raw_sequences.get(write.key()) {
                headers.insert(
                    async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
                    raw.to_string().as_str(),
                );
            }
            // All writes of the commit share the version of its last message.
            let rest = writes.len() - 1 - i;
            if rest > 0 {
                headers.insert(codec::COMMIT_REST_HEADER, rest.to_string().as_str());
            }
            if let (0, Some(fence)) = (i, fence) {
                headers.insert(async_nats::header::NATS_EXPECTED_LAST_SEQUENCE, fence.to_string().as_str());
            }
            outgoing.push(Outgoing {
                subject: codec::subject(&state.name, write.key()),
                headers,
                payload,
            });
        }
        let published = if outgoing.len() == 1 {
            publish_one(shared, state, outgoing.remove(0), deadline).await?
        } else {
            publish_batch(shared, state, outgoing, deadline).await?
        };
        match published {
            Published::Stored(last) => {
                apply_locally(shared, state, &writes, last).await;
                return Ok(AtomicOutcome { ok: true, version: Some(last) });
            }
            Published::Conflict if Instant::now() < deadline => {
                tracing::debug!(namespace = %state.name, attempts, "KV: commit raced another write; re-checking");
            }
            Published::Conflict => return Err(NatsError::Contention { attempts }.into()),
        }
    }
}

/// Applies a stored commit to the POP's index at once (read-your-writes); the
/// watcher would apply the same messages a moment later.
async fn apply_locally(shared: &Shared, state: &NamespaceState, writes: &[StoredWrite], last: u64) {
    let applied: Vec<Applied> = writes
        .iter()
        .map(|write| Applied {
            sequence: last,
            key: write.key().to_owned(),
            put: match write {
                StoredWrite::Put { value, expiration, metadata, .. } => Some(AppliedPut {
                    value: value.clone(),
                    expiration: *expiration,
                    metadata: metadata.clone(),
                }),
                StoredWrite::Delete { .. } => None,
            },
        })
        .collect();
    match shared.applier.apply(state.name.as_str().into(), applied, None).await {
        Ok(changed) => shared.invalidate(&state.name, &changed),
        // The write is stored in the cluster; the watcher will apply it.
        Err(error) => tracing::warn!(namespace = %state.name, %error, "KV: could not apply an acknowledged write to the local index"),
    }
}

/// Nobody listens on the namespace's subjects: its stream was deleted (an
/// operator, say). Make it again, as a first use would.
async fn recreate_stream(shared: &Shared, state: &NamespaceState) {
    shared.forget_stream(state).await;
    if let Err(error) = shared.stream(state).await {
        tracing::debug!(namespace = %state.name, %error, "KV: the namespace's stream could not be made again yet");
    }
}

fn attempt_timeout(shared: &Shared) -> Duration {
    (shared.options.request_timeout / 2).max(Duration::from_secs(1))
}

fn read_ack(reply: &async_nats::Message) -> Result<Published, KvError> {
    let ack: PubAckReply = serde_json::from_slice(&reply.payload).map_err(|error| NatsError::Request {
        what: "read the publish acknowledgement",
        reason: error.to_string(),
    })?;
    match ack.error {
        None => Ok(Published::Stored(ack.seq)),
        Some(error) if error.err_code == WRONG_LAST_SEQUENCE || error.description.contains("wrong last sequence") => {
            Ok(Published::Conflict)
        }
        Some(error) => Err(NatsError::Request {
            what: "store the write",
            reason: error.description,
        }
        .into()),
    }
}

/// Publishes one message, retrying while the stream has no leader. The
/// retries carry the same `Nats-Msg-Id`, so a first attempt that was stored
/// but whose acknowledgement was lost is not stored twice.
async fn publish_one(
    shared: &Shared,
    state: &NamespaceState,
    mut message: Outgoing,
    deadline: Instant,
) -> Result<Published, KvError> {
    let id = nuid::next().to_string();
    message.headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
    loop {
        let request = async_nats::Request::new()
            .headers(message.headers.clone())
            .payload(message.payload.clone())
            .timeout(Some(attempt_timeout(shared)));
        match shared.client.send_request(message.subject.clone(), request).await {
            Ok(reply) => return read_ack(&reply),
            Err(error)
                if matches!(
                    error.kind(),
                    async_nats::RequestErrorKind::TimedOut | async_nats::RequestErrorKind::NoResponders
                ) =>
            {
                if Instant::now() >= deadline {
                    return Err(NatsError::Unavailable {
                        what: "storing a write",
                        timeout: shared.options.request_timeout * 2,
                    }
                    .into());
                }
                tracing::debug!(kind = ?error.kind(), "KV: no acknowledgement yet; retrying the write");
                if error.kind() == async_nats::RequestErrorKind::NoResponders {
                    recreate_stream(shared, state).await;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => {
                return Err(NatsError::Request {
                    what: "store the write",
                    reason: error.to_string(),
                }
                .into())
            }
        }
    }
}

/// Publishes messages as one JetStream atomic batch: the server stores all
/// of them once the last (`Nats-Batch-Commit`) arrives, or none.
async fn publish_batch(
    shared: &Shared,
    state: &NamespaceState,
    messages: Vec<Outgoing>,
    deadline: Instant,
) -> Result<Published, KvError> {
    let count = messages.len();
    loop {
        let batch_id = nuid::next().to_string();
        let mut reply = None;
        for (i, message) in messages.iter().enumerate() {
            let mut headers = message.headers.clone();
            headers.insert(async_nats::header::NATS_BATCH_ID, batch_id.as_str());
            headers.insert(async_nats::header::NATS_BATCH_SEQUENCE, (i + 1).to_string().as_str());
            if i + 1 < count {
                shared
                    .client
                    .publish_with_headers(message.subject.clone(), headers, message.payload.clone())
                    .await
                    .map_err(|error| NatsError::Request {
                        what: "send a batched write",
                        reason: error.to_string(),
                    })?;
            } else {
                headers.insert(async_nats::header::NATS_BATCH_COMMIT, async_nats::header::NATS_BATCH_COMMIT_FINAL);
                let request = async_nats::Request::new()
                    .headers(headers)
                    .payload(message.payload.clone())
                    .timeout(Some(attempt_timeout(shared)));
                reply = Some(shared.client.send_request(message.subject.clone(), request).await);
            }
        }
        match reply {
            Some(Ok(reply)) => {
                let published = read_ack(&reply)?;
                if let Published::Stored(_) = published {
                    let ack: Option<PubAckReply> = serde_json::from_slice(&reply.payload).ok();
                    if let Some(stored) = ack.and_then(|a| a.count) {
                        if stored != count as u64 {
                            return Err(NatsError::Request {
                                what: "store a batch",
                                reason: format!("the server stored {stored} of {count} messages"),
                            }
                            .into());
                        }
                    }
                }
                return Ok(published);
            }
            // Nobody listened: nothing was stored, so the batch can be sent again.
            Some(Err(error)) if error.kind() == async_nats::RequestErrorKind::NoResponders => {
                if Instant::now() >= deadline {
                    return Err(NatsError::Unavailable {
                        what: "storing a batch",
                        timeout: shared.options.request_timeout * 2,
                    }
                    .into());
                }
                recreate_stream(shared, state).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Some(Err(error)) if error.kind() == async_nats::RequestErrorKind::TimedOut => {
                return Err(NatsError::OutcomeUnknown {
                    timeout: attempt_timeout(shared),
                }
                .into())
            }
            Some(Err(error)) => {
                return Err(NatsError::Request {
                    what: "store a batch",
                    reason: error.to_string(),
                }
                .into())
            }
            // Unreachable: a batch has at least two messages, the last sent as a request.
            None => {
                return Err(NatsError::Request {
                    what: "store a batch",
                    reason: "the batch had no commit message".to_owned(),
                }
                .into())
            }
        }
    }
}
