//! Configuration of `brink serve`: a TOML file (every key documented in
//! `docs/config.md`) with command-line flags on top. Unknown keys and bad
//! values fail at start, naming the key, because a typo in a limit would
//! otherwise silently run with the default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use brink_runtime::Limits;
use serde::Deserialize;

/// The config file as written. Every table rejects unknown keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeFile {
    /// Address of the public listener.
    pub listen: Option<SocketAddr>,
    /// Address of the TLS listener (TCP, and UDP for HTTP/3).
    pub tls_listen: Option<SocketAddr>,
    /// Address of the admin API.
    pub admin_listen: Option<SocketAddr>,
    /// Where deployments and the KV store live.
    pub data_dir: Option<PathBuf>,
    /// The admin API.
    #[serde(default)]
    pub admin: AdminSection,
    /// Default limits of every worker.
    #[serde(default)]
    pub limits: LimitsSection,
    /// The pool of blank isolates.
    #[serde(default)]
    pub pool: PoolSection,
    /// Per-worker isolate scaling and eviction.
    #[serde(default)]
    pub scaling: ScalingSection,
    /// Client connections.
    #[serde(default)]
    pub http: HttpSection,
    /// TLS and HTTP/3.
    #[serde(default)]
    pub tls: TlsSection,
    /// Workers declared in the file, deployed at start.
    #[serde(default)]
    pub workers: Vec<StaticWorker>,
    /// The KV backend (`[kv]`, `[kv.nats]`).
    #[serde(default)]
    pub kv: crate::kv_config::KvSection,
    /// The client's address towards workers and origins.
    #[serde(default)]
    pub proxy: ProxySection,
    /// The Cache API's store.
    #[serde(default)]
    pub cache: CacheSection,
}

/// `[cache]`: the Cache API's store, one per process.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSection {
    /// Bytes of entries held at most.
    pub memory_bytes: Option<u64>,
    /// Largest body one entry may have; larger responses are not stored.
    pub max_entry_bytes: Option<u64>,
    /// The disk tier's directory (relative: under the data directory).
    pub disk_dir: Option<PathBuf>,
    /// Bytes of entry files the disk tier holds at most.
    pub disk_bytes: Option<u64>,
}

/// `[proxy]`: how the client's address reaches workers and their origins.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxySection {
    /// `"x-forwarded-for"`, `"forwarded"` or `"none"`.
    pub forwarded_headers: Option<String>,
    /// Believe clients' `X-Forwarded-For` (a proxy of the operator's in
    /// front of Brink) instead of removing it.
    pub trust_incoming: Option<bool>,
    /// Peers (CIDR networks) whose forwarding headers name the client.
    pub trusted_proxies: Option<Vec<String>>,
}

/// `[admin]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// A file holding the bearer token (surrounding whitespace ignored).
    pub token_file: Option<PathBuf>,
}

/// `[limits]`: defaults every worker runs under unless its deploy overrides
/// them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    /// CPU milliseconds per request.
    pub cpu_ms: Option<u64>,
    /// Wall-clock milliseconds per request.
    pub wall_ms: Option<u64>,
    /// Heap per isolate, MiB; also the most a deploy may ask for.
    pub heap_mib: Option<u64>,
    /// Outbound fetches per request.
    pub subrequests: Option<u32>,
    /// Nesting depth of worker-to-worker subrequests.
    pub max_subrequest_depth: Option<u32>,
    /// Largest request body, bytes; also the most a deploy may ask for.
    pub max_request_body_bytes: Option<u64>,
    /// Largest response body, bytes (none: no limit); also the most a
    /// deploy may ask for.
    pub max_response_body_bytes: Option<u64>,
}

/// `[pool]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSection {
    /// Blank isolates kept warm.
    pub warm_isolates: Option<usize>,
}

/// `[scaling]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScalingSection {
    /// Isolates a worker keeps even when idle.
    pub min_isolates: Option<usize>,
    /// Most isolates one worker may have.
    pub max_isolates_per_worker: Option<usize>,
    /// Seconds an idle isolate lives before it is evicted.
    pub idle_timeout_secs: Option<u64>,
    /// Most isolates running workers in the whole process.
    pub max_live_isolates: Option<usize>,
}

/// `[http]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// Milliseconds a client may take to send a request head.
    pub header_timeout_ms: Option<u64>,
    /// Milliseconds a connection may stay open with no request running.
    pub idle_timeout_ms: Option<u64>,
    /// Most client connections open at once.
    pub max_connections: Option<usize>,
    /// Milliseconds a graceful shutdown waits for in-flight requests.
    pub shutdown_grace_ms: Option<u64>,
    /// Most concurrent requests on one h2 or h3 connection.
    pub max_concurrent_streams: Option<u32>,
    /// Largest h2/h3 request header list, bytes.
    pub max_header_list_bytes: Option<u32>,
}

/// `[tls]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// The host whose certificate answers handshakes for unknown names.
    pub default_certificate: Option<String>,
    /// Whether HTTP/3 runs on the TLS port over UDP.
    pub http3: Option<bool>,
    /// Milliseconds a client may take to finish a TLS or QUIC handshake.
    pub handshake_timeout_ms: Option<u64>,
    /// Whether a handshake naming a routed host starts loading its worker.
    pub prewarm_on_sni: Option<bool>,
}

/// `[[workers]]`: a worker deployed from a file at start (a new version is
/// made only when its code or settings changed since the active one).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticWorker {
    /// The worker's name.
    pub name: String,
    /// Its entry module (relative to the config file's directory).
    pub entry: PathBuf,
    /// Route patterns.
    #[serde(default)]
    pub routes: Vec<String>,
    /// Plain-text bindings.
    #[serde(default)]
    pub vars: std::collections::BTreeMap<String, String>,
    /// KV bindings, `BINDING` or `BINDING=NAMESPACE`.
    #[serde(default)]
    pub kv: Vec<String>,
    /// Limit overrides.
    #[serde(default)]
    pub limits: crate::deployments::LimitOverrides,
    /// The origin behind the worker, `http(s)://host[:port]`.
    #[serde(default)]
    pub origin: Option<String>,
}

/// Command-line values that override the file.
#[derive(Debug, Default, Clone)]
pub struct ServeOverrides {
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--tls-listen`.
    pub tls_listen: Option<SocketAddr>,
    /// `--no-h3`.
    pub no_h3: bool,
    /// `--admin-listen`.
    pub admin_listen: Option<SocketAddr>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--kv-nats`: NATS server URLs (selects the replicated KV backend).
    pub kv_nats: Option<Vec<String>>,
}

/// Everything `brink serve` runs with, resolved.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Public listener.
    pub listen: SocketAddr,
    /// TLS listener (TCP, and UDP for HTTP/3), if any.
    pub tls_listen: Option<SocketAddr>,
    /// Whether HTTP/3 runs on the TLS listener's port.
    pub http3: bool,
    /// The host whose certificate answers unknown SNI names.
    pub default_certificate: Option<String>,
    /// TLS and QUIC handshake timeout.
    pub handshake_timeout: Duration,
    /// Whether a ClientHello naming a routed host pre-warms its worker.
    pub prewarm_on_sni: bool,
    /// Most concurrent streams per h2/h3 connection.
    pub max_concurrent_streams: u32,
    /// Largest h2/h3 request header list.
    pub max_header_list_bytes: u32,
    /// Admin listener.
    pub admin_listen: SocketAddr,
    /// Data directory.
    pub data_dir: PathBuf,
    /// The admin bearer token. Never logged.
    pub admin_token: AdminToken,
    /// Default limits.
    pub limits: Limits,
    /// Largest request body.
    pub max_request_body: u64,
    /// Warm blank isolates.
    pub warm_isolates: usize,
    /// Isolates a worker keeps when idle.
    pub min_isolates: usize,
    /// Most isolates per worker.
    pub max_isolates_per_worker: usize,
    /// Idle time before an isolate is evicted.
    pub isolate_idle_timeout: Duration,
    /// Most isolates running workers in the process (least recently used
    /// idle ones are evicted first).
    pub max_live_isolates: usize,
    /// Request-head timeout.
    pub header_read_timeout: Duration,
    /// Idle connection timeout.
    pub connection_idle_timeout: Duration,
    /// Most open connections.
    pub max_connections: usize,
    /// Graceful shutdown wait.
    pub shutdown_grace: Duration,
    /// Workers declared in the file (entries resolved to absolute paths).
    pub workers: Vec<StaticWorker>,
    /// The KV backend.
    pub kv_backend: crate::kv_config::KvBackendChoice,
    /// Which headers name the client on requests to origins.
    pub forwarded_headers: brink_runtime::api::forwarding::ForwardedHeaders,
    /// Which peers' forwarding headers are believed.
    pub trust_forwarded: brink_runtime::api::forwarding::TrustedProxies,
    /// The Cache API's store.
    pub cache: brink_runtime::api::cache::CacheConfig,
}

/// The admin API's bearer token. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(String);

impl AdminToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> AdminToken {
        AdminToken(token.into())
    }

    /// Whether `presented` is the token, compared in time that does not
    /// depend on where the first difference is.
    pub fn matches(&self, presented: &[u8]) -> bool {
        let expected = self.0.as_bytes();
        if presented.len() != expected.len() {
            return false;
        }
        expected.iter().zip(presented).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<admin token>")
    }
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ServeConfigError {
    /// The config file cannot be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The config file is not valid (unknown key, wrong type); the message
    /// names the key and its line.
    #[error("invalid config file {}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A key has a value that does not make sense.
    #[error("invalid config value for `{key}`: {reason}")]
    Value {
        /// The key, dotted (`limits.cpu_ms`).
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// No admin token anywhere.
    #[error("no admin token: set the BRINK_ADMIN_TOKEN environment variable or `admin.token_file` in the config file (brink serve never runs an unauthenticated admin API)")]
    NoAdminToken,
    /// The token file cannot be read or is empty.
    #[error("admin.token_file {}: {reason}", path.display())]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl ServeConfig {
    /// Reads the config file (if any), applies `overrides`, and takes the
    /// token from `env_token` (the `BRINK_ADMIN_TOKEN` variable) or the
    /// file's `admin.token_file`.
    pub fn load(overrides: &ServeOverrides, env_token: Option<String>) -> Result<ServeConfig, ServeConfigError> {
        let (file, base) = match &overrides.config {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| ServeConfigError::Read { path: path.clone(), source })?;
                let file = parse(&text).map_err(|message| ServeConfigError::Parse { path: path.clone(), message })?;
                let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
                (file, base)
            }
            None => (ServeFile::default(), PathBuf::new()),
        };
        ServeConfig::resolve(file, &base, overrides, env_token)
    }

    fn resolve(
        file: ServeFile,
        base: &Path,
        overrides: &ServeOverrides,
        env_token: Option<String>,
    ) -> Result<ServeConfig, ServeConfigError> {
        let defaults = Limits::default();
        let positive = |key: &str, value: Option<u64>| match value {
            Some(0) => Err(ServeConfigError::Value { key: key.into(), reason: "must be greater than 0".into() }),
            other => Ok(other),
        };
        let cpu_ms = positive("limits.cpu_ms", file.limits.cpu_ms)?;
        let wall_ms = positive("limits.wall_ms", file.limits.wall_ms)?;
        let heap_mib = positive("limits.heap_mib", file.limits.heap_mib)?;
        let request_body = positive("limits.max_request_body_bytes", file.limits.max_request_body_bytes)?;
        let response_body = positive("limits.max_response_body_bytes", file.limits.max_response_body_bytes)?;
        let limits = Limits {
            cpu_per_request: cpu_ms.map(Duration::from_millis).unwrap_or(defaults.cpu_per_request),
            wall_clock: wall_ms.map(Duration::from_millis).unwrap_or(defaults.wall_clock),
            heap_bytes: heap_mib
                .map(|mib| usize::try_from(mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX))
                .unwrap_or(defaults.heap_bytes),
            subrequests: file.limits.subrequests.unwrap_or(defaults.subrequests),
            max_subrequest_depth: file.limits.max_subrequest_depth.unwrap_or(defaults.max_subrequest_depth),
            request_body_bytes: request_body.unwrap_or(defaults.request_body_bytes),
            response_body_bytes: response_body.or(defaults.response_body_bytes),
        };
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let max_isolates_per_worker = file.scaling.max_isolates_per_worker.unwrap_or(cores);
        if max_isolates_per_worker == 0 {
            return Err(ServeConfigError::Value {
                key: "scaling.max_isolates_per_worker".into(),
                reason: "must be at least 1".into(),
            });
        }
        let min_isolates = file.scaling.min_isolates.unwrap_or(0);
        if min_isolates > max_isolates_per_worker {
            return Err(ServeConfigError::Value {
                key: "scaling.min_isolates".into(),
                reason: format!("must not exceed scaling.max_isolates_per_worker ({max_isolates_per_worker})"),
            });
        }
        let idle_secs = positive("scaling.idle_timeout_secs", file.scaling.idle_timeout_secs)?;
        let max_live_isolates = file.scaling.max_live_isolates.unwrap_or(10_000);
        if max_live_isolates == 0 {
            return Err(ServeConfigError::Value {
                key: "scaling.max_live_isolates".into(),
                reason: "must be at least 1".into(),
            });
        }
        let handshake_ms = positive("tls.handshake_timeout_ms", file.tls.handshake_timeout_ms)?;
        let max_concurrent_streams = match file.http.max_concurrent_streams {
            Some(0) => {
                return Err(ServeConfigError::Value {
                    key: "http.max_concurrent_streams".into(),
                    reason: "must be at least 1".into(),
                })
            }
            other => other.unwrap_or(100),
        };
        let max_header_list_bytes = match file.http.max_header_list_bytes {
            Some(bytes) if bytes < 1024 => {
                return Err(ServeConfigError::Value {
                    key: "http.max_header_list_bytes".into(),
                    reason: "must be at least 1024".into(),
                })
            }
            other => other.unwrap_or(32 * 1024),
        };
        if let Some(host) = &file.tls.default_certificate {
            if let Err(error) = crate::certificates::normalize_host(host) {
                return Err(ServeConfigError::Value { key: "tls.default_certificate".into(), reason: error.to_string() });
            }
        }
        let resolve_path = |path: PathBuf| if path.is_relative() { base.join(path) } else { path };
        let admin_token = match env_token.filter(|token| !token.trim().is_empty()) {
            Some(token) => AdminToken::new(token.trim()),
            None => match file.admin.token_file.map(resolve_path) {
                Some(path) => read_token_file(&path)?,
                None => return Err(ServeConfigError::NoAdminToken),
            },
        };
        let kv_backend = file
            .kv
            .resolve(base, overrides.kv_nats.clone())
            .map_err(|(key, reason)| ServeConfigError::Value { key, reason })?;
        let forwarded_headers = match &file.proxy.forwarded_headers {
            Some(value) => value
                .parse()
                .map_err(|error: brink_runtime::api::forwarding::UnknownForwardedHeaders| ServeConfigError::Value {
                    key: "proxy.forwarded_headers".into(),
                    reason: error.to_string(),
                })?,
            None => Default::default(),
        };
        let cache_defaults = brink_runtime::api::cache::CacheConfig::default();
        let memory_bytes = positive("cache.memory_bytes", file.cache.memory_bytes)?.unwrap_or(cache_defaults.memory_bytes);
        let data_dir =
            overrides.data_dir.clone().or(file.data_dir.map(resolve_path)).unwrap_or_else(|| PathBuf::from(".brink"));
        let disk = disk_tier(&file.cache, &data_dir)?;
        // An entry fits one of the tiers: too big for memory's share, it
        // lives on disk.
        let max_entry_bytes = positive("cache.max_entry_bytes", file.cache.max_entry_bytes)?
            .unwrap_or(cache_defaults.max_entry_bytes as u64)
            .min(memory_bytes.max(disk.as_ref().map_or(0, |disk| disk.bytes)));
        let cache = brink_runtime::api::cache::CacheConfig {
            memory_bytes,
            max_entry_bytes: usize::try_from(max_entry_bytes).unwrap_or(usize::MAX),
            disk,
        };
        let trust_forwarded = trusted_proxies(&file.proxy, forwarded_headers)?;
        let mut workers = file.workers;
        for (index, worker) in workers.iter_mut().enumerate() {
            if let Err(error) = crate::deployments::validate_worker_name(&worker.name) {
                return Err(ServeConfigError::Value { key: format!("workers[{index}].name"), reason: error.to_string() });
            }
            worker.entry = resolve_path(std::mem::take(&mut worker.entry));
        }
        Ok(ServeConfig {
            listen: overrides.listen.or(file.listen).unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080))),
            tls_listen: overrides.tls_listen.or(file.tls_listen),
            http3: !overrides.no_h3 && file.tls.http3.unwrap_or(true),
            default_certificate: file.tls.default_certificate,
            handshake_timeout: Duration::from_millis(handshake_ms.unwrap_or(10_000)),
            prewarm_on_sni: file.tls.prewarm_on_sni.unwrap_or(true),
            max_concurrent_streams,
            max_header_list_bytes,
            admin_listen: overrides.admin_listen.or(file.admin_listen).unwrap_or(SocketAddr::from(([127, 0, 0, 1], 9090))),
            data_dir,
            admin_token,
            max_request_body: limits.request_body_bytes,
            limits,
            warm_isolates: file.pool.warm_isolates.unwrap_or(2),
            min_isolates,
            max_isolates_per_worker,
            isolate_idle_timeout: Duration::from_secs(idle_secs.unwrap_or(60)),
            max_live_isolates,
            header_read_timeout: Duration::from_millis(file.http.header_timeout_ms.unwrap_or(30_000)),
            connection_idle_timeout: Duration::from_millis(file.http.idle_timeout_ms.unwrap_or(60_000)),
            max_connections: file.http.max_connections.unwrap_or(10_000),
            shutdown_grace: Duration::from_millis(file.http.shutdown_grace_ms.unwrap_or(30_000)),
            workers,
            kv_backend,
            forwarded_headers,
            trust_forwarded,
            cache,
        })
    }
}

/// The Cache API's disk tier from `[cache]`: none without `disk_dir`.
fn disk_tier(
    cache: &CacheSection,
    data_dir: &Path,
) -> Result<Option<brink_runtime::api::cache::DiskConfig>, ServeConfigError> {
    let value = |key: &str, reason: &str| ServeConfigError::Value { key: key.into(), reason: reason.into() };
    if cache.disk_bytes == Some(0) {
        return Err(value("cache.disk_bytes", "must be greater than 0"));
    }
    let Some(dir) = &cache.disk_dir else {
        return match cache.disk_bytes {
            Some(_) => Err(value("cache.disk_bytes", "needs cache.disk_dir")),
            None => Ok(None),
        };
    };
    if dir.as_os_str().is_empty() {
        return Err(value("cache.disk_dir", "must not be empty"));
    }
    Ok(Some(brink_runtime::api::cache::DiskConfig {
        dir: data_dir.join(dir),
        bytes: cache.disk_bytes.unwrap_or(1 << 30),
    }))
}

/// Which peers may name the client, from `[proxy]`.
fn trusted_proxies(
    proxy: &ProxySection,
    reads: brink_runtime::api::forwarding::ForwardedHeaders,
) -> Result<brink_runtime::api::forwarding::TrustedProxies, ServeConfigError> {
    let networks = proxy
        .trusted_proxies
        .iter()
        .flatten()
        .enumerate()
        .map(|(index, network)| {
            network.parse().map_err(|error: brink_runtime::api::forwarding::BadIpNet| ServeConfigError::Value {
                key: format!("proxy.trusted_proxies[{index}]"),
                reason: error.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(brink_runtime::api::forwarding::TrustedProxies::new(networks, proxy.trust_incoming.unwrap_or(false), reads))
}

/// Parses the file's text; the error names the offending key and line.
pub fn parse(text: &str) -> Result<ServeFile, String> {
    toml::from_str(text).map_err(|error| error.to_string().trim_end().to_string())
}

fn read_token_file(path: &Path) -> Result<AdminToken, ServeConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| ServeConfigError::TokenFile { path: path.to_path_buf(), reason: error.to_string() })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(ServeConfigError::TokenFile { path: path.to_path_buf(), reason: "the file is empty".into() });
    }
    Ok(AdminToken::new(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(text: &str, token: Option<&str>) -> Result<ServeConfig, ServeConfigError> {
        let file = parse(text).map_err(|message| ServeConfigError::Parse { path: "t.toml".into(), message })?;
        ServeConfig::resolve(file, Path::new("/etc/brink"), &ServeOverrides::default(), token.map(String::from))
    }

    #[test]
    fn every_section_parses() {
        let config = resolve(
            r#"
            listen = "0.0.0.0:80"
            admin_listen = "127.0.0.1:9999"
            data_dir = "data"
            [admin]
            token_file = "/dev/null"
            [limits]
            cpu_ms = 50
            wall_ms = 1000
            heap_mib = 64
            subrequests = 5
            max_subrequest_depth = 3
            max_request_body_bytes = 1024
            [pool]
            warm_isolates = 8
            [scaling]
            min_isolates = 1
            max_isolates_per_worker = 4
            idle_timeout_secs = 30
            [http]
            header_timeout_ms = 1000
            idle_timeout_ms = 2000
            max_connections = 10
            shutdown_grace_ms = 500
            max_concurrent_streams = 7
            max_header_list_bytes = 4096
            [tls]
            default_certificate = "fallback.example"
            http3 = false
            handshake_timeout_ms = 900
            [proxy]
            forwarded_headers = "forwarded"
            trust_incoming = true
            trusted_proxies = ["10.0.0.0/8", "::1"]
            [cache]
            memory_bytes = 1000000
            max_entry_bytes = 2000000
            disk_dir = "cache"
            [[workers]]
            name = "hello"
            entry = "hello/worker.js"
            routes = ["hello.example"]
            vars = { GREETING = "hi" }
            kv = ["COUNTS"]
            limits = { cpu_ms = 10 }
            "#,
            Some("t"),
        )
        .unwrap();
        assert_eq!(config.listen, "0.0.0.0:80".parse().unwrap());
        assert_eq!(config.data_dir, PathBuf::from("/etc/brink/data"));
        assert_eq!(config.limits.cpu_per_request, Duration::from_millis(50));
        assert_eq!(config.limits.heap_bytes, 64 * 1024 * 1024);
        assert_eq!(config.max_isolates_per_worker, 4);
        assert_eq!((config.max_concurrent_streams, config.max_header_list_bytes), (7, 4096));
        assert_eq!(config.default_certificate.as_deref(), Some("fallback.example"));
        assert!(!config.http3);
        assert_eq!(config.handshake_timeout, Duration::from_millis(900));
        assert_eq!(config.workers[0].entry, PathBuf::from("/etc/brink/hello/worker.js"));
        assert_eq!(config.workers[0].limits.cpu_ms, Some(10));
        assert_eq!(config.forwarded_headers, brink_runtime::api::forwarding::ForwardedHeaders::Forwarded);
        assert!(config.trust_forwarded.trusts("192.0.2.1".parse().unwrap()), "trust_incoming trusts every peer");
        assert!(config.trust_forwarded.reads_forwarded());
        assert_eq!((config.cache.memory_bytes, config.cache.max_entry_bytes), (1_000_000, 2_000_000), "an entry fits the disk tier");
        let memory_only = resolve("[cache]\nmemory_bytes = 1000\nmax_entry_bytes = 5000\n", Some("t")).unwrap();
        assert_eq!(memory_only.cache.max_entry_bytes, 1000, "an entry fits the store");
        let disk = config.cache.disk.expect("a disk tier");
        assert_eq!((disk.dir, disk.bytes), (PathBuf::from("/etc/brink/data/cache"), 1 << 30), "under the data dir");
        let defaults = resolve("", Some("t")).unwrap();
        assert_eq!(defaults.forwarded_headers, brink_runtime::api::forwarding::ForwardedHeaders::XForwardedFor);
        assert!(!defaults.trust_forwarded.trusts("127.0.0.1".parse().unwrap()));
        assert!(defaults.cache.disk.is_none());
        let listed = resolve("[proxy]\ntrusted_proxies = [\"10.0.0.0/8\"]\n", Some("t")).unwrap();
        assert!(listed.trust_forwarded.trusts("10.2.3.4".parse().unwrap()));
        assert!(!listed.trust_forwarded.trusts("11.2.3.4".parse().unwrap()));
        let absolute = resolve("[cache]\ndisk_dir = \"/var/cache/brink\"\ndisk_bytes = 5000\n", Some("t")).unwrap();
        let disk = absolute.cache.disk.expect("a disk tier");
        assert_eq!((disk.dir, disk.bytes), (PathBuf::from("/var/cache/brink"), 5000));
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let error = resolve("[limits]\ncpu_msec = 5\n", Some("t")).unwrap_err().to_string();
        assert!(error.contains("cpu_msec"), "{error}");
        let error = resolve("listen = 5\n", Some("t")).unwrap_err().to_string();
        assert!(error.contains("listen"), "{error}");
        let error = resolve("[limits]\ncpu_ms = 0\n", Some("t")).unwrap_err().to_string();
        assert!(error.contains("limits.cpu_ms"), "{error}");
        let error = resolve("[[workers]]\nname = \"A_b\"\nentry = \"w.js\"\n", Some("t")).unwrap_err().to_string();
        assert!(error.contains("workers[0].name"), "{error}");
        let error = resolve("[proxy]\nforwarded_headers = \"X-Forwarded-For\"\n", Some("t")).unwrap_err().to_string();
        assert!(error.contains("proxy.forwarded_headers"), "{error}");
        let error = resolve("[cache]\nmemory_bytes = 0\n", Some("t")).unwrap_err().to_string();
        assert!(error.contains("cache.memory_bytes"), "{error}");
        for (text, key) in [
            ("[cache]\ndisk_dir = \"c\"\ndisk_bytes = 0\n", "cache.disk_bytes"),
            ("[cache]\ndisk_bytes = 1000\n", "cache.disk_bytes"),
            ("[cache]\ndisk_dir = \"\"\n", "cache.disk_dir"),
            ("[cache]\ndisk_bytes = -1\n", "disk_bytes"),
            ("[proxy]\ntrusted_proxies = [\"10.0.0.0/8\", \"10.0.0.0/33\"]\n", "proxy.trusted_proxies[1]"),
            ("[proxy]\ntrusted_proxies = [\"example.com\"]\n", "proxy.trusted_proxies[0]"),
        ] {
            let error = resolve(text, Some("t")).unwrap_err().to_string();
            assert!(error.contains(key), "{text}: {error}");
        }
    }

    #[test]
    fn no_token_is_an_error_and_the_token_is_never_printed() {
        assert!(matches!(resolve("", None), Err(ServeConfigError::NoAdminToken)));
        assert!(matches!(resolve("", Some("  ")), Err(ServeConfigError::NoAdminToken)));
        let config = resolve("", Some("s3cret")).unwrap();
        assert!(!format!("{config:?}").contains("s3cret"));
        assert!(config.admin_token.matches(b"s3cret"));
        assert!(!config.admin_token.matches(b"s3creT"));
        assert!(!config.admin_token.matches(b"s3cre"));
    }
}
