//! Workers KV bindings: `env.MY_KV.get/put/delete/list/getWithMetadata` and
//! the Deno-KV-style `atomic()`. The JS side (`js/kv.js`) validates argument
//! types and converts values; these ops await the store's async operations,
//! which run on the store's own threads (its blocking pool for redb, the
//! NATS backend's runtime for the cluster), so neither an fsync nor a round
//! trip to a cluster stalls the isolate's event loop.
//!
//! A worker reaches a namespace only through the handle its binding was
//! given: the table below holds exactly the namespaces its deployment's
//! config binds, so there is no way to name another tenant's namespace.
//!
//! Every value arriving here is worker-controlled, even after kv.js checked
//! it: numbers are range-checked before any cast or `Duration` conversion,
//! sizes before any copy, and each op body runs under [`guarded`], so a bug
//! that still panics becomes a JS error instead of aborting the process.

use std::cell::RefCell;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::time::Duration;

use brink_kv::{
    AtomicCheck, AtomicOperation, KvError, KvNamespace, ListOptions, Mutation, PutOptions,
    MAX_ATOMIC_BYTES, MAX_ATOMIC_CHECKS, MAX_ATOMIC_MUTATIONS, MAX_GET_MANY_KEYS, MAX_LIST_LIMIT,
    MAX_VALUE_BYTES,
};
use bytes::Bytes;
use deno_core::{op2, JsBuffer, OpState, ToJsBuffer};
use deno_error::JsErrorBox;
use futures::FutureExt;
use serde::{Deserialize, Serialize};

/// The largest integer a JS number holds exactly; larger expirations and
/// versions cannot round-trip through JS, so they are rejected.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// The namespaces bound into this isolate's worker, by handle.
#[derive(Default)]
pub struct KvBindings {
    namespaces: Vec<KvNamespace>,
}

impl KvBindings {
    /// Binds `namespaces` in order; handle `i` is `namespaces[i]`.
    pub fn new(namespaces: Vec<KvNamespace>) -> Self {
        KvBindings { namespaces }
    }
}

fn namespace(state: &Rc<RefCell<OpState>>, handle: u32) -> Result<KvNamespace, JsErrorBox> {
    state
        .borrow()
        .try_borrow::<KvBindings>()
        .and_then(|bindings| bindings.namespaces.get(handle as usize).cloned())
        .ok_or_else(|| JsErrorBox::type_error("not a KV namespace bound to this worker"))
}

fn js_error(error: KvError) -> JsErrorBox {
    if error.is_range_error() {
        JsErrorBox::range_error(error.to_string())
    } else if error.is_invalid_input() {
        JsErrorBox::type_error(error.to_string())
    } else {
        tracing::error!(%error, "KV storage error");
        // Errors naming the host's files stay in the log; the worker learns
        // only what kind of failure it was.
        let message = match error {
            KvError::Backend(_) | KvError::CorruptRecord { .. } => error.to_string(),
            KvError::Corrupted { .. } => "KV storage error: the store is corrupted".to_owned(),
            _ => "KV storage error: the store is unavailable".to_owned(),
        };
        JsErrorBox::generic(message)
    }
}

fn internal_error(op: &'static str) -> JsErrorBox {
    JsErrorBox::generic(format!("KV {op}() failed: internal error"))
}

/// Runs an op's body, turning a panic anywhere in it into a generic JS error.
/// An op is called from inside the JS engine, where an unwinding panic would
/// abort the whole process; the panic text is logged, never shown to the worker.
async fn guarded<T>(
    op: &'static str,
    body: impl Future<Output = Result<T, JsErrorBox>>,
) -> Result<T, JsErrorBox> {
    match AssertUnwindSafe(body).catch_unwind().await {
        Ok(result) => result,
        Err(_) => {
            tracing::error!(op, "KV op panicked");
            Err(internal_error(op))
        }
    }
}

/// `cacheTtl` seconds as a `Duration`. kv.js rejects negative and non-finite
/// values; anything too large for a `Duration` (`1e20`) means "forever".
fn cache_ttl(seconds: f64) -> Result<Duration, JsErrorBox> {
    if seconds.is_nan() || seconds < 0.0 {
        return Err(JsErrorBox::type_error(format!(
            "KV get() failed: cacheTtl must be a non-negative number of seconds, got {}",
            js_number(seconds)
        )));
    }
    Ok(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX))
}

/// A number as JS would print it for the common cases (Rust prints `1e300`
/// with 300 zeros).
fn js_number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
    } else if value.fract() == 0.0 && value.abs() < 1e21 {
        format!("{value:.0}")
    } else if value.abs() >= 1e21 || value.abs() < 1e-6 {
        let text = format!("{value:e}");
        if text.contains("e-") { text } else { text.replace('e', "e+") }
    } else {
        value.to_string()
    }
}

/// One stored entry as JS sees it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JsEntry {
    value: ToJsBuffer,
    metadata: Option<String>,
    expiration: Option<u64>,
    version: u64,
}

fn to_js(entry: Option<brink_kv::KvEntry>) -> Option<JsEntry> {
    entry.map(|entry| JsEntry {
        value: entry.value.to_vec().into(),
        metadata: entry.metadata,
        expiration: entry.expiration,
        version: entry.version,
    })
}

#[op2]
#[serde]
pub async fn op_brink_kv_get(
    state: Rc<RefCell<OpState>>,
    #[smi] handle: u32,
    #[string] key: String,
    cache_ttl_seconds: f64,
    strong: bool,
) -> Result<Option<JsEntry>, JsErrorBox> {
    guarded("get", async move {
        let namespace = namespace(&state, handle)?;
        if strong {
            // `consistency: "strong"`: past the cache and the local replica.
            let entry = namespace.get_strong(&key).await.map_err(js_error)?;
            return Ok(to_js(entry));
        }
        let max_age = cache_ttl(cache_ttl_seconds)?;
        // A cache hit is answered at once, without a hand-off to the
        // store's threads, which would cost more than the lookup itself.
        if let Some(hit) = namespace.get_cached(&key, max_age).map_err(js_error)? {
            return Ok(to_js(hit));
        }
        let entry = namespace.get(&key, Some(max_age)).await.map_err(js_error)?;
        Ok(to_js(entry))
    })
    .await
}

#[op2]
#[serde]
pub async fn op_brink_kv_get_many(
    state: Rc<RefCell<OpState>>,
    #[smi] handle: u32,
    #[serde] keys: Vec<String>,
    cache_ttl_seconds: f64,
    strong: bool,
) -> Result<Vec<Option<JsEntry>>, JsErrorBox> {
    guarded("get", async move {
        let namespace = namespace(&state, handle)?;
        if keys.len() > MAX_GET_MANY_KEYS {
            return Err(js_error(KvError::TooManyKeys { count: keys.len() }));
        }
        if strong {
            let entries = namespace.get_many_strong(&keys).await.map_err(js_error)?;
            return Ok(entries.into_iter().map(to_js).collect());
        }
        let max_age = cache_ttl(cache_ttl_seconds)?;
        let entries = namespace.get_many(&keys, Some(max_age)).await.map_err(js_error)?;
        Ok(entries.into_iter().map(to_js).collect())
    })
    .await
}

/// `put` options as JS passes them (already type-checked there).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct JsPutOptions {
    expiration: Option<f64>,
    expiration_ttl: Option<f64>,
    metadata: Option<String>,
}

/// Whole seconds from a JS number. A TTL rounds up (a key lives at least as
/// long as asked); an absolute expiration rounds down.
fn whole_seconds(value: Option<f64>, name: &str, round_up: bool) -> Result<Option<u64>, JsErrorBox> {
    match value {
        None => Ok(None),
        Some(v) if v.is_nan() || v < 0.0 => Err(JsErrorBox::type_error(format!(
            "KV put() failed: {name} must be a non-negative number of seconds, got {}",
            js_number(v)
        ))),
        Some(v) if v > MAX_SAFE_INTEGER => Err(JsErrorBox::range_error(format!(
            "KV put() failed: {name} {} is out of range; it must be at most {} seconds",
            js_number(v),
            js_number(MAX_SAFE_INTEGER)
        ))),
        // In range: 0 ≤ v ≤ 2^53, so the cast is exact.
        Some(v) => Ok(Some(if round_up { v.ceil() } else { v.floor() } as u64)),
    }
}

impl JsPutOptions {
    fn into_put_options(self) -> Result<PutOptions, JsErrorBox> {
        Ok(PutOptions {
            expiration: whole_seconds(self.expiration, "expiration", false)?,
            expiration_ttl: whole_seconds(self.expiration_ttl, "expirationTtl", true)?,
            metadata: self.metadata,
        })
    }
}

#[op2]
#[number]
pub async fn op_brink_kv_put(
    state: Rc<RefCell<OpState>>,
    #[smi] handle: u32,
    #[string] key: String,
    #[buffer] value: JsBuffer,
    #[serde] options: JsPutOptions,
) -> Result<u64, JsErrorBox> {
    guarded("put", async move {
        let namespace = namespace(&state, handle)?;
        let options = options.into_put_options()?;
        // Checked before the copy below, not only by the store after it.
        if value.len() > MAX_VALUE_BYTES {
            return Err(js_error(KvError::ValueTooLarge { len: value.len() }));
        }
        let value = Bytes::copy_from_slice(&value);
        namespace.put(&key, value, options).await.map_err(js_error)
    })
    .await
}

#[op2]
pub async fn op_brink_kv_delete(
    state: Rc<RefCell<OpState>>,
    #[smi] handle: u32,
    #[string] key: String,
) -> Result<(), JsErrorBox> {
    guarded("delete", async move {
        let namespace = namespace(&state, handle)?;
        namespace.delete(&key).await.map_err(js_error)
    })
    .await
}

/// `list` options as JS passes them.
#[derive(Deserialize, Default)]
pub struct JsListOptions {
    prefix: Option<String>,
    limit: Option<f64>,
    cursor: Option<String>,
}

/// One listed key.
#[derive(Serialize)]
pub struct JsListKey {
    name: String,
    expiration: Option<u64>,
    metadata: Option<String>,
}

/// One page of `list`.
#[derive(Serialize)]
pub struct JsListPage {
    keys: Vec<JsListKey>,
    list_complete: bool,
    cursor: Option<String>,
}

#[op2]
#[serde]
pub async fn op_brink_kv_list(
    state: Rc<RefCell<OpState>>,
    #[smi] handle: u32,
    #[serde] options: JsListOptions,
) -> Result<JsListPage, JsErrorBox> {
    guarded("list", async move {
        let namespace = namespace(&state, handle)?;
        let limit = match options.limit {
            None => None,
            Some(limit) if limit.fract() != 0.0 || limit.is_nan() => {
                return Err(JsErrorBox::type_error(format!(
                    "KV list() failed: limit must be a whole number, got {}",
                    js_number(limit)
                )))
            }
            Some(limit) if !(1.0..=MAX_LIST_LIMIT as f64).contains(&limit) => {
                return Err(JsErrorBox::range_error(format!(
                    "KV list() failed: limit {} is invalid; it must be between 1 and {MAX_LIST_LIMIT}",
                    js_number(limit)
                )))
            }
            // A whole number in 1..=1000: the cast is exact.
            Some(limit) => Some(limit as usize),
        };
        let list_options = ListOptions { prefix: options.prefix, limit, cursor: options.cursor };
        let page = namespace.list(list_options).await.map_err(js_error)?;
        Ok(JsListPage {
            keys: page
                .keys
                .into_iter()
                .map(|key| JsListKey { name: key.name, expiration: key.expiration, metadata: key.metadata })
                .collect(),
            list_complete: page.list_complete,
            cursor: page.cursor,
        })
    })
    .await
}

/// An atomic operation as JS builds it.
#[derive(Deserialize)]
pub struct JsAtomic {
    checks: Vec<JsCheck>,
    mutations: Vec<JsMutation>,
}

/// `{key, version}`; `version: null` means "must not exist".
#[derive(Deserialize)]
pub struct JsCheck {
    key: String,
    version: Option<f64>,
}

/// A set (with value bytes) or a delete.
#[derive(Deserialize)]
pub struct JsMutation {
    kind: String,
    key: String,
    value: Option<JsBuffer>,
    options: Option<JsPutOptions>,
}

/// The outcome of `commit()`.
#[derive(Serialize)]
pub struct JsAtomicOutcome {
    ok: bool,
    version: Option<u64>,
}

#[op2]
#[serde]
pub async fn op_brink_kv_atomic(
    state: Rc<RefCell<OpState>>,
    #[smi] handle: u32,
    #[serde] operation: JsAtomic,
) -> Result<JsAtomicOutcome, JsErrorBox> {
    guarded("atomic", async move {
        let namespace = namespace(&state, handle)?;
        if operation.checks.len() > MAX_ATOMIC_CHECKS {
            return Err(js_error(KvError::TooManyChecks { count: operation.checks.len() }));
        }
        if operation.mutations.len() > MAX_ATOMIC_MUTATIONS {
            return Err(js_error(KvError::TooManyMutations { count: operation.mutations.len() }));
        }
        // Check the sizes before copying any value out of the JS heap.
        let mut value_bytes = 0usize;
        for value in operation.mutations.iter().filter_map(|m| m.value.as_ref()) {
            if value.len() > MAX_VALUE_BYTES {
                return Err(js_error(KvError::ValueTooLarge { len: value.len() }));
            }
            value_bytes = value_bytes.saturating_add(value.len());
        }
        if value_bytes > MAX_ATOMIC_BYTES {
            return Err(js_error(KvError::AtomicTooLarge { len: value_bytes }));
        }
        let mut checks = Vec::with_capacity(operation.checks.len());
        for check in operation.checks {
            let version = match check.version {
                None => None,
                Some(v) if (0.0..=MAX_SAFE_INTEGER).contains(&v) && v.fract() == 0.0 => Some(v as u64),
                Some(v) => {
                    return Err(JsErrorBox::type_error(format!(
                        "KV atomic() failed: check version must be a non-negative integer or null, got {}",
                        js_number(v)
                    )))
                }
            };
            checks.push(AtomicCheck { key: check.key, version });
        }
        let mut mutations = Vec::with_capacity(operation.mutations.len());
        for mutation in operation.mutations {
            mutations.push(match (mutation.kind.as_str(), mutation.value) {
                ("set", Some(value)) => Mutation::Set {
                    key: mutation.key,
                    value: Bytes::copy_from_slice(&value),
                    options: mutation.options.unwrap_or_default().into_put_options()?,
                },
                ("delete", _) => Mutation::Delete { key: mutation.key },
                _ => return Err(JsErrorBox::type_error("KV atomic() failed: invalid mutation")),
            });
        }
        let outcome = namespace.atomic(AtomicOperation { checks, mutations }).await.map_err(js_error)?;
        Ok(JsAtomicOutcome { ok: outcome.ok, version: outcome.version })
    })
    .await
}

#[cfg(test)]
mod tests {
    use deno_error::JsErrorClass;

    use super::{cache_ttl, guarded, js_number, whole_seconds};

    #[tokio::test]
    async fn a_panic_in_an_op_becomes_a_generic_error_without_its_text() {
        let result: Result<(), _> = guarded("get", async { panic!("secret detail") }).await;
        let error = result.unwrap_err();
        assert_eq!(error.get_class(), "Error");
        assert_eq!(error.get_message(), "KV get() failed: internal error");
    }

    #[test]
    fn hostile_numbers_are_errors_not_panics() {
        assert_eq!(cache_ttl(1e20).ok(), Some(std::time::Duration::MAX));
        assert_eq!(cache_ttl(f64::INFINITY).ok(), Some(std::time::Duration::MAX));
        for bad in [f64::NAN, -1.0, f64::NEG_INFINITY] {
            assert!(cache_ttl(bad).is_err(), "{bad}");
        }
        for bad in [1e300, f64::INFINITY, 9_007_199_254_740_992.0] {
            let error = whole_seconds(Some(bad), "expiration", false).unwrap_err();
            assert_eq!(error.get_class(), "RangeError", "{bad}");
        }
        for bad in [f64::NAN, -1.0] {
            let error = whole_seconds(Some(bad), "expirationTtl", true).unwrap_err();
            assert_eq!(error.get_class(), "TypeError", "{bad}");
        }
        assert_eq!(whole_seconds(Some(1.2), "expirationTtl", true).ok(), Some(Some(2)));
    }

    #[test]
    fn numbers_print_as_js_does() {
        assert_eq!(js_number(1e300), "1e+300");
        assert_eq!(js_number(1.5e-7), "1.5e-7");
        assert_eq!(js_number(f64::NAN), "NaN");
        assert_eq!(js_number(-f64::INFINITY), "-Infinity");
        assert_eq!(js_number(1001.0), "1001");
        assert_eq!(js_number(1.5), "1.5");
    }
}
