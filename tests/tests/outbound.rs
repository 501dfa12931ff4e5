//! Outbound fetch() goes through Brink: limits, redirects, and no private
//! addresses unless the config allows the host.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use brink_tests::origin::Origin;
use brink_tests::{brink_bin, client, worker, Brink};

fn fetch_url(brink: &Brink, target: &str) -> String {
    let encoded: String = target
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect();
    brink.url(&format!("/?url={encoded}"))
}

/// What the worker sees when Brink refuses a private address: the refusal
/// itself, not whatever error a failed connection would also give (a test
/// that accepted any failure would pass with the check gone and nothing
/// listening).
fn private_refusal(host: &str) -> String {
    format!("fetch failed: fetch() to {host} refused: private and loopback addresses are not reachable from a worker")
}

#[tokio::test]
async fn private_addresses_are_refused_by_default() {
    let origin = Origin::start();
    let brink = Brink::start(worker("outbound.js"), &[]);
    for (target, host) in [
        (origin.url("/hello"), "127.0.0.1"),
        (format!("http://localhost:{}/hello", origin.port), "localhost"),
        (format!("http://[::1]:{}/hello", origin.port), "::1"),
        ("http://169.254.169.254/latest/meta-data".to_string(), "169.254.169.254"),
        ("http://10.0.0.1/".to_string(), "10.0.0.1"),
    ] {
        let response = client().get(fetch_url(&brink, &target)).send().await.unwrap();
        assert_eq!(response.status(), 502, "{target}");
        let text = response.text().await.unwrap();
        assert_eq!(text, private_refusal(host), "{target}");
    }
    assert!(origin.requests().is_empty(), "a private request got through");
}

#[tokio::test]
async fn allowed_private_host_is_reachable_and_redirects_are_followed() {
    let origin = Origin::start();
    let brink = Brink::start(worker("outbound.js"), &["--allow-private-host", "127.0.0.1"]);
    let text = client().get(fetch_url(&brink, &origin.url("/hello"))).send().await.unwrap().text().await.unwrap();
    assert_eq!(text, "200 hello from origin");
    let text = client().get(fetch_url(&brink, &origin.url("/redirect"))).send().await.unwrap().text().await.unwrap();
    assert_eq!(text, "200 redirected hello from origin");
    let paths: Vec<String> = origin.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/hello", "/redirect", "/hello"]);
}

#[tokio::test]
async fn file_urls_are_refused() {
    let brink = Brink::start(worker("outbound.js"), &[]);
    let response = client().get(fetch_url(&brink, "file:///etc/passwd")).send().await.unwrap();
    assert_eq!(response.status(), 502);
    // deno_fetch's refusal of a file: URL (Brink grants no read permission),
    // not a failure that happened after the file was read.
    assert_eq!(response.text().await.unwrap(), "fetch failed: NetworkError when attempting to fetch resource");
}

/// Subrequests started together count like sequential ones: with a limit
/// of 3, five fetches in one `Promise.all` make three requests, and the
/// other two fail with the limit's error (a counter checked before an await
/// and raised after it would let all five through).
#[tokio::test]
async fn subrequest_limit_holds_for_concurrent_fetches() {
    let origin = Origin::start();
    let brink = Brink::start(worker("outbound.js"), &["--allow-private-host", "127.0.0.1", "--subrequests", "3"]);
    let url = format!("{}&parallel=5", fetch_url(&brink, &origin.url("/count")));
    let body: serde_json::Value = client().get(url).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["ok"], 3, "{body}");
    let refused = body["refused"].as_array().expect("refused list");
    assert_eq!(refused.len(), 2, "{body}");
    for reason in refused {
        assert!(reason.as_str().is_some_and(|r| r.contains("Too many subrequests")), "{body}");
    }
    assert_eq!(origin.requests().len(), 3, "the origin saw more requests than the limit allows");
    // Many at once, far over the limit: still exactly the limit reaches the origin.
    let url = format!("{}&parallel=50", fetch_url(&brink, &origin.url("/count")));
    let body: serde_json::Value = client().get(url).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["ok"], 3, "{body}");
    assert_eq!(origin.requests().len(), 6);
}

#[tokio::test]
async fn subrequest_limit_per_request() {
    let origin = Origin::start();
    let brink = Brink::start(worker("outbound.js"), &["--allow-private-host", "127.0.0.1", "--subrequests", "3"]);
    let within = format!("{}&n=3", fetch_url(&brink, &origin.url("/count")));
    let response = client().get(within).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let over = format!("{}&n=4", fetch_url(&brink, &origin.url("/count")));
    let response = client().get(over).send().await.unwrap();
    assert_eq!(response.status(), 502);
    assert!(response.text().await.unwrap().contains("Too many subrequests"));
    // The limit is per request: a new request starts from zero.
    let again = format!("{}&n=2", fetch_url(&brink, &origin.url("/count")));
    assert_eq!(client().get(again).send().await.unwrap().status(), 200);
    assert_eq!(origin.requests().len(), 3 + 3 + 2);
}

/// `brink dev` started with extra environment variables, which the shared
/// harness does not pass.
struct BrinkWithEnv {
    child: Child,
    base: String,
}

impl BrinkWithEnv {
    fn start(entry: &str, args: &[&str], env: &[(&str, String)]) -> BrinkWithEnv {
        let mut child = Command::new(brink_bin())
            .arg("dev")
            .arg(worker(entry))
            .args(["--port", "0", "--host", "127.0.0.1"])
            .args(args)
            .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn brink");
        let stderr = child.stderr.take().expect("stderr");
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            const MARK: &str = "listening on http://127.0.0.1:";
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("[brink] {line}");
                if let Some(at) = line.find(MARK) {
                    let digits: String = line[at + MARK.len()..].chars().take_while(char::is_ascii_digit).collect();
                    if let Ok(port) = digits.parse::<u16>() {
                        let _ = port_tx.send(port);
                    }
                }
            }
        });
        let port = port_rx.recv_timeout(Duration::from_secs(60)).expect("brink did not start listening");
        BrinkWithEnv { child, base: format!("http://127.0.0.1:{port}") }
    }

    fn fetch_url(&self, target: &str) -> String {
        let encoded: String = target
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect();
        format!("{}/?url={encoded}", self.base)
    }
}

impl Drop for BrinkWithEnv {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// With proxy variables in brink's environment, deno_fetch would hand every
/// request to the proxy, which then connects wherever the name resolves for
/// it (127.0.0.1 included). Brink ignores them: requests go direct, through
/// the address checks, and the proxy sees nothing.
#[tokio::test]
async fn proxy_variables_in_the_environment_are_ignored() {
    let proxy = Origin::start();
    let origin = Origin::start();
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port);
    let env: Vec<(&str, String)> = ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
        .into_iter()
        .map(|name| (name, proxy_url.clone()))
        .collect();
    let allow = format!("127.0.0.1:{}", origin.port);
    let brink = BrinkWithEnv::start("outbound.js", &["--allow-private-host", &allow], &env);

    for target in ["http://example.invalid/secret", "https://example.invalid/secret", "http://internal.example.invalid:8080/"] {
        let response = client().get(brink.fetch_url(target)).send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 502, "{target}: {text}");
        assert!(text.contains("fetch failed"), "{target}: {text}");
    }
    // A direct request still works: the variables are ignored, not fatal.
    let response = client().get(brink.fetch_url(&origin.url("/hello"))).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "200 hello from origin");
    assert_eq!(origin.requests().len(), 1);
    assert!(proxy.requests().is_empty(), "the proxy got {:?}", proxy.requests());
}

/// A public-looking name whose DNS answer is loopback is refused by the
/// resolver (the URL check cannot know where a name points). The name is
/// pinned with `BRINK_RESOLVE`, so this holds on any machine, whatever its
/// /etc/hosts; allowing the name shows the pin really resolves to the origin,
/// so the refusal is the resolver's, not a lookup failure.
#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_by_the_resolver() {
    let origin = Origin::start();
    let pins = [(
        "BRINK_RESOLVE",
        "loopback.example.test=127.0.0.1, v6.example.test=[::1], spaced.example.test = 127.0.0.2".to_string(),
    )];
    let brink = BrinkWithEnv::start("outbound.js", &[], &pins);
    for name in ["loopback.example.test", "LOOPBACK.example.test.", "v6.example.test", "spaced.example.test"] {
        let target = format!("http://{name}:{}/hello", origin.port);
        let response = client().get(brink.fetch_url(&target)).send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 502, "{target}: {text}");
        let resolved = name.to_ascii_lowercase();
        assert!(
            text.contains(&format!("{resolved} resolves only to private addresses, which a worker may not reach")),
            "{target} must be refused by the resolver: {text}"
        );
    }
    assert!(origin.requests().is_empty(), "a private request got through: {:?}", origin.requests());
    drop(brink);

    let allowed = BrinkWithEnv::start("outbound.js", &["--allow-private-host", "loopback.example.test"], &pins);
    let target = format!("http://loopback.example.test:{}/hello", origin.port);
    let text = client().get(allowed.fetch_url(&target)).send().await.unwrap().text().await.unwrap();
    assert_eq!(text, "200 hello from origin");
    assert_eq!(origin.requests().len(), 1);
}

/// Every spelling the URL parser turns into a loopback, private or
/// otherwise non-public address is refused before a connection is made.
#[tokio::test]
async fn ip_literal_forms_are_refused() {
    let origin = Origin::start();
    let brink = Brink::start(worker("outbound.js"), &[]);
    let port = origin.port;
    for target in [
        format!("http://2130706433:{port}/hello"),
        format!("http://0177.0.0.1:{port}/hello"),
        format!("http://0x7f.1:{port}/hello"),
        format!("http://0x7f000001:{port}/hello"),
        format!("http://127.1:{port}/hello"),
        format!("http://127.0.0.1.:{port}/hello"),
        format!("http://0:{port}/hello"),
        format!("http://[::ffff:127.0.0.1]:{port}/hello"),
        format!("http://[::ffff:7f00:1]:{port}/hello"),
        format!("http://[::127.0.0.1]:{port}/hello"),
        format!("http://[::ffff:0:127.0.0.1]:{port}/hello"),
        format!("http://[64:ff9b::127.0.0.1]:{port}/hello"),
        format!("http://[2002:7f00:1::1]:{port}/hello"),
        format!("http://[2001:0:808:808::80ff:fffe]:{port}/hello"),
        format!("http://[::]:{port}/hello"),
        format!("http://localhost.:{port}/hello"),
        format!("http://api.localhost:{port}/hello"),
        "http://[fd00::1]/".to_string(),
        "http://[fe80::1]/".to_string(),
        "http://100.64.0.1/".to_string(),
        "http://198.18.0.1/".to_string(),
        "http://192.0.0.170/".to_string(),
        "http://0xa9fea9fe/latest/meta-data".to_string(),
    ] {
        let response = client().get(fetch_url(&brink, &target)).send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 502, "{target}: {text}");
        assert!(text.contains("fetch() to") && text.contains("refused"), "{target} must be refused: {text}");
    }
    assert!(origin.requests().is_empty(), "a private request got through: {:?}", origin.requests());
}

/// `--allow-private-host HOST:PORT` opens that port only: another port of
/// the same host (an admin port, say) stays refused.
#[tokio::test]
async fn allowed_private_host_with_a_port_allows_only_that_port() {
    let allowed = Origin::start();
    let other = Origin::start();
    let entry = format!("127.0.0.1:{}", allowed.port);
    let brink = Brink::start(worker("outbound.js"), &["--allow-private-host", &entry]);

    let text = client().get(fetch_url(&brink, &allowed.url("/hello"))).send().await.unwrap().text().await.unwrap();
    assert_eq!(text, "200 hello from origin");
    let response = client().get(fetch_url(&brink, &other.url("/admin"))).send().await.unwrap();
    assert_eq!(response.status(), 502);
    assert!(response.text().await.unwrap().contains("refused: --allow-private-host allows this host on other ports only"));
    // A redirect from the allowed port to another port is refused too.
    let hop = allowed.url(&format!("/redirect-to/{}", other.url("/admin")));
    let response = client().get(fetch_url(&brink, &hop)).send().await.unwrap();
    assert_eq!(response.status(), 502);
    assert!(response.text().await.unwrap().contains("refused: --allow-private-host allows this host on other ports only"));
    assert!(other.requests().is_empty(), "the other port got {:?}", other.requests());
    assert_eq!(allowed.requests().len(), 2);
}

/// A host name entry with a port: the name may resolve to a private address
/// on that port, and on no other.
#[tokio::test]
async fn allowed_private_name_with_a_port_allows_only_that_port() {
    let allowed = Origin::start();
    let other = Origin::start();
    let entry = format!("localhost:{}", allowed.port);
    let brink = Brink::start(worker("outbound.js"), &["--allow-private-host", &entry]);

    let target = format!("http://localhost:{}/hello", allowed.port);
    let text = client().get(fetch_url(&brink, &target)).send().await.unwrap().text().await.unwrap();
    assert_eq!(text, "200 hello from origin");
    let target = format!("http://localhost:{}/admin", other.port);
    let response = client().get(fetch_url(&brink, &target)).send().await.unwrap();
    assert_eq!(response.status(), 502);
    assert!(response.text().await.unwrap().contains("refused: --allow-private-host allows this host on other ports only"));
    // The name entry does not open the address it resolves to.
    let response = client().get(fetch_url(&brink, &allowed.url("/hello"))).send().await.unwrap();
    assert_eq!(response.status(), 502);
    assert!(other.requests().is_empty(), "the other port got {:?}", other.requests());
    assert_eq!(allowed.requests().len(), 1);
}

#[test]
fn an_invalid_allowed_private_host_fails_at_start() {
    for entry in ["127.0.0.1:99999", ":8080", "[::1"] {
        let (status, logs) = Brink::start_expecting_failure(worker("outbound.js"), &["--allow-private-host", entry]);
        assert!(!status.success(), "{entry}");
        assert!(logs.contains("--allow-private-host"), "{entry}: {logs}");
    }
}
