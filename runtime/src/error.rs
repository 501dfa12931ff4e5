//! Errors a worker can produce, as the gateway sees them.

use http::StatusCode;

use crate::limits::Limit;

/// Why a request to a worker did not produce the worker's own response.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The worker's code could not be loaded (syntax error, missing module,
    /// no fetch handler). Carries the engine's message with file:line:column.
    #[error("worker failed to load: {0}")]
    Load(String),
    /// The handler threw, rejected, or returned something that is not a
    /// `Response`. The message (with stack) is for the log, never the client.
    #[error("worker threw an exception: {0}")]
    Exception(String),
    /// A limit from [`crate::Limits`] was exceeded. For CPU time and memory
    /// the isolate was terminated and is replaced.
    #[error("worker exceeded its {}", .0.description())]
    LimitExceeded(Limit),
    /// The request came through too many nested worker subrequests (a
    /// worker fetching itself, or workers fetching each other, in a loop).
    #[error("subrequest loop: the request is {0} worker subrequests deep")]
    LoopDetected(u32),
    /// The isolate went away (crashed or shut down) before it responded.
    #[error("worker isolate is unavailable")]
    Unavailable,
    /// The isolate's thread panicked while the request was in it (a bug in
    /// Brink or a library it uses, never the worker's own code). The
    /// isolate was ended and is replaced; other isolates are untouched.
    #[error("worker isolate crashed")]
    Crashed,
    /// The engine could not be started.
    #[error("engine error: {0}")]
    Engine(String),
}

impl WorkerError {
    /// The status the client gets for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            WorkerError::LimitExceeded(Limit::RequestBody) => StatusCode::PAYLOAD_TOO_LARGE,
            WorkerError::LimitExceeded(_) | WorkerError::Unavailable | WorkerError::Crashed => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            WorkerError::LoopDetected(_) => StatusCode::LOOP_DETECTED,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The body the client gets: short, with no stack trace or internals.
    pub fn client_message(&self) -> &'static str {
        match self {
            WorkerError::LimitExceeded(Limit::CpuTime) => "Worker exceeded its CPU time limit\n",
            WorkerError::LimitExceeded(Limit::Memory) => "Worker exceeded its memory limit\n",
            WorkerError::LimitExceeded(Limit::WallClock) => "Worker exceeded its wall-clock limit\n",
            WorkerError::LimitExceeded(Limit::RequestBody) => "Request body exceeds the worker's size limit\n",
            WorkerError::LimitExceeded(Limit::ResponseBody) => "Worker exceeded its response body size limit\n",
            WorkerError::Unavailable => "Worker unavailable\n",
            WorkerError::Crashed => "Worker isolate crashed; it is being replaced\n",
            WorkerError::LoopDetected(_) => "Loop detected: too many nested worker subrequests\n",
            // workerd's page, byte for byte, so a worker's client sees the
            // same answer on Brink as on workerd (the stack is in the log).
            WorkerError::Exception(_) => "Internal Server Error",
            _ => "Worker threw an exception\n",
        }
    }

    /// Whether the client's body carries `content-type: text/plain`:
    /// every page but the one for an exception, which goes out without
    /// one, as workerd sends it. Its body is a fixed text, never the worker's.
    pub fn client_page_is_typed(&self) -> bool {
        !matches!(self, WorkerError::Exception(_))
    }
}
