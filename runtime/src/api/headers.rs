//! Native header validation for deno_fetch's header-list initialisation.
//!
//! `new Response(body, { headers: { ... } })` is on almost every request's
//! path, and deno_fetch validates each header in JavaScript (a byte-string
//! scan, a whitespace trim, a token check, a forbidden-character scan and a
//! case-insensitive duplicate search per pair). On the interpreted engine that
//! was half of a hello-world request (bench/RESULTS.md). Brink's patch to
//! deno_fetch (patches/deno_fetch/) reads the init record in JavaScript, in
//! the same order as before, and hands the strings to these ops, which apply
//! the same rules (fetch spec: "append a header", "normalize") in one call.
//! A pair they reject makes the JavaScript loop run as before, so every error
//! keeps its exact type and message.

use deno_core::{op2, v8};

/// `tchar` of RFC 9110: the bytes a header name may hold.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
        )
}

/// HTTP whitespace, which "normalize" strips from both ends of a value.
fn is_http_whitespace(byte: u8) -> bool {
    matches!(byte, b'\t' | b'\n' | b'\r' | b' ')
}

/// The string's bytes if it is a byte string (every code unit below 256).
fn byte_string(scope: &mut v8::PinScope<'_, '_>, text: v8::Local<v8::String>) -> Option<Vec<u8>> {
    if !text.contains_only_onebyte() {
        return None;
    }
    let mut bytes = vec![0u8; text.length()];
    text.write_one_byte_v2(scope, 0, &mut bytes, v8::WriteFlags::empty());
    Some(bytes)
}

/// A normalized value's byte range, or `None` for a value no header may
/// have (CR, LF or NUL left after trimming).
fn normalized_range(value: &[u8]) -> Option<std::ops::Range<usize>> {
    let start = value.iter().position(|&b| !is_http_whitespace(b)).unwrap_or(value.len());
    let end = value.iter().rposition(|&b| !is_http_whitespace(b)).map_or(start, |last| last + 1);
    let kept = &value[start..end];
    if kept.iter().any(|&b| matches!(b, b'\n' | b'\r' | 0)) {
        return None;
    }
    Some(start..end)
}

/// Whether `value` would pass header validation unchanged: a byte string
/// without surrounding whitespace, CR, LF or NUL.
#[op2(fast)]
pub fn op_brink_is_normalized_header_value(scope: &mut v8::PinScope<'_, '_>, value: v8::Local<v8::String>) -> bool {
    let Some(bytes) = byte_string(scope, value) else { return false };
    normalized_range(&bytes) == Some(0..bytes.len())
}

/// Appends `pairs` (`[name, value, name, value, ...]`, all strings) to the
/// header list `list` (an array of `[name, value]` arrays) as deno_fetch's
/// `appendHeaderToList` would, one pair after another: the value is trimmed,
/// and a name already in the list (compared case-insensitively) takes that
/// entry's spelling. Returns false, leaving `list` as it was, when any pair
/// is invalid; the caller then runs the JavaScript loop to throw its error.
/// Not a fast op: V8's fast calls may not allocate JavaScript objects.
#[op2(nofast)]
pub fn op_brink_append_header_pairs<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    list: v8::Local<'s, v8::Array>,
    pairs: v8::Local<'s, v8::Array>,
) -> bool {
    let Some(entries) = validated_entries(scope, list, pairs) else { return false };
    let mut length = list.length();
    for (name, value) in entries {
        let entry = v8::Array::new_with_elements(scope, &[name, value]);
        if list.set_index(scope, length, entry.into()).is_none() {
            // A setter the worker put on Array.prototype threw; the
            // exception propagates as it would from `push`.
            return true;
        }
        length += 1;
    }
    true
}

/// The `[name, value]` entries `pairs` adds to `list`, or `None` if a pair
/// is invalid.
fn validated_entries<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    list: v8::Local<'s, v8::Array>,
    pairs: v8::Local<'s, v8::Array>,
) -> Option<Vec<(v8::Local<'s, v8::Value>, v8::Local<'s, v8::Value>)>> {
    // Lower-cased names seen so far, with the spelling the list keeps.
    let mut names: Vec<(Vec<u8>, v8::Local<'s, v8::Value>)> = Vec::new();
    for index in 0..list.length() {
        let entry = v8::Local::<v8::Array>::try_from(list.get_index(scope, index)?).ok()?;
        let name = entry.get_index(scope, 0)?;
        let text = v8::Local::<v8::String>::try_from(name).ok()?;
        let mut lower = byte_string(scope, text)?;
        lower.make_ascii_lowercase();
        names.push((lower, name));
    }
    let count = pairs.length();
    if count % 2 != 0 {
        return None;
    }
    let mut entries = Vec::with_capacity(count as usize / 2);
    for index in (0..count).step_by(2) {
        let name = pairs.get_index(scope, index)?;
        let value = pairs.get_index(scope, index + 1)?;
        let name_text = v8::Local::<v8::String>::try_from(name).ok()?;
        let value_text = v8::Local::<v8::String>::try_from(value).ok()?;
        let mut lower = byte_string(scope, name_text)?;
        if lower.is_empty() || !lower.iter().all(|&b| is_token_byte(b)) {
            return None;
        }
        let value_bytes = byte_string(scope, value_text)?;
        let range = normalized_range(&value_bytes)?;
        let value = if range.len() == value_bytes.len() {
            value
        } else {
            v8::String::new_from_one_byte(scope, &value_bytes[range], v8::NewStringType::Normal)?.into()
        };
        lower.make_ascii_lowercase();
        let name = match names.iter().find(|(seen, _)| *seen == lower) {
            Some((_, spelling)) => *spelling,
            None => {
                names.push((lower, name));
                name
            }
        };
        entries.push((name, value));
    }
    Some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_trimmed_of_http_whitespace_only() {
        assert_eq!(normalized_range(b"  text/plain \t"), Some(2..12));
        assert_eq!(normalized_range(b"\r\n"), Some(2..2));
        assert_eq!(normalized_range(b"a\x0bb"), Some(0..3));
        assert_eq!(normalized_range(b""), Some(0..0));
    }

    #[test]
    fn values_with_cr_lf_or_nul_inside_are_invalid() {
        assert_eq!(normalized_range(b"a\nb"), None);
        assert_eq!(normalized_range(b"a\rb"), None);
        assert_eq!(normalized_range(b"a\0b"), None);
        assert_eq!(normalized_range(b" a\0 "), None);
    }

    #[test]
    fn names_are_tokens() {
        assert!(b"x-Custom_1.2~".iter().all(|&b| is_token_byte(b)));
        for byte in [b' ', b':', b'"', b'(', b'/', 0x80, 0xff] {
            assert!(!is_token_byte(byte), "{byte:#x}");
        }
    }
}
