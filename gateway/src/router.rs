//! Maps a request's host name to the worker that serves it.

use std::collections::HashMap;
use std::sync::Arc;

use brink_runtime::Worker;

/// Host name → worker, with an optional catch-all (what `brink dev` uses).
#[derive(Default)]
pub struct Router {
    by_host: HashMap<String, Arc<Worker>>,
    fallback: Option<Arc<Worker>>,
}

impl Router {
    /// A router that sends every host to `worker`.
    pub fn catch_all(worker: Arc<Worker>) -> Router {
        Router { by_host: HashMap::new(), fallback: Some(worker) }
    }

    /// Routes `host` (without port, any case) to `worker`.
    pub fn add_host(&mut self, host: &str, worker: Arc<Worker>) {
        self.by_host.insert(host.to_ascii_lowercase(), worker);
    }

    /// The worker for `host` (a `Host` header value, port allowed).
    pub fn route(&self, host: &str) -> Option<&Arc<Worker>> {
        let name = strip_port(host).to_ascii_lowercase();
        self.by_host.get(&name).or(self.fallback.as_ref())
    }

    /// Every distinct worker, for shutdown.
    pub fn workers(&self) -> Vec<Arc<Worker>> {
        let mut workers: Vec<Arc<Worker>> = Vec::new();
        for worker in self.by_host.values().chain(self.fallback.iter()) {
            if !workers.iter().any(|w| Arc::ptr_eq(w, worker)) {
                workers.push(worker.clone());
            }
        }
        workers
    }
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}
