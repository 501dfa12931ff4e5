//! The typed errors every KV operation can return.
//!
//! Messages follow Workers KV's style ("KV put() failed: ...") and name the limit
//! that was exceeded, because they surface unchanged as JS exceptions in worker
//! code. [`KvError::is_range_error`] tells the JS binding whether to throw a
//! `RangeError` (a size or limit was exceeded) or a `TypeError` (wrong form).

use std::path::PathBuf;

use crate::limits::{
    MAX_ATOMIC_BYTES, MAX_ATOMIC_CHECKS, MAX_ATOMIC_MUTATIONS, MAX_GET_MANY_BYTES,
    MAX_GET_MANY_KEYS, MAX_KEY_BYTES, MAX_LIST_LIMIT, MAX_METADATA_BYTES,
    MAX_NAMESPACE_NAME_BYTES, MAX_VALUE_BYTES,
};

/// Everything that can go wrong in a KV operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KvError {
    /// A key was the empty string.
    #[error("KV {op}() failed: key names must not be empty")]
    EmptyKey {
        /// The operation that was called (`get`, `put`, ...).
        op: &'static str,
    },
    /// A key was longer than [`MAX_KEY_BYTES`] bytes of UTF-8.
    #[error("KV {op}() failed: key length {len} exceeds the limit of {MAX_KEY_BYTES} bytes")]
    KeyTooLong {
        /// The operation that was called.
        op: &'static str,
        /// The key's length in bytes.
        len: usize,
    },
    /// A key was `.` or `..`, which Workers KV reserves.
    #[error("KV {op}() failed: \"{key}\" is not allowed as a key name")]
    ReservedKey {
        /// The operation that was called.
        op: &'static str,
        /// The rejected key.
        key: String,
    },
    /// A value was larger than [`MAX_VALUE_BYTES`].
    #[error(
        "KV put() failed: value length {len} exceeds the limit of {MAX_VALUE_BYTES} bytes (25 MiB)"
    )]
    ValueTooLarge {
        /// The value's length in bytes.
        len: usize,
    },
    /// A value was larger than the store can hold in one write: on the
    /// replicated backend, the NATS servers' `max_payload` (1 MiB unless
    /// configured higher) caps a value below Workers' 25 MiB.
    #[error(
        "KV put() failed: value length {len} exceeds the limit of {limit} bytes of this store (the NATS servers' max_payload; set max_payload to 32MB on every server for the full 25 MiB)"
    )]
    ValueTooLargeForStore {
        /// The value's length in bytes.
        len: usize,
        /// The largest value the store accepts.
        limit: usize,
    },
    /// Serialized metadata was larger than [`MAX_METADATA_BYTES`].
    #[error(
        "KV put() failed: metadata length {len} exceeds the limit of {MAX_METADATA_BYTES} bytes serialized"
    )]
    MetadataTooLarge {
        /// The serialized metadata's length in bytes.
        len: usize,
    },
    /// Metadata was not valid JSON text.
    #[error("KV put() failed: metadata must be JSON-serializable ({reason})")]
    InvalidMetadata {
        /// Why parsing failed.
        reason: String,
    },
    /// An expiration was 0, in the past, or an `expirationTtl` was 0.
    #[error("KV put() failed: invalid expiration: {reason}")]
    InvalidExpiration {
        /// What was wrong with it.
        reason: String,
    },
    /// Both `expiration` and `expirationTtl` were given.
    #[error("KV put() failed: specify either expiration or expirationTtl, not both")]
    ConflictingExpiration,
    /// A multi-key get asked for more than [`MAX_GET_MANY_KEYS`] keys.
    #[error(
        "KV get() failed: {count} keys requested, the limit is {MAX_GET_MANY_KEYS} keys per call"
    )]
    TooManyKeys {
        /// How many keys were requested.
        count: usize,
    },
    /// The values a multi-key get would return add up to more than
    /// [`MAX_GET_MANY_BYTES`]. Reported as soon as the running total passes the
    /// limit, so the full total is not known.
    #[error(
        "KV get() failed: the values requested add up to more than {MAX_GET_MANY_BYTES} bytes (25 MiB), the limit of one multi-key get; read large values one key at a time"
    )]
    GetManyTooLarge,
    /// A list limit was 0 or above [`MAX_LIST_LIMIT`].
    #[error(
        "KV list() failed: limit {limit} is invalid; it must be between 1 and {MAX_LIST_LIMIT}"
    )]
    InvalidListLimit {
        /// The requested limit.
        limit: usize,
    },
    /// A list prefix was longer than [`MAX_KEY_BYTES`].
    #[error("KV list() failed: prefix length {len} exceeds the limit of {MAX_KEY_BYTES} bytes")]
    PrefixTooLong {
        /// The prefix's length in bytes.
        len: usize,
    },
    /// A list cursor was not one this store handed out.
    #[error("KV list() failed: invalid cursor")]
    InvalidCursor,
    /// An atomic operation had more than [`MAX_ATOMIC_CHECKS`] checks.
    #[error("KV atomic() failed: {count} checks exceed the limit of {MAX_ATOMIC_CHECKS}")]
    TooManyChecks {
        /// How many checks were given.
        count: usize,
    },
    /// An atomic operation had more than [`MAX_ATOMIC_MUTATIONS`] mutations.
    #[error("KV atomic() failed: {count} mutations exceed the limit of {MAX_ATOMIC_MUTATIONS}")]
    TooManyMutations {
        /// How many mutations were given.
        count: usize,
    },
    /// The values of one atomic operation add up to more than [`MAX_ATOMIC_BYTES`].
    #[error(
        "KV atomic() failed: values totalling {len} bytes exceed the limit of {MAX_ATOMIC_BYTES} bytes (25 MiB) per commit"
    )]
    AtomicTooLarge {
        /// The values' total length in bytes.
        len: usize,
    },
    /// A namespace name was empty, too long, or used characters outside `[A-Za-z0-9_-]`.
    #[error(
        "invalid KV namespace name {name:?}: it must be 1 to {MAX_NAMESPACE_NAME_BYTES} characters of [A-Za-z0-9_-]"
    )]
    InvalidNamespaceName {
        /// The rejected name.
        name: String,
    },
    /// Another process (or another `KvStore` in this process) holds the store file.
    #[error(
        "KV store {} is in use by another brink process; stop that process or use a different --data-dir",
        path.display()
    )]
    StoreLocked {
        /// The store file that is locked.
        path: PathBuf,
    },
    /// The data directory could not be created.
    #[error("cannot create KV data directory {}: {source}", path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A command that only reads found no store to read (and created none).
    #[error("no KV store at {}", path.display())]
    NoStore {
        /// The data directory (or store file) that does not exist.
        path: PathBuf,
    },
    /// The store file exists but is not a readable store: empty, truncated,
    /// garbled, or not a redb file. Brink refuses to use it rather than
    /// overwrite what may be the only copy of the data.
    #[error(
        "KV store {} is corrupted ({reason}); brink will not use or overwrite it: restore it from a backup, or move it aside to start with an empty store",
        path.display()
    )]
    Corrupted {
        /// The store file.
        path: PathBuf,
        /// What is wrong with it, as far as it could be told.
        reason: String,
    },
    /// The store file could not be opened (permissions, I/O).
    #[error("cannot open KV store {}: {source}", path.display())]
    OpenFailed {
        /// The store file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A stored record could not be decoded.
    #[error("KV storage error: corrupt record for key {key:?}")]
    CorruptRecord {
        /// The key (namespace-qualified) whose record is damaged.
        key: String,
    },
    /// The storage backend failed (I/O, a full disk, a network error in a
    /// replicated backend, ...).
    #[error("KV storage error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl KvError {
    /// True when the error is a size or limit violation, which the JS binding
    /// throws as `RangeError`; false for wrong types and formats (`TypeError`)
    /// and for storage failures.
    pub fn is_range_error(&self) -> bool {
        matches!(
            self,
            KvError::KeyTooLong { .. }
                | KvError::ValueTooLarge { .. }
                | KvError::ValueTooLargeForStore { .. }
                | KvError::MetadataTooLarge { .. }
                | KvError::InvalidExpiration { .. }
                | KvError::TooManyKeys { .. }
                | KvError::InvalidListLimit { .. }
                | KvError::PrefixTooLong { .. }
                | KvError::TooManyChecks { .. }
                | KvError::TooManyMutations { .. }
                | KvError::GetManyTooLarge
                | KvError::AtomicTooLarge { .. }
        )
    }

    /// True when the error comes from the caller's input rather than from storage;
    /// such operations wrote nothing.
    pub fn is_invalid_input(&self) -> bool {
        !matches!(
            self,
            KvError::StoreLocked { .. }
                | KvError::DataDir { .. }
                | KvError::NoStore { .. }
                | KvError::Corrupted { .. }
                | KvError::OpenFailed { .. }
                | KvError::CorruptRecord { .. }
                | KvError::Backend(_)
        )
    }

    /// Wraps any backend error.
    pub fn backend(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        KvError::Backend(err.into())
    }
}
