//! The Workers Cache API (`caches.default`, `caches.open(name)`, and a
//! cache's `match`/`put`/`delete`). The JS side (`js/cache.js`) checks the
//! arguments and turns `Request`/`Response` objects into plain parts; this
//! module keeps the entries and applies HTTP caching rules.
//!
//! One store per process (a point of presence has one cache): a memory
//! tier bounded in bytes, evicting the least useful entries first (moka's
//! TinyLFU), and optionally a disk tier behind it (`disk.rs`) that holds
//! every entry written through, evicted least recently used first, and
//! survives restarts. Each entry lives until the freshness lifetime its
//! response headers give it, whichever tier answers.
//! Entries are keyed by the worker's name as well as the cache name and
//! URL: a worker can only ever name its own entries, because the name comes
//! from the isolate (the worker its deployment loaded), never from JS.
//!
//! HTTP rules follow Cloudflare's documentation for the Cache API:
//! `Cache-Control` (`s-maxage` over `max-age`; `no-store`, `no-cache` and
//! `private` are not stored; `private=set-cookie` stores without the
//! cookie), `Expires`, and default lifetimes by status when neither is set;
//! a response with `Set-Cookie` is not stored; `Vary` selects among stored
//! variants; `match` answers `If-None-Match`/`If-Modified-Since` with 304
//! and a single `Range` with 206 (or 416).

mod disk;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use deno_core::{op2, JsBuffer, OpState, ToJsBuffer};
use deno_error::JsErrorBox;
use moka::sync::Cache as Moka;
use moka::Expiry;
use serde::Serialize;

use crate::api::console::LogIdentity;

pub use disk::{DiskConfig, DiskError};

/// How the process-wide store is sized.
#[derive(Clone, Debug)]
pub struct CacheConfig {
    /// Bytes of entries (bodies, headers and keys) held at most.
    pub memory_bytes: u64,
    /// The largest body one entry may have; larger responses are not stored.
    pub max_entry_bytes: usize,
    /// The disk tier, if any.
    pub disk: Option<DiskConfig>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            memory_bytes: 256 * 1024 * 1024,
            max_entry_bytes: 32 * 1024 * 1024,
            disk: None,
        }
    }
}

/// One stored response, with what its request said about the headers it
/// varies on.
#[derive(Debug)]
struct Stored {
    status: u16,
    headers: Vec<(String, String)>,
    body: bytes::Bytes,
    expires: Instant,
    /// `(header, value in the request that was put)` for each `Vary` name.
    vary: Vec<(String, Option<String>)>,
}

impl Stored {
    fn weight(&self) -> u64 {
        let headers: usize = self.headers.iter().map(|(n, v)| n.len() + v.len()).sum();
        (self.body.len() + headers + 64) as u64
    }

    fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    fn matches(&self, request_headers: &[(String, String)]) -> bool {
        self.vary
            .iter()
            .all(|(name, value)| header(request_headers, name) == value.as_deref())
    }
}

/// Every stored variant of one URL.
type Variants = Arc<Vec<Arc<Stored>>>;

struct VariantExpiry;

impl Expiry<String, Variants> for VariantExpiry {
    fn expire_after_create(&self, _key: &String, value: &Variants, now: Instant) -> Option<Duration> {
        value
            .iter()
            .map(|stored| stored.expires.saturating_duration_since(now))
            .max()
    }

    fn expire_after_update(
        &self,
        key: &String,
        value: &Variants,
        now: Instant,
        _left: Option<Duration>,
    ) -> Option<Duration> {
        self.expire_after_create(key, value, now)
    }
}

/// The process-wide cache.
pub struct CacheStore {
    entries: Moka<String, Variants>,
    max_entry_bytes: usize,
    disk: Option<disk::DiskTier>,
}

impl CacheStore {
    fn new(config: &CacheConfig) -> CacheStore {
        CacheStore::with_disk(config, None)
    }

    fn with_disk(config: &CacheConfig, disk: Option<disk::DiskTier>) -> CacheStore {
        let entries = Moka::builder()
            .max_capacity(config.memory_bytes)
            .weigher(|key: &String, value: &Variants| {
                let bytes = key.len() as u64 + value.iter().map(|stored| stored.weight()).sum::<u64>();
                u32::try_from(bytes).unwrap_or(u32::MAX)
            })
            .expire_after(VariantExpiry)
            .support_invalidation_closures()
            .build();
        CacheStore {
            entries,
            max_entry_bytes: config.max_entry_bytes,
            disk,
        }
    }

    /// Drops the entry of `key` from both tiers; true if either had one
    /// that had not expired.
    fn forget(&self, key: &str) -> bool {
        let now = Instant::now();
        let in_memory = self
            .entries
            .remove(key)
            .is_some_and(|variants| variants.iter().any(|stored| stored.expires > now));
        let on_disk = self.disk.as_ref().is_some_and(|disk| disk.remove(key));
        in_memory || on_disk
    }

    /// Bytes of entries on disk now (0 without a disk tier).
    pub fn disk_bytes(&self) -> u64 {
        self.disk.as_ref().map_or(0, |disk| disk.bytes())
    }

    /// Bytes held now (approximately: moka settles its counts lazily).
    pub fn weighted_size(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.weighted_size()
    }
}

static STORE: OnceLock<CacheStore> = OnceLock::new();

/// Sizes the process-wide cache. Only the first call (before any worker used
/// the cache) takes effect; returns false otherwise. A disk tier in
/// `config` is ignored: see [`open`].
pub fn configure(config: CacheConfig) -> bool {
    STORE.set(CacheStore::new(&config)).is_ok()
}

/// Like [`configure`], opening (and indexing) the disk tier if `config`
/// has one; an error names the directory that could not be used.
pub fn open(config: CacheConfig) -> Result<bool, DiskError> {
    let disk = config.disk.as_ref().map(disk::DiskTier::open).transpose()?;
    Ok(STORE.set(CacheStore::with_disk(&config, disk)).is_ok())
}

/// Forgets every entry of `worker` (it was deleted: a new worker of the
/// same name starts with an empty cache). Returns how many entries the
/// disk tier dropped.
pub fn purge_worker(worker: &str) -> usize {
    let Some(store) = STORE.get() else { return 0 };
    let prefix = format!("{}:{worker}\u{0}", worker.len());
    if let Err(error) = store.entries.invalidate_entries_if(move |key, _| key.starts_with(&prefix)) {
        tracing::warn!(worker, %error, "Cache API: cannot purge the memory tier");
    }
    store.disk.as_ref().map_or(0, |disk| disk.purge_worker(worker))
}

/// Forgets the disk tier's entries of every worker `deployed` does not
/// name: the server calls it once its deployments are restored, so entries
/// of a worker deleted just before a crash (between the delete and its
/// purge) are not served to a new worker of the same name. Returns how many
/// entries went.
pub fn retain_workers(deployed: impl Fn(&str) -> bool) -> usize {
    let Some(store) = STORE.get() else { return 0 };
    store.disk.as_ref().map_or(0, |disk| disk.purge_where(|worker| !deployed(worker)))
}

/// The process-wide cache (with the default size if never configured).
pub fn store() -> &'static CacheStore {
    STORE.get_or_init(|| CacheStore::new(&CacheConfig::default()))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The key of `url` in cache `name` ("" is `caches.default`) of `worker`.
/// Names cannot collide across workers: the worker name is length-prefixed.
fn key(worker: &str, cache: &str, url: &str) -> String {
    format!("{}:{worker}\u{0}{cache}\u{0}{url}", worker.len())
}

fn worker_name(state: &OpState) -> Result<String, JsErrorBox> {
    state
        .try_borrow::<LogIdentity>()
        .map(|identity| identity.worker.clone())
        .filter(|name| !name.is_empty())
        .ok_or_else(|| JsErrorBox::generic("the Cache API is only available to a loaded worker"))
}

/// The directives of a `Cache-Control` value, lowercased, with their
/// arguments unquoted.
fn directives(value: &str) -> Vec<(String, Option<String>)> {
    value
        .split(',')
        .filter_map(|part| {
            let part = part.trim();
            if part.is_empty() {
                return None;
            }
            Some(match part.split_once('=') {
                Some((name, arg)) => (
                    name.trim().to_ascii_lowercase(),
                    Some(arg.trim().trim_matches('"').to_owned()),
                ),
                None => (part.to_ascii_lowercase(), None),
            })
        })
        .collect()
}

/// How long a response may be served from the cache, and which headers to
/// drop before storing it; `None` when it must not be stored.
fn freshness(status: u16, headers: &[(String, String)], now: SystemTime) -> Option<(Duration, bool)> {
    let mut strip_cookie = false;
    let mut max_age = None;
    let mut s_maxage = None;
    if let Some(value) = header(headers, "cache-control") {
        for (name, arg) in directives(value) {
            match (name.as_str(), arg) {
                ("no-store" | "no-cache", _) => return None,
                ("private", None) => return None,
                ("private", Some(fields)) => {
                    if fields
                        .split(',')
                        .any(|field| field.trim().eq_ignore_ascii_case("set-cookie"))
                    {
                        strip_cookie = true;
                    } else {
                        return None;
                    }
                }
                ("max-age", Some(seconds)) => max_age = seconds.parse::<u64>().ok(),
                ("s-maxage", Some(seconds)) => s_maxage = seconds.parse::<u64>().ok(),
                _ => {}
            }
        }
    }
    if header(headers, "set-cookie").is_some() && !strip_cookie {
        return None;
    }
    let lifetime = match s_maxage.or(max_age) {
        Some(seconds) => Duration::from_secs(seconds),
        None => match header(headers, "expires") {
            // An unparsable Expires means "already expired" (RFC 9111 5.3).
            Some(value) => httpdate::parse_http_date(value).ok()?.duration_since(now).ok()?,
            // Cloudflare's default edge lifetimes by status.
            None => match status {
                200 | 206 | 301 => Duration::from_secs(120 * 60),
                302 | 303 => Duration::from_secs(20 * 60),
                404 | 410 => Duration::from_secs(3 * 60),
                _ => return None,
            },
        },
    };
    (!lifetime.is_zero()).then_some((lifetime, strip_cookie))
}

/// Stores a response for `url` in cache `cache` ("" for the default one).
/// Returns whether it was stored (a put of a response the rules say not to
/// keep succeeds without storing it, as on Workers).
#[op2]
pub async fn op_brink_cache_put(
    state: Rc<RefCell<OpState>>,
    #[string] cache: String,
    #[string] url: String,
    #[serde] request_headers: Vec<(String, String)>,
    #[smi] status: u32,
    #[serde] headers: Vec<(String, String)>,
    #[buffer] body: JsBuffer,
) -> Result<bool, JsErrorBox> {
    let worker = worker_name(&state.borrow())?;
    let store = store();
    let status = u16::try_from(status).map_err(|_| JsErrorBox::type_error("invalid response status"))?;
    let key = key(&worker, &cache, &url);
    // A response that is not stored still supersedes what was stored for
    // the URL: a later match must not answer with the older one.
    if body.len() > store.max_entry_bytes {
        tracing::debug!(worker = %worker, bytes = body.len(), "Cache API: response too large to store");
        store.forget(&key);
        return Ok(false);
    }
    let Some((lifetime, strip_cookie)) = freshness(status, &headers, SystemTime::now()) else {
        store.forget(&key);
        return Ok(false);
    };
    let mut headers = headers;
    if strip_cookie {
        headers.retain(|(name, _)| !name.eq_ignore_ascii_case("set-cookie"));
    }
    let vary: Vec<(String, Option<String>)> = header(&headers, "vary")
        .map(|value| {
            value
                .split(',')
                .map(|name| name.trim().to_ascii_lowercase())
                .filter(|name| !name.is_empty())
                .map(|name| {
                    let value = header(&request_headers, &name).map(str::to_owned);
                    (name, value)
                })
                .collect()
        })
        .unwrap_or_default();
    let expires = Instant::now()
        .checked_add(lifetime)
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(1 << 40));
    let stored = Arc::new(Stored {
        status,
        headers,
        body: bytes::Bytes::copy_from_slice(&body),
        expires,
        vary,
    });
    let now = Instant::now();
    // One variant per set of Vary values: a new one replaces its equal and
    // joins the others, wherever they are: variants that only the disk tier
    // holds (memory evicted them) are read back first.
    let existing = match (store.entries.get(&key), &store.disk) {
        (Some(existing), _) => Some(existing),
        (None, None) => None,
        (None, Some(disk)) => match disk.lookup(&key) {
            disk::Lookup::Pending(variants) => Some(variants),
            disk::Lookup::OnDisk => disk.read(&key).await.map(Arc::new),
            disk::Lookup::Absent => None,
        },
    };
    let mut variants: Vec<Arc<Stored>> = existing
        .map(|existing| {
            existing
                .iter()
                .filter(|old| old.expires > now && old.vary != stored.vary)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    variants.push(stored);
    let variants = Arc::new(variants);
    if let Some(disk) = &store.disk {
        disk.put(&worker, key.clone(), variants.clone());
    }
    store.entries.insert(key, variants);
    Ok(true)
}

/// What `match` found, for JS.
#[derive(Serialize)]
pub struct JsCacheMatch {
    found: bool,
    /// Not in memory but on disk: ask `op_brink_cache_match_disk`.
    disk: bool,
    status: u16,
    headers: Vec<(String, String)>,
    body: Option<ToJsBuffer>,
}

impl JsCacheMatch {
    fn hit(status: u16, headers: Vec<(String, String)>, body: Option<ToJsBuffer>) -> JsCacheMatch {
        JsCacheMatch {
            found: true,
            disk: false,
            status,
            headers,
            body,
        }
    }

    fn miss() -> JsCacheMatch {
        JsCacheMatch {
            found: false,
            disk: false,
            status: 0,
            headers: Vec::new(),
            body: None,
        }
    }
}

/// True when `If-None-Match` names the stored ETag (weak comparison, as
/// RFC 9110 asks for this header).
fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    let strip = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let etag = strip(etag);
    if_none_match
        .split(',')
        .any(|candidate| candidate.trim() == "*" || strip(candidate) == etag)
}

/// A single `bytes=` range of a body of `len` bytes: `Ok(None)` when the
/// header asks for something this does not serve partially (several
/// ranges, other units), `Err(())` when it is unsatisfiable.
fn byte_range(value: &str, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (start, end) = (start.trim(), end.trim());
    let range = if start.is_empty() {
        // The last N bytes.
        let suffix: u64 = end.parse().map_err(|_| ())?;
        if suffix == 0 || len == 0 {
            return Err(());
        }
        (len.saturating_sub(suffix), len - 1)
    } else {
        let start: u64 = start.parse().map_err(|_| ())?;
        let end = if end.is_empty() {
            len.saturating_sub(1)
        } else {
            end.parse::<u64>().map_err(|_| ())?.min(len.saturating_sub(1))
        };
        if start >= len || end < start {
            return Err(());
        }
        (start, end)
    };
    Ok(Some(range))
}

/// Looks `url` up in memory (and in the disk tier's index), answering the
/// request's conditional and range headers. An entry only on disk is
/// answered `{ disk: true }`: JS then awaits [`op_brink_cache_match_disk`],
/// so the isolate's thread never waits for the disk.
#[op2]
#[serde]
pub fn op_brink_cache_match(
    state: &mut OpState,
    #[string] cache: String,
    #[string] url: String,
    #[serde] request_headers: Vec<(String, String)>,
) -> Result<JsCacheMatch, JsErrorBox> {
    let worker = worker_name(state)?;
    let store = store();
    let key = key(&worker, &cache, &url);
    if let Some(variants) = store.entries.get(&key) {
        if let Some(disk) = &store.disk {
            // Keeps a hot entry from being the disk tier's eviction victim.
            disk.lookup(&key);
        }
        return Ok(answer(&variants, &request_headers));
    }
    Ok(match store.disk.as_ref().map(|disk| disk.lookup(&key)) {
        Some(disk::Lookup::Pending(variants)) => answer(&variants, &request_headers),
        Some(disk::Lookup::OnDisk) => JsCacheMatch { disk: true, ..JsCacheMatch::miss() },
        Some(disk::Lookup::Absent) | None => JsCacheMatch::miss(),
    })
}

/// The disk tier's half of `match`: reads the entry's file on the blocking
/// pool, puts it back in memory, and answers as from memory.
#[op2]
#[serde]
pub async fn op_brink_cache_match_disk(
    state: Rc<RefCell<OpState>>,
    #[string] cache: String,
    #[string] url: String,
    #[serde] request_headers: Vec<(String, String)>,
) -> Result<JsCacheMatch, JsErrorBox> {
    let worker = worker_name(&state.borrow())?;
    let store = store();
    let key = key(&worker, &cache, &url);
    let Some(disk) = &store.disk else {
        return Ok(JsCacheMatch::miss());
    };
    let Some(variants) = disk.read(&key).await else {
        return Ok(JsCacheMatch::miss());
    };
    // Back into memory, unless a put got there first while the file was read.
    let variants = store.entries.entry(key).or_insert(Arc::new(variants)).into_value();
    Ok(answer(&variants, &request_headers))
}

/// The answer of a stored entry to a request with `request_headers`.
fn answer(variants: &[Arc<Stored>], request_headers: &[(String, String)]) -> JsCacheMatch {
    let now = Instant::now();
    let Some(stored) = variants
        .iter()
        .rev()
        .find(|stored| stored.expires > now && stored.matches(request_headers))
    else {
        return JsCacheMatch::miss();
    };
    let mut headers = stored.headers.clone();
    headers.retain(|(name, _)| !name.eq_ignore_ascii_case("cf-cache-status"));
    headers.push(("cf-cache-status".to_owned(), "HIT".to_owned()));

    let not_modified = match (header(request_headers, "if-none-match"), stored.header("etag")) {
        (Some(wanted), Some(etag)) => etag_matches(wanted, etag),
        (Some(_), None) => false,
        (None, _) => match (
            header(request_headers, "if-modified-since"),
            stored.header("last-modified"),
        ) {
            (Some(since), Some(modified)) => {
                match (httpdate::parse_http_date(since), httpdate::parse_http_date(modified)) {
                    (Ok(since), Ok(modified)) => modified <= since,
                    _ => false,
                }
            }
            _ => false,
        },
    };
    if not_modified && (200..300).contains(&stored.status) {
        headers.retain(|(name, _)| !name.eq_ignore_ascii_case("content-length"));
        return JsCacheMatch::hit(304, headers, None);
    }

    let len = stored.body.len() as u64;
    if stored.status == 200 {
        if let Some(range) = header(request_headers, "range") {
            headers.retain(|(name, _)| !name.eq_ignore_ascii_case("content-length"));
            match byte_range(range, len) {
                Ok(Some((start, end))) => {
                    headers.push(("content-range".to_owned(), format!("bytes {start}-{end}/{len}")));
                    // In range: start <= end < len, which fits in usize.
                    let body = stored.body.slice(start as usize..=end as usize);
                    return JsCacheMatch::hit(206, headers, Some(body.to_vec().into()));
                }
                Ok(None) => {}
                Err(()) => {
                    headers.push(("content-range".to_owned(), format!("bytes */{len}")));
                    return JsCacheMatch::hit(416, headers, None);
                }
            }
        }
    }
    let body = (!stored.body.is_empty()).then(|| stored.body.to_vec().into());
    JsCacheMatch::hit(stored.status, headers, body)
}

/// Deletes every variant stored for `url`; true if there was one.
#[op2(fast)]
pub fn op_brink_cache_delete(
    state: &mut OpState,
    #[string] cache: &str,
    #[string] url: &str,
) -> Result<bool, JsErrorBox> {
    let worker = worker_name(state)?;
    Ok(store().forget(&key(&worker, cache, url)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn lifetimes_follow_cache_control_then_expires_then_status() {
        let now = SystemTime::now();
        let secs = |status, headers: &[(&str, &str)]| freshness(status, &h(headers), now).map(|(d, _)| d.as_secs());
        assert_eq!(secs(200, &[("Cache-Control", "public, max-age=60")]), Some(60));
        assert_eq!(secs(200, &[("cache-control", "max-age=60, s-maxage=600")]), Some(600));
        assert_eq!(secs(200, &[("cache-control", "no-store")]), None);
        assert_eq!(secs(200, &[("cache-control", "private")]), None);
        assert_eq!(secs(200, &[("cache-control", "no-cache")]), None);
        assert_eq!(secs(200, &[("cache-control", "max-age=0")]), None);
        assert_eq!(secs(200, &[("set-cookie", "a=b")]), None);
        assert_eq!(
            freshness(
                200,
                &h(&[
                    ("set-cookie", "a=b"),
                    ("cache-control", "private=Set-Cookie, max-age=5")
                ]),
                now
            ),
            Some((Duration::from_secs(5), true))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(100));
        let in_range = secs(200, &[("expires", &later)]).unwrap();
        assert!((98..=100).contains(&in_range), "{in_range}");
        assert_eq!(secs(200, &[("expires", "not a date")]), None);
        assert_eq!(secs(200, &[]), Some(7200));
        assert_eq!(secs(404, &[]), Some(180));
        assert_eq!(secs(500, &[]), None);
    }

    #[test]
    fn ranges() {
        assert_eq!(byte_range("bytes=0-4", 10), Ok(Some((0, 4))));
        assert_eq!(byte_range("bytes=5-", 10), Ok(Some((5, 9))));
        assert_eq!(byte_range("bytes=-3", 10), Ok(Some((7, 9))));
        assert_eq!(byte_range("bytes=2-100", 10), Ok(Some((2, 9))));
        assert_eq!(byte_range("bytes=10-", 10), Err(()));
        assert_eq!(byte_range("bytes=0-1,3-4", 10), Ok(None));
        assert_eq!(byte_range("items=0-1", 10), Ok(None));
        assert_eq!(byte_range("bytes=x-1", 10), Err(()));
    }

    #[test]
    fn etags_compare_weakly() {
        assert!(etag_matches("\"a\"", "\"a\""));
        assert!(etag_matches("W/\"a\", \"b\"", "\"a\""));
        assert!(etag_matches("*", "\"z\""));
        assert!(!etag_matches("\"b\"", "\"a\""));
    }

    #[test]
    fn keys_of_different_workers_never_collide() {
        assert_ne!(key("a", "b\u{0}c", "u"), key("a\u{0}b", "c", "u"));
        assert_ne!(key("ab", "", "u"), key("a", "b", "u"));
    }
}
