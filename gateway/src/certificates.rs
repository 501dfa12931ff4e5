//! TLS certificates of `brink serve`: one certificate chain and private key
//! per host name (`example.com` or a wildcard `*.example.com`), checked
//! when they are put, stored in the data directory, and looked up by the
//! TLS listener for each handshake's SNI name.
//!
//! On disk: `DATA_DIR/certs/<host>.pem` (a wildcard's `*` is spelled
//! `_wildcard`, which no valid host name can contain), holding the private
//! key followed by the chain, mode 0600 in a 0700 directory. A file is
//! written to a temporary name, synced and renamed, so a crash leaves
//! either the old or the new certificate, never half of one.
//!
//! Lookups read an immutable [`CertificateTable`] that every change
//! replaces as a whole, so a put or delete takes effect for the next
//! handshake without a restart and without blocking handshakes.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use serde::{Deserialize, Serialize};

use crate::admin::{error, json, AdminBody};

/// Largest certificate upload (a chain and a key in PEM are a few KiB).
const MAX_UPLOAD_BYTES: usize = 1024 * 1024;

/// A certificate closer than this to its expiry is logged at start.
const EXPIRY_WARNING_SECS: i64 = 14 * 86_400;

/// The file name a wildcard's `*.` becomes.
const WILDCARD_FILE_PREFIX: &str = "_wildcard.";

/// Why a certificate was refused or could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// The host is not a DNS name or `*.` followed by one.
    #[error("invalid certificate host {0:?}: expected a DNS name such as example.com, or *.example.com")]
    InvalidHost(String),
    /// The chain PEM holds no certificate or does not parse.
    #[error("the certificate file is not valid PEM with at least one CERTIFICATE block: {0}")]
    BadCertificatePem(String),
    /// The key PEM holds no private key or does not parse.
    #[error("the key file is not a PEM private key (PKCS#8, PKCS#1 or SEC1): {0}")]
    BadKeyPem(String),
    /// The key is of a kind TLS cannot use.
    #[error("the private key cannot be used for TLS: {0}")]
    UnsupportedKey(String),
    /// The key is not the one the certificate was issued for.
    #[error("the private key does not match the certificate's public key")]
    KeyMismatch,
    /// The leaf certificate does not parse as X.509.
    #[error("the certificate is not a valid X.509 certificate: {0}")]
    BadCertificate(String),
    /// The leaf certificate has expired.
    #[error("the certificate expired at {not_after}")]
    Expired {
        /// When it expired (RFC 3339, UTC).
        not_after: String,
    },
    /// The leaf certificate is not valid yet.
    #[error("the certificate is not valid before {not_before}")]
    NotYetValid {
        /// When it becomes valid (RFC 3339, UTC).
        not_before: String,
    },
    /// The certificate does not name the host.
    #[error("the certificate does not cover {host} (it names: {names})")]
    NameMismatch {
        /// The host it was put for.
        host: String,
        /// The names it has, comma-separated.
        names: String,
    },
    /// No certificate for this host.
    #[error("no certificate for {0}")]
    NotFound(String),
    /// The file system failed.
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

impl CertificateError {
    /// The admin API's status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            CertificateError::NotFound(_) => StatusCode::NOT_FOUND,
            CertificateError::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// What `brink certs list` shows about a certificate. Never the key.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CertificateInfo {
    /// The host it serves (`*.example.com` for a wildcard).
    pub host: String,
    /// The leaf's subject.
    pub subject: String,
    /// The leaf's issuer.
    pub issuer: String,
    /// The DNS names the leaf covers.
    pub names: Vec<String>,
    /// Start of validity, seconds since the epoch.
    pub not_before: i64,
    /// End of validity, seconds since the epoch.
    pub not_after: i64,
    /// End of validity, RFC 3339 (UTC).
    pub expires: String,
    /// Certificates in the chain, the leaf included.
    pub chain_length: usize,
    /// Whether it also answers handshakes for unknown names.
    pub default: bool,
}

/// A host's certificate, ready for handshakes.
struct StoredCertificate {
    key: Arc<CertifiedKey>,
    info: CertificateInfo,
}

/// The certificates in force: swapped as a whole on every change.
#[derive(Default)]
pub struct CertificateTable {
    exact: HashMap<String, Arc<StoredCertificate>>,
    /// Keyed by the suffix after `*.`.
    wildcard: HashMap<String, Arc<StoredCertificate>>,
    default: Option<Arc<StoredCertificate>>,
}

impl CertificateTable {
    /// The certificate for a handshake's SNI name: the exact host first,
    /// then a wildcard for the name's parent (a wildcard covers one label,
    /// as in TLS name matching), then the default certificate.
    pub fn resolve(&self, server_name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        if let Some(name) = server_name {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if let Some(found) = self.exact.get(&name) {
                return Some(found.key.clone());
            }
            if let Some((_, parent)) = name.split_once('.') {
                if let Some(found) = self.wildcard.get(parent) {
                    return Some(found.key.clone());
                }
            }
        }
        self.default.as_ref().map(|found| found.key.clone())
    }
}

/// Every host's certificate: on disk in the data directory and in memory
/// for handshakes.
pub struct CertificateStore {
    dir: PathBuf,
    /// The host whose certificate answers unknown or missing SNI names.
    default_host: Option<String>,
    table: RwLock<Arc<CertificateTable>>,
    /// Stored certificates by host; one change at a time.
    hosts: Mutex<BTreeMap<String, Arc<StoredCertificate>>>,
}

impl CertificateStore {
    /// Opens (creating) `DATA_DIR/certs` and loads every certificate in it.
    /// A file that no longer loads is logged and skipped, so one damaged
    /// certificate does not keep the other hosts from serving. An expired
    /// one is loaded with a warning (refusing it would only change which
    /// error the clients see).
    pub fn open(data_dir: &Path, default_host: Option<String>) -> Result<Arc<CertificateStore>, CertificateError> {
        let dir = data_dir.join("certs");
        create_private_dir(&dir)?;
        let default_host = match default_host {
            Some(host) => Some(normalize_host(&host)?),
            None => None,
        };
        let mut hosts = BTreeMap::new();
        let entries = fs::read_dir(&dir).map_err(io("list", &dir))?;
        for entry in entries {
            let entry = entry.map_err(io("list", &dir))?;
            let path = entry.path();
            let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else { continue };
            if file_name.starts_with('.') {
                // An interrupted write.
                let _ = fs::remove_file(&path);
                continue;
            }
            let Some(stem) = file_name.strip_suffix(".pem") else { continue };
            let host = match stem.strip_prefix(WILDCARD_FILE_PREFIX) {
                Some(rest) => format!("*.{rest}"),
                None => stem.to_string(),
            };
            let loaded = fs::read(&path)
                .map_err(io("read", &path))
                .and_then(|pem| parse_certificate(&host, &pem, &pem, false));
            match loaded {
                Ok(stored) => {
                    let left = stored.info.not_after - now_secs();
                    if left < 0 {
                        tracing::warn!(host = %host, expires = %stored.info.expires, "stored certificate has expired");
                    } else if left < EXPIRY_WARNING_SECS {
                        tracing::warn!(host = %host, expires = %stored.info.expires, "stored certificate expires within 14 days");
                    }
                    hosts.insert(host, Arc::new(stored));
                }
                Err(error) => tracing::error!(host = %host, %error, "cannot load stored certificate; skipped"),
            }
        }
        if let Some(host) = &default_host {
            if !hosts.contains_key(host) {
                tracing::warn!(host = %host, "tls.default_certificate names a host with no certificate (yet): unknown names fail the handshake until one is put");
            }
        }
        tracing::info!(certificates = hosts.len(), dir = %dir.display(), "TLS certificates loaded");
        let store = CertificateStore { dir, default_host, table: RwLock::new(Arc::default()), hosts: Mutex::new(hosts) };
        store.publish(&store.hosts_lock());
        Ok(Arc::new(store))
    }

    /// The table in force now.
    pub fn current(&self) -> Arc<CertificateTable> {
        match self.table.read() {
            Ok(table) => table.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Every certificate, by host.
    pub fn list(&self) -> Vec<CertificateInfo> {
        self.hosts_lock().values().map(|stored| stored.info.clone()).collect()
    }

    /// Checks a chain and key for `host` and makes them the host's
    /// certificate (replacing any), on disk and for new handshakes.
    pub fn put(&self, host: &str, chain_pem: &[u8], key_pem: &[u8]) -> Result<CertificateInfo, CertificateError> {
        let host = normalize_host(host)?;
        let stored = parse_certificate(&host, chain_pem, key_pem, true)?;
        let mut hosts = self.hosts_lock();
        let path = self.path_of(&host);
        let temp = self.dir.join(format!(".{}.tmp", file_stem(&host)));
        let _ = fs::remove_file(&temp);
        // Key first, then the chain: one file, so the pair is replaced at once.
        let mut contents = Vec::with_capacity(key_pem.len() + chain_pem.len() + 1);
        contents.extend_from_slice(key_pem);
        if !key_pem.ends_with(b"\n") {
            contents.push(b'\n');
        }
        contents.extend_from_slice(chain_pem);
        write_private_file(&temp, &contents)?;
        fs::rename(&temp, &path).map_err(io("rename", &path))?;
        sync_dir(&self.dir)?;
        let mut info = stored.info.clone();
        info.default = self.default_host.as_deref() == Some(host.as_str());
        let stored = StoredCertificate { key: stored.key, info: info.clone() };
        hosts.insert(host.clone(), Arc::new(stored));
        self.publish(&hosts);
        tracing::info!(host = %host, expires = %info.expires, issuer = %info.issuer, "certificate stored and serving");
        Ok(info)
    }

    /// Removes `host`'s certificate; new handshakes for it get the default
    /// certificate, or fail.
    pub fn delete(&self, host: &str) -> Result<(), CertificateError> {
        let host = normalize_host(host)?;
        let mut hosts = self.hosts_lock();
        if hosts.remove(&host).is_none() {
            return Err(CertificateError::NotFound(host));
        }
        let path = self.path_of(&host);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(CertificateError::Io { action: "remove", path, source }),
        }
        sync_dir(&self.dir)?;
        self.publish(&hosts);
        tracing::info!(host = %host, "certificate deleted");
        Ok(())
    }

    fn path_of(&self, host: &str) -> PathBuf {
        self.dir.join(format!("{}.pem", file_stem(host)))
    }

    fn hosts_lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<StoredCertificate>>> {
        self.hosts.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Builds the lookup table from `hosts` and swaps it in.
    fn publish(&self, hosts: &BTreeMap<String, Arc<StoredCertificate>>) {
        let mut table = CertificateTable::default();
        for (host, stored) in hosts {
            let stored = if self.default_host.as_deref() == Some(host.as_str()) {
                let mut info = stored.info.clone();
                info.default = true;
                let stored = Arc::new(StoredCertificate { key: stored.key.clone(), info });
                table.default = Some(stored.clone());
                stored
            } else {
                stored.clone()
            };
            match host.strip_prefix("*.") {
                Some(suffix) => table.wildcard.insert(suffix.to_string(), stored),
                None => table.exact.insert(host.clone(), stored),
            };
        }
        let table = Arc::new(table);
        match self.table.write() {
            Ok(mut current) => *current = table,
            Err(poisoned) => *poisoned.into_inner() = table,
        }
    }
}

/// Lower-cases and checks a host: DNS labels of letters, digits and `-`,
/// optionally after `*.`.
pub fn normalize_host(host: &str) -> Result<String, CertificateError> {
    let invalid = || CertificateError::InvalidHost(host.to_string());
    let lower = host.trim_end_matches('.').to_ascii_lowercase();
    let name = lower.strip_prefix("*.").unwrap_or(&lower);
    if name.is_empty() || name.len() > 253 {
        return Err(invalid());
    }
    let labels_ok = name.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if !labels_ok {
        return Err(invalid());
    }
    Ok(lower)
}

fn file_stem(host: &str) -> String {
    match host.strip_prefix("*.") {
        Some(rest) => format!("{WILDCARD_FILE_PREFIX}{rest}"),
        None => host.to_string(),
    }
}

/// Parses and checks a chain and key for `host`. `fresh` uploads must be
/// valid now; stored ones are loaded whatever their dates.
fn parse_certificate(host: &str, chain_pem: &[u8], key_pem: &[u8], fresh: bool) -> Result<StoredCertificate, CertificateError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| CertificateError::BadCertificatePem(e.to_string()))?;
    let Some(leaf) = chain.first() else {
        return Err(CertificateError::BadCertificatePem("no CERTIFICATE block found".into()));
    };
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| CertificateError::BadKeyPem(e.to_string()))?;
    let (_, parsed) =
        x509_parser::parse_x509_certificate(leaf.as_ref()).map_err(|e| CertificateError::BadCertificate(e.to_string()))?;
    let validity = parsed.validity();
    let not_before = validity.not_before.timestamp();
    let not_after = validity.not_after.timestamp();
    let mut names: Vec<String> = Vec::new();
    if let Ok(Some(san)) = parsed.subject_alternative_name() {
        for name in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(dns) = name {
                names.push(dns.to_ascii_lowercase());
            }
        }
    }
    if names.is_empty() {
        // Old-style certificates name their host only in the subject's CN.
        names.extend(parsed.subject().iter_common_name().filter_map(|cn| cn.as_str().ok()).map(str::to_ascii_lowercase));
    }
    let info = CertificateInfo {
        host: host.to_string(),
        subject: parsed.subject().to_string(),
        issuer: parsed.issuer().to_string(),
        names: names.clone(),
        not_before,
        not_after,
        expires: rfc3339(not_after),
        chain_length: chain.len(),
        default: false,
    };
    if !names.iter().any(|name| covers(name, host)) {
        return Err(CertificateError::NameMismatch { host: host.to_string(), names: names.join(", ") });
    }
    if fresh {
        let now = now_secs();
        if not_after < now {
            return Err(CertificateError::Expired { not_after: info.expires });
        }
        if not_before > now {
            return Err(CertificateError::NotYetValid { not_before: rfc3339(not_before) });
        }
    }
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let key = CertifiedKey::from_der(chain, key, &provider).map_err(|error| match error {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => CertificateError::KeyMismatch,
        other => CertificateError::UnsupportedKey(other.to_string()),
    })?;
    Ok(StoredCertificate { key: Arc::new(key), info })
}

/// Whether a certificate name (`a.example.com` or `*.example.com`) covers
/// `host` (`a.example.com`, or `*.example.com` for a wildcard host, which
/// only a wildcard name covers).
fn covers(name: &str, host: &str) -> bool {
    let name = name.trim_end_matches('.');
    if name == host {
        return true;
    }
    match (name.strip_prefix("*."), host.strip_prefix("*.")) {
        (Some(suffix), None) => host.split_once('.').is_some_and(|(_, parent)| parent == suffix),
        _ => false,
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CertificateError {
    let path = path.to_path_buf();
    move |source| CertificateError::Io { action, path, source }
}

fn create_private_dir(dir: &Path) -> Result<(), CertificateError> {
    fs::create_dir_all(dir).map_err(io("create", dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io("set permissions of", dir))?;
    }
    Ok(())
}

/// Writes a file only its owner can read, synced.
fn write_private_file(path: &Path, bytes: &[u8]) -> Result<(), CertificateError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io("create", path))?;
    file.write_all(bytes).map_err(io("write", path))?;
    file.sync_all().map_err(io("sync", path))
}

fn sync_dir(dir: &Path) -> Result<(), CertificateError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io("sync", dir))
}

/// The body of `PUT /v1/certificates/{host}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CertificateUpload {
    /// The chain, leaf first, PEM.
    cert: String,
    /// The private key, PEM.
    key: String,
}

/// The admin endpoints: `GET /v1/certificates`, and `GET`, `PUT`,
/// `DELETE /v1/certificates/{host}`.
pub async fn handle(store: Arc<CertificateStore>, host: Option<&str>, request: Request<Incoming>) -> Response<AdminBody> {
    let method = request.method().clone();
    let host = host.map(|host| percent_encoding::percent_decode_str(host).decode_utf8_lossy().into_owned());
    match (method, host) {
        (Method::GET, None) => json(StatusCode::OK, &store.list()),
        (Method::GET, Some(host)) => {
            let wanted = match normalize_host(&host) {
                Ok(host) => host,
                Err(failure) => return certificate_error(&failure),
            };
            match store.list().into_iter().find(|info| info.host == wanted) {
                Some(info) => json(StatusCode::OK, &info),
                None => certificate_error(&CertificateError::NotFound(wanted)),
            }
        }
        (Method::PUT, Some(host)) => {
            let body = match Limited::new(request.into_body(), MAX_UPLOAD_BYTES).collect().await {
                Ok(body) => body.to_bytes(),
                Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, "the upload is too large or was cut off"),
            };
            // serde's messages could quote the key, so only the kind is reported.
            let Ok(upload) = serde_json::from_slice::<CertificateUpload>(&body) else {
                return error(StatusCode::BAD_REQUEST, "the body must be JSON {\"cert\": \"<PEM chain>\", \"key\": \"<PEM key>\"}");
            };
            let result = blocking(move || store.put(&host, upload.cert.as_bytes(), upload.key.as_bytes())).await;
            match result {
                Ok(info) => json(StatusCode::OK, &info),
                Err(failure) => certificate_error(&failure),
            }
        }
        (Method::DELETE, Some(host)) => match blocking(move || store.delete(&host).map(|()| host)).await {
            Ok(host) => json(StatusCode::OK, &serde_json::json!({ "host": host, "deleted": true })),
            Err(failure) => certificate_error(&failure),
        },
        (method, _) => error(StatusCode::METHOD_NOT_ALLOWED, &format!("{method} is not allowed here")),
    }
}

fn certificate_error(failure: &CertificateError) -> Response<AdminBody> {
    if failure.status().is_server_error() {
        tracing::error!(error = %failure, "certificate change failed");
    }
    error(failure.status(), &failure.to_string())
}

/// Runs file-system work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, CertificateError> + Send + 'static,
) -> Result<T, CertificateError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(failure) => Err(CertificateError::Io {
            action: "finish",
            path: PathBuf::from("certificate task"),
            source: std::io::Error::other(failure.to_string()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed(names: &[&str]) -> (String, String) {
        let cert = rcgen::generate_simple_self_signed(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        (cert.cert.pem(), cert.key_pair.serialize_pem())
    }

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("brink-certs-{}-{}", std::process::id(), now_nanos()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn now_nanos() -> u128 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    }

    #[test]
    fn hosts_are_dns_names_or_wildcards() {
        assert_eq!(normalize_host("Example.COM").unwrap(), "example.com");
        assert_eq!(normalize_host("*.example.com").unwrap(), "*.example.com");
        for bad in ["", "*.", "a..b", "a_b.com", "*.*.com", "a.*.com", "-a.com", "a b"] {
            assert!(normalize_host(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn wildcards_cover_one_label() {
        assert!(covers("*.example.com", "a.example.com"));
        assert!(!covers("*.example.com", "a.b.example.com"));
        assert!(!covers("*.example.com", "example.com"));
        assert!(covers("*.example.com", "*.example.com"));
        assert!(!covers("a.example.com", "*.example.com"));
    }

    #[test]
    fn exact_before_wildcard_then_default_and_files_are_private() {
        let dir = temp_dir();
        let store = CertificateStore::open(&dir, Some("fallback.test".into())).unwrap();
        let (exact_cert, exact_key) = self_signed(&["a.example.com"]);
        let (wild_cert, wild_key) = self_signed(&["*.example.com"]);
        store.put("a.example.com", exact_cert.as_bytes(), exact_key.as_bytes()).unwrap();
        store.put("*.example.com", wild_cert.as_bytes(), wild_key.as_bytes()).unwrap();
        let table = store.current();
        let leaf = |name: Option<&str>| table.resolve(name).map(|key| key.cert[0].clone());
        let exact_der = CertificateDer::from_pem_slice(exact_cert.as_bytes()).unwrap();
        let wild_der = CertificateDer::from_pem_slice(wild_cert.as_bytes()).unwrap();
        assert_eq!(leaf(Some("A.example.com")), Some(exact_der));
        assert_eq!(leaf(Some("b.example.com")), Some(wild_der));
        assert_eq!(leaf(Some("x.b.example.com")), None);
        assert_eq!(leaf(None), None);

        let (fallback_cert, fallback_key) = self_signed(&["fallback.test"]);
        store.put("fallback.test", fallback_cert.as_bytes(), fallback_key.as_bytes()).unwrap();
        assert!(store.current().resolve(Some("unknown.test")).is_some());

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join("certs/_wildcard.example.com.pem")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Reopening finds them all.
        let reopened = CertificateStore::open(&dir, None).unwrap();
        let hosts: Vec<String> = reopened.list().into_iter().map(|info| info.host).collect();
        assert_eq!(hosts, ["*.example.com", "a.example.com", "fallback.test"]);
        reopened.delete("a.example.com").unwrap();
        assert!(matches!(reopened.delete("a.example.com"), Err(CertificateError::NotFound(_))));
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn bad_uploads_are_refused_with_their_reason() {
        let dir = temp_dir();
        let store = CertificateStore::open(&dir, None).unwrap();
        let (cert, key) = self_signed(&["a.test"]);
        let (_, other_key) = self_signed(&["a.test"]);
        assert!(matches!(store.put("a.test", b"junk", key.as_bytes()), Err(CertificateError::BadCertificatePem(_))));
        assert!(matches!(store.put("a.test", cert.as_bytes(), b"junk"), Err(CertificateError::BadKeyPem(_))));
        assert!(matches!(store.put("a.test", cert.as_bytes(), other_key.as_bytes()), Err(CertificateError::KeyMismatch)));
        assert!(matches!(store.put("b.test", cert.as_bytes(), key.as_bytes()), Err(CertificateError::NameMismatch { .. })));
        assert!(store.list().is_empty());
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn dates_print_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_709_210_096), "2024-02-29T12:34:56Z");
    }
}
