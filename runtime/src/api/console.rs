//! `console.*` from a worker: lines go to Brink's log, tagged with the
//! worker's name, never to another tenant.
//!
//! A worker's text is escaped before it reaches the log: a newline, a
//! carriage return or an ANSI escape in it would otherwise let a tenant
//! write lines that look like Brink's own (or another tenant's), or rewrite
//! the operator's terminal.

use std::borrow::Cow;
use std::fmt::Write as _;

use deno_core::{op2, OpState};

use crate::logs::LogSink;

/// Who is logging: set when an isolate loads a worker.
#[derive(Clone, Debug, Default)]
pub struct LogIdentity {
    /// The worker (deployment) name.
    pub worker: String,
    /// The worker's version.
    pub version: u64,
    /// The isolate's number, for telling isolates of one worker apart.
    pub isolate: u64,
    /// The worker's own log stream (`brink tail`), if it has one.
    pub sink: Option<LogSink>,
}

#[op2(fast)]
pub fn op_brink_log(state: &mut OpState, #[smi] level: u32, #[string] message: &str) {
    let identity = state.borrow::<LogIdentity>();
    let worker = identity.worker.as_str();
    let version = identity.version;
    let isolate = identity.isolate;
    let message = escape_for_log(message);
    match level {
        0 => tracing::debug!(target: "worker", worker, version, isolate, "{message}"),
        1 => tracing::info!(target: "worker", worker, version, isolate, "{message}"),
        2 => tracing::warn!(target: "worker", worker, version, isolate, "{message}"),
        _ => tracing::error!(target: "worker", worker, version, isolate, "{message}"),
    }
    if let Some(sink) = &identity.sink {
        let level = match level {
            0 => "debug",
            1 => "log",
            2 => "warn",
            _ => "error",
        };
        sink.send(level, message);
    }
}

/// Renders text a tenant controls so that it stays on one log line and
/// cannot drive the terminal: `\n`, `\r` become those two characters, other
/// control characters (C0, DEL, C1), the Unicode line and paragraph
/// separators and the bidirectional overrides become `\u{..}`. Tabs and all
/// other text are left alone, and text without such characters is not copied.
pub fn escape_for_log(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            c if needs_escape(c) => {
                // Writing to a String cannot fail.
                let _ = write!(escaped, "\\u{{{:x}}}", c as u32);
            }
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

fn needs_escape(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::escape_for_log;

    #[test]
    fn ordinary_text_is_unchanged_and_not_copied() {
        let text = "héllo\twörld 🦀 {\"a\": 1} \\n";
        assert!(matches!(escape_for_log(text), std::borrow::Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn line_breaks_and_controls_are_escaped() {
        assert_eq!(escape_for_log("a\nb\r\nc"), "a\\nb\\r\\nc");
        assert_eq!(escape_for_log("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(escape_for_log("x\u{0}\u{7f}\u{85}y"), "x\\u{0}\\u{7f}\\u{85}y");
        assert_eq!(escape_for_log("a\u{2028}b\u{202e}c"), "a\\u{2028}b\\u{202e}c");
    }
}
