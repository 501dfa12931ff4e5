//! The opaque `list` cursor: the last key of the previous page, hex-encoded.
//!
//! Resuming *after a key* (rather than at an offset) keeps pagination correct
//! while keys are being added and removed between pages.

use crate::error::KvError;

/// Encodes the last key returned on a page.
pub fn encode(last_key: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(last_key.len() * 2);
    for b in last_key.bytes() {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Decodes a cursor back into the key to resume after.
pub fn decode(cursor: &str) -> Result<String, KvError> {
    fn nibble(c: u8) -> Result<u8, KvError> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            _ => Err(KvError::InvalidCursor),
        }
    }
    let raw = cursor.as_bytes();
    if raw.is_empty() || !raw.len().is_multiple_of(2) {
        return Err(KvError::InvalidCursor);
    }
    let bytes = raw
        .chunks_exact(2)
        .map(|pair| Ok((nibble(pair[0])? << 4) | nibble(pair[1])?))
        .collect::<Result<Vec<u8>, KvError>>()?;
    String::from_utf8(bytes).map_err(|_| KvError::InvalidCursor)
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        for key in ["a", "key/with/ünïcode", "\u{0}x"] {
            assert_eq!(
                super::decode(&super::encode(key)).ok().as_deref(),
                Some(key)
            );
        }
        assert!(super::decode("zz").is_err());
        assert!(super::decode("abc").is_err());
        assert!(super::decode("").is_err());
    }
}
