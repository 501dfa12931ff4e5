//! HTTP/3 on the TLS listener's UDP port: the same answers as over TCP
//! (routing, bodies, errors), bodies streamed both ways, a 100 MiB upload
//! echoed with bounded memory, and `--no-h3`.

use std::time::Duration;

use brink_tests::tls::{connect, https_request, tls_address, H3Client, TestCa};
use brink_tests::{worker, BrinkServe};
use bytes::Bytes;

fn start_tls(extra: &[&str]) -> (BrinkServe, std::net::SocketAddr) {
    let mut args = vec!["--tls-listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let serve = BrinkServe::start(&args);
    assert!(serve.wait_for_log("TLS listener on https://", Duration::from_secs(10)), "{}", serve.logs());
    let address = tls_address(&serve.logs()).expect("TLS address in the log");
    (serve, address)
}

fn put_cert(serve: &BrinkServe, ca: &TestCa, host: &str) {
    let issued = ca.issue(&[host]);
    let (cert, key) = issued.write(serve.scratch(), &host.replace('*', "star"));
    let output = serve.cli(&["certs", "put", host, "--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

/// Headers that legitimately differ between a TCP and an HTTP/3 answer.
fn comparable(answer: &brink_tests::tls::Answer) -> (u16, Vec<(String, String)>, Bytes) {
    let mut headers: Vec<(String, String)> = answer
        .headers
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "date" | "alt-svc"))
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap_or("").to_string()))
        .collect();
    headers.sort();
    (answer.status, headers, answer.body.clone())
}

#[tokio::test]
async fn http3_answers_are_byte_identical_to_h2_answers() {
    let (serve, address) = start_tls(&[]);
    let ca = TestCa::new();
    serve.deploy(worker("serve-app.js"), "app", &["--route", "app.test", "--var", "WHO=app", "--var", "V=1"]);
    serve.deploy(worker("echo.js"), "echo", &["--route", "echo.test"]);
    put_cert(&serve, &ca, "app.test");
    put_cert(&serve, &ca, "echo.test");
    put_cert(&serve, &ca, "nobody.test");

    let cases: Vec<(&str, &str, &str, Bytes)> = vec![
        ("GET", "app.test", "/hello?x=1", Bytes::new()),
        ("GET", "app.test", "/throw", Bytes::new()),
        ("GET", "nobody.test", "/", Bytes::new()),
        ("POST", "echo.test", "/echo", Bytes::from(vec![7u8; 300_000])),
        ("GET", "echo.test", "/generate?chunks=20", Bytes::new()),
        ("HEAD", "echo.test", "/generate?chunks=2", Bytes::new()),
    ];
    for (method, host, path, body) in cases {
        let mut h3 = H3Client::connect(address, host, &ca).await.expect("h3 connect");
        let over_h3 = h3.request(method, host, path, &[], body.clone()).await.expect("h3 request");
        let stream = connect(address, host, ca.client_config(&[b"h2"])).await.unwrap();
        let over_h2 = https_request(stream, method, host, path, body).await.unwrap();
        assert_eq!(comparable(&over_h3), comparable(&over_h2), "{method} {host}{path}");
    }
    // The worker saw an https URL over HTTP/3 too.
    let mut h3 = H3Client::connect(address, "echo.test", &ca).await.unwrap();
    let answer = h3.request("GET", "echo.test", "/u", &[], Bytes::new()).await.unwrap();
    assert_eq!(answer.header("x-url").as_deref(), Some("https://echo.test/u"));
}

#[tokio::test]
async fn many_requests_share_one_http3_connection() {
    let (serve, address) = start_tls(&[]);
    let ca = TestCa::new();
    serve.deploy(worker("serve-app.js"), "app", &["--route", "app.test", "--var", "WHO=app", "--var", "V=1"]);
    put_cert(&serve, &ca, "app.test");
    let h3 = H3Client::connect(address, "app.test", &ca).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let mut sender = h3.sender();
        tasks.push(tokio::spawn(async move {
            let request = http::Request::builder().uri(format!("https://app.test/{i}")).body(()).unwrap();
            let mut stream = sender.send_request(request).await.unwrap();
            stream.finish().await.unwrap();
            let response = stream.recv_response().await.unwrap();
            let mut body = Vec::new();
            while let Some(mut chunk) = stream.recv_data().await.unwrap() {
                use bytes::Buf;
                body.extend_from_slice(&chunk.copy_to_bytes(chunk.remaining()));
            }
            (response.status().as_u16(), String::from_utf8(body).unwrap())
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.unwrap(), (200, format!("app:1 /{i}")));
    }
}

#[tokio::test]
async fn a_100_mib_upload_is_echoed_over_http3_with_bounded_memory() {
    let (serve, address) = start_tls(&[]);
    let ca = TestCa::new();
    serve.deploy(worker("echo.js"), "echo", &["--route", "echo.test"]);
    put_cert(&serve, &ca, "echo.test");
    let mut h3 = H3Client::connect(address, "echo.test", &ca).await.unwrap();
    // Warm the worker, then measure the growth of the peak RSS.
    h3.request("POST", "echo.test", "/", &[], Bytes::from_static(b"warm")).await.unwrap();
    let before = peak_rss(serve.pid());

    const TOTAL: usize = 100 * 1024 * 1024;
    let stream = h3.open("POST", "echo.test", "/").await.unwrap();
    let (mut send, mut receive) = stream.split();
    let upload = tokio::spawn(async move {
        let chunk = Bytes::from(vec![b'x'; 256 * 1024]);
        for _ in 0..TOTAL / chunk.len() {
            send.send_data(chunk.clone()).await.unwrap();
        }
        send.finish().await.unwrap();
    });
    let response = receive.recv_response().await.unwrap();
    assert_eq!(response.status(), 200);
    let mut received = 0usize;
    let mut all_x = true;
    while let Some(mut chunk) = receive.recv_data().await.unwrap() {
        use bytes::Buf;
        let bytes = chunk.copy_to_bytes(chunk.remaining());
        all_x &= bytes.iter().all(|b| *b == b'x');
        received += bytes.len();
    }
    upload.await.unwrap();
    assert_eq!(received, TOTAL);
    assert!(all_x);
    let growth = peak_rss(serve.pid()).saturating_sub(before);
    // Streamed, not buffered: far less than the 100 MiB that went through.
    assert!(growth < 40 * 1024 * 1024, "peak RSS grew by {} MiB", growth / (1024 * 1024));
}

fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

#[tokio::test]
async fn http3_request_bodies_are_held_to_the_body_limit() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("brink.toml");
    std::fs::write(&config, "[limits]\nmax_request_body_bytes = 1000\n").unwrap();
    let (serve, address) = start_tls(&["--config", config.to_str().unwrap()]);
    let ca = TestCa::new();
    serve.deploy(worker("echo.js"), "echo", &["--route", "echo.test"]);
    put_cert(&serve, &ca, "echo.test");
    let mut h3 = H3Client::connect(address, "echo.test", &ca).await.unwrap();
    let declared = h3.request("POST", "echo.test", "/", &[("content-length", "5000")], Bytes::from(vec![1u8; 5000])).await.unwrap();
    assert_eq!(declared.status, 413);
    let fine = h3.request("POST", "echo.test", "/count", &[], Bytes::from(vec![1u8; 900])).await.unwrap();
    assert_eq!((fine.status, fine.text()), (200, "{\"bytes\":900}".to_string()));
}

#[tokio::test]
async fn no_h3_means_no_alt_svc_and_no_quic() {
    let (serve, address) = start_tls(&["--no-h3"]);
    let ca = TestCa::new();
    serve.deploy(worker("serve-app.js"), "app", &["--route", "app.test", "--var", "WHO=app", "--var", "V=1"]);
    put_cert(&serve, &ca, "app.test");
    let answer = brink_tests::tls::https_get(address, &ca, &[b"h2"], "app.test", "/").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("alt-svc"), None);
    assert!(!serve.logs().contains("HTTP/3 on udp://"));
    // The plain listener never advertises HTTP/3.
    let plain = brink_tests::client().get(serve.url("/")).header("host", "app.test").send().await.unwrap();
    assert!(plain.headers().get("alt-svc").is_none());
}

/// aioquic installed from PyPI into the target directory (once), for an
/// HTTP/3 client that shares no code with Brink's.
fn aioquic_path() -> std::path::PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("test-python/aioquic-1.2.0");
    if !dir.join("aioquic").exists() {
        let staging = target.join(format!("test-python/.aioquic-{}", std::process::id()));
        let status = std::process::Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target"])
            .arg(&staging)
            .arg("aioquic==1.2.0")
            .status()
            .expect("run pip");
        assert!(status.success(), "pip install aioquic failed");
        // Another test process may have won the race; either copy will do.
        let _ = std::fs::rename(&staging, &dir);
        let _ = std::fs::remove_dir_all(&staging);
    }
    dir
}

fn from_hex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

#[tokio::test]
async fn an_independent_http3_client_aioquic_gets_the_same_answers_as_h2() {
    let (serve, address) = start_tls(&[]);
    let ca = TestCa::new();
    serve.deploy(worker("serve-app.js"), "app", &["--route", "app.test", "--var", "WHO=app", "--var", "V=1"]);
    serve.deploy(worker("echo.js"), "echo", &["--route", "echo.test"]);
    put_cert(&serve, &ca, "app.test");
    put_cert(&serve, &ca, "echo.test");
    let ca_file = serve.scratch().join("ca.pem");
    ca.write(&ca_file);
    let python_path = aioquic_path();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/h3_request.py");
    for (method, host, path, body) in [
        ("GET", "app.test", "/from-aioquic", Bytes::new()),
        ("GET", "app.test", "/throw", Bytes::new()),
        ("POST", "echo.test", "/echo", Bytes::from(vec![b'z'; 100_000])),
        ("GET", "echo.test", "/generate?chunks=5", Bytes::new()),
    ] {
        let mut child = std::process::Command::new("python3")
            .arg(&script)
            .args(["127.0.0.1", &address.port().to_string(), host, ca_file.to_str().unwrap(), method, path])
            .env("PYTHONPATH", &python_path)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(&body).unwrap();
        }
        let output = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
        assert!(output.status.success(), "aioquic {method} {host}{path}: {}", String::from_utf8_lossy(&output.stderr));
        let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let mut headers: Vec<(String, String)> = answer["headers"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(name, _)| !matches!(name.as_str(), "date" | "alt-svc"))
            .flat_map(|(name, values)| {
                values.as_array().unwrap().iter().map(move |v| (name.clone(), v.as_str().unwrap().to_string()))
            })
            .collect();
        headers.sort();
        let over_aioquic = (answer["status"].as_u64().unwrap() as u16, headers, Bytes::from(from_hex(answer["body"].as_str().unwrap())));
        let stream = connect(address, host, ca.client_config(&[b"h2"])).await.unwrap();
        let over_h2 = https_request(stream, method, host, path, body).await.unwrap();
        assert_eq!(over_aioquic, comparable(&over_h2), "{method} {host}{path}");
    }
}

#[tokio::test]
async fn sigterm_lets_a_running_http3_request_finish_and_does_not_wait_for_idle_connections() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("brink.toml");
    std::fs::write(&config, "[http]\nshutdown_grace_ms = 60000\n").unwrap();
    let (mut serve, address) = start_tls(&["--config", config.to_str().unwrap()]);
    let ca = TestCa::new();
    serve.deploy(worker("serve-app.js"), "app", &["--route", "app.test", "--var", "WHO=app", "--var", "V=1"]);
    put_cert(&serve, &ca, "app.test");
    // One connection that stays open doing nothing, one with a slow request.
    let mut idle = H3Client::connect(address, "app.test", &ca).await.unwrap();
    assert_eq!(idle.request("GET", "app.test", "/", &[], Bytes::new()).await.unwrap().status, 200);
    let mut busy = H3Client::connect(address, "app.test", &ca).await.unwrap();
    let slow = tokio::spawn(async move {
        let answer = busy.request("GET", "app.test", "/slow?ms=1500", &[], Bytes::new()).await;
        (answer.map(|a| (a.status, a.text())).map_err(|e| e.to_string()), busy)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // SAFETY: kill(2) on the server process this test started.
    unsafe {
        libc::kill(serve.pid() as i32, libc::SIGTERM);
    }
    let (answer, _busy) = slow.await.unwrap();
    assert_eq!(answer, Ok((200, "app:1".to_string())));
    // Well inside the 60 s grace: the idle connection did not hold it.
    let status = tokio::task::spawn_blocking(move || {
        let exited = serve.wait_exit(Duration::from_secs(30));
        (exited, serve)
    })
    .await
    .unwrap();
    assert!(status.0.is_some(), "brink serve still running 30 s after SIGTERM:\n{}", status.1.logs());
    drop(idle);
}
