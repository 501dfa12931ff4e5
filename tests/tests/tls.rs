//! TLS on `brink serve --tls-listen` and `brink dev --tls`: certificates by
//! SNI (exact before wildcard, default or refusal for unknown names),
//! `brink certs` and `/v1/certificates`, rotation without a restart, and
//! real clients (rustls, curl) that verify against a test CA.

use std::time::Duration;

use brink_tests::tls::{connect, https_get, presented_leaf, tls_address, TestCa};
use brink_tests::{worker, Brink, BrinkServe};
use serde_json::Value;

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn start_tls(extra: &[&str]) -> (BrinkServe, std::net::SocketAddr) {
    let mut args = vec!["--tls-listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let serve = BrinkServe::start(&args);
    assert!(serve.wait_for_log("TLS listener on https://", Duration::from_secs(10)), "{}", serve.logs());
    let address = tls_address(&serve.logs()).expect("TLS address in the log");
    (serve, address)
}

/// `brink certs put HOST` with a freshly issued certificate; asserts success.
fn put_cert(serve: &BrinkServe, ca: &TestCa, host: &str, names: &[&str]) -> brink_tests::tls::Issued {
    let issued = ca.issue(names);
    let file = host.replace('*', "star");
    let (cert, key) = issued.write(serve.scratch(), &file);
    let output = serve.cli(&["certs", "put", host, "--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap()]);
    assert!(output.status.success(), "certs put {host}: {}", stderr(&output));
    issued
}

#[tokio::test]
async fn sni_picks_each_tenants_certificate_and_an_exact_name_beats_a_wildcard() {
    let (serve, address) = start_tls(&[]);
    let ca = TestCa::new();
    for (name, route) in [("alpha", "alpha.test"), ("beta", "beta.test"), ("gamma", "*.gamma.test")] {
        let who = format!("WHO={name}");
        serve.deploy(worker("serve-app.js"), name, &["--route", route, "--var", &who, "--var", "V=1"]);
    }
    let alpha = put_cert(&serve, &ca, "alpha.test", &["alpha.test"]);
    let beta = put_cert(&serve, &ca, "beta.test", &["beta.test"]);
    let wildcard = put_cert(&serve, &ca, "*.gamma.test", &["*.gamma.test"]);
    let exact = put_cert(&serve, &ca, "x.gamma.test", &["x.gamma.test"]);

    for (host, expected, body) in [
        ("alpha.test", &alpha, "alpha:1 /p"),
        ("beta.test", &beta, "beta:1 /p"),
        ("y.gamma.test", &wildcard, "gamma:1 /p"),
        ("x.gamma.test", &exact, "gamma:1 /p"),
    ] {
        // The handshake itself verifies the chain for `host` against the CA.
        let stream = connect(address, host, ca.client_config(&[b"http/1.1"])).await.expect(host);
        assert_eq!(presented_leaf(&stream), expected.leaf, "certificate for {host}");
        let answer = brink_tests::tls::https_request(stream, "GET", host, "/p", bytes::Bytes::new()).await.unwrap();
        assert_eq!((answer.status, answer.text()), (200, body.to_string()), "{host}");
    }

    // A wildcard covers one label only, and an unknown name with no
    // default certificate fails the handshake cleanly.
    for host in ["a.b.gamma.test", "unknown.test"] {
        let error = connect(address, host, ca.client_config(&[b"http/1.1"])).await.err().expect(host);
        assert!(!error.to_string().is_empty());
    }
    // The server is still fine.
    assert_eq!(https_get(address, &ca, &[b"h2"], "alpha.test", "/q").await.text(), "alpha:1 /q");
}

#[tokio::test]
async fn alpn_negotiates_h2_and_http11_and_workers_see_https_urls() {
    let (serve, address) = start_tls(&[]);
    let ca = TestCa::new();
    serve.deploy(worker("echo.js"), "echo", &["--route", "echo.test"]);
    put_cert(&serve, &ca, "echo.test", &["echo.test"]);
    for (alpn, expected) in [(&b"h2"[..], &b"h2"[..]), (b"http/1.1", b"http/1.1")] {
        let stream = connect(address, "echo.test", ca.client_config(&[alpn])).await.unwrap();
        assert_eq!(stream.get_ref().1.alpn_protocol(), Some(expected));
        let answer =
            brink_tests::tls::https_request(stream, "POST", "echo.test", "/x?y=1", bytes::Bytes::from_static(b"body")).await.unwrap();
        assert_eq!(answer.status, 200);
        assert_eq!(answer.text(), "body");
        assert_eq!(answer.header("x-url").as_deref(), Some("https://echo.test/x?y=1"));
        // HTTP/3 is advertised on the same port.
        assert_eq!(answer.header("alt-svc"), Some(format!("h3=\":{}\"; ma=86400", address.port())));
    }
    // TLS 1.2 is still accepted.
    let mut config = rustls::ClientConfig::builder_with_provider(brink_tests::tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(ca.roots())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let stream = connect(address, "echo.test", std::sync::Arc::new(config)).await.unwrap();
    assert_eq!(stream.get_ref().1.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_2));
}

#[tokio::test]
async fn a_rotated_certificate_is_served_on_the_next_connection_and_a_deleted_one_is_gone() {
    let (serve, address) = start_tls(&[]);
    let ca = TestCa::new();
    serve.deploy(worker("serve-app.js"), "rot", &["--route", "rot.test", "--var", "WHO=rot", "--var", "V=1"]);
    let first = put_cert(&serve, &ca, "rot.test", &["rot.test"]);
    let old = connect(address, "rot.test", ca.client_config(&[b"http/1.1"])).await.unwrap();
    assert_eq!(presented_leaf(&old), first.leaf);

    let second = put_cert(&serve, &ca, "rot.test", &["rot.test"]);
    assert_ne!(first.leaf, second.leaf);
    let new = connect(address, "rot.test", ca.client_config(&[b"http/1.1"])).await.unwrap();
    assert_eq!(presented_leaf(&new), second.leaf);
    // The connection opened before the rotation keeps working.
    let answer = brink_tests::tls::https_request(old, "GET", "rot.test", "/", bytes::Bytes::new()).await.unwrap();
    assert_eq!(answer.text(), "rot:1 /");

    let output = serve.cli(&["certs", "delete", "rot.test"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(connect(address, "rot.test", ca.client_config(&[b"http/1.1"])).await.is_err());
    let output = serve.cli(&["certs", "delete", "rot.test"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("no certificate for rot.test"), "{}", stderr(&output));
}

#[tokio::test]
async fn unknown_names_get_the_configured_default_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("brink.toml");
    std::fs::write(&config, "[tls]\ndefault_certificate = \"main.test\"\n").unwrap();
    let (serve, address) = start_tls(&["--config", config.to_str().unwrap()]);
    let ca = TestCa::new();
    let main = put_cert(&serve, &ca, "main.test", &["main.test"]);
    // Verified against the CA for main.test although the SNI says other.test.
    let stream = connect(address, "other.test", ca.client_config_expecting("main.test")).await.expect("default certificate");
    assert_eq!(presented_leaf(&stream), main.leaf);
    let list: Value = serde_json::from_slice(&serve.cli(&["certs", "list", "--json"]).stdout).unwrap();
    assert_eq!(list[0]["default"], true);
}

#[tokio::test]
async fn certs_list_shows_host_issuer_and_expiry_never_the_key_and_bad_uploads_say_why() {
    let (serve, _address) = start_tls(&[]);
    let ca = TestCa::new();
    let issued = put_cert(&serve, &ca, "list.test", &["list.test"]);
    put_cert(&serve, &ca, "*.list.test", &["*.list.test"]);

    let table = serve.cli(&["certs", "list"]);
    assert!(table.status.success(), "{}", stderr(&table));
    let text = stdout(&table);
    assert!(text.starts_with("HOST"), "{text}");
    assert!(text.contains("list.test") && text.contains("*.list.test") && text.contains("Brink Test CA"), "{text}");
    let json = serve.cli(&["certs", "list", "--json"]);
    let list: Value = serde_json::from_slice(&json.stdout).unwrap();
    let hosts: Vec<&str> = list.as_array().unwrap().iter().map(|c| c["host"].as_str().unwrap()).collect();
    assert_eq!(hosts, ["*.list.test", "list.test"]);
    assert!(list[1]["not_after"].as_i64().unwrap() > 0);
    assert!(list[1]["expires"].as_str().unwrap().ends_with('Z'));
    for output in [&text, &stdout(&json)] {
        assert!(!output.contains("PRIVATE KEY"), "{output}");
    }
    assert!(!serve.logs().contains("PRIVATE KEY"));

    // The key on disk is readable by the owner only.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(serve.data_dir.join("certs/list.test.pem")).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "mode {mode:o}");

    let dir = serve.scratch();
    let other = ca.issue(&["list.test"]);
    std::fs::write(dir.join("junk.pem"), "not pem at all").unwrap();
    std::fs::write(dir.join("other.key"), &other.key_pem).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let expired = ca.issue_valid(&["list.test"], now - 30 * 86_400, now - 2 * 86_400);
    let (expired_cert, expired_key) = expired.write(dir, "expired");
    let (good_cert, good_key) = issued.write(dir, "good");
    let path = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let junk = path(&dir.join("junk.pem"));
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["list.test".into(), "--cert".into(), junk.clone(), "--key".into(), path(&good_key)], "not valid PEM"),
        (vec!["list.test".into(), "--cert".into(), path(&good_cert), "--key".into(), junk], "not a PEM private key"),
        (vec!["list.test".into(), "--cert".into(), path(&good_cert), "--key".into(), path(&dir.join("other.key"))], "does not match"),
        (vec!["list.test".into(), "--cert".into(), path(&expired_cert), "--key".into(), path(&expired_key)], "expired"),
        (vec!["wrong.test".into(), "--cert".into(), path(&good_cert), "--key".into(), path(&good_key)], "does not cover wrong.test"),
        (vec!["bad_host".into(), "--cert".into(), path(&good_cert), "--key".into(), path(&good_key)], "invalid certificate host"),
    ];
    for (args, expected) in cases {
        let mut all = vec!["certs", "put"];
        all.extend(args.iter().map(String::as_str));
        let output = serve.cli(&all);
        assert!(!output.status.success(), "{args:?}");
        assert!(stderr(&output).contains(expected), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains("400"), "{}", stderr(&output));
    }
    // Nothing changed.
    let list: Value = serde_json::from_slice(&serve.cli(&["certs", "list", "--json"]).stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);

    // The API needs the token.
    let output = serve.cli_with_token(&["certs", "list"], Some("wrong"));
    assert!(!output.status.success());
    assert!(stderr(&output).contains("401"), "{}", stderr(&output));
}

#[tokio::test]
async fn certificates_survive_a_restart() {
    let (serve, _address) = start_tls(&[]);
    let ca = TestCa::new();
    serve.deploy(worker("serve-app.js"), "keep", &["--route", "keep.test", "--var", "WHO=keep", "--var", "V=1"]);
    let issued = put_cert(&serve, &ca, "keep.test", &["keep.test"]);
    let serve = serve.restart();
    assert!(serve.wait_for_log("TLS listener on https://", Duration::from_secs(10)));
    let address = tls_address(&serve.logs()).unwrap();
    let stream = connect(address, "keep.test", ca.client_config(&[b"h2"])).await.unwrap();
    assert_eq!(presented_leaf(&stream), issued.leaf);
}

fn curl(args: &[&str]) -> std::process::Output {
    std::process::Command::new("curl").args(["--silent", "--show-error", "--max-time", "20"]).args(args).output().expect("curl")
}

#[tokio::test]
async fn curl_speaks_http11_and_h2_verifying_against_the_test_ca() {
    let (serve, address) = start_tls(&[]);
    let ca = TestCa::new();
    serve.deploy(worker("serve-app.js"), "curl", &["--route", "curl.test", "--var", "WHO=curl", "--var", "V=1"]);
    put_cert(&serve, &ca, "curl.test", &["curl.test"]);
    let ca_file = serve.scratch().join("ca.pem");
    ca.write(&ca_file);
    let resolve = format!("curl.test:{}:127.0.0.1", address.port());
    let url = format!("https://curl.test:{}/hi", address.port());
    for (flag, version) in [("--http1.1", "1.1"), ("--http2", "2")] {
        let output = curl(&[flag, "--cacert", ca_file.to_str().unwrap(), "--resolve", &resolve, "-w", "\n%{http_version}", &url]);
        assert!(output.status.success(), "{flag}: {}", stderr(&output));
        assert_eq!(stdout(&output), format!("curl:1 /hi\n{version}"));
    }
    // Without the CA, curl refuses the certificate: it is really verified.
    let other_ca = serve.scratch().join("other-ca.pem");
    TestCa::new().write(&other_ca);
    let output = curl(&["--cacert", other_ca.to_str().unwrap(), "--resolve", &resolve, &url]);
    assert!(!output.status.success());
}

#[tokio::test]
async fn brink_dev_tls_serves_with_a_self_signed_localhost_certificate() {
    let data = tempfile::tempdir().unwrap();
    let brink = Brink::start(worker("echo.js"), &["--tls", "--data-dir", data.path().to_str().unwrap()]);
    let logs = brink.logs();
    let cert = data.path().join("tls/localhost.pem");
    assert!(logs.contains(&cert.display().to_string()), "{logs}");
    let url = format!("https://localhost:{}/dev", brink.port);
    for flag in ["--http1.1", "--http2"] {
        let output = curl(&[flag, "--cacert", cert.to_str().unwrap(), "-D", "-", "--data", "hello", &url]);
        assert!(output.status.success(), "{flag}: {}", stderr(&output));
        let text = stdout(&output);
        assert!(text.ends_with("hello"), "{text}");
        assert!(text.to_ascii_lowercase().contains("x-url: https://localhost:"), "{text}");
    }
    // HTTP/3 on the same port, trusting the same certificate.
    let address: std::net::SocketAddr = format!("127.0.0.1:{}", brink.port).parse().unwrap();
    let config = brink_tests::tls::quic_client_config_trusting(&cert);
    let mut h3 = brink_tests::tls::H3Client::connect_with(address, "localhost", config).await.expect("h3 to brink dev");
    let answer = h3.request("POST", "localhost", "/h3", &[], bytes::Bytes::from_static(b"over quic")).await.unwrap();
    assert_eq!((answer.status, answer.text()), (200, "over quic".to_string()));
}

/// Live isolates of worker `name`, from `brink workers list --json`.
fn live_isolates(serve: &BrinkServe, name: &str) -> u64 {
    let list: Value = serde_json::from_slice(&serve.cli(&["workers", "list", "--json"]).stdout).unwrap();
    list.as_array().unwrap().iter().find(|w| w["name"] == name).map(|w| w["live_isolates"].as_u64().unwrap()).unwrap()
}

#[tokio::test]
async fn a_handshake_naming_an_idle_workers_host_starts_its_isolate_unless_turned_off() {
    for prewarm in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("brink.toml");
        std::fs::write(&config, format!("[tls]\nprewarm_on_sni = {prewarm}\n")).unwrap();
        let (serve, _) = start_tls(&["--config", config.to_str().unwrap()]);
        let ca = TestCa::new();
        serve.deploy(worker("serve-app.js"), "warm", &["--route", "warm.test", "--var", "WHO=warm", "--var", "V=1"]);
        put_cert(&serve, &ca, "warm.test", &["warm.test"]);
        // After a restart every worker is idle: no isolate until needed.
        let serve = serve.restart();
        assert!(serve.wait_for_log("TLS listener on https://", Duration::from_secs(10)));
        let address = tls_address(&serve.logs()).unwrap();
        assert_eq!(live_isolates(&serve, "warm"), 0);

        // A handshake alone, no request.
        let stream = connect(address, "warm.test", ca.client_config(&[b"h2"])).await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(if prewarm { 30 } else { 2 });
        while live_isolates(&serve, "warm") == 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(live_isolates(&serve, "warm"), u64::from(prewarm), "prewarm_on_sni = {prewarm}");
        // Either way the request is answered.
        let answer = brink_tests::tls::https_request(stream, "GET", "warm.test", "/", bytes::Bytes::new()).await.unwrap();
        assert_eq!(answer.text(), "warm:1 /");
    }
}
