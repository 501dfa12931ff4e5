//! Why the replicated backend failed, as one enum so callers (and tests) can
//! tell an unreachable cluster from a refused configuration.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::KvError;

/// A failure of the NATS JetStream backend. Surfaces to workers as
/// `KV storage error: <message>`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsError {
    /// `kv.nats.servers` was empty.
    #[error("no NATS servers configured (kv.nats.servers or --kv-nats)")]
    NoServers,
    /// No server of the list could be reached at startup.
    #[error("cannot connect to NATS at {servers}: {reason}")]
    Connect {
        /// The configured servers, comma-separated.
        servers: String,
        /// The client's reason.
        reason: String,
    },
    /// The credentials file could not be read.
    #[error("cannot read NATS credentials file {}: {reason}", path.display())]
    Credentials {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The server lacks per-message TTLs or atomic batches.
    #[error(
        "NATS server {version} is too old: Brink's replicated KV needs nats-server 2.12 or newer (per-message TTLs, atomic batch publish)"
    )]
    ServerTooOld {
        /// The version the server reported.
        version: String,
    },
    /// This POP has not reached any server of the cluster since it started
    /// (it starts anyway, and keeps trying in the background).
    #[error(
        "the replicated store is unavailable: this POP has not reached the NATS cluster at {servers} since it started{problem}; KV operations fail until it does"
    )]
    NotReached {
        /// The configured servers, comma-separated.
        servers: String,
        /// ` (last problem: ...)` when the client reported one, else empty.
        problem: String,
    },
    /// The cluster did not answer in time: unreachable, or a stream without a
    /// leader (for example while one is being elected).
    #[error("the replicated store is unavailable: no answer from the NATS cluster within {timeout:?} ({what})")]
    Unavailable {
        /// What was being done.
        what: &'static str,
        /// How long the operation waited.
        timeout: Duration,
    },
    /// A batched commit's acknowledgement was lost: the servers may or may
    /// not have stored it.
    #[error(
        "the replicated store did not confirm the commit within {timeout:?}; it may or may not have been applied"
    )]
    OutcomeUnknown {
        /// How long the commit waited.
        timeout: Duration,
    },
    /// Other writes kept changing the namespace while a commit re-checked.
    #[error("the commit was retried {attempts} times while other writes kept changing the namespace; try again")]
    Contention {
        /// Attempts made.
        attempts: u32,
    },
    /// A request failed for another reason the server or client gave.
    #[error("NATS request failed ({what}): {reason}")]
    Request {
        /// What was being done.
        what: &'static str,
        /// The reason given.
        reason: String,
    },
}

impl From<NatsError> for KvError {
    fn from(error: NatsError) -> Self {
        KvError::backend(error)
    }
}
