//! HTTP/3 load for `bench/tls.sh` (Debian's h2load has no HTTP/3): C
//! connections, each sending one GET at a time for D seconds after a 1 s
//! warm-up; prints the 2xx answers per second.
//!
//!   cargo run --release -p brink-tests --example h3load -- ADDR NAME CA_FILE CONNECTIONS SECONDS

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Buf;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [address, name, ca_file, connections, seconds] = args.as_slice() else {
        return Err("usage: h3load ADDR NAME CA_FILE CONNECTIONS SECONDS".into());
    };
    let address: std::net::SocketAddr = address.parse()?;
    let connections: usize = connections.parse()?;
    let seconds: u64 = seconds.parse()?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_file)? {
        roots.add(cert?)?;
    }
    let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h3".to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)?;
    let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse()?)?;
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));

    let answered = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let warm_until = Instant::now() + Duration::from_secs(1);
    let end = warm_until + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (endpoint, name, answered, failed) = (endpoint.clone(), name.clone(), answered.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let connection = endpoint.connect(address, &name)?.await?;
            let (mut driver, mut sender) = h3::client::new(h3_quinn::Connection::new(connection)).await?;
            let drive = tokio::spawn(async move {
                let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
            });
            while Instant::now() < end {
                let request = http::Request::builder().uri(format!("https://{name}/")).body(())?;
                let mut stream = sender.send_request(request).await?;
                stream.finish().await?;
                let response = stream.recv_response().await?;
                while let Some(mut chunk) = stream.recv_data().await? {
                    chunk.advance(chunk.remaining());
                }
                let counted = Instant::now() >= warm_until && Instant::now() < end;
                if counted && response.status().is_success() {
                    answered.fetch_add(1, Ordering::Relaxed);
                } else if counted {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            drive.abort();
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let answered = answered.load(Ordering::Relaxed);
    println!(
        "{{\"requests\": {answered}, \"failed\": {}, \"req_per_sec\": {:.1}}}",
        failed.load(Ordering::Relaxed),
        answered as f64 / seconds as f64
    );
    Ok(())
}
