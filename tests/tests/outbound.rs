//! Outbound fetch() goes through Brink: limits, redirects, and no private
//! addresses unless the config allows the host.

use brink_tests::origin::Origin;
use brink_tests::{client, worker, Brink};

fn fetch_url(brink: &Brink, target: &str) -> String {
    let encoded: String = target
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect();
    brink.url(&format!("/?url={encoded}"))
}

#[tokio::test]
async fn private_addresses_are_refused_by_default() {
    let origin = Origin::start();
    let brink = Brink::start(worker("outbound.js"), &[]);
    for target in [
        origin.url("/hello"),
        format!("http://localhost:{}/hello", origin.port),
        format!("http://[::1]:{}/hello", origin.port),
        "http://169.254.169.254/latest/meta-data".to_string(),
        "http://10.0.0.1/".to_string(),
    ] {
        let response = client().get(fetch_url(&brink, &target)).send().await.unwrap();
        assert_eq!(response.status(), 502, "{target}");
        let text = response.text().await.unwrap();
        assert!(text.contains("fetch failed"), "{target}: {text}");
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
