//! The watcher of one namespace: an ordered JetStream consumer that starts
//! right after the sequence the local index last applied, applies every
//! message to the index (in batches, one redb transaction each, together with
//! the new watermark) and invalidates the read cache for the keys it changed.
//!
//! Any error (a disconnect, a server restart, the consumer vanishing) ends
//! the consumer; the watcher then starts a new one from the watermark, so no
//! message is skipped and none is applied out of order.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{self, DeliverPolicy};
use futures::{FutureExt, StreamExt};

use super::codec;
use super::index::{Applied, AppliedPut};
use super::{NamespaceState, Shared};

/// Most messages applied in one index transaction.
const APPLY_BATCH: usize = 512;
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How long a watcher waits for a message before checking that its stream
/// is still the one it started on (a stream deleted and made again restarts
/// its sequences, and the ordered consumer would silently wait past them)
/// and that it is not behind the stream (its consumer died with a server).
const IDLE_CHECK: Duration = Duration::from_secs(3);

/// Runs the watcher of `state` until the backend's runtime shuts down.
pub(crate) async fn run(shared: Arc<Shared>, state: Arc<NamespaceState>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match follow(&shared, &state).await {
            Ok(()) => backoff = Duration::from_millis(100),
            Err(reason) => {
                tracing::warn!(namespace = %state.name, pop = %shared.options.pop, %reason, "KV: watch stream interrupted; resuming from the last applied sequence");
                // The stream may be gone (deleted by an operator): look it up
                // (or create it) again next time rather than reuse the handle.
                shared.forget_stream(&state).await;
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Follows the stream from the watermark until something fails.
async fn follow(shared: &Shared, state: &NamespaceState) -> Result<(), String> {
    let stream = shared.stream(state).await.map_err(|e| e.to_string())?;
    let mut probe = stream.clone();
    let created = stream
        .clone()
        .info()
        .await
        .map_err(|e| format!("stream info: {e}"))?
        .created
        .unix_timestamp_nanos();
    let dropped = tokio::task::block_in_place(|| shared.index.adopt_stream_epoch(&state.name, created))
        .map_err(|e| format!("local index: {e}"))?;
    if let Some(keys) = dropped {
        tracing::warn!(namespace = %state.name, pop = %shared.options.pop, dropped = keys.len(), "KV: the namespace's stream was deleted and created again; the local index starts over");
        shared.invalidate(&state.name, &keys);
    }
    let start = shared
        .index
        .watermark(&state.name)
        .map_err(|e| e.to_string())?
        .saturating_add(1);
    let mut consumer = stream
        .create_consumer(consumer::pull::OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: start },
            ..Default::default()
        })
        .await
        .map_err(|e| format!("create consumer: {e}"))?;
    let pending = consumer
        .info()
        .await
        .map(|info| info.num_pending)
        .map_err(|e| format!("consumer info: {e}"))?;
    if pending == 0 {
        state.mark_caught_up();
    }
    tracing::debug!(namespace = %state.name, start, pending, "KV: watching");
    let mut messages = consumer.messages().await.map_err(|e| format!("consume: {e}"))?;
    loop {
        let first = match tokio::time::timeout(IDLE_CHECK, messages.next()).await {
            Ok(Some(first)) => first,
            Ok(None) => return Err("the consumer ended".to_owned()),
            Err(_) => {
                let info = probe.info().await.map_err(|e| format!("stream info: {e}"))?;
                if info.created.unix_timestamp_nanos() != created {
                    return Err("the stream was deleted and created again".to_owned());
                }
                // An ordered consumer lives on one server; when that server
                // dies the consumer can sit idle while the stream moves on.
                let applied = shared.index.watermark(&state.name).map_err(|e| e.to_string())?;
                if info.state.last_sequence > applied {
                    return Err(format!(
                        "the consumer stalled at sequence {applied} while the stream is at {}",
                        info.state.last_sequence
                    ));
                }
                continue;
            }
        };
        let mut batch = vec![first.map_err(|e| e.to_string())?];
        while batch.len() < APPLY_BATCH {
            match messages.next().now_or_never() {
                Some(Some(Ok(message))) => batch.push(message),
                Some(Some(Err(error))) => return Err(error.to_string()),
                Some(None) | None => break,
            }
        }
        let mut applied = Vec::with_capacity(batch.len());
        let mut last = 0;
        let mut caught_up = false;
        for message in &batch {
            let info = message.info().map_err(|e| format!("message info: {e}"))?;
            last = info.stream_sequence;
            caught_up = info.pending == 0;
            let subject = message.subject.as_str();
            let Some(key) = codec::key_of_subject(&state.name, subject) else {
                tracing::warn!(namespace = %state.name, subject, "KV: ignoring a message on a subject Brink does not write");
                continue;
            };
            // Records are ordered by version; the watermark stays the raw sequence.
            let version = codec::version(last, message.headers.as_ref());
            match codec::decode(&message.payload, subject) {
                Ok(codec::Record::Put { value, expiration, metadata }) => applied.push(Applied {
                    sequence: version,
                    key,
                    put: Some(AppliedPut { value, expiration, metadata }),
                }),
                Ok(codec::Record::Delete) => applied.push(Applied { sequence: version, key, put: None }),
                Err(error) => {
                    tracing::warn!(namespace = %state.name, subject, %error, "KV: ignoring a message Brink cannot decode");
                }
            }
        }
        let changed = shared
            .applier
            .apply(state.name.as_str().into(), applied, Some(last))
            .await
            .map_err(|e| format!("apply to the local index: {e}"))?;
        shared.invalidate(&state.name, &changed);
        if caught_up {
            state.mark_caught_up();
        }
    }
}
