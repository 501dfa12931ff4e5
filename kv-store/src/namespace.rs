//! [`KvNamespace`]: the Workers-KV operations on one namespace, as a worker's
//! `env.MY_KV` binding sees them. Validates input, resolves expirations, and
//! routes reads through the read cache.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::backend::{ListQuery, StoredWrite};
use crate::clock::unix_millis_now;
use crate::cursor;
use crate::error::KvError;
use crate::limits::{
    resolve_expiration, resolve_list_limit, validate_key, validate_metadata, validate_value,
    MAX_ATOMIC_BYTES, MAX_ATOMIC_CHECKS, MAX_ATOMIC_MUTATIONS, MAX_GET_MANY_BYTES,
    MAX_GET_MANY_KEYS, MAX_KEY_BYTES,
};
use crate::store::KvStore;
use crate::types::{
    AtomicOperation, AtomicOutcome, KvEntry, ListOptions, ListPage, Mutation, PutOptions,
};

/// One namespace of a [`KvStore`]. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct KvNamespace {
    store: Arc<KvStore>,
    name: Arc<str>,
}

impl std::fmt::Debug for KvNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvNamespace")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl KvNamespace {
    pub(crate) fn new(store: Arc<KvStore>, name: &str) -> Self {
        KvNamespace {
            store,
            name: name.into(),
        }
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads `key`. With `cache_ttl = Some(t)` the answer may come from the
    /// process's read cache if it was read less than `t` ago (and the entry has
    /// not expired since); with `None` the store is read and the cache refreshed.
    pub fn get(&self, key: &str, cache_ttl: Option<Duration>) -> Result<Option<KvEntry>, KvError> {
        validate_key("get", key)?;
        let now_ms = unix_millis_now();
        let cache = &self.store.cache;
        if let Some(max_age) = cache_ttl {
            if let Some(hit) = cache.lookup(&self.name, key, max_age, now_ms) {
                return Ok(hit);
            }
        }
        let ticket = cache.begin_fill(&self.name, key);
        let entry = self.store.backend.get(&self.name, key, now_ms)?;
        cache.fill(ticket, entry.clone());
        Ok(entry)
    }

    /// Reads `key` with `consistency: "strong"`: from the authoritative copy
    /// (on the replicated backend, the stream's leader in the cluster), never
    /// from the read cache or a POP's local index. The answer is not cached.
    pub fn get_strong(&self, key: &str) -> Result<Option<KvEntry>, KvError> {
        validate_key("get", key)?;
        self.store.backend.get_strong(&self.name, key, unix_millis_now())
    }

    /// [`KvNamespace::get_many`] with `consistency: "strong"` (see
    /// [`KvNamespace::get_strong`]); the same limits apply.
    pub fn get_many_strong(&self, keys: &[String]) -> Result<Vec<Option<KvEntry>>, KvError> {
        if keys.len() > MAX_GET_MANY_KEYS {
            return Err(KvError::TooManyKeys { count: keys.len() });
        }
        for key in keys {
            validate_key("get", key)?;
        }
        let now_ms = unix_millis_now();
        let mut total = 0usize;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let entry = self.store.backend.get_strong(&self.name, key, now_ms)?;
            total = total.saturating_add(entry.as_ref().map_or(0, |e| e.value.len()));
            if total > MAX_GET_MANY_BYTES {
                return Err(KvError::GetManyTooLarge);
            }
            out.push(entry);
        }
        Ok(out)
    }

    /// Answers `get(key, Some(max_age))` from the read cache alone: `None`
    /// when the cache cannot answer (the caller then does a full `get`).
    /// Never touches storage, so it is cheap enough for the isolate thread.
    pub fn get_cached(&self, key: &str, max_age: Duration) -> Result<Option<Option<KvEntry>>, KvError> {
        validate_key("get", key)?;
        Ok(self.store.cache.lookup(&self.name, key, max_age, unix_millis_now()))
    }

    /// Reads up to 100 keys; results are in the order of `keys`. Fails with
    /// [`KvError::GetManyTooLarge`] when the values found add up to more than
    /// [`MAX_GET_MANY_BYTES`] (25 MiB).
    pub fn get_many(
        &self,
        keys: &[String],
        cache_ttl: Option<Duration>,
    ) -> Result<Vec<Option<KvEntry>>, KvError> {
        if keys.len() > MAX_GET_MANY_KEYS {
            return Err(KvError::TooManyKeys { count: keys.len() });
        }
        for key in keys {
            validate_key("get", key)?;
        }
        let now_ms = unix_millis_now();
        let cache = &self.store.cache;
        let mut results: Vec<Option<KvEntry>> = vec![None; keys.len()];
        let mut misses = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            match cache_ttl.and_then(|t| cache.lookup(&self.name, key, t, now_ms)) {
                Some(hit) => results[i] = hit,
                None => misses.push(i),
            }
        }
        let cached_bytes = results
            .iter()
            .flatten()
            .fold(0usize, |sum, entry| sum.saturating_add(entry.value.len()));
        let Some(budget) = MAX_GET_MANY_BYTES.checked_sub(cached_bytes) else {
            return Err(KvError::GetManyTooLarge);
        };
        if misses.is_empty() {
            return Ok(results);
        }
        let tickets: Vec<_> = misses
            .iter()
            .map(|&i| cache.begin_fill(&self.name, &keys[i]))
            .collect();
        let miss_keys: Vec<&str> = misses.iter().map(|&i| keys[i].as_str()).collect();
        let fetched = self
            .store
            .backend
            .get_many(&self.name, &miss_keys, now_ms, budget)?;
        for ((i, ticket), entry) in misses.into_iter().zip(tickets).zip(fetched) {
            cache.fill(ticket, entry.clone());
            results[i] = entry;
        }
        Ok(results)
    }

    /// Stores `value` under `key`; returns the new version. Durable on return.
    pub fn put(&self, key: &str, value: Bytes, options: PutOptions) -> Result<u64, KvError> {
        let now_ms = unix_millis_now();
        let write = validated_put("put", key.to_owned(), value, options, now_ms)?;
        let outcome = self
            .store
            .backend
            .commit(&self.name, &[], &[write], now_ms)?;
        self.store.cache.invalidate(&self.name, key);
        outcome
            .version
            .ok_or_else(|| KvError::backend("backend committed a put without a version"))
    }

    /// Removes `key`; succeeds whether or not it existed.
    pub fn delete(&self, key: &str) -> Result<(), KvError> {
        validate_key("delete", key)?;
        let write = StoredWrite::Delete {
            key: key.to_owned(),
        };
        self.store
            .backend
            .commit(&self.name, &[], &[write], unix_millis_now())?;
        self.store.cache.invalidate(&self.name, key);
        Ok(())
    }

    /// Lists keys in byte order, a page at a time. Always reads the store.
    pub fn list(&self, options: ListOptions) -> Result<ListPage, KvError> {
        let limit = resolve_list_limit(options.limit)?;
        let prefix = options.prefix.unwrap_or_default();
        if prefix.len() > MAX_KEY_BYTES {
            return Err(KvError::PrefixTooLong { len: prefix.len() });
        }
        let start_after = match options.cursor.as_deref() {
            None | Some("") => None,
            Some(c) => Some(cursor::decode(c)?),
        };
        let query = ListQuery {
            prefix: &prefix,
            start_after: start_after.as_deref(),
            limit,
        };
        let slice = self
            .store
            .backend
            .list(&self.name, query, unix_millis_now())?;
        let cursor = match (slice.more, slice.keys.last()) {
            (true, Some(last)) => Some(cursor::encode(&last.name)),
            _ => None,
        };
        Ok(ListPage {
            list_complete: cursor.is_none(),
            keys: slice.keys,
            cursor,
        })
    }

    /// Applies `op` all-or-nothing (at most [`MAX_ATOMIC_BYTES`] of values in
    /// all, else [`KvError::AtomicTooLarge`]): if every check matches the key's current
    /// version (`None` = must be absent; expired keys are absent), every mutation
    /// is written with one new version. `ok: false` means nothing was written.
    pub fn atomic(&self, op: AtomicOperation) -> Result<AtomicOutcome, KvError> {
        if op.checks.len() > MAX_ATOMIC_CHECKS {
            return Err(KvError::TooManyChecks {
                count: op.checks.len(),
            });
        }
        if op.mutations.len() > MAX_ATOMIC_MUTATIONS {
            return Err(KvError::TooManyMutations {
                count: op.mutations.len(),
            });
        }
        let value_bytes = op
            .mutations
            .iter()
            .map(|m| match m {
                Mutation::Set { value, .. } => value.len(),
                Mutation::Delete { .. } => 0,
            })
            .fold(0usize, usize::saturating_add);
        if value_bytes > MAX_ATOMIC_BYTES {
            return Err(KvError::AtomicTooLarge { len: value_bytes });
        }
        for check in &op.checks {
            validate_key("atomic", &check.key)?;
        }
        let now_ms = unix_millis_now();
        let writes = op
            .mutations
            .into_iter()
            .map(|m| match m {
                Mutation::Set {
                    key,
                    value,
                    options,
                } => validated_put("atomic", key, value, options, now_ms),
                Mutation::Delete { key } => {
                    validate_key("atomic", &key)?;
                    Ok(StoredWrite::Delete { key })
                }
            })
            .collect::<Result<Vec<_>, KvError>>()?;
        let outcome = self
            .store
            .backend
            .commit(&self.name, &op.checks, &writes, now_ms)?;
        if outcome.ok {
            for write in &writes {
                self.store.cache.invalidate(&self.name, write.key());
            }
        }
        Ok(outcome)
    }
}

fn validated_put(
    op: &'static str,
    key: String,
    value: Bytes,
    options: PutOptions,
    now_ms: u64,
) -> Result<StoredWrite, KvError> {
    validate_key(op, &key)?;
    validate_value(value.len())?;
    validate_metadata(options.metadata.as_deref())?;
    let expiration = resolve_expiration(&options, now_ms)?;
    Ok(StoredWrite::Put {
        key,
        value,
        expiration,
        metadata: options.metadata,
    })
}
