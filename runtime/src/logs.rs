//! A worker's own log stream, for `brink tail`: its `console.*` lines, its
//! uncaught errors and its limit terminations, and nobody else's. Lines also
//! go to Brink's log; the sink is an extra subscriber-only channel that
//! drops lines nobody is reading (or a reader too slow to keep up).

use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::broadcast;

/// Lines buffered for a slow `tail` reader before it starts missing some.
const BUFFERED_LINES: usize = 1024;

/// One line of a worker's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// `debug`, `log`, `warn` or `error`; `limit` for a limit termination.
    pub level: String,
    /// The text, escaped so it stays on one line.
    pub message: String,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
}

/// Where one worker's log lines go (cheap to clone; every isolate of the
/// worker shares it).
#[derive(Clone, Debug)]
pub struct LogSink {
    sender: broadcast::Sender<LogLine>,
}

impl Default for LogSink {
    fn default() -> Self {
        LogSink::new()
    }
}

impl LogSink {
    /// A sink with no readers yet.
    pub fn new() -> LogSink {
        let (sender, _) = broadcast::channel(BUFFERED_LINES);
        LogSink { sender }
    }

    /// Starts reading: lines sent from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<LogLine> {
        self.sender.subscribe()
    }

    /// Sends a line to the current readers, if any.
    pub fn send(&self, level: &str, message: impl Into<String>) {
        if self.sender.receiver_count() == 0 {
            return;
        }
        let timestamp_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        let _ = self.sender.send(LogLine { level: level.to_string(), message: message.into(), timestamp_ms });
    }
}
