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
use std::fs::OpenOptions;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use bytes::Bytes;
use redb::backends::FileBackend;
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::backend::{KvBackend, ListQuery, ListSlice, NamespaceBackend, StoredWrite};
use crate::executor::{blocking, KvFuture};
use crate::error::KvError;
use crate::limits::is_expired;
use crate::panic_guard;
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
///
/// After an I/O error (a full disk, say) redb refuses every later
/// transaction on the same handle, so the backend drops the handle and opens
/// the file again on the next operation: once the cause is gone, writes
/// succeed again without a restart. Acknowledged writes were fsynced before
/// they were acknowledged and survive the reopen (redb repairs the file to its
/// last complete commit).
pub struct RedbBackend {
    /// `None` only between dropping a failed handle and a successful reopen.
    db: RwLock<Option<Database>>,
    needs_reopen: AtomicBool,
    path: PathBuf,
    #[cfg(test)]
    fail_writes: Option<FailWrites>,
    queue: Mutex<CommitQueue>,
    committed: Condvar,
    /// Write transactions committed (each may hold many callers' commits).
    transactions: AtomicU64,
    #[cfg(test)]
    hooks: TestHooks,
}

/// Test hooks on the group commit.
#[cfg(test)]
#[derive(Default)]
struct TestHooks {
    /// The committer waits until this many commits are queued before taking
    /// a batch, so a test can prove that they share one transaction.
    min_batch: std::sync::atomic::AtomicUsize,
    /// The committer panics once, outside redb, after claiming the batch.
    panic_once: AtomicBool,
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

/// True when `error` came from an I/O failure, after which redb needs the
/// database reopened.
fn is_io_failure(error: &KvError) -> bool {
    match error {
        KvError::Backend(source) => matches!(
            source.downcast_ref::<redb::Error>(),
            Some(redb::Error::Io(_) | redb::Error::PreviousIo)
        ),
        _ => false,
    }
}

fn corrupted(path: &Path, reason: impl Into<String>) -> KvError {
    KvError::Corrupted {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Classifies a redb error met while opening or probing the file: damage is
/// [`KvError::Corrupted`], everything else keeps its own kind.
fn open_error(path: &Path, error: redb::Error) -> KvError {
    match error {
        redb::Error::DatabaseAlreadyOpen => KvError::StoreLocked {
            path: path.to_owned(),
        },
        redb::Error::Corrupted(reason) => corrupted(path, reason),
        // redb reports a wrong magic number as InvalidData and a file shorter
        // than its header as UnexpectedEof.
        redb::Error::Io(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            corrupted(path, "it is not a redb database file, or its header is damaged")
        }
        redb::Error::Io(source) => KvError::OpenFailed {
            path: path.to_owned(),
            source,
        },
        redb::Error::TableDoesNotExist(table) => corrupted(
            path,
            format!("it is not a Brink KV store: table {table:?} is missing"),
        ),
        other => KvError::backend(other),
    }
}

/// A commit's error, copied for every commit that shared its transaction.
/// Re-wrapping the error's own text would repeat the "KV storage error:" prefix.
fn share(error: &KvError) -> KvError {
    match error {
        KvError::Corrupted { path, reason } => corrupted(path, reason.clone()),
        KvError::CorruptRecord { key } => KvError::CorruptRecord { key: key.clone() },
        KvError::Backend(source) => KvError::backend(source.to_string()),
        other => KvError::backend(other.to_string()),
    }
}

/// Test hook: while set, every write, resize and sync of the store file fails
/// with `ENOSPC`, as on a full disk; reads still work.
#[cfg(test)]
#[derive(Clone, Default, Debug)]
pub(crate) struct FailWrites(pub(crate) std::sync::Arc<AtomicBool>);

#[cfg(test)]
#[derive(Debug)]
struct FailingFile {
    inner: FileBackend,
    fail: FailWrites,
}

#[cfg(test)]
impl FailingFile {
    fn check(&self) -> std::io::Result<()> {
        if self.fail.0.load(Ordering::SeqCst) {
            Err(std::io::Error::from_raw_os_error(28))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
impl redb::StorageBackend for FailingFile {
    fn len(&self) -> std::io::Result<u64> {
        self.inner.len()
    }
    fn read(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        self.inner.read(offset, len)
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.check()?;
        self.inner.set_len(len)
    }
    fn sync_data(&self, eventual: bool) -> std::io::Result<()> {
        self.check()?;
        self.inner.sync_data(eventual)
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.check()?;
        self.inner.write(offset, data)
    }
}

/// Whether [`RedbBackend`] may create a missing store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    CreateIfMissing,
    ExistingOnly,
}

impl RedbBackend {
    /// Opens the redb file at `path`, creating it if it does not exist.
    ///
    /// Fails with [`KvError::StoreLocked`] when another process or another
    /// open handle in this process holds it, and with [`KvError::Corrupted`]
    /// when the file exists but is not a readable store — including a
    /// zero-length file: an existing file is never reinitialised.
    pub fn open(path: &Path) -> Result<Self, KvError> {
        Self::open_mode(path, Mode::CreateIfMissing)
    }

    /// Like [`RedbBackend::open`], but fails with [`KvError::NoStore`] instead
    /// of creating a missing file; for commands that only read.
    pub fn open_existing(path: &Path) -> Result<Self, KvError> {
        Self::open_mode(path, Mode::ExistingOnly)
    }

    fn open_mode(path: &Path, mode: Mode) -> Result<Self, KvError> {
        let backend = RedbBackend {
            db: RwLock::new(None),
            needs_reopen: AtomicBool::new(false),
            path: path.to_owned(),
            #[cfg(test)]
            fail_writes: None,
            queue: Mutex::new(CommitQueue::default()),
            committed: Condvar::new(),
            transactions: AtomicU64::new(0),
            #[cfg(test)]
            hooks: TestHooks::default(),
        };
        backend.first_open(mode)
    }

    /// Opens `path` with writes failing while `fail` is set (see [`FailWrites`]).
    #[cfg(test)]
    pub(crate) fn open_with_failing_writes(path: &Path, fail: FailWrites) -> Result<Self, KvError> {
        let backend = RedbBackend {
            db: RwLock::new(None),
            needs_reopen: AtomicBool::new(false),
            path: path.to_owned(),
            fail_writes: Some(fail),
            queue: Mutex::new(CommitQueue::default()),
            committed: Condvar::new(),
            transactions: AtomicU64::new(0),
            #[cfg(test)]
            hooks: TestHooks::default(),
        };
        backend.first_open(Mode::CreateIfMissing)
    }

    fn first_open(self, mode: Mode) -> Result<Self, KvError> {
        match std::fs::metadata(&self.path) {
            Ok(meta) if !meta.is_file() => {
                return Err(corrupted(&self.path, "it is not a regular file"))
            }
            Ok(meta) if meta.len() == 0 => {
                return Err(corrupted(&self.path, "the file is empty"))
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match mode {
                Mode::ExistingOnly => {
                    return Err(KvError::NoStore {
                        path: self.path.clone(),
                    })
                }
                Mode::CreateIfMissing => create_store_file(&self.path)?,
            },
            Err(source) => {
                return Err(KvError::OpenFailed {
                    path: self.path.clone(),
                    source,
                })
            }
        }
        let db = self.open_database()?;
        *self.db.write().map_err(|_| poisoned())? = Some(db);
        Ok(self)
    }

    /// Opens the existing, non-empty file and reads its table roots, so a
    /// damaged file is reported now rather than on some later request.
    fn open_database(&self) -> Result<Database, KvError> {
        let path = self.path.as_path();
        let opened = panic_guard::catch(|| -> Result<Database, KvError> {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .map_err(|source| KvError::OpenFailed {
                    path: path.to_owned(),
                    source,
                })?;
            let file = FileBackend::new(file).map_err(|e| open_error(path, e.into()))?;
            let builder = {
                let mut builder = Database::builder();
                builder.set_cache_size(REDB_CACHE_BYTES);
                builder
            };
            #[cfg(test)]
            let db = match &self.fail_writes {
                Some(fail) => builder.create_with_backend(FailingFile {
                    inner: file,
                    fail: fail.clone(),
                }),
                None => builder.create_with_backend(file),
            };
            #[cfg(not(test))]
            let db = builder.create_with_backend(file);
            let db = db.map_err(|e| open_error(path, e.into()))?;
            probe(&db).map_err(|e| open_error(path, e))?;
            Ok(db)
        });
        match opened {
            Ok(result) => result,
            Err(panic) => {
                tracing::debug!(path = %path.display(), %panic, "redb failed an internal check while opening the KV store");
                Err(corrupted(path, "its internal structures are damaged"))
            }
        }
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write transactions committed since the store was opened. With group
    /// commit, concurrent writes share transactions, so this grows slower
    /// than the number of writes under load.
    pub fn write_transactions(&self) -> u64 {
        self.transactions.load(Ordering::Relaxed)
    }

    /// Runs `work` on the open database: first reopening it if an earlier
    /// operation failed with an I/O error (or hit damage), and turning a
    /// panic inside redb into [`KvError::Corrupted`].
    fn with_db<T>(&self, work: impl FnOnce(&Database) -> Result<T, KvError>) -> Result<T, KvError> {
        if self.needs_reopen.load(Ordering::Acquire) {
            self.reopen()?;
        }
        let guard = self.db.read().map_err(|_| poisoned())?;
        let Some(db) = guard.as_ref() else {
            // Only after a failed reopen, which left `needs_reopen` set.
            return Err(KvError::backend("the store is closed after a storage error"));
        };
        match panic_guard::catch(|| work(db)) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                if is_io_failure(&error) {
                    tracing::warn!(path = %self.path.display(), %error, "KV storage I/O error; the store will be reopened on the next operation");
                    self.needs_reopen.store(true, Ordering::Release);
                }
                Err(error)
            }
            Err(panic) => {
                tracing::error!(path = %self.path.display(), %panic, "redb failed an internal check; the KV store file is damaged");
                self.needs_reopen.store(true, Ordering::Release);
                Err(corrupted(&self.path, "a read found damaged data"))
            }
        }
    }

    /// Drops the current handle (releasing the file lock) and opens the file
    /// again. On failure the store stays closed and the next operation retries.
    fn reopen(&self) -> Result<(), KvError> {
        let mut guard = self.db.write().map_err(|_| poisoned())?;
        if !self.needs_reopen.load(Ordering::Acquire) {
            return Ok(()); // another thread reopened it while we waited
        }
        if let Some(old) = guard.take() {
            // Its drop tries to write and may fail or assert on a broken handle.
            let _ = panic_guard::catch(move || drop(old));
        }
        let db = self.open_database()?;
        *guard = Some(db);
        self.needs_reopen.store(false, Ordering::Release);
        tracing::info!(path = %self.path.display(), "KV store reopened after a storage error");
        Ok(())
    }

    /// Applies `batch` in order in one write transaction: each commit's
    /// checks see the writes of the commits before it, a commit whose check
    /// fails writes nothing, and each commit that writes gets its own version.
    /// Any storage error fails the whole batch, with nothing written.
    fn commit_batch(db: &Database, batch: &[QueuedCommit]) -> Result<Vec<AtomicOutcome>, KvError> {
        let txn = db.begin_write()?;
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

/// Held by the thread committing a batch; on drop (normal or unwinding) it
/// publishes the batch's results, or an error for each commit if none were
/// produced, clears `committing` and wakes the waiters.
struct CommitterGuard<'a> {
    backend: &'a RedbBackend,
    tickets: Vec<u64>,
    results: Option<Result<Vec<AtomicOutcome>, KvError>>,
}

impl Drop for CommitterGuard<'_> {
    fn drop(&mut self) {
        // A poisoned lock still holds a usable queue: the state it guards is
        // only ever changed in whole steps.
        let mut queue = match self.backend.queue.lock() {
            Ok(queue) => queue,
            Err(poisoned) => poisoned.into_inner(),
        };
        match self.results.take() {
            Some(Ok(outcomes)) => {
                for (ticket, outcome) in self.tickets.iter().zip(outcomes) {
                    queue.done.insert(*ticket, Ok(outcome));
                }
            }
            Some(Err(error)) => {
                for ticket in &self.tickets {
                    queue.done.insert(*ticket, Err(share(&error)));
                }
            }
            None => {
                tracing::error!(commits = self.tickets.len(), "KV group commit failed unexpectedly; its writes were not applied");
                for ticket in &self.tickets {
                    queue.done.insert(*ticket, Err(KvError::backend("the commit failed unexpectedly; nothing was written")));
                }
            }
        }
        queue.committing = false;
        self.backend.committed.notify_all();
    }
}

fn poisoned() -> KvError {
    KvError::backend("the KV store's lock was poisoned by a panic")
}

/// Reads the root of every table, which is where damage to a cleanly closed
/// file shows first. Runs once per open, so the large error type costs nothing.
#[allow(clippy::result_large_err)]
fn probe(db: &Database) -> Result<(), redb::Error> {
    let txn = db.begin_read()?;
    let entries = txn.open_table(ENTRIES)?;
    entries.first()?;
    entries.last()?;
    let values = txn.open_table(VALUES)?;
    values.first()?;
    let expiry = txn.open_table(EXPIRY)?;
    expiry.first()?;
    txn.open_table(META)?.get(VERSION_KEY)?;
    Ok(())
}

/// Creates an empty store with all its tables at `path`.
///
/// The store is built under a temporary name and then linked into place, so
/// `path` never exists half-made: a crash during creation must not leave an
/// empty `kv.redb`, which the next start would (rightly) refuse as corrupted.
fn create_store_file(path: &Path) -> Result<(), KvError> {
    let io_error = |source| KvError::OpenFailed {
        path: path.to_owned(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| STORE_FILE_NAME.to_owned());
    let temp = path.with_file_name(format!(".{name}.new-{}", std::process::id()));
    let _ = std::fs::remove_file(&temp);
    let built = (|| -> Result<(), KvError> {
        let db = Database::builder()
            .create(&temp)
            .map_err(|e| open_error(path, e.into()))?;
        let txn = db.begin_write()?;
        txn.open_table(ENTRIES)?;
        txn.open_table(VALUES)?;
        txn.open_table(EXPIRY)?;
        txn.open_table(META)?;
        txn.commit()?;
        drop(db);
        std::fs::File::open(&temp)
            .and_then(|f| f.sync_all())
            .map_err(io_error)?;
        match std::fs::hard_link(&temp, path) {
            Ok(()) => Ok(()),
            // Another process created the store first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            // A file system without hard links: rename may replace a store
            // created in the meantime, but only by an equally empty one.
            Err(_) => std::fs::rename(&temp, path).map_err(io_error),
        }
    })();
    let _ = std::fs::remove_file(&temp);
    built?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Make the new directory entry durable too.
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
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
    max_value_bytes: usize,
) -> Result<Option<KvEntry>, KvError> {
    let Some(header) = entries.get(rk)? else {
        return Ok(None);
    };
    let header = Header::decode(header.value(), rk)?;
    if is_expired(header.expiration, now_ms) {
        return Ok(None);
    }
    let value = match values.get(rk)? {
        // Checked before copying, so a multi-key get over budget stops
        // without holding every value at once.
        Some(v) if v.value().len() > max_value_bytes => return Err(KvError::GetManyTooLarge),
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
    fn namespace(self: Arc<Self>, name: &str) -> Result<Arc<dyn NamespaceBackend>, KvError> {
        Ok(Arc::new(RedbNamespace { backend: self, name: name.into() }))
    }

    fn reclaim_expired(&self, now_ms: u64) -> Result<usize, KvError> {
        self.with_db(|db| Self::reclaim_in(db, now_ms))
    }

    fn stored_entries(&self) -> Result<u64, KvError> {
        self.with_db(|db| {
            let txn = db.begin_read()?;
            Ok(txn.open_table(ENTRIES)?.len()?)
        })
    }
}

/// One namespace of the embedded store. redb's calls block (a commit waits
/// for its fsync), so each operation runs on the KV blocking pool.
struct RedbNamespace {
    backend: Arc<RedbBackend>,
    name: Arc<str>,
}

impl NamespaceBackend for RedbNamespace {
    fn get(&self, key: String, now_ms: u64) -> KvFuture<Option<KvEntry>> {
        let (backend, name) = (self.backend.clone(), self.name.clone());
        blocking(move || backend.get(&name, &key, now_ms))
    }

    fn get_many(&self, keys: Vec<String>, now_ms: u64, max_total_bytes: usize) -> KvFuture<Vec<Option<KvEntry>>> {
        let (backend, name) = (self.backend.clone(), self.name.clone());
        blocking(move || backend.get_many(&name, &keys, now_ms, max_total_bytes))
    }

    fn list(&self, query: ListQuery, now_ms: u64) -> KvFuture<ListSlice> {
        let (backend, name) = (self.backend.clone(), self.name.clone());
        blocking(move || backend.with_db(|db| RedbBackend::list_in(db, &name, &query, now_ms)))
    }

    fn commit(&self, checks: Vec<AtomicCheck>, writes: Vec<StoredWrite>, now_ms: u64) -> KvFuture<AtomicOutcome> {
        let (backend, name) = (self.backend.clone(), self.name.clone());
        blocking(move || backend.enqueue_commit(&name, checks, writes, now_ms))
    }
}

impl RedbBackend {
    fn get(&self, namespace: &str, key: &str, now_ms: u64) -> Result<Option<KvEntry>, KvError> {
        self.with_db(|db| {
            let txn = db.begin_read()?;
            let entries = txn.open_table(ENTRIES)?;
            let values = txn.open_table(VALUES)?;
            read_entry(&entries, &values, &record_key(namespace, key), now_ms, usize::MAX)
        })
    }

    fn get_many(
        &self,
        namespace: &str,
        keys: &[String],
        now_ms: u64,
        max_total_bytes: usize,
    ) -> Result<Vec<Option<KvEntry>>, KvError> {
        self.with_db(|db| {
            let txn = db.begin_read()?;
            let entries = txn.open_table(ENTRIES)?;
            let values = txn.open_table(VALUES)?;
            let mut budget = max_total_bytes;
            let mut out = Vec::with_capacity(keys.len());
            for key in keys {
                let entry = read_entry(&entries, &values, &record_key(namespace, key), now_ms, budget)?;
                if let Some(entry) = &entry {
                    budget -= entry.value.len(); // read_entry checked it fits
                }
                out.push(entry);
            }
            Ok(out)
        })
    }
}

impl RedbBackend {
    fn list_in(
        db: &Database,
        namespace: &str,
        query: &ListQuery,
        now_ms: u64,
    ) -> Result<ListSlice, KvError> {
        let txn = db.begin_read()?;
        let entries = txn.open_table(ENTRIES)?;
        let prefix = record_key(namespace, &query.prefix);
        let start = match query.start_after.as_deref() {
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

    fn enqueue_commit(
        &self,
        namespace: &str,
        checks: Vec<AtomicCheck>,
        writes: Vec<StoredWrite>,
        now_ms: u64,
    ) -> Result<AtomicOutcome, KvError> {
        let mut queue = self.queue.lock().map_err(|_| poisoned())?;
        let ticket = queue.next_ticket;
        queue.next_ticket += 1;
        queue.pending.push(QueuedCommit {
            ticket,
            namespace: namespace.to_owned(),
            checks,
            writes,
            now_ms,
        });
        loop {
            if let Some(result) = queue.done.remove(&ticket) {
                return result;
            }
            if !queue.committing {
                // Commit everything queued so far, ours included.
                queue.committing = true;
                #[cfg(test)]
                {
                    let want = self.hooks.min_batch.load(Ordering::SeqCst);
                    while queue.pending.len() < want {
                        queue = self.committed.wait(queue).map_err(|_| poisoned())?;
                    }
                }
                let batch = std::mem::take(&mut queue.pending);
                drop(queue);
                // Whatever happens from here on (a panic included), the guard
                // releases the committer's role and answers every commit of
                // the batch; otherwise every later writer would wait forever.
                let mut guard = CommitterGuard {
                    backend: self,
                    tickets: batch.iter().map(|c| c.ticket).collect(),
                    results: None,
                };
                #[cfg(test)]
                if self.hooks.panic_once.swap(false, Ordering::SeqCst) {
                    panic!("test hook: group commit panicked");
                }
                let outcome = self.with_db(|db| Self::commit_batch(db, &batch));
                if outcome.as_ref().is_ok_and(|outcomes| outcomes.iter().any(|o| o.version.is_some())) {
                    self.transactions.fetch_add(1, Ordering::Relaxed);
                }
                guard.results = Some(outcome);
                drop(guard);
                queue = self.queue.lock().map_err(|_| poisoned())?;
                continue;
            }
            #[cfg(test)]
            self.committed.notify_all(); // a committer held by `min_batch` counts the queue
            queue = self.committed.wait(queue).map_err(|_| poisoned())?;
        }
    }

    fn reclaim_in(db: &Database, now_ms: u64) -> Result<usize, KvError> {
        // Every expiry-index key below `upper` has expiration <= now_ms / 1000,
        // i.e. expiration * 1000 <= now_ms.
        let upper = (now_ms / 1000).saturating_add(1).to_be_bytes();
        let mut reclaimed = 0;
        loop {
            let txn = db.begin_write()?;
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
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    use std::time::Duration;

    use super::{FailWrites, RedbBackend, STORE_FILE_NAME};
    use crate::{KvError, KvOptions, KvStore, PutOptions};

    fn options() -> KvOptions {
        KvOptions {
            cache_max_bytes: 0,
            reclaim_interval: Duration::ZERO,
        }
    }

    fn text(store: &Arc<KvStore>, key: &str) -> Option<String> {
        let kv = store.blocking_namespace("KV").ok()?;
        kv.get(key, None)
            .ok()?
            .map(|e| String::from_utf8_lossy(&e.value).into_owned())
    }

    fn assert_disk_full(error: &KvError) {
        let msg = error.to_string();
        assert!(msg.contains("No space left on device"), "{msg}");
        assert!(msg.matches("KV storage error").count() <= 1, "repeated prefix: {msg}");
        assert!(!error.is_invalid_input(), "{msg}");
    }

    #[test]
    fn writes_recover_after_a_transient_io_error_without_losing_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STORE_FILE_NAME);
        let fail = FailWrites::default();
        let backend = Arc::new(RedbBackend::open_with_failing_writes(&path, fail.clone()).unwrap());
        let store = KvStore::with_backend(backend, options()).unwrap();
        let kv = store.blocking_namespace("KV").unwrap();
        kv.put("before", "1".into(), PutOptions::default()).unwrap();

        fail.0.store(true, Ordering::SeqCst);
        assert_disk_full(&kv.put("during", "2".into(), PutOptions::default()).unwrap_err());
        // While the disk stays full, later writes fail the same clear way,
        // including several that share one group commit.
        assert_disk_full(&kv.delete("before").unwrap_err());
        let writers: Vec<_> = (0..4)
            .map(|i| {
                let kv = kv.clone();
                std::thread::spawn(move || kv.put(&format!("w{i}"), "x".into(), PutOptions::default()))
            })
            .collect();
        for writer in writers {
            assert_disk_full(&writer.join().unwrap().unwrap_err());
        }

        // Space is back: the store reopens itself and the next write succeeds.
        fail.0.store(false, Ordering::SeqCst);
        kv.put("after", "3".into(), PutOptions::default()).unwrap();
        assert_eq!(text(&store, "before").as_deref(), Some("1"));
        assert_eq!(text(&store, "during"), None);
        assert_eq!(text(&store, "after").as_deref(), Some("3"));
        drop(kv);
        drop(store);

        // Everything acknowledged is on disk for the next process.
        let store = KvStore::open(dir.path(), options()).unwrap();
        assert_eq!(text(&store, "before").as_deref(), Some("1"));
        assert_eq!(text(&store, "after").as_deref(), Some("3"));
        assert_eq!(text(&store, "w0"), None);
    }

    #[test]
    fn concurrent_writes_share_one_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(RedbBackend::open(&dir.path().join(STORE_FILE_NAME)).unwrap());
        const WRITERS: usize = 16;
        // The committer takes its batch only once every writer has queued.
        backend.hooks.min_batch.store(WRITERS, Ordering::SeqCst);
        let store = KvStore::with_backend(backend.clone(), options()).unwrap();
        let kv = store.blocking_namespace("KV").unwrap();
        let before = backend.write_transactions();
        let writers: Vec<_> = (0..WRITERS)
            .map(|i| {
                let kv = kv.clone();
                std::thread::spawn(move || kv.put(&format!("k{i}"), "v".into(), PutOptions::default()))
            })
            .collect();
        let versions: std::collections::HashSet<u64> =
            writers.into_iter().map(|w| w.join().unwrap().unwrap()).collect();
        assert_eq!(versions.len(), WRITERS, "each write keeps its own version");
        assert_eq!(backend.write_transactions() - before, 1, "{WRITERS} concurrent writes, one transaction");
        for i in 0..WRITERS {
            assert_eq!(text(&store, &format!("k{i}")).as_deref(), Some("v"));
        }
    }

    #[test]
    fn a_panicking_committer_does_not_block_later_writers() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(RedbBackend::open(&dir.path().join(STORE_FILE_NAME)).unwrap());
        let store = KvStore::with_backend(backend.clone(), options()).unwrap();
        let kv = store.blocking_namespace("KV").unwrap();
        backend.hooks.panic_once.store(true, Ordering::SeqCst);
        let doomed = {
            let kv = kv.clone();
            std::thread::spawn(move || kv.put("lost", "x".into(), PutOptions::default()))
        };
        // The panic stays on the store's thread; the writer gets an error.
        assert!(doomed.join().unwrap().is_err(), "the committer panicked");
        // The next writer becomes the committer instead of waiting forever.
        let (done, finished) = std::sync::mpsc::channel();
        let next = kv.clone();
        std::thread::spawn(move || {
            let _ = done.send(next.put("after", "y".into(), PutOptions::default()));
        });
        let result = finished.recv_timeout(Duration::from_secs(60)).expect("a later put hung");
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(text(&store, "after").as_deref(), Some("y"));
        assert_eq!(text(&store, "lost"), None);
    }

    #[test]
    fn reads_during_an_outage_fail_clearly_and_recover() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STORE_FILE_NAME);
        let fail = FailWrites::default();
        let backend = Arc::new(RedbBackend::open_with_failing_writes(&path, fail.clone()).unwrap());
        let store = KvStore::with_backend(backend, options()).unwrap();
        let kv = store.blocking_namespace("KV").unwrap();
        kv.put("a", "1".into(), PutOptions::default()).unwrap();
        fail.0.store(true, Ordering::SeqCst);
        assert!(kv.put("b", "2".into(), PutOptions::default()).is_err());
        // Reopening repairs the file, which needs to write; the hook fails
        // every write (a real full disk usually still lets redb overwrite
        // pages it already has), so the read reports the outage.
        assert_disk_full(&kv.get("a", None).unwrap_err());
        fail.0.store(false, Ordering::SeqCst);
        assert_eq!(text(&store, "a").as_deref(), Some("1"));
        kv.put("b", "2".into(), PutOptions::default()).unwrap();
        assert_eq!(text(&store, "b").as_deref(), Some("2"));
    }
}
