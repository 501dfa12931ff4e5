//! The embedded backend: one redb file per data directory, durable on commit.
//!
//! Layout (all namespaces share the tables; a record key is
//! `namespace ++ 0x00 ++ key`, and namespace names never contain 0x00, so each
//! namespace is one contiguous, byte-ordered range — which is what `list` scans):
//!
//! - `entries`: record key → header (version, expiration, metadata). Kept apart
//!   from values so `list` never reads value bytes.
//! - `values`: record key → value bytes.
//! - `expiry`: `expiration (u64 big-endian) ++ record key` → (). Lets the sweep
//!   find expired records without scanning everything.
//! - `meta`: `"version"` → the last version handed out (global across namespaces).

use std::collections::HashMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use bytes::Bytes;
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::backend::{KvBackend, ListQuery, ListSlice, StoredWrite};
use crate::error::KvError;
use crate::limits::is_expired;
use crate::types::{AtomicCheck, AtomicOutcome, KvEntry, ListKey};

const ENTRIES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("entries");
const VALUES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("values");
const EXPIRY: TableDefinition<&[u8], ()> = TableDefinition::new("expiry");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const VERSION_KEY: &str = "version";

/// redb's page cache; the moka read cache in front of it does most caching.
const REDB_CACHE_BYTES: usize = 64 * 1024 * 1024;
/// Expired records removed per write transaction by the sweep, so a large
/// backlog doesn't hold the write lock for long.
const RECLAIM_BATCH: usize = 1000;

/// The file name of the store inside a data directory.
pub const STORE_FILE_NAME: &str = "kv.redb";

/// KV storage in a single redb file. Every write commits with fsync
/// (`Durability::Immediate`, redb's default). Concurrent commits share
/// transactions (group commit): whoever finds no commit in progress writes
/// everything queued so far in one transaction with one fsync, and each
/// caller returns only once the transaction holding its write is durable.
pub struct RedbBackend {
    db: Database,
    path: PathBuf,
    queue: Mutex<CommitQueue>,
    committed: Condvar,
}

/// One atomic commit waiting for a transaction.
struct QueuedCommit {
    ticket: u64,
    namespace: String,
    checks: Vec<AtomicCheck>,
    writes: Vec<StoredWrite>,
    now_ms: u64,
}

#[derive(Default)]
struct CommitQueue {
    next_ticket: u64,
    pending: Vec<QueuedCommit>,
    done: HashMap<u64, Result<AtomicOutcome, KvError>>,
    committing: bool,
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for KvError {
            fn from(err: $t) -> Self {
                KvError::backend(redb::Error::from(err))
            }
        }
    )*};
}
from_redb!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl RedbBackend {
    /// Opens (creating if needed) the redb file at `path`. Fails with
    /// [`KvError::StoreLocked`] when another process or another open handle in
    /// this process holds it.
    pub fn open(path: &Path) -> Result<Self, KvError> {
        let db = Database::builder()
            .set_cache_size(REDB_CACHE_BYTES)
            .create(path)
            .map_err(|err| match err {
                redb::DatabaseError::DatabaseAlreadyOpen => KvError::StoreLocked {
                    path: path.to_owned(),
                },
                other => KvError::backend(redb::Error::from(other)),
            })?;
        // Create every table up front so read transactions can always open them.
        let txn = db.begin_write()?;
        txn.open_table(ENTRIES)?;
        txn.open_table(VALUES)?;
        txn.open_table(EXPIRY)?;
        txn.open_table(META)?;
        txn.commit()?;
        Ok(RedbBackend {
            db,
            path: path.to_owned(),
            queue: Mutex::new(CommitQueue::default()),
            committed: Condvar::new(),
        })
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Applies `batch` in order in one write transaction: each commit's
    /// checks see the writes of the commits before it, a commit whose check
    /// fails writes nothing, and each commit that writes gets its own version.
    /// Any storage error fails the whole batch, with nothing written.
    fn commit_batch(&self, batch: &[QueuedCommit]) -> Result<Vec<AtomicOutcome>, KvError> {
        let txn = self.db.begin_write()?;
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut wrote = false;
        {
            let mut entries = txn.open_table(ENTRIES)?;
            let mut values = txn.open_table(VALUES)?;
            let mut expiry = txn.open_table(EXPIRY)?;
            let mut meta = txn.open_table(META)?;
            let mut last_version = meta.get(VERSION_KEY)?.map(|v| v.value()).unwrap_or(0);
            for commit in batch {
                let mut checks_pass = true;
                for check in &commit.checks {
                    let rk = record_key(&commit.namespace, &check.key);
                    let current = match entries.get(rk.as_slice())? {
                        Some(h) => {
                            let h = Header::decode(h.value(), &rk)?;
                            (!is_expired(h.expiration, commit.now_ms)).then_some(h.version)
                        }
                        None => None,
                    };
                    if current != check.version {
                        checks_pass = false;
                        break;
                    }
                }
                if !checks_pass {
                    outcomes.push(AtomicOutcome { ok: false, version: None });
                    continue;
                }
                if commit.writes.is_empty() {
                    outcomes.push(AtomicOutcome { ok: true, version: None });
                    continue;
                }
                let version = last_version
                    .checked_add(1)
                    .ok_or_else(|| KvError::backend("version counter exhausted"))?;
                last_version = version;
                for write in &commit.writes {
                    let rk = record_key(&commit.namespace, write.key());
                    let old_expiration = match entries.remove(rk.as_slice())? {
                        Some(old) => Header::decode(old.value(), &rk)?.expiration,
                        None => None,
                    };
                    if let Some(at) = old_expiration {
                        expiry.remove(expiry_key(at, &rk).as_slice())?;
                    }
                    match write {
                        StoredWrite::Put { value, expiration, metadata, .. } => {
                            let header = Header { version, expiration: *expiration, metadata: metadata.clone() };
                            entries.insert(rk.as_slice(), header.encode().as_slice())?;
                            values.insert(rk.as_slice(), value.as_ref())?;
                            if let Some(at) = expiration {
                                expiry.insert(expiry_key(*at, &rk).as_slice(), ())?;
                            }
                        }
                        StoredWrite::Delete { .. } => {
                            values.remove(rk.as_slice())?;
                        }
                    }
                }
                wrote = true;
                outcomes.push(AtomicOutcome { ok: true, version: Some(version) });
            }
            if wrote {
                meta.insert(VERSION_KEY, last_version)?;
            }
        }
        if wrote {
            txn.commit()?;
        } else {
            txn.abort()?;
        }
        Ok(outcomes)
    }
}

fn record_key(namespace: &str, key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(namespace.len() + 1 + key.len());
    out.extend_from_slice(namespace.as_bytes());
    out.push(0);
    out.extend_from_slice(key.as_bytes());
    out
}

fn expiry_key(expiration: u64, record_key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + record_key.len());
    out.extend_from_slice(&expiration.to_be_bytes());
    out.extend_from_slice(record_key);
    out
}

/// The non-value part of a record.
struct Header {
    version: u64,
    expiration: Option<u64>,
    metadata: Option<String>,
}

impl Header {
    // Layout: version u64 LE, expiration u64 LE (0 = none), flag u8 (1 = has
    // metadata), metadata UTF-8.
    fn encode(&self) -> Vec<u8> {
        let meta = self.metadata.as_deref().unwrap_or("");
        let mut out = Vec::with_capacity(17 + meta.len());
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&self.expiration.unwrap_or(0).to_le_bytes());
        out.push(u8::from(self.metadata.is_some()));
        out.extend_from_slice(meta.as_bytes());
        out
    }

    fn decode(bytes: &[u8], record_key: &[u8]) -> Result<Header, KvError> {
        let corrupt = || KvError::CorruptRecord {
            key: String::from_utf8_lossy(record_key).replace('\0', "/"),
        };
        let version = bytes
            .get(0..8)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(corrupt)?;
        let expiration = bytes
            .get(8..16)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(corrupt)?;
        let flag = *bytes.get(16).ok_or_else(corrupt)?;
        let metadata = if flag == 1 {
            let text = std::str::from_utf8(&bytes[17..]).map_err(|_| corrupt())?;
            Some(text.to_owned())
        } else {
            None
        };
        let expiration = u64::from_le_bytes(expiration);
        Ok(Header {
            version: u64::from_le_bytes(version),
            expiration: (expiration != 0).then_some(expiration),
            metadata,
        })
    }
}

fn read_entry(
    entries: &impl ReadableTable<&'static [u8], &'static [u8]>,
    values: &impl ReadableTable<&'static [u8], &'static [u8]>,
    rk: &[u8],
    now_ms: u64,
) -> Result<Option<KvEntry>, KvError> {
    let Some(header) = entries.get(rk)? else {
        return Ok(None);
    };
    let header = Header::decode(header.value(), rk)?;
    if is_expired(header.expiration, now_ms) {
        return Ok(None);
    }
    let value = match values.get(rk)? {
        Some(v) => Bytes::copy_from_slice(v.value()),
        None => {
            return Err(KvError::CorruptRecord {
                key: String::from_utf8_lossy(rk).replace('\0', "/"),
            })
        }
    };
    Ok(Some(KvEntry {
        value,
        metadata: header.metadata,
        expiration: header.expiration,
        version: header.version,
    }))
}

impl KvBackend for RedbBackend {
    fn get(&self, namespace: &str, key: &str, now_ms: u64) -> Result<Option<KvEntry>, KvError> {
        let txn = self.db.begin_read()?;
        let entries = txn.open_table(ENTRIES)?;
        let values = txn.open_table(VALUES)?;
        read_entry(&entries, &values, &record_key(namespace, key), now_ms)
    }

    fn get_many(
        &self,
        namespace: &str,
        keys: &[&str],
        now_ms: u64,
    ) -> Result<Vec<Option<KvEntry>>, KvError> {
        let txn = self.db.begin_read()?;
        let entries = txn.open_table(ENTRIES)?;
        let values = txn.open_table(VALUES)?;
        keys.iter()
            .map(|key| read_entry(&entries, &values, &record_key(namespace, key), now_ms))
            .collect()
    }

    fn list(
        &self,
        namespace: &str,
        query: ListQuery<'_>,
        now_ms: u64,
    ) -> Result<ListSlice, KvError> {
        let txn = self.db.begin_read()?;
        let entries = txn.open_table(ENTRIES)?;
        let prefix = record_key(namespace, query.prefix);
        let start = match query.start_after {
            Some(after) => {
                let after = record_key(namespace, after);
                if after.as_slice() < prefix.as_slice() {
                    Bound::Included(prefix.clone())
                } else {
                    Bound::Excluded(after)
                }
            }
            None => Bound::Included(prefix.clone()),
        };
        let start_ref = match &start {
            Bound::Included(k) => Bound::Included(k.as_slice()),
            Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
            Bound::Unbounded => Bound::Unbounded,
        };
        let ns_len = namespace.len() + 1;
        let mut slice = ListSlice::default();
        for item in entries.range::<&[u8]>((start_ref, Bound::Unbounded))? {
            let (rk, header) = item?;
            let rk = rk.value();
            if !rk.starts_with(&prefix) {
                break;
            }
            let header = Header::decode(header.value(), rk)?;
            if is_expired(header.expiration, now_ms) {
                continue;
            }
            if slice.keys.len() == query.limit {
                slice.more = true;
                break;
            }
            let name = std::str::from_utf8(&rk[ns_len..]).map_err(|_| KvError::CorruptRecord {
                key: String::from_utf8_lossy(rk).replace('\0', "/"),
            })?;
            slice.keys.push(ListKey {
                name: name.to_owned(),
                expiration: header.expiration,
                metadata: header.metadata,
            });
        }
        Ok(slice)
    }

    fn commit(
        &self,
        namespace: &str,
        checks: &[AtomicCheck],
        writes: &[StoredWrite],
        now_ms: u64,
    ) -> Result<AtomicOutcome, KvError> {
        let poisoned = || KvError::backend("the commit queue was poisoned by a panic");
        let mut queue = self.queue.lock().map_err(|_| poisoned())?;
        let ticket = queue.next_ticket;
        queue.next_ticket += 1;
        queue.pending.push(QueuedCommit {
            ticket,
            namespace: namespace.to_owned(),
            checks: checks.to_vec(),
            writes: writes.to_vec(),
            now_ms,
        });
        loop {
            if let Some(result) = queue.done.remove(&ticket) {
                return result;
            }
            if !queue.committing {
                // Commit everything queued so far, ours included.
                queue.committing = true;
                let batch = std::mem::take(&mut queue.pending);
                drop(queue);
                let outcome = self.commit_batch(&batch);
                queue = self.queue.lock().map_err(|_| poisoned())?;
                match outcome {
                    Ok(outcomes) => {
                        for (commit, outcome) in batch.iter().zip(outcomes) {
                            queue.done.insert(commit.ticket, Ok(outcome));
                        }
                    }
                    Err(error) => {
                        let message = error.to_string();
                        for commit in &batch {
                            queue.done.insert(commit.ticket, Err(KvError::backend(message.clone())));
                        }
                    }
                }
                queue.committing = false;
                self.committed.notify_all();
                continue;
            }
            queue = self.committed.wait(queue).map_err(|_| poisoned())?;
        }
    }

    fn reclaim_expired(&self, now_ms: u64) -> Result<usize, KvError> {
        // Every expiry-index key below `upper` has expiration <= now_ms / 1000,
        // i.e. expiration * 1000 <= now_ms.
        let upper = (now_ms / 1000).saturating_add(1).to_be_bytes();
        let mut reclaimed = 0;
        loop {
            let txn = self.db.begin_write()?;
            let batch_len;
            {
                let mut expiry = txn.open_table(EXPIRY)?;
                let mut batch = Vec::new();
                for item in expiry
                    .range::<&[u8]>(..upper.as_slice())?
                    .take(RECLAIM_BATCH)
                {
                    let (k, _) = item?;
                    batch.push(k.value().to_vec());
                }
                batch_len = batch.len();
                let mut entries = txn.open_table(ENTRIES)?;
                let mut values = txn.open_table(VALUES)?;
                for index_key in batch {
                    expiry.remove(index_key.as_slice())?;
                    let Some((at, rk)) = index_key.split_first_chunk::<8>() else {
                        continue;
                    };
                    let at = u64::from_be_bytes(*at);
                    // The index may be stale only if a bug left it behind; check
                    // the record itself before deleting.
                    let still_expired = match entries.get(rk)? {
                        Some(h) => {
                            let h = Header::decode(h.value(), rk)?;
                            h.expiration == Some(at) && is_expired(h.expiration, now_ms)
                        }
                        None => false,
                    };
                    if still_expired {
                        entries.remove(rk)?;
                        values.remove(rk)?;
                        reclaimed += 1;
                    }
                }
            }
            if batch_len == 0 {
                txn.abort()?;
                break;
            }
            txn.commit()?;
            if batch_len < RECLAIM_BATCH {
                break;
            }
        }
        Ok(reclaimed)
    }

    fn stored_entries(&self) -> Result<u64, KvError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(ENTRIES)?.len()?)
    }
}
