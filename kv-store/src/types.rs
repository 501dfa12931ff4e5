//! The values passed into and returned from KV operations.

use bytes::Bytes;

/// One stored key-value pair as returned by `get`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    /// The value's bytes; the JS binding decodes them per `{type}`.
    pub value: Bytes,
    /// Metadata as JSON text, if the writer attached any.
    pub metadata: Option<String>,
    /// When the key expires, in unix seconds.
    pub expiration: Option<u64>,
    /// The version assigned by the write that stored this entry.
    pub version: u64,
}

/// Options of `put` (and of [`Mutation::Set`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutOptions {
    /// Absolute expiration, unix seconds; must be in the future.
    pub expiration: Option<u64>,
    /// Expiration relative to now, seconds; must be at least 1.
    pub expiration_ttl: Option<u64>,
    /// Metadata as JSON text, at most 1024 bytes.
    pub metadata: Option<String>,
}

/// Options of `list`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Only keys starting with this prefix.
    pub prefix: Option<String>,
    /// Page size: 1 to 1000, default 1000.
    pub limit: Option<usize>,
    /// The `cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One page of `list`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    /// Keys in byte order.
    pub keys: Vec<ListKey>,
    /// False when more keys remain; fetch them by passing `cursor`.
    pub list_complete: bool,
    /// Opaque cursor to the next page; set only when `list_complete` is false.
    pub cursor: Option<String>,
}

/// One key in a [`ListPage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListKey {
    /// The key.
    pub name: String,
    /// When the key expires, in unix seconds.
    pub expiration: Option<u64>,
    /// Metadata as JSON text.
    pub metadata: Option<String>,
}

/// An all-or-nothing operation: if every check holds, every mutation is applied
/// with one new version; otherwise nothing is written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AtomicOperation {
    /// Conditions on current versions.
    pub checks: Vec<AtomicCheck>,
    /// Writes applied in order when every check holds.
    pub mutations: Vec<Mutation>,
}

/// A condition of an [`AtomicOperation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtomicCheck {
    /// The key to check.
    pub key: String,
    /// The version the key must have now; `None` means the key must not exist
    /// (an expired key counts as absent).
    pub version: Option<u64>,
}

/// A write of an [`AtomicOperation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    /// Store `value` under `key`.
    Set {
        /// The key.
        key: String,
        /// The value.
        value: Bytes,
        /// Expiration and metadata.
        options: PutOptions,
    },
    /// Remove `key` (no error if absent).
    Delete {
        /// The key.
        key: String,
    },
}

/// Result of an [`AtomicOperation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AtomicOutcome {
    /// False when a check failed; nothing was written then.
    pub ok: bool,
    /// The version of the committed writes; `None` when a check failed or the
    /// operation had no mutations.
    pub version: Option<u64>,
}
