//! A POP's local copy of the replicated namespaces: one redb file holding
//! every key's latest record (value included), fed by each namespace's watch
//! stream and by the POP's own acknowledged writes. Reads, `list` with its
//! byte order and cursors, and the version a `check` compares against locally
//! all come from here.
//!
//! Each record carries the version of the write that made it (the sequence
//! of the last message of its commit, see [`super::codec`]; the "sequence"
//! fields below hold it), and a record only ever replaces one with a lower
//! version, so applying the
//! same message twice, or a watcher's older message after the POP's own newer
//! write, changes nothing. Deletes are kept as tombstones for the same reason
//! until the watch stream has passed them.
//!
//! Per namespace, `watermarks` holds the highest sequence the watch stream has
//! applied, written in the same transaction as the records: after a crash the
//! watcher resumes right after it, so nothing is skipped. Only the watcher
//! moves it; the POP's own writes may be ahead of it. Most commits skip the
//! fsync (the cluster holds the durable copy; see [`LocalIndex::apply_all`]),
//! which is what keeps a POP's write path from serializing on its own disk.

use std::ops::Bound;
use std::path::Path;

use bytes::Bytes;
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::backend::{ListQuery, ListSlice};
use crate::error::KvError;
use crate::limits::is_expired;
use crate::types::{KvEntry, ListKey};

/// `namespace ++ 0x00 ++ key` → header (sequence, kind, expiration, metadata).
const HEADERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("headers");
/// Same key → value bytes (puts only).
const VALUES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("values");
/// Namespace → the last sequence its watch stream applied.
const WATERMARKS: TableDefinition<&str, u64> = TableDefinition::new("watermarks");
/// Namespace → when its stream was created. A different time means the
/// stream was deleted and made again (sequences restart), so what the index
/// holds for the namespace no longer describes it.
const STREAM_EPOCHS: TableDefinition<&str, i128> = TableDefinition::new("stream_epochs");

/// One write to apply: the message's sequence, key and decoded record.
#[derive(Debug, Clone)]
pub(crate) struct Applied {
    pub(crate) sequence: u64,
    pub(crate) key: String,
    /// `None` for a delete.
    pub(crate) put: Option<AppliedPut>,
}

/// The put part of an [`Applied`].
#[derive(Debug, Clone)]
pub(crate) struct AppliedPut {
    pub(crate) value: Bytes,
    pub(crate) expiration: Option<u64>,
    pub(crate) metadata: Option<String>,
}

struct Header {
    sequence: u64,
    deleted: bool,
    expiration: Option<u64>,
    metadata: Option<String>,
}

impl Header {
    // sequence u64 LE, deleted u8, expiration u64 LE (0 = none), has-meta u8, metadata.
    fn encode(&self) -> Vec<u8> {
        let meta = self.metadata.as_deref().unwrap_or("");
        let mut out = Vec::with_capacity(18 + meta.len());
        out.extend_from_slice(&self.sequence.to_le_bytes());
        out.push(u8::from(self.deleted));
        out.extend_from_slice(&self.expiration.unwrap_or(0).to_le_bytes());
        out.push(u8::from(self.metadata.is_some()));
        out.extend_from_slice(meta.as_bytes());
        out
    }

    fn decode(bytes: &[u8], rk: &[u8]) -> Result<Header, KvError> {
        let corrupt = || KvError::CorruptRecord {
            key: String::from_utf8_lossy(rk).replace('\0', "/"),
        };
        let sequence = u64::from_le_bytes(bytes.get(0..8).and_then(|b| b.try_into().ok()).ok_or_else(corrupt)?);
        let deleted = *bytes.get(8).ok_or_else(corrupt)? == 1;
        let expiration = u64::from_le_bytes(bytes.get(9..17).and_then(|b| b.try_into().ok()).ok_or_else(corrupt)?);
        let metadata = match bytes.get(17) {
            Some(1) => Some(std::str::from_utf8(&bytes[18..]).map_err(|_| corrupt())?.to_owned()),
            Some(_) => None,
            None => return Err(corrupt()),
        };
        Ok(Header {
            sequence,
            deleted,
            expiration: (expiration != 0).then_some(expiration),
            metadata,
        })
    }
}

fn record_key(namespace: &str, key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(namespace.len() + 1 + key.len());
    out.extend_from_slice(namespace.as_bytes());
    out.push(0);
    out.extend_from_slice(key.as_bytes());
    out
}

fn storage(error: impl Into<redb::Error>) -> KvError {
    KvError::backend(error.into())
}

/// The local index file of one POP.
pub(crate) struct LocalIndex {
    db: Database,
}

impl LocalIndex {
    /// Opens (or creates) the index at `path`.
    pub(crate) fn open(path: &Path) -> Result<LocalIndex, KvError> {
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => KvError::StoreLocked { path: path.to_owned() },
            other => KvError::backend(redb::Error::from(other)),
        })?;
        let txn = db.begin_write().map_err(storage)?;
        txn.open_table(HEADERS).map_err(storage)?;
        txn.open_table(VALUES).map_err(storage)?;
        txn.open_table(WATERMARKS).map_err(storage)?;
        txn.open_table(STREAM_EPOCHS).map_err(storage)?;
        txn.commit().map_err(storage)?;
        Ok(LocalIndex { db })
    }

    /// The last sequence the watch stream applied to `namespace` (0: none).
    pub(crate) fn watermark(&self, namespace: &str) -> Result<u64, KvError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(WATERMARKS).map_err(storage)?;
        Ok(table.get(namespace).map_err(storage)?.map_or(0, |v| v.value()))
    }

    /// Records that `namespace`'s stream was created at `epoch` (unix
    /// nanoseconds). If the index knew another epoch, it first forgets
    /// everything it held for the namespace, watermark included, and returns
    /// the keys it dropped.
    pub(crate) fn adopt_stream_epoch(&self, namespace: &str, epoch: i128) -> Result<Option<Vec<String>>, KvError> {
        let txn = self.db.begin_write().map_err(storage)?;
        let mut dropped = None;
        {
            let mut epochs = txn.open_table(STREAM_EPOCHS).map_err(storage)?;
            let known = epochs.get(namespace).map_err(storage)?.map(|v| v.value());
            if known == Some(epoch) {
                drop(epochs);
                txn.abort().map_err(storage)?;
                return Ok(None);
            }
            if known.is_some() {
                let mut headers = txn.open_table(HEADERS).map_err(storage)?;
                let mut values = txn.open_table(VALUES).map_err(storage)?;
                let prefix = record_key(namespace, "");
                let mut doomed = Vec::new();
                for item in headers.range::<&[u8]>(prefix.as_slice()..).map_err(storage)? {
                    let (rk, _) = item.map_err(storage)?;
                    if !rk.value().starts_with(&prefix) {
                        break;
                    }
                    doomed.push(rk.value().to_vec());
                }
                let mut keys = Vec::with_capacity(doomed.len());
                for rk in doomed {
                    headers.remove(rk.as_slice()).map_err(storage)?;
                    values.remove(rk.as_slice()).map_err(storage)?;
                    keys.push(String::from_utf8_lossy(&rk[prefix.len()..]).into_owned());
                }
                txn.open_table(WATERMARKS).map_err(storage)?.remove(namespace).map_err(storage)?;
                dropped = Some(keys);
            }
            epochs.insert(namespace, epoch).map_err(storage)?;
        }
        txn.commit().map_err(storage)?;
        Ok(dropped)
    }

    /// Applies `writes` to `namespace` in one transaction, each only if newer
    /// than the key's record; with `watermark`, also records that the watch
    /// stream got that far. Returns the keys whose record changed. See
    /// [`LocalIndex::apply_all`] for `sync`.
    pub(crate) fn apply(
        &self,
        namespace: &str,
        writes: &[Applied],
        watermark: Option<u64>,
        sync: bool,
    ) -> Result<Vec<String>, KvError> {
        let mut changed = self.apply_all(&[(namespace, writes, watermark)], sync)?;
        Ok(changed.pop().unwrap_or_default())
    }

    /// [`LocalIndex::apply`] for several batches `(namespace, writes,
    /// watermark)` in one transaction, in order; returns each batch's changed keys.
    ///
    /// Without `sync` the commit is not fsynced (redb's `Durability::None`;
    /// even its `Eventual` fdatasyncs on Linux): the index is a copy of the
    /// cluster, and after a crash redb comes back at its last synced commit,
    /// whose watermark is older too, so the watcher applies everything after
    /// it again. redb frees pages only at a synced commit, so callers sync
    /// now and then (the applier: at most once a second).
    pub(crate) fn apply_all(
        &self,
        batches: &[(&str, &[Applied], Option<u64>)],
        sync: bool,
    ) -> Result<Vec<Vec<String>>, KvError> {
        let mut txn = self.db.begin_write().map_err(storage)?;
        txn.set_durability(if sync { redb::Durability::Immediate } else { redb::Durability::None });
        let mut all_changed = Vec::with_capacity(batches.len());
        {
            let mut headers = txn.open_table(HEADERS).map_err(storage)?;
            let mut values = txn.open_table(VALUES).map_err(storage)?;
            let mut marks = txn.open_table(WATERMARKS).map_err(storage)?;
            for &(namespace, writes, watermark) in batches {
                let mut changed = Vec::new();
                for write in writes {
                    let rk = record_key(namespace, &write.key);
                    let current = match headers.get(rk.as_slice()).map_err(storage)? {
                        Some(h) => Some(Header::decode(h.value(), &rk)?.sequence),
                        None => None,
                    };
                    if current.is_some_and(|seq| seq >= write.sequence) {
                        continue;
                    }
                    let header = match &write.put {
                        Some(put) => {
                            values.insert(rk.as_slice(), put.value.as_ref()).map_err(storage)?;
                            Header {
                                sequence: write.sequence,
                                deleted: false,
                                expiration: put.expiration,
                                metadata: put.metadata.clone(),
                            }
                        }
                        None => {
                            values.remove(rk.as_slice()).map_err(storage)?;
                            Header { sequence: write.sequence, deleted: true, expiration: None, metadata: None }
                        }
                    };
                    headers.insert(rk.as_slice(), header.encode().as_slice()).map_err(storage)?;
                    changed.push(write.key.clone());
                }
                if let Some(mark) = watermark {
                    let old = marks.get(namespace).map_err(storage)?.map_or(0, |v| v.value());
                    if mark > old {
                        marks.insert(namespace, mark).map_err(storage)?;
                    }
                }
                all_changed.push(changed);
            }
        }
        txn.commit().map_err(storage)?;
        Ok(all_changed)
    }

    /// Reads one key; expired and deleted keys are absent.
    pub(crate) fn get(&self, namespace: &str, key: &str, now_ms: u64) -> Result<Option<KvEntry>, KvError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let headers = txn.open_table(HEADERS).map_err(storage)?;
        let values = txn.open_table(VALUES).map_err(storage)?;
        Self::read(&headers, &values, &record_key(namespace, key), now_ms, usize::MAX)
    }

    /// Reads several keys from one snapshot, failing once their values pass `max_total_bytes`.
    pub(crate) fn get_many(
        &self,
        namespace: &str,
        keys: &[String],
        now_ms: u64,
        max_total_bytes: usize,
    ) -> Result<Vec<Option<KvEntry>>, KvError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let headers = txn.open_table(HEADERS).map_err(storage)?;
        let values = txn.open_table(VALUES).map_err(storage)?;
        let mut budget = max_total_bytes;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let entry = Self::read(&headers, &values, &record_key(namespace, key), now_ms, budget)?;
            if let Some(entry) = &entry {
                budget -= entry.value.len();
            }
            out.push(entry);
        }
        Ok(out)
    }

    fn read(
        headers: &impl ReadableTable<&'static [u8], &'static [u8]>,
        values: &impl ReadableTable<&'static [u8], &'static [u8]>,
        rk: &[u8],
        now_ms: u64,
        max_value_bytes: usize,
    ) -> Result<Option<KvEntry>, KvError> {
        let Some(header) = headers.get(rk).map_err(storage)? else {
            return Ok(None);
        };
        let header = Header::decode(header.value(), rk)?;
        if header.deleted || is_expired(header.expiration, now_ms) {
            return Ok(None);
        }
        let value = match values.get(rk).map_err(storage)? {
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
            version: header.sequence,
        }))
    }

    /// Lists live keys of `namespace` in byte order.
    pub(crate) fn list(&self, namespace: &str, query: &ListQuery, now_ms: u64) -> Result<ListSlice, KvError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let headers = txn.open_table(HEADERS).map_err(storage)?;
        let prefix = record_key(namespace, &query.prefix);
        let start = match query.start_after.as_deref() {
            Some(after) => {
                let after = record_key(namespace, after);
                if after < prefix {
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
        for item in headers.range::<&[u8]>((start_ref, Bound::Unbounded)).map_err(storage)? {
            let (rk, header) = item.map_err(storage)?;
            let rk = rk.value();
            if !rk.starts_with(&prefix) {
                break;
            }
            let header = Header::decode(header.value(), rk)?;
            if header.deleted || is_expired(header.expiration, now_ms) {
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

    /// Removes expired records, and tombstones the watch stream has passed
    /// (no older message for their key can arrive any more). Returns how many
    /// expired records were removed.
    pub(crate) fn reclaim(&self, now_ms: u64) -> Result<usize, KvError> {
        let marks: Vec<(String, u64)> = {
            let txn = self.db.begin_read().map_err(storage)?;
            let table = txn.open_table(WATERMARKS).map_err(storage)?;
            let mut out = Vec::new();
            for item in table.iter().map_err(storage)? {
                let (ns, mark) = item.map_err(storage)?;
                out.push((ns.value().to_owned(), mark.value()));
            }
            out
        };
        let txn = self.db.begin_write().map_err(storage)?;
        let mut reclaimed = 0;
        {
            let mut headers = txn.open_table(HEADERS).map_err(storage)?;
            let mut values = txn.open_table(VALUES).map_err(storage)?;
            let mut doomed = Vec::new();
            for item in headers.iter().map_err(storage)? {
                let (rk, header) = item.map_err(storage)?;
                let rk = rk.value();
                let header = Header::decode(header.value(), rk)?;
                let passed = || {
                    let ns = rk.split(|&b| b == 0).next().unwrap_or_default();
                    marks
                        .iter()
                        .any(|(name, mark)| name.as_bytes() == ns && *mark >= header.sequence)
                };
                // An expired record is kept while the watcher may still deliver
                // an older message for its key, so that message cannot resurrect it.
                if (header.deleted || is_expired(header.expiration, now_ms)) && passed() {
                    if !header.deleted {
                        reclaimed += 1;
                    }
                    doomed.push(rk.to_vec());
                }
            }
            for rk in doomed {
                headers.remove(rk.as_slice()).map_err(storage)?;
                values.remove(rk.as_slice()).map_err(storage)?;
            }
        }
        txn.commit().map_err(storage)?;
        Ok(reclaimed)
    }

    /// Records stored, live or not.
    pub(crate) fn stored_entries(&self) -> Result<u64, KvError> {
        let txn = self.db.begin_read().map_err(storage)?;
        txn.open_table(HEADERS).map_err(storage)?.len().map_err(storage)
    }
}
