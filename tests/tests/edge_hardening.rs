//! Hostile and careless clients on the TLS and QUIC listeners: stalled
//! handshakes, idle connections, too many streams or header bytes, too
//! many connections, garbage records, reset streams, and thousands of
//! QUIC connections opened and dropped. The server must stay up, answer
//! well-behaved clients, and hold bounded resources.

use std::net::SocketAddr;
use std::time::Duration;

use brink_tests::tls::{connect, https_request, tls_address, H3Client, TestCa};
use brink_tests::{worker, BrinkServe};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn start(config: &str) -> (BrinkServe, SocketAddr, TestCa, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("brink.toml");
    std::fs::write(&path, config).unwrap();
    let serve = BrinkServe::start(&["--tls-listen", "127.0.0.1:0", "--config", path.to_str().unwrap()]);
    assert!(serve.wait_for_log("TLS listener on https://", Duration::from_secs(10)), "{}", serve.logs());
    let address = tls_address(&serve.logs()).unwrap();
    let ca = TestCa::new();
    let issued = ca.issue(&["edge.test"]);
    let (cert, key) = issued.write(serve.scratch(), "edge");
    let output = serve.cli(&["certs", "put", "edge.test", "--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serve.deploy(worker("concurrency.js"), "edge", &["--route", "edge.test"]);
    (serve, address, ca, dir)
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|dir| dir.count()).unwrap_or(0)
}

fn threads(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("Threads:")).and_then(|n| n.trim().parse().ok()).unwrap_or(0)
}

/// Reads until the server closes the connection (EOF or a reset); false
/// if it is still open after `limit`.
async fn closed_by_server(stream: &mut (impl tokio::io::AsyncRead + Unpin), limit: Duration) -> bool {
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

async fn healthy(address: SocketAddr, ca: &TestCa) {
    let answer = brink_tests::tls::https_get(address, ca, &[b"h2"], "edge.test", "/?ms=1").await;
    assert_eq!(answer.status, 200);
    let mut h3 = H3Client::connect(address, "edge.test", ca).await.expect("h3 still accepted");
    assert_eq!(h3.request("GET", "edge.test", "/?ms=1", &[], Bytes::new()).await.unwrap().status, 200);
}

#[tokio::test]
async fn a_stalled_tls_handshake_is_cut_off_and_idle_connections_are_closed() {
    let (_serve, address, ca, _dir) = start("[tls]\nhandshake_timeout_ms = 300\n[http]\nidle_timeout_ms = 500\n");
    // Connects and says nothing.
    let mut silent = tokio::net::TcpStream::connect(address).await.unwrap();
    assert!(closed_by_server(&mut silent, Duration::from_secs(20)).await, "a silent client kept its connection");
    // Sends the start of a ClientHello and stalls.
    let mut partial = tokio::net::TcpStream::connect(address).await.unwrap();
    partial.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).await.unwrap();
    assert!(closed_by_server(&mut partial, Duration::from_secs(20)).await, "a stalled handshake kept its connection");

    // A finished request on a keep-alive TLS connection, then silence.
    let mut stream = connect(address, "edge.test", ca.client_config(&[b"http/1.1"])).await.unwrap();
    stream.write_all(b"GET /?ms=1 HTTP/1.1\r\nHost: edge.test\r\n\r\n").await.unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    assert!(closed_by_server(&mut stream, Duration::from_secs(20)).await, "an idle TLS connection stayed open");

    // The same over HTTP/3.
    let mut h3 = H3Client::connect(address, "edge.test", &ca).await.unwrap();
    assert_eq!(h3.request("GET", "edge.test", "/?ms=1", &[], Bytes::new()).await.unwrap().status, 200);
    let closed = tokio::time::timeout(Duration::from_secs(20), h3.connection.closed()).await;
    assert!(closed.is_ok(), "an idle HTTP/3 connection stayed open");
    healthy(address, &ca).await;
}

#[tokio::test]
async fn streams_per_connection_are_capped_on_h2_and_h3() {
    let (_serve, address, ca, _dir) =
        start("[http]\nmax_concurrent_streams = 2\n[scaling]\nmax_isolates_per_worker = 1\n");
    // h2: six requests at once on one connection.
    let stream = connect(address, "edge.test", ca.client_config(&[b"h2"])).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    // One request first, so the client has the server's SETTINGS (before
    // them it may open more streams, which the server refuses).
    let request = http::Request::builder().uri("https://edge.test/?ms=1").body(Full::new(Bytes::new())).unwrap();
    assert_eq!(sender.send_request(request).await.unwrap().status(), 200);
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let mut sender = sender.clone();
        tasks.push(tokio::spawn(async move {
            let request = http::Request::builder().uri("https://edge.test/?ms=300").body(Full::new(Bytes::new())).unwrap();
            let response = sender.send_request(request).await.unwrap();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            String::from_utf8(body.to_vec()).unwrap().parse::<u32>().unwrap()
        }));
    }
    let mut peaks = Vec::new();
    for task in tasks {
        peaks.push(task.await.unwrap());
    }
    assert!(peaks.iter().all(|peak| *peak <= 2), "h2 peaks {peaks:?}");

    // h3: the same through QUIC stream credit.
    let h3 = H3Client::connect(address, "edge.test", &ca).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let mut sender = h3.sender();
        tasks.push(tokio::spawn(async move {
            let request = http::Request::builder().uri("https://edge.test/?ms=300").body(()).unwrap();
            let mut stream = sender.send_request(request).await.unwrap();
            stream.finish().await.unwrap();
            let _ = stream.recv_response().await.unwrap();
            let mut body = Vec::new();
            while let Some(mut chunk) = stream.recv_data().await.unwrap() {
                use bytes::Buf;
                body.extend_from_slice(&chunk.copy_to_bytes(chunk.remaining()));
            }
            String::from_utf8(body).unwrap().parse::<u32>().unwrap()
        }));
    }
    for task in tasks {
        peaks.push(task.await.unwrap());
    }
    assert!(peaks.iter().all(|peak| *peak <= 2), "peaks {peaks:?}");
    // Requests did overlap (the cap, not a lack of concurrency, is what held them to 2).
    assert!(peaks.contains(&2), "peaks {peaks:?}");
}

#[tokio::test]
async fn oversized_header_lists_are_refused_on_h2_and_h3() {
    let (_serve, address, ca, _dir) = start("[http]\nmax_header_list_bytes = 4096\n");
    let big = "x".repeat(8000);
    let stream = connect(address, "edge.test", ca.client_config(&[b"h2"])).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let request = http::Request::builder()
        .uri("https://edge.test/?ms=1")
        .header("x-big", &big)
        .body(Full::new(Bytes::new()))
        .unwrap();
    match sender.send_request(request).await {
        Ok(response) => assert_eq!(response.status(), 431),
        Err(error) => assert!(!error.to_string().is_empty()),
    }

    let mut h3 = H3Client::connect(address, "edge.test", &ca).await.unwrap();
    match h3.request("GET", "edge.test", "/?ms=1", &[("x-big", &big)], Bytes::new()).await {
        Ok(answer) => assert_ne!(answer.status, 200, "an 8 KB header list was accepted"),
        Err(error) => assert!(!error.to_string().is_empty()),
    }
    // Normal requests still work, on new connections.
    healthy(address, &ca).await;
}

#[tokio::test]
async fn the_connection_cap_covers_tls_and_quic() {
    let (_serve, address, ca, _dir) = start("[http]\nmax_connections = 2\n");
    let first = connect(address, "edge.test", ca.client_config(&[b"h2"])).await.unwrap();
    let second = connect(address, "edge.test", ca.client_config(&[b"h2"])).await.unwrap();
    // A third waits in the accept queue: its handshake cannot finish.
    let third = tokio::time::timeout(Duration::from_secs(1), connect(address, "edge.test", ca.client_config(&[b"h2"]))).await;
    assert!(third.is_err(), "a third TLS connection was served over the cap");
    // QUIC has no queue: it is refused.
    let quic = tokio::time::timeout(Duration::from_secs(10), H3Client::connect(address, "edge.test", &ca)).await;
    assert!(!matches!(quic, Ok(Ok(_))), "a QUIC connection was served over the cap");
    drop(first);
    let again = tokio::time::timeout(Duration::from_secs(10), connect(address, "edge.test", ca.client_config(&[b"h2"]))).await;
    let again = again.expect("a freed slot is used").unwrap();
    let answer = https_request(again, "GET", "edge.test", "/?ms=1", Bytes::new()).await.unwrap();
    assert_eq!(answer.status, 200);
    drop(second);
}

#[tokio::test]
async fn garbage_records_and_reset_streams_leave_the_server_healthy_and_bounded() {
    let (serve, address, ca, _dir) = start("");
    healthy(address, &ca).await;
    let fds_before = open_fds(serve.pid());

    // Garbage instead of a ClientHello, a record header with a huge length,
    // and a valid handshake followed by garbage records.
    for payload in [vec![0x42u8; 4096], [vec![0x16, 0x03, 0x01, 0xff, 0xff], vec![0u8; 512]].concat()] {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let _ = stream.write_all(&payload).await;
        assert!(closed_by_server(&mut stream, Duration::from_secs(20)).await);
    }
    for _ in 0..20 {
        let stream = connect(address, "edge.test", ca.client_config(&[b"h2"])).await.unwrap();
        let (tcp, _) = stream.into_inner();
        let mut tcp = tcp;
        let _ = tcp.write_all(&[0x17, 0x03, 0x03, 0x00, 0x20]).await;
        let _ = tcp.write_all(&[0xAB; 32]).await;
        assert!(closed_by_server(&mut tcp, Duration::from_secs(20)).await);
    }
    // Garbage datagrams at the QUIC port.
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for i in 0..500u32 {
        let mut datagram = vec![0xC0u8; 1200];
        datagram[1..5].copy_from_slice(&i.to_be_bytes());
        let _ = udp.send_to(&datagram, address).await;
    }

    // h2 streams opened and reset before their answers.
    let stream = connect(address, "edge.test", ca.client_config(&[b"h2"])).await.unwrap();
    let (sender, connection) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    for _ in 0..10 {
        let mut batch = Vec::new();
        for _ in 0..20 {
            let mut sender = sender.clone();
            batch.push(tokio::spawn(async move {
                let request = http::Request::builder().uri("https://edge.test/?ms=5000").body(Full::new(Bytes::new())).unwrap();
                let _ = sender.send_request(request).await;
            }));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        for task in batch {
            task.abort();
        }
    }
    // h3 streams reset by the client.
    let mut h3 = H3Client::connect(address, "edge.test", &ca).await.unwrap();
    for _ in 0..50 {
        let mut stream = h3.open("POST", "edge.test", "/?ms=5000").await.unwrap();
        let _ = stream.send_data(Bytes::from_static(b"partial")).await;
        stream.stop_stream(h3::error::Code::H3_REQUEST_CANCELLED);
        stream.stop_sending(h3::error::Code::H3_REQUEST_CANCELLED);
    }
    drop(h3);
    drop(sender);

    healthy(address, &ca).await;
    assert!(!serve.logs().contains("panicked"), "{}", serve.logs());
    // Connections and their file descriptors were released (the reset
    // requests end within their 5 s sleep).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while open_fds(serve.pid()) > fds_before + 10 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(open_fds(serve.pid()) <= fds_before + 10, "fds {} -> {}", fds_before, open_fds(serve.pid()));
}

#[tokio::test]
async fn thousands_of_quic_connections_opened_and_dropped_leave_nothing_behind() {
    let (serve, address, ca, _dir) = start("[http]\nmax_connections = 64\n");
    healthy(address, &ca).await;
    let pid = serve.pid();
    let (fds_before, threads_before) = (open_fds(pid), threads(pid));
    let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    endpoint.set_default_client_config(brink_tests::tls::quic_client_config(&ca));
    let mut completed = 0;
    for _ in 0..50 {
        let mut batch = Vec::new();
        for i in 0..40 {
            let connecting = endpoint.connect(address, "edge.test").unwrap();
            batch.push(tokio::spawn(async move {
                if i % 4 == 0 {
                    // Abandoned mid-handshake.
                    drop(connecting);
                    return false;
                }
                match connecting.await {
                    Ok(connection) => {
                        connection.close(quinn::VarInt::from_u32(0), b"bye");
                        true
                    }
                    Err(_) => false,
                }
            }));
        }
        for task in batch {
            completed += usize::from(task.await.unwrap());
        }
    }
    assert!(completed >= 1000, "only {completed} handshakes completed");
    endpoint.wait_idle().await;
    // Every slot came back: new connections (more than the cap) are served.
    for _ in 0..3 {
        healthy(address, &ca).await;
    }
    assert!(!serve.logs().contains("panicked"));
    assert!(open_fds(pid) <= fds_before + 10, "fds {} -> {}", fds_before, open_fds(pid));
    assert!(threads(pid) <= threads_before + 8, "threads {} -> {}", threads_before, threads(pid));
}
