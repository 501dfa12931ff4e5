//! TLS for the public listener: rustls with the aws-lc-rs provider (the
//! one deno_tls already links into the binary), TLS 1.2 and 1.3 only, the
//! certificate picked per handshake from the SNI name.
//!
//! The SNI name arrives in the ClientHello, before the handshake finishes:
//! the resolver hands it to an optional hook, which `brink serve` uses to
//! start loading the worker routed at that host while the handshake and
//! the first request are still on their way (see [`prewarm_hook`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

use crate::certificates::CertificateStore;
use crate::router::Routing;

/// ALPN protocols of the TCP listener, preferred first.
pub const TCP_ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// ALPN protocol of HTTP/3.
pub const H3_ALPN: &[u8] = b"h3";

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// The development certificate could not be made or stored.
    #[error("development certificate: {0}")]
    DevCertificate(String),
    /// A certificate file could not be written or read.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Marks a request that arrived over TLS or QUIC (a request extension), so
/// the worker's URL says `https`.
#[derive(Clone, Copy, Debug)]
pub struct SecureTransport;

/// Called with each handshake's SNI name, before the certificate is
/// chosen. Must not block: it runs inside the handshake.
pub type SniHook = Arc<dyn Fn(&str) + Send + Sync>;

/// Where certificates come from.
#[derive(Clone)]
pub enum CertificateSource {
    /// `brink serve`: the certificate store, by SNI name.
    Store(Arc<CertificateStore>),
    /// `brink dev`: one certificate for every name.
    Fixed(Arc<CertifiedKey>),
}

/// Picks the certificate for a handshake (exact name, then wildcard, then
/// the default certificate; none fails the handshake with an alert) and
/// tells the SNI hook the name.
pub struct SniResolver {
    source: CertificateSource,
    hook: Option<SniHook>,
}

impl SniResolver {
    /// A resolver over `source`, calling `hook` with each SNI name.
    pub fn new(source: CertificateSource, hook: Option<SniHook>) -> Arc<SniResolver> {
        Arc::new(SniResolver { source, hook })
    }
}

impl fmt::Debug for SniResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SniResolver")
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = client_hello.server_name();
        if let (Some(name), Some(hook)) = (name, &self.hook) {
            hook(name);
        }
        let found = match &self.source {
            CertificateSource::Store(store) => store.current().resolve(name),
            CertificateSource::Fixed(key) => Some(key.clone()),
        };
        if found.is_none() {
            tracing::debug!(server_name = name.unwrap_or(""), "no certificate for the handshake's name: refused");
        }
        found
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The TCP listener's config: TLS 1.3 and 1.2, ALPN `h2` and `http/1.1`,
/// session tickets for cheap resumption.
pub fn tcp_config(resolver: Arc<SniResolver>) -> Result<Arc<ServerConfig>, TlsError> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = TCP_ALPN.iter().map(|p| p.to_vec()).collect();
    config.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new()?;
    Ok(Arc::new(config))
}

/// The QUIC listener's config: TLS 1.3 (QUIC requires it), ALPN `h3`, no
/// 0-RTT (replayable requests would reach workers twice).
pub fn quic_config(resolver: Arc<SniResolver>) -> Result<ServerConfig, TlsError> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![H3_ALPN.to_vec()];
    config.max_early_data_size = 0;
    Ok(config)
}

/// Starts loading the worker routed at the SNI name when it has no live
/// isolate, so the connection's first request finds one ready. Only the
/// host is known at this point, so the route for `/` is the one warmed.
pub fn prewarm_hook(routing: Arc<Routing>) -> SniHook {
    Arc::new(move |name: &str| {
        if let Some(worker) = routing.current().route(name, "/") {
            if worker.prewarm() {
                tracing::debug!(worker = %worker.name(), server_name = name, "pre-warming on SNI");
            }
        }
    })
}

/// A self-signed certificate for `localhost`, `127.0.0.1` and `::1`, made
/// once in `dir` and reused while valid, so a client told to trust it
/// keeps trusting it across restarts.
pub struct DevCertificate {
    /// The certificate (PEM): what `curl --cacert` takes.
    pub cert_path: PathBuf,
    /// The key for handshakes.
    pub key: Arc<CertifiedKey>,
}

impl DevCertificate {
    /// Loads the certificate in `dir`, or makes one.
    pub fn load_or_create(dir: &Path) -> Result<DevCertificate, TlsError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let cert_path = dir.join("localhost.pem");
        let key_path = dir.join("localhost-key.pem");
        let io = |action: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| TlsError::Io { action, path, source }
        };
        let load = || -> Option<Arc<CertifiedKey>> {
            let cert_pem = std::fs::read(&cert_path).ok()?;
            let key_pem = std::fs::read(&key_path).ok()?;
            let cert = CertificateDer::from_pem_slice(&cert_pem).ok()?;
            let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
            // Replace it a day before it expires.
            if parsed.validity().not_after.timestamp() < now + 86_400 {
                return None;
            }
            let key = PrivateKeyDer::from_pem_slice(&key_pem).ok()?;
            CertifiedKey::from_der(vec![cert], key, &provider()).ok().map(Arc::new)
        };
        if let Some(key) = load() {
            return Ok(DevCertificate { cert_path, key });
        }
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
        let generated =
            rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::DevCertificate(e.to_string()))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        use std::io::Write;
        let mut key_file = options.open(&key_path).map_err(io("create", &key_path))?;
        key_file.write_all(generated.key_pair.serialize_pem().as_bytes()).map_err(io("write", &key_path))?;
        std::fs::write(&cert_path, generated.cert.pem()).map_err(io("write", &cert_path))?;
        let key = PrivateKeyDer::from_pem_slice(generated.key_pair.serialize_pem().as_bytes())
            .map_err(|e| TlsError::DevCertificate(e.to_string()))?;
        let key = CertifiedKey::from_der(vec![generated.cert.der().clone()], key, &provider())?;
        Ok(DevCertificate { cert_path, key: Arc::new(key) })
    }
}
