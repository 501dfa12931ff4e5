//! [`KvNamespace`]: the Workers-KV operations on one namespace, as a worker's
//! `env.MY_KV` binding sees them. Validates input, resolves expirations, and
//! routes reads through the read cache. The operations are async and never
//! block the caller's thread (see [`crate::NamespaceBackend`]);
//! [`BlockingNamespace`] wraps them for plain threads (CLIs, tests).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::executor::block_on;

use crate::backend::{ListQuery, NamespaceBackend, StoredWrite};
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
    backend: Arc<dyn NamespaceBackend>,
}

impl std::fmt::Debug for KvNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvNamespace")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl KvNamespace {
    pub(crate) fn new(store: Arc<KvStore>, name: &str, backend: Arc<dyn NamespaceBackend>) -> Self {
        KvNamespace {
            store,
            name: name.into(),
            backend,
        }
    }

    /// This namespace with blocking methods, for threads outside any async
    /// runtime (a CLI, a test). Never use it on a runtime's thread.
    pub fn blocking(&self) -> BlockingNamespace {
        BlockingNamespace(self.clone())
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads `key`. With `cache_ttl = Some(t)` the answer may come from the
    /// process's read cache if it was read less than `t` ago (and the entry has
    /// not expired since); with `None` the store is read and the cache refreshed.
    pub async fn get(&self, key: &str, cache_ttl: Option<Duration>) -> Result<Option<KvEntry>, KvError> {
        validate_key("get", key)?;
        let now_ms = unix_millis_now();
        let cache = &self.store.cache;
        if let Some(max_age) = cache_ttl {
            if let Some(hit) = cache.lookup(&self.name, key, max_age, now_ms) {
                return Ok(hit);
            }
        }
        let ticket = cache.begin_fill(&self.name, key);
        let entry = self.backend.get(key.to_owned(), now_ms).await?;
        cache.fill(ticket, entry.clone());
        Ok(entry)
    }

    /// Reads `key` with `consistency: "strong"`: from the authoritative copy
    /// (on the replicated backend, the stream's leader in the cluster), never
    /// from the read cache or a POP's local index. The answer is not cached.
    pub async fn get_strong(&self, key: &str) -> Result<Option<KvEntry>, KvError> {
        validate_key("get", key)?;
        self.backend.get_strong(key.to_owned(), unix_millis_now()).await
    }

    /// [`KvNamespace::get_many`] with `consistency: "strong"` (see
    /// [`KvNamespace::get_strong`]); the same limits apply.
    pub async fn get_many_strong(&self, keys: &[String]) -> Result<Vec<Option<KvEntry>>, KvError> {
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
            let entry = self.backend.get_strong(key.clone(), now_ms).await?;
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
    pub async fn get_many(
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
        let miss_keys: Vec<String> = misses.iter().map(|&i| keys[i].clone()).collect();
        let fetched = self.backend.get_many(miss_keys, now_ms, budget).await?;
        for ((i, ticket), entry) in misses.into_iter().zip(tickets).zip(fetched) {
            cache.fill(ticket, entry.clone());
            results[i] = entry;
        }
        Ok(results)
    }

    /// Stores `value` under `key`; returns the new version. Durable on return.
    pub async fn put(&self, key: &str, value: Bytes, options: PutOptions) -> Result<u64, KvError> {
        let now_ms = unix_millis_now();
        let write = validated_put("put", key.to_owned(), value, options, now_ms)?;
        let outcome = self.backend.commit(Vec::new(), vec![write], now_ms).await?;
        self.store.cache.invalidate(&self.name, key);
        outcome
            .version
            .ok_or_else(|| KvError::backend("backend committed a put without a version"))
    }

    /// Removes `key`; succeeds whether or not it existed.
    pub async fn delete(&self, key: &str) -> Result<(), KvError> {
        validate_key("delete", key)?;
        let write = StoredWrite::Delete {
            key: key.to_owned(),
        };
        self.backend
            .commit(Vec::new(), vec![write], unix_millis_now())
            .await?;
        self.store.cache.invalidate(&self.name, key);
        Ok(())
    }

    /// Lists keys in byte order, a page at a time. Always reads the store.
    pub async fn list(&self, options: ListOptions) -> Result<ListPage, KvError> {
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
            prefix,
            start_after,
            limit,
        };
        let slice = self.backend.list(query, unix_millis_now()).await?;
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
    pub async fn atomic(&self, op: AtomicOperation) -> Result<AtomicOutcome, KvError> {
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
        let keys: Vec<String> = writes.iter().map(|w| w.key().to_owned()).collect();
        let outcome = self.backend.commit(op.checks, writes, now_ms).await?;
        if outcome.ok {
            for key in &keys {
                self.store.cache.invalidate(&self.name, key);
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

/// A [`KvNamespace`] whose methods block the calling thread until the
/// operation is done, for code outside any async runtime: the `brink kv`
/// CLI, tests. Calling it on a runtime's thread would stall that thread.
#[derive(Clone, Debug)]
pub struct BlockingNamespace(KvNamespace);

impl BlockingNamespace {
    /// The async namespace this wraps.
    pub fn inner(&self) -> &KvNamespace {
        &self.0
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        self.0.name()
    }

    /// [`KvNamespace::get`].
    pub fn get(&self, key: &str, cache_ttl: Option<Duration>) -> Result<Option<KvEntry>, KvError> {
        block_on(self.0.get(key, cache_ttl))
    }

    /// [`KvNamespace::get_strong`].
    pub fn get_strong(&self, key: &str) -> Result<Option<KvEntry>, KvError> {
        block_on(self.0.get_strong(key))
    }

    /// [`KvNamespace::get_many`].
    pub fn get_many(&self, keys: &[String], cache_ttl: Option<Duration>) -> Result<Vec<Option<KvEntry>>, KvError> {
        block_on(self.0.get_many(keys, cache_ttl))
    }

    /// [`KvNamespace::get_many_strong`].
    pub fn get_many_strong(&self, keys: &[String]) -> Result<Vec<Option<KvEntry>>, KvError> {
        block_on(self.0.get_many_strong(keys))
    }

    /// [`KvNamespace::get_cached`].
    pub fn get_cached(&self, key: &str, max_age: Duration) -> Result<Option<Option<KvEntry>>, KvError> {
        self.0.get_cached(key, max_age)
    }

    /// [`KvNamespace::put`].
    pub fn put(&self, key: &str, value: Bytes, options: PutOptions) -> Result<u64, KvError> {
        block_on(self.0.put(key, value, options))
    }

    /// [`KvNamespace::delete`].
    pub fn delete(&self, key: &str) -> Result<(), KvError> {
        block_on(self.0.delete(key))
    }

    /// [`KvNamespace::list`].
    pub fn list(&self, options: ListOptions) -> Result<ListPage, KvError> {
        block_on(self.0.list(options))
    }

    /// [`KvNamespace::atomic`].
    pub fn atomic(&self, op: AtomicOperation) -> Result<AtomicOutcome, KvError> {
        block_on(self.0.atomic(op))
    }
}
