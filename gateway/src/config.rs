//! Configuration of a `brink dev` server. The CLI fills this struct and
//! nothing else; tests can build it directly.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use brink_runtime::Limits;

/// Everything `brink dev` needs to serve one worker.
#[derive(Clone, Debug)]
pub struct DevConfig {
    /// The worker's entry module.
    pub entry: PathBuf,
    /// Name used in logs (defaults to the entry's file stem).
    pub name: String,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// `env.NAME` values.
    pub vars: Vec<(String, String)>,
    /// KV bindings: `env.BINDING` → namespace.
    pub kv: Vec<KvBinding>,
    /// Where the embedded KV store keeps its data.
    pub data_dir: PathBuf,
    /// The KV backend: embedded in `data_dir`, or NATS JetStream (`--kv-nats`).
    pub kv_backend: crate::kv_config::KvBackendChoice,
    /// Hosts that outbound `fetch()` may reach although they are private.
    pub allowed_private_hosts: Vec<String>,
    /// The worker's origin (`--origin`): see `OutboundPolicy::origin`.
    pub origin: Option<String>,
    /// Which headers name the client on requests to the origin
    /// (`--forwarded-headers`).
    pub forwarded_headers: brink_runtime::api::forwarding::ForwardedHeaders,
    /// Believe clients' forwarding headers (`--trust-forwarded`).
    pub trust_forwarded: bool,
    /// Bytes the Cache API's store may hold (`--cache-mib`).
    pub cache_bytes: u64,
    /// Isolates running the worker in parallel.
    pub isolates: usize,
    /// Largest request body accepted, in bytes.
    pub max_request_body: u64,
    /// Limits per isolate.
    pub limits: Limits,
    /// How long a client may take to send a request's head.
    pub header_read_timeout: Duration,
    /// How long a connection may stay open with no request running on it.
    pub idle_timeout: Duration,
    /// Most client connections open at once.
    pub max_connections: usize,
    /// How long a graceful shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// Serve over TLS (and HTTP/3) with a self-signed localhost certificate.
    pub tls: bool,
    /// Reload the worker when a file of its module graph changes.
    pub watch: bool,
}

/// A KV namespace bound into a worker's `env`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvBinding {
    /// The name the worker sees: `env.BINDING`.
    pub binding: String,
    /// The namespace in the store.
    pub namespace: String,
}

/// A configuration value that does not make sense.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--var` without `=`.
    #[error("--var expects KEY=VALUE, got {0:?}")]
    Var(String),
    /// A binding name that is not a JS identifier.
    #[error("binding name {0:?} must be a JavaScript identifier (letters, digits, _ and $, not starting with a digit)")]
    BindingName(String),
    /// Two bindings with one name.
    #[error("binding {0:?} is defined twice")]
    DuplicateBinding(String),
    /// An `--allow-private-host` entry that is not HOST, HOST:PORT or
    /// [IPV6]:PORT.
    #[error("--allow-private-host: {0}")]
    AllowedHost(#[from] brink_runtime::api::outbound_fetch::AllowedHostError),
    /// `--origin` that is not `http(s)://host[:port]`, checked as a deploy's
    /// origin is.
    #[error("--origin expects an http(s) URL such as http://127.0.0.1:8080: {0}")]
    Origin(#[from] brink_runtime::api::outbound_fetch::OriginError),
}

/// Parses `KEY=VALUE`.
pub fn parse_var(text: &str) -> Result<(String, String), ConfigError> {
    let (key, value) = text.split_once('=').ok_or_else(|| ConfigError::Var(text.to_string()))?;
    check_binding_name(key)?;
    Ok((key.to_string(), value.to_string()))
}

/// Parses `BINDING` or `BINDING=NAMESPACE`.
pub fn parse_kv_binding(text: &str) -> Result<KvBinding, ConfigError> {
    let (binding, namespace) = match text.split_once('=') {
        Some((binding, namespace)) => (binding, namespace),
        None => (text, text),
    };
    check_binding_name(binding)?;
    Ok(KvBinding { binding: binding.to_string(), namespace: namespace.to_string() })
}

fn check_binding_name(name: &str) -> Result<(), ConfigError> {
    let mut chars = name.chars();
    let valid_start = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$');
    if !valid_start || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
        return Err(ConfigError::BindingName(name.to_string()));
    }
    Ok(())
}

impl DevConfig {
    /// Checks that no binding name is used twice and that every allowed
    /// private host parses.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut seen = std::collections::HashSet::new();
        let names = self.vars.iter().map(|(k, _)| k).chain(self.kv.iter().map(|b| &b.binding));
        for name in names {
            if !seen.insert(name.clone()) {
                return Err(ConfigError::DuplicateBinding(name.clone()));
            }
        }
        brink_runtime::OutboundPolicy {
            allowed_private_hosts: self.allowed_private_hosts.clone(),
            ..brink_runtime::OutboundPolicy::default()
        }
            .validate()?;
        if let Some(origin) = &self.origin {
            brink_runtime::api::outbound_fetch::validate_origin(origin)?;
        }
        Ok(())
    }
}
