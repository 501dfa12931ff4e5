//! Workers KV's limits and the validation of every caller-supplied input.
//!
//! All checks run before anything touches storage, so an operation that fails
//! validation writes nothing.

use crate::error::KvError;
use crate::types::PutOptions;

/// Longest key, in bytes of UTF-8 (Workers KV: 512).
pub const MAX_KEY_BYTES: usize = 512;
/// Largest value, in bytes (Workers KV: 25 MiB).
pub const MAX_VALUE_BYTES: usize = 26_214_400;
/// Largest metadata, in bytes of serialized JSON (Workers KV: 1024).
pub const MAX_METADATA_BYTES: usize = 1024;
/// Most keys one multi-key `get` may ask for (Workers KV: 100).
pub const MAX_GET_MANY_KEYS: usize = 100;
/// Most bytes of values one multi-key `get` may return (Workers KV caps the
/// total of a bulk get too). Without it, 100 keys × 25 MiB would be read into
/// memory outside the worker's heap in one call.
pub const MAX_GET_MANY_BYTES: usize = 26_214_400;
/// Largest (and default) page size of `list` (Workers KV: 1000).
pub const MAX_LIST_LIMIT: usize = 1000;
/// Most checks in one atomic operation.
pub const MAX_ATOMIC_CHECKS: usize = 100;
/// Most mutations in one atomic operation.
pub const MAX_ATOMIC_MUTATIONS: usize = 1000;
/// Most bytes of values one atomic operation may write, for the same reason
/// as [`MAX_GET_MANY_BYTES`]: 1000 mutations × 25 MiB would otherwise be held
/// outside the worker's heap until the commit.
pub const MAX_ATOMIC_BYTES: usize = 26_214_400;
/// Longest namespace name, in bytes.
pub const MAX_NAMESPACE_NAME_BYTES: usize = 64;

/// Checks a key: non-empty, at most [`MAX_KEY_BYTES`], not `.` or `..`.
pub fn validate_key(op: &'static str, key: &str) -> Result<(), KvError> {
    if key.is_empty() {
        return Err(KvError::EmptyKey { op });
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(KvError::KeyTooLong { op, len: key.len() });
    }
    if key == "." || key == ".." {
        return Err(KvError::ReservedKey {
            op,
            key: key.to_owned(),
        });
    }
    Ok(())
}

/// Checks a value's size.
pub fn validate_value(len: usize) -> Result<(), KvError> {
    if len > MAX_VALUE_BYTES {
        return Err(KvError::ValueTooLarge { len });
    }
    Ok(())
}

/// Checks metadata: at most [`MAX_METADATA_BYTES`] and valid JSON text.
pub fn validate_metadata(metadata: Option<&str>) -> Result<(), KvError> {
    let Some(text) = metadata else { return Ok(()) };
    if text.len() > MAX_METADATA_BYTES {
        return Err(KvError::MetadataTooLarge { len: text.len() });
    }
    serde_json::from_str::<serde_json::Value>(text).map_err(|e| KvError::InvalidMetadata {
        reason: e.to_string(),
    })?;
    Ok(())
}

/// Turns `expiration` / `expiration_ttl` into an absolute expiration in unix
/// seconds, or `None` for a key that never expires.
///
/// A TTL is rounded up to the next whole second so a key lives at least as long
/// as asked. Unlike Workers KV, TTLs shorter than 60 seconds are allowed.
pub fn resolve_expiration(options: &PutOptions, now_ms: u64) -> Result<Option<u64>, KvError> {
    match (options.expiration, options.expiration_ttl) {
        (Some(_), Some(_)) => Err(KvError::ConflictingExpiration),
        (None, None) => Ok(None),
        (Some(0), None) => Err(KvError::InvalidExpiration {
            reason: "expiration must be a unix timestamp in seconds greater than 0".into(),
        }),
        (Some(at), None) => {
            if at.saturating_mul(1000) <= now_ms {
                Err(KvError::InvalidExpiration {
                    reason: format!(
                        "expiration {at} is not in the future (now is {})",
                        now_ms / 1000
                    ),
                })
            } else {
                Ok(Some(at))
            }
        }
        (None, Some(0)) => Err(KvError::InvalidExpiration {
            reason: "expirationTtl must be at least 1 second".into(),
        }),
        (None, Some(ttl)) => {
            let deadline_ms = now_ms.saturating_add(ttl.saturating_mul(1000));
            Ok(Some(deadline_ms.div_ceil(1000)))
        }
    }
}

/// Checks a `list` limit; `None` means the default of [`MAX_LIST_LIMIT`].
pub fn resolve_list_limit(limit: Option<usize>) -> Result<usize, KvError> {
    match limit {
        None => Ok(MAX_LIST_LIMIT),
        Some(n) if n == 0 || n > MAX_LIST_LIMIT => Err(KvError::InvalidListLimit { limit: n }),
        Some(n) => Ok(n),
    }
}

/// Checks a namespace name: 1 to [`MAX_NAMESPACE_NAME_BYTES`] bytes of `[A-Za-z0-9_-]`.
pub fn validate_namespace_name(name: &str) -> Result<(), KvError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAMESPACE_NAME_BYTES
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(KvError::InvalidNamespaceName {
            name: name.to_owned(),
        })
    }
}

/// True when an entry with this expiration is expired at `now_ms`.
pub fn is_expired(expiration: Option<u64>, now_ms: u64) -> bool {
    expiration.is_some_and(|at| at.saturating_mul(1000) <= now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_rounds_up_to_whole_seconds() {
        let opts = PutOptions {
            expiration_ttl: Some(1),
            ..Default::default()
        };
        assert_eq!(resolve_expiration(&opts, 10_001).ok(), Some(Some(12)));
        assert_eq!(resolve_expiration(&opts, 10_000).ok(), Some(Some(11)));
    }

    #[test]
    fn namespace_names() {
        assert!(validate_namespace_name("MY_KV-1").is_ok());
        assert!(validate_namespace_name("").is_err());
        assert!(validate_namespace_name("a b").is_err());
        assert!(validate_namespace_name(&"a".repeat(65)).is_err());
    }
}
