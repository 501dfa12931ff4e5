//! How KV keys, values and deletes are laid out as JetStream messages.
//!
//! **Subjects.** A namespace `NS` is the stream `BRINK_KV_NS` holding the
//! subjects `brinkkv.NS.*`; a key is the last token. Workers keys may contain
//! anything NATS subjects may not (`.`, `*`, `>`, spaces, any UTF-8), so the
//! token is the key's UTF-8 bytes in unpadded base64url (`[A-Za-z0-9_-]`, 683
//! characters for the longest 512-byte key). Ordering does not survive the
//! encoding; it does not need to: `list` reads each POP's local index, which
//! is keyed by the original key.
//!
//! **Payloads.** Each message is one write. Byte 0 says which: `1` a put, `2` a
//! delete (a tombstone, kept so a watcher that was offline still learns of
//! it). A put continues with the expiration (u64 big-endian unix seconds, 0 =
//! none), the metadata (u16 big-endian length + 1, 0 = none, then its JSON
//! text) and the value bytes. Metadata lives in the payload, not in a header,
//! because header values cannot hold the newlines valid JSON may contain.
//!
//! **Versions.** A key's version is the sequence of the *last* message of the
//! commit that wrote it, so every key of a multi-key commit shares one
//! version, as on the embedded store. A commit's messages are stored as one
//! atomic batch at consecutive sequences; each message but the last carries
//! `Brink-Commit-Rest: n`, the number of messages after it in its commit,
//! and its version is its sequence plus `n`. A message without the header
//! (a single write) has its own sequence as its version.

use async_nats::HeaderMap;
use bytes::{BufMut, Bytes, BytesMut};

use crate::error::KvError;
use crate::limits::MAX_ATOMIC_MUTATIONS;

/// The header telling how many messages of the same commit follow this one.
pub(crate) const COMMIT_REST_HEADER: &str = "Brink-Commit-Rest";

const PUT: u8 = 1;
const DELETE: u8 = 2;
const PUT_HEADER_BYTES: usize = 1 + 8 + 2;

/// The stream holding namespace `namespace`.
pub(crate) fn stream_name(namespace: &str) -> String {
    format!("BRINK_KV_{namespace}")
}

/// The subjects of namespace `namespace`'s stream.
pub(crate) fn stream_subjects(namespace: &str) -> String {
    format!("brinkkv.{namespace}.*")
}

/// The subject a key's writes are published to.
pub(crate) fn subject(namespace: &str, key: &str) -> String {
    let mut out = String::with_capacity(9 + namespace.len() + key.len() * 4 / 3 + 2);
    out.push_str("brinkkv.");
    out.push_str(namespace);
    out.push('.');
    base64url_encode(key.as_bytes(), &mut out);
    out
}

/// The key a subject of `namespace` names; `None` for a subject Brink did not write.
pub(crate) fn key_of_subject(namespace: &str, subject: &str) -> Option<String> {
    let token = subject
        .strip_prefix("brinkkv.")?
        .strip_prefix(namespace)?
        .strip_prefix('.')?;
    String::from_utf8(base64url_decode(token)?).ok()
}

/// One decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Record {
    /// A put of a value.
    Put {
        value: Bytes,
        expiration: Option<u64>,
        metadata: Option<String>,
    },
    /// A delete.
    Delete,
}

/// Encodes a put.
pub(crate) fn encode_put(value: &Bytes, expiration: Option<u64>, metadata: Option<&str>) -> Bytes {
    let meta = metadata.unwrap_or("");
    let mut out = BytesMut::with_capacity(PUT_HEADER_BYTES + meta.len() + value.len());
    out.put_u8(PUT);
    out.put_u64(expiration.unwrap_or(0));
    // Metadata is at most 1024 bytes (checked before any backend sees it).
    let meta_len = metadata.map_or(0, |m| u16::try_from(m.len() + 1).unwrap_or(u16::MAX));
    out.put_u16(meta_len);
    out.put_slice(meta.as_bytes());
    out.put_slice(value);
    out.freeze()
}

/// The version of a message stored at `sequence` with `headers`: the
/// sequence of its commit's last message. A header Brink did not write (not
/// a number, or more than a commit can hold) counts as absent.
pub(crate) fn version(sequence: u64, headers: Option<&HeaderMap>) -> u64 {
    let rest = headers
        .and_then(|h| h.get(COMMIT_REST_HEADER))
        .and_then(|v| v.as_str().parse::<u64>().ok())
        .filter(|&n| n < MAX_ATOMIC_MUTATIONS as u64)
        .unwrap_or(0);
    sequence.saturating_add(rest)
}

/// Encodes a delete.
pub(crate) fn encode_delete() -> Bytes {
    Bytes::from_static(&[DELETE])
}

/// How many bytes a put's payload has beyond the value itself.
pub(crate) fn put_overhead(metadata: Option<&str>) -> usize {
    PUT_HEADER_BYTES + metadata.map_or(0, str::len)
}

/// Decodes a message payload; `subject` only names the record in the error.
pub(crate) fn decode(payload: &Bytes, subject: &str) -> Result<Record, KvError> {
    let corrupt = || KvError::CorruptRecord {
        key: subject.to_owned(),
    };
    match payload.first() {
        Some(&DELETE) => Ok(Record::Delete),
        Some(&PUT) => {
            let head = payload.get(..PUT_HEADER_BYTES).ok_or_else(corrupt)?;
            let expiration = u64::from_be_bytes(head[1..9].try_into().map_err(|_| corrupt())?);
            let meta_len = usize::from(u16::from_be_bytes([head[9], head[10]]));
            let (metadata, value_start) = if meta_len == 0 {
                (None, PUT_HEADER_BYTES)
            } else {
                let end = PUT_HEADER_BYTES + meta_len - 1;
                let text = payload.get(PUT_HEADER_BYTES..end).ok_or_else(corrupt)?;
                let text = std::str::from_utf8(text).map_err(|_| corrupt())?;
                (Some(text.to_owned()), end)
            };
            Ok(Record::Put {
                value: payload.slice(value_start..),
                expiration: (expiration != 0).then_some(expiration),
                metadata,
            })
        }
        _ => Err(corrupt()),
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64url_encode(bytes: &[u8], out: &mut String) {
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let index = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
}

fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
    }
    let raw = text.as_bytes();
    if raw.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(raw.len() * 3 / 4);
    for chunk in raw.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_subject_tokens() {
        let long = "é".repeat(256);
        for key in ["a", "ab", "abc", "a.b", "*", ">", "with space", "ünï/cödé", "\u{0}", "🙂", long.as_str()] {
            let subject = subject("NS", key);
            let token = subject.rsplit('.').next().unwrap_or_default();
            assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{subject}");
            assert_eq!(key_of_subject("NS", &subject).as_deref(), Some(key));
        }
        assert_eq!(key_of_subject("NS", "brinkkv.OTHER.YQ"), None);
        assert_eq!(key_of_subject("NS", "brinkkv.NS.Y"), None);
    }

    #[test]
    fn a_commit_s_messages_share_its_last_sequence_as_version() {
        let mut headers = HeaderMap::new();
        assert_eq!(version(7, None), 7);
        assert_eq!(version(7, Some(&headers)), 7);
        headers.insert(COMMIT_REST_HEADER, "2");
        assert_eq!(version(7, Some(&headers)), 9);
        for junk in ["-1", "x", "18446744073709551615", "100000"] {
            headers.insert(COMMIT_REST_HEADER, junk);
            assert_eq!(version(7, Some(&headers)), 7, "{junk}");
        }
    }

    #[test]
    fn records_round_trip() {
        let value = Bytes::from_static(b"hello");
        let meta = "{\n \"a\": 1}";
        let payload = encode_put(&value, Some(1_900_000_000), Some(meta));
        assert_eq!(payload.len(), value.len() + put_overhead(Some(meta)));
        assert_eq!(
            decode(&payload, "s").ok(),
            Some(Record::Put { value: value.clone(), expiration: Some(1_900_000_000), metadata: Some(meta.to_owned()) })
        );
        let payload = encode_put(&Bytes::new(), None, None);
        assert_eq!(
            decode(&payload, "s").ok(),
            Some(Record::Put { value: Bytes::new(), expiration: None, metadata: None })
        );
        assert_eq!(decode(&encode_delete(), "s").ok(), Some(Record::Delete));
        assert!(decode(&Bytes::from_static(b"\x01\x00"), "s").is_err());
        assert!(decode(&Bytes::new(), "s").is_err());
    }
}
