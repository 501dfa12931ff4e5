//! TLS and HTTP/3 clients for tests: a test CA that issues certificates,
//! HTTPS requests over HTTP/1.1 or h2 through tokio-rustls + hyper, and
//! HTTP/3 requests through quinn + h3. Every client verifies the server
//! against the test CA: nothing here skips verification.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Buf, Bytes};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A certificate authority made for one test.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

/// A certificate chain and key in PEM.
#[derive(Clone)]
pub struct Issued {
    /// Leaf, then the CA.
    pub chain_pem: String,
    /// The leaf's private key.
    pub key_pem: String,
    /// The leaf in DER, to compare with what a server presents.
    pub leaf: CertificateDer<'static>,
}

impl Issued {
    /// Writes `NAME.crt` and `NAME.key` into `dir`.
    pub fn write(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let cert = dir.join(format!("{name}.crt"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&cert, &self.chain_pem).unwrap();
        std::fs::write(&key, &self.key_pem).unwrap();
        (cert, key)
    }
}

impl TestCa {
    /// A fresh CA.
    pub fn new() -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, "Brink Test CA");
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        TestCa { cert, key }
    }

    /// The CA certificate in PEM (what `curl --cacert` takes).
    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// Writes the CA certificate to `path`.
    pub fn write(&self, path: &Path) {
        std::fs::write(path, self.pem()).unwrap();
    }

    /// A leaf for `names`, valid from yesterday for a year.
    pub fn issue(&self, names: &[&str]) -> Issued {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        self.issue_valid(names, now - 2 * 86_400, now + 365 * 86_400)
    }

    /// A leaf for `names` valid between two Unix times.
    pub fn issue_valid(&self, names: &[&str], not_before: i64, not_after: i64) -> Issued {
        let mut params = rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, names[0]);
        let (y, m, d) = day_of(not_before);
        params.not_before = rcgen::date_time_ymd(y, m, d);
        let (y, m, d) = day_of(not_after);
        params.not_after = rcgen::date_time_ymd(y, m, d);
        let key = rcgen::KeyPair::generate().unwrap();
        let leaf = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Issued { chain_pem: format!("{}{}", leaf.pem(), self.cert.pem()), key_pem: key.serialize_pem(), leaf: leaf.der().clone() }
    }

    /// Roots trusting this CA only.
    pub fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.cert.der().clone()).unwrap();
        roots
    }

    /// A client config trusting this CA, offering `alpn`.
    pub fn client_config(&self, alpn: &[&[u8]]) -> Arc<ClientConfig> {
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(self.roots())
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }

    /// A client config that verifies the server's chain against this CA
    /// for `expected_name`, whatever name the handshake's SNI carries (to
    /// see which certificate a server presents for an unknown name).
    pub fn client_config_expecting(&self, expected_name: &str) -> Arc<ClientConfig> {
        let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(self.roots()), provider())
            .build()
            .unwrap();
        let verifier = Arc::new(FixedNameVerifier { inner, name: ServerName::try_from(expected_name.to_string()).unwrap() });
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

/// Sets a certificate date to the UTC day of a Unix time (rcgen takes
/// whole days, which is all these tests need).
fn day_of(unix: i64) -> (i32, u8, u8) {
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = unix.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year as i32, month as u8, day as u8)
}

/// The aws-lc-rs provider (the one brink uses).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

#[derive(Debug)]
struct FixedNameVerifier {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for FixedNameVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner.verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The address a `brink serve --tls-listen` logged for its TLS listener.
pub fn tls_address(logs: &str) -> Option<SocketAddr> {
    let marker = "TLS listener on https://";
    let at = logs.find(marker)?;
    let rest = &logs[at + marker.len()..];
    let address: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':').collect();
    address.parse().ok()
}

/// A TLS handshake with `address` naming `server_name`.
pub async fn connect(address: SocketAddr, server_name: &str, config: Arc<ClientConfig>) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(address).await?;
    let name = ServerName::try_from(server_name.to_string()).map_err(std::io::Error::other)?;
    tokio_rustls::TlsConnector::from(config).connect(name, tcp).await
}

/// The leaf certificate the server presented on `stream`.
pub fn presented_leaf(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream.get_ref().1.peer_certificates().expect("server certificates")[0].clone().into_owned()
}

/// A response as a test looks at it.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: http::HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl Answer {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(String::from)
    }
}

/// One HTTPS request on a connection of its own, over h2 if the server
/// picks it by ALPN, else HTTP/1.1.
pub async fn https_request(
    stream: TlsStream<TcpStream>,
    method: &str,
    host: &str,
    path: &str,
    body: Bytes,
) -> Result<Answer, Box<dyn std::error::Error + Send + Sync>> {
    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
    let request = http::Request::builder()
        .method(method)
        .uri(if h2 { format!("https://{host}{path}") } else { path.to_string() })
        .header("host", host)
        .body(Full::new(body))?;
    let io = TokioIo::new(stream);
    let response = if h2 {
        let (mut sender, connection) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await?;
        tokio::spawn(connection);
        sender.send_request(request).await?
    } else {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
        tokio::spawn(connection);
        sender.send_request(request).await?
    };
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await?.to_bytes();
    Ok(Answer { status, headers, body })
}

/// GET `path` from `host` over a new TLS connection to `address` (SNI
/// `host`), trusting `ca`, offering `alpn`.
pub async fn https_get(address: SocketAddr, ca: &TestCa, alpn: &[&[u8]], host: &str, path: &str) -> Answer {
    let stream = connect(address, host, ca.client_config(alpn)).await.expect("TLS handshake");
    https_request(stream, "GET", host, path, Bytes::new()).await.expect("HTTPS request")
}

/// An HTTP/3 client connection.
pub struct H3Client {
    /// The QUIC endpoint (kept alive with the connection).
    pub endpoint: quinn::Endpoint,
    /// The QUIC connection.
    pub connection: quinn::Connection,
    sender: h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>,
    driver: tokio::task::JoinHandle<()>,
}

/// QUIC client config trusting `ca`, ALPN h3.
pub fn quic_client_config(ca: &TestCa) -> quinn::ClientConfig {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(ca.roots())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h3".to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(config).unwrap();
    quinn::ClientConfig::new(Arc::new(crypto))
}

/// QUIC client config trusting the certificates in a PEM file, ALPN h3.
pub fn quic_client_config_trusting(pem_file: &Path) -> quinn::ClientConfig {
    use rustls::pki_types::pem::PemObject;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(pem_file).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h3".to_vec()];
    quinn::ClientConfig::new(Arc::new(quinn::crypto::rustls::QuicClientConfig::try_from(config).unwrap()))
}

impl H3Client {
    /// Connects to `address` naming `server_name`, trusting `ca`.
    pub async fn connect(address: SocketAddr, server_name: &str, ca: &TestCa) -> Result<H3Client, Box<dyn std::error::Error + Send + Sync>> {
        H3Client::connect_with(address, server_name, quic_client_config(ca)).await
    }

    /// Connects to `address` naming `server_name` with a given client config.
    pub async fn connect_with(
        address: SocketAddr,
        server_name: &str,
        config: quinn::ClientConfig,
    ) -> Result<H3Client, Box<dyn std::error::Error + Send + Sync>> {
        let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap())?;
        endpoint.set_default_client_config(config);
        let connection = endpoint.connect(address, server_name)?.await?;
        let (mut driver, sender) = h3::client::new(h3_quinn::Connection::new(connection.clone())).await?;
        let driver = tokio::spawn(async move {
            let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
        });
        Ok(H3Client { endpoint, connection, sender, driver })
    }

    /// One request; the body is sent in `chunk`-sized pieces.
    pub async fn request(
        &mut self,
        method: &str,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Answer, Box<dyn std::error::Error + Send + Sync>> {
        let mut builder = http::Request::builder().method(method).uri(format!("https://{host}{path}"));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let mut stream = self.sender.send_request(builder.body(())?).await?;
        let mut rest = body;
        while !rest.is_empty() {
            let chunk = rest.split_to(rest.len().min(64 * 1024));
            stream.send_data(chunk).await?;
        }
        stream.finish().await?;
        let response = stream.recv_response().await?;
        let mut body = Vec::new();
        while let Some(mut chunk) = stream.recv_data().await? {
            body.extend_from_slice(&chunk.copy_to_bytes(chunk.remaining()));
        }
        Ok(Answer { status: response.status().as_u16(), headers: response.headers().clone(), body: Bytes::from(body) })
    }

    /// Sends a request and hands back its stream, for tests that stream
    /// bodies themselves.
    pub async fn open(
        &mut self,
        method: &str,
        host: &str,
        path: &str,
    ) -> Result<h3::client::RequestStream<h3_quinn::BidiStream<Bytes>, Bytes>, Box<dyn std::error::Error + Send + Sync>> {
        let request = http::Request::builder().method(method).uri(format!("https://{host}{path}")).body(())?;
        Ok(self.sender.send_request(request).await?)
    }

    /// A second handle that can send requests on the same connection.
    pub fn sender(&self) -> h3::client::SendRequest<h3_quinn::OpenStreams, Bytes> {
        self.sender.clone()
    }
}

impl Drop for H3Client {
    fn drop(&mut self) {
        self.driver.abort();
    }
}
