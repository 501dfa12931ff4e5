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
