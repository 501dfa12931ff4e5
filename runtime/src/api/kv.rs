//! Workers KV bindings: `env.MY_KV.get/put/delete/list/getWithMetadata` and
//! the Deno-KV-style `atomic()`. The JS side (`js/kv.js`) validates argument
//! types and converts values; these ops run the store calls on tokio's
//! blocking pool so an fsync never stalls the isolate's event loop.
//!
//! A worker reaches a namespace only through the handle its binding was
//! given: the table below holds exactly the namespaces its deployment's
//! config binds, so there is no way to name another tenant's namespace.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use brink_kv::{AtomicCheck, AtomicOperation, KvError, KvNamespace, ListOptions, Mutation, PutOptions};
use bytes::Bytes;
use deno_core::{op2, JsBuffer, OpState, ToJsBuffer};
use deno_error::JsErrorBox;
use serde::{Deserialize, Serialize};

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
        JsErrorBox::generic(format!("KV storage error: {error}"))
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, KvError> + Send + 'static,
) -> Result<T, JsErrorBox> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| JsErrorBox::generic(format!("KV operation failed: {e}")))?
        .map_err(js_error)
}

fn cache_ttl(seconds: f64) -> Option<Duration> {
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
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
) -> Result<Option<JsEntry>, JsErrorBox> {
    let namespace = namespace(&state, handle)?;
    let max_age = cache_ttl(cache_ttl_seconds);
    // A cache hit is answered on the isolate thread: a hand-off to the
    // blocking pool would cost more than the lookup itself.
    if let Some(max_age) = max_age {
        if let Some(hit) = namespace.get_cached(&key, max_age).map_err(js_error)? {
            return Ok(to_js(hit));
        }
    }
    let entry = blocking(move || namespace.get(&key, max_age)).await?;
    Ok(to_js(entry))
}

#[op2]
#[serde]
pub async fn op_brink_kv_get_many(
    state: Rc<RefCell<OpState>>,
    #[smi] handle: u32,
    #[serde] keys: Vec<String>,
    cache_ttl_seconds: f64,
) -> Result<Vec<Option<JsEntry>>, JsErrorBox> {
    let namespace = namespace(&state, handle)?;
    let entries = blocking(move || namespace.get_many(&keys, cache_ttl(cache_ttl_seconds))).await?;
    Ok(entries.into_iter().map(to_js).collect())
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
        Some(v) if v.is_finite() && v >= 0.0 && v <= u64::MAX as f64 => {
            Ok(Some(if round_up { v.ceil() } else { v.floor() } as u64))
        }
        Some(v) => Err(JsErrorBox::type_error(format!("KV put() failed: {name} must be a non-negative number of seconds, got {v}"))),
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
    let namespace = namespace(&state, handle)?;
    let options = options.into_put_options()?;
    let value = Bytes::copy_from_slice(&value);
    blocking(move || namespace.put(&key, value, options)).await
}

#[op2]
pub async fn op_brink_kv_delete(
    state: Rc<RefCell<OpState>>,
    #[smi] handle: u32,
    #[string] key: String,
) -> Result<(), JsErrorBox> {
    let namespace = namespace(&state, handle)?;
    blocking(move || namespace.delete(&key)).await
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
    let namespace = namespace(&state, handle)?;
    let limit = match options.limit {
        None => None,
        Some(limit) if limit.is_finite() && limit >= 0.0 && limit.fract() == 0.0 => Some(limit as usize),
        Some(limit) => return Err(JsErrorBox::type_error(format!("KV list() failed: limit must be a whole number, got {limit}"))),
    };
    let list_options = ListOptions { prefix: options.prefix, limit, cursor: options.cursor };
    let page = blocking(move || namespace.list(list_options)).await?;
    Ok(JsListPage {
        keys: page
            .keys
            .into_iter()
            .map(|key| JsListKey { name: key.name, expiration: key.expiration, metadata: key.metadata })
            .collect(),
        list_complete: page.list_complete,
        cursor: page.cursor,
    })
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
    let namespace = namespace(&state, handle)?;
    let checks = operation
        .checks
        .into_iter()
        .map(|check| AtomicCheck { key: check.key, version: check.version.map(|v| v as u64) })
        .collect();
    let mut mutations = Vec::new();
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
    let outcome = blocking(move || namespace.atomic(AtomicOperation { checks, mutations })).await?;
    Ok(JsAtomicOutcome { ok: outcome.ok, version: outcome.version })
}
