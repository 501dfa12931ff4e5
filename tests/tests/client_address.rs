//! The client's address reaches the worker (`CF-Connecting-IP`) and the
//! worker's origin (`CF-Connecting-IP`, `X-Forwarded-For` and `X-Real-IP`,
//! or `Forwarded`), over plain HTTP, TLS (HTTP/1.1 and h2) and HTTP/3, and
//! a client cannot choose the address either of them sees: forwarding
//! headers it sends are dropped unless the server is told to trust them.
//! The origin is a real server that records the headers it got.


use brink_tests::origin::Origin;
use brink_tests::{client, worker, Brink};
use serde_json::Value;

/// Headers a client sends to pass for someone else.
const SPOOFED: [(&str, &str); 4] = [
    ("cf-connecting-ip", "1.2.3.4"),
    ("x-forwarded-for", "1.2.3.4"),
    ("x-real-ip", "1.2.3.4"),
    ("forwarded", "for=1.2.3.4"),
];

fn start(origin: &Origin, extra: &[&str]) -> Brink {
    let origin_url = origin.url("");
    let mut args = vec!["--origin", origin_url.as_str()];
    args.extend_from_slice(extra);
    Brink::start(worker("client-address.js"), &args)
}

/// The one value of header `name` the origin got with its last request.
fn at_origin(origin: &Origin, name: &str) -> Option<String> {
    let seen = origin.requests().pop().expect("the origin got a request");
    let values: Vec<String> = seen.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.clone()).collect();
    assert!(values.len() <= 1, "{name} sent more than once: {values:?}");
    values.into_iter().next()
}

async fn get_spoofed(url: &str) -> reqwest::Response {
    let mut request = client().get(url);
    for (name, value) in SPOOFED {
        request = request.header(name, value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn the_worker_sees_the_peer_as_cf_connecting_ip_whatever_the_client_claims() {
    let origin = Origin::start();
    let brink = start(&origin, &[]);
    let seen: Value = get_spoofed(&brink.url("/seen")).await.json().await.unwrap();
    assert_eq!(seen["cf-connecting-ip"], "127.0.0.1");
    for name in ["x-forwarded-for", "x-real-ip", "forwarded"] {
        assert_eq!(seen[name], Value::Null, "{name} from the client reached the worker");
    }
}

#[tokio::test]
async fn the_origin_gets_the_client_address_and_never_the_spoofed_one() {
    let origin = Origin::start();
    let brink = start(&origin, &[]);
    let response = get_spoofed(&brink.url("/page")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(at_origin(&origin, "cf-connecting-ip").as_deref(), Some("127.0.0.1"));
    assert_eq!(at_origin(&origin, "x-forwarded-for").as_deref(), Some("127.0.0.1"));
    assert_eq!(at_origin(&origin, "x-real-ip").as_deref(), Some("127.0.0.1"));
    assert_eq!(at_origin(&origin, "forwarded"), None);
    // passThroughOnException() goes the same way.
    let response = get_spoofed(&brink.url("/throw")).await;
    assert_eq!(response.text().await.unwrap(), "GET /throw");
    assert_eq!(at_origin(&origin, "cf-connecting-ip").as_deref(), Some("127.0.0.1"));
    assert_eq!(at_origin(&origin, "x-forwarded-for").as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn the_worker_appends_to_x_forwarded_for_but_cannot_forge_cf_connecting_ip() {
    let origin = Origin::start();
    let brink = start(&origin, &[]);
    get_spoofed(&brink.url("/worker-sets")).await;
    // As Cloudflare: CF-Connecting-IP overwritten, X-Forwarded-For
    // appended to; X-Real-IP names the client.
    assert_eq!(at_origin(&origin, "cf-connecting-ip").as_deref(), Some("127.0.0.1"));
    assert_eq!(at_origin(&origin, "x-forwarded-for").as_deref(), Some("10.1.1.1, 127.0.0.1"));
    assert_eq!(at_origin(&origin, "x-real-ip").as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn forwarded_mode_appends_an_rfc_7239_element_and_none_adds_nothing() {
    let origin = Origin::start();
    let brink = start(&origin, &["--forwarded-headers", "forwarded"]);
    get_spoofed(&brink.url("/page")).await;
    let expected = format!("for=127.0.0.1;host=\"127.0.0.1:{}\";proto=http", brink.port);
    assert_eq!(at_origin(&origin, "forwarded"), Some(expected));
    assert_eq!(at_origin(&origin, "x-forwarded-for"), None);
    assert_eq!(at_origin(&origin, "x-real-ip"), None);
    assert_eq!(at_origin(&origin, "cf-connecting-ip").as_deref(), Some("127.0.0.1"));
    drop(brink);

    let brink = start(&origin, &["--forwarded-headers", "none"]);
    get_spoofed(&brink.url("/page")).await;
    for name in ["forwarded", "x-forwarded-for", "x-real-ip"] {
        assert_eq!(at_origin(&origin, name), None, "{name}");
    }
    assert_eq!(at_origin(&origin, "cf-connecting-ip").as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_client_is_the_last_forwarded_for_address() {
    let origin = Origin::start();
    let brink = start(&origin, &["--trust-forwarded"]);
    let send = |path: &str| {
        client()
            .get(brink.url(path))
            .header("x-forwarded-for", "192.0.2.1, 198.51.100.9")
            .header("cf-connecting-ip", "1.2.3.4")
            .send()
    };
    let seen: Value = send("/seen").await.unwrap().json().await.unwrap();
    assert_eq!(seen["cf-connecting-ip"], "198.51.100.9", "the proxy's client, never the header the client sent");
    assert_eq!(seen["x-forwarded-for"], "192.0.2.1, 198.51.100.9");
    send("/page").await.unwrap();
    assert_eq!(at_origin(&origin, "x-forwarded-for").as_deref(), Some("192.0.2.1, 198.51.100.9, 127.0.0.1"));
    assert_eq!(at_origin(&origin, "x-real-ip").as_deref(), Some("198.51.100.9"));
    assert_eq!(at_origin(&origin, "cf-connecting-ip").as_deref(), Some("198.51.100.9"));
}

#[tokio::test]
async fn a_bad_forwarded_headers_value_fails_at_start() {
    let (status, logs) = Brink::start_expecting_failure(worker("client-address.js"), &["--forwarded-headers", "X-Forwarded-For"]);
    assert!(!status.success());
    assert!(logs.contains("forwarded headers must be"), "{logs}");
}

fn curl(args: &[&str]) -> std::process::Output {
    std::process::Command::new("curl").args(["-sS", "--noproxy", "*"]).args(args).output().expect("run curl")
}

#[tokio::test]
async fn over_tls_and_http3_the_peer_address_is_carried_too() {
    let origin = Origin::start();
    let data = tempfile::tempdir().unwrap();
    let brink = start(&origin, &["--tls", "--data-dir", data.path().to_str().unwrap()]);
    let cert = data.path().join("tls/localhost.pem");
    let url = format!("https://localhost:{}/seen", brink.port);
    for flag in ["--http1.1", "--http2"] {
        let output = curl(&[flag, "--cacert", cert.to_str().unwrap(), "-H", "cf-connecting-ip: 1.2.3.4", "-H", "x-forwarded-for: 1.2.3.4", &url]);
        assert!(output.status.success(), "{flag}: {}", String::from_utf8_lossy(&output.stderr));
        let seen: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(seen["cf-connecting-ip"], "127.0.0.1", "{flag}");
        assert_eq!(seen["x-forwarded-for"], Value::Null, "{flag}");
    }
    let address: std::net::SocketAddr = format!("127.0.0.1:{}", brink.port).parse().unwrap();
    let config = brink_tests::tls::quic_client_config_trusting(&cert);
    let mut h3 = brink_tests::tls::H3Client::connect_with(address, "localhost", config).await.expect("h3 to brink dev");
    let answer = h3.request("GET", "localhost", "/seen", &SPOOFED, bytes::Bytes::new()).await.unwrap();
    let seen: Value = serde_json::from_str(&answer.text()).unwrap();
    assert_eq!(seen["cf-connecting-ip"], "127.0.0.1");
    assert_eq!(seen["forwarded"], Value::Null);
    // And on to the origin over HTTP/3, with proto https.
    let answer = h3.request("GET", "localhost", "/page", &SPOOFED, bytes::Bytes::new()).await.unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(at_origin(&origin, "x-forwarded-for").as_deref(), Some("127.0.0.1"));
    assert_eq!(at_origin(&origin, "x-forwarded-proto").as_deref(), Some("https"));
}

/// `brink serve` with `[proxy]` set to `proxy` and the address-echoing
/// worker deployed at `who.localhost`; the config's directory must outlive it.
fn serve_with_proxy(dir: &std::path::Path, proxy: &str) -> brink_tests::BrinkServe {
    let config = dir.join("brink.toml");
    std::fs::write(&config, format!("[proxy]\n{proxy}")).unwrap();
    let server = brink_tests::BrinkServe::start(&["--config", config.to_str().unwrap()]);
    server.deploy(worker("client-address.js"), "who", &["--route", "who.localhost"]);
    server
}

async fn seen_with(server: &brink_tests::BrinkServe, headers: &[(&str, &str)]) -> Value {
    let mut request = client().get(server.url("/seen")).header("host", "who.localhost");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn a_listed_proxy_names_the_client_past_the_other_listed_proxies() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_proxy(dir.path(), "trusted_proxies = [\"127.0.0.0/8\", \"10.0.0.0/8\"]\n");
    // The client claimed 6.6.6.6 to the first proxy, which appended the
    // client's real address; a second proxy of ours (10.9.9.9) came next.
    let chain = [("x-forwarded-for", "6.6.6.6, 203.0.113.5, 10.9.9.9"), ("cf-connecting-ip", "1.2.3.4")];
    let seen = seen_with(&server, &chain).await;
    assert_eq!(seen["cf-connecting-ip"], "203.0.113.5", "{seen}");
    assert_eq!(seen["x-forwarded-for"], "6.6.6.6, 203.0.113.5, 10.9.9.9", "kept for the origin");
    // Only proxies in the chain: the oldest is the client.
    assert_eq!(seen_with(&server, &[("x-forwarded-for", "10.0.0.1, 10.0.0.2")]).await["cf-connecting-ip"], "10.0.0.1");
    // No chain: the proxy itself.
    assert_eq!(seen_with(&server, &[]).await["cf-connecting-ip"], "127.0.0.1");
}

#[tokio::test]
async fn a_peer_that_is_not_listed_cannot_spoof_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_proxy(dir.path(), "trusted_proxies = [\"10.0.0.0/8\", \"::2/128\"]\n");
    let seen = seen_with(&server, &SPOOFED).await;
    assert_eq!(seen["cf-connecting-ip"], "127.0.0.1", "{seen}");
    for name in ["x-forwarded-for", "x-real-ip", "forwarded"] {
        assert_eq!(seen[name], Value::Null, "{name} from an untrusted peer reached the worker");
    }
}

#[tokio::test]
async fn in_forwarded_mode_the_client_comes_from_forwarded_for() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_proxy(dir.path(), "forwarded_headers = \"forwarded\"\ntrusted_proxies = [\"127.0.0.1\"]\n");
    let headers = [("forwarded", "for=192.0.2.60;proto=https, for=\"[2001:db8::7]:4711\""), ("x-forwarded-for", "6.6.6.6")];
    let seen = seen_with(&server, &headers).await;
    assert_eq!(seen["cf-connecting-ip"], "2001:db8::7", "{seen}");
    let obfuscated = seen_with(&server, &[("forwarded", "for=192.0.2.60, for=_hidden")]).await;
    assert_eq!(obfuscated["cf-connecting-ip"], "127.0.0.1", "an obfuscated node stops the walk");
}

#[tokio::test]
async fn a_bad_trusted_proxy_fails_the_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("brink.toml");
    std::fs::write(&config, "[proxy]\ntrusted_proxies = [\"10.0.0.0/8\", \"10.0.0.0/40\"]\n").unwrap();
    let data = dir.path().join("data");
    let (status, logs) = brink_tests::BrinkServe::start_expecting_failure(
        &["--config", config.to_str().unwrap(), "--data-dir", data.to_str().unwrap()],
        Some(brink_tests::SERVE_TOKEN),
    );
    assert!(!status.success());
    assert!(logs.contains("proxy.trusted_proxies[1]"), "{logs}");
}

/// `brink dev` on `[::1]` (the test harness listens on 127.0.0.1 only);
/// `None` if this machine has no IPv6 loopback.
struct DevOnIpv6 {
    child: std::process::Child,
    port: u16,
}

impl Drop for DevOnIpv6 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dev_on_ipv6(args: &[&str]) -> Option<DevOnIpv6> {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("SKIPPED: this machine has no IPv6 loopback ([::1])");
        return None;
    }
    let mut child = std::process::Command::new(brink_tests::brink_bin())
        .arg("dev")
        .arg(worker("client-address.js"))
        .args(["--port", "0", "--host", "::1"])
        .args(args)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn brink dev");
    let stderr = child.stderr.take().expect("stderr");
    let (found, port) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("[brink] {line}");
            if let Some((_, rest)) = line.split_once("listening on http://[::1]:") {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                let _ = found.send(digits.parse::<u16>().ok());
            }
        }
    });
    let port = port.recv_timeout(std::time::Duration::from_secs(60)).ok().flatten();
    let mut dev = DevOnIpv6 { child, port: 0 };
    dev.port = port.expect("brink dev did not listen on [::1]");
    Some(dev)
}

#[tokio::test]
async fn an_ipv6_client_is_named_right_to_the_worker_and_the_origin() {
    let origin = Origin::start();
    let origin_url = origin.url("");
    let Some(dev) = dev_on_ipv6(&["--origin", origin_url.as_str()]) else { return };
    let url = |path: &str| format!("http://[::1]:{}{path}", dev.port);
    let seen: Value = client().get(url("/seen")).header("x-forwarded-for", "1.2.3.4").send().await.unwrap().json().await.unwrap();
    assert_eq!(seen["cf-connecting-ip"], "::1");
    assert_eq!(seen["x-forwarded-for"], Value::Null);
    assert_eq!(client().get(url("/page")).send().await.unwrap().status(), 200);
    assert_eq!(at_origin(&origin, "cf-connecting-ip").as_deref(), Some("::1"));
    assert_eq!(at_origin(&origin, "x-forwarded-for").as_deref(), Some("::1"));
    assert_eq!(at_origin(&origin, "x-real-ip").as_deref(), Some("::1"));
    drop(dev);

    let Some(dev) = dev_on_ipv6(&["--origin", origin_url.as_str(), "--forwarded-headers", "forwarded"]) else { return };
    let page = format!("http://[::1]:{}/page", dev.port);
    assert_eq!(client().get(&page).send().await.unwrap().status(), 200);
    let expected = format!("for=\"[::1]\";host=\"[::1]:{}\";proto=http", dev.port);
    assert_eq!(at_origin(&origin, "forwarded"), Some(expected));
    assert_eq!(at_origin(&origin, "cf-connecting-ip").as_deref(), Some("::1"));
}
