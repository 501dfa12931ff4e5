//! The CDN examples in examples/ (A/B testing, security headers, KV
//! redirects, HTML injection, an edge-cached API proxy), each run by a real
//! `brink dev` in front of a real origin server.

use std::process::Command;
use std::time::Duration;

use brink_tests::origin::Origin;
use brink_tests::{brink_bin, client, example, Brink};

/// `brink dev EXAMPLE` with `ORIGIN` pointing at `origin`, which it may reach.
fn start(example_path: &str, origin: &Origin, extra: &[&str]) -> Brink {
    let origin_var = format!("ORIGIN={}", origin.url(""));
    let allow = format!("127.0.0.1:{}", origin.port);
    let mut args = vec!["--var", origin_var.as_str(), "--allow-private-host", allow.as_str()];
    args.extend_from_slice(extra);
    Brink::start(example(example_path), &args)
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

#[tokio::test]
async fn ab_test_assigns_a_sticky_group_by_cookie() {
    let origin = Origin::start();
    let brink = start("ab-test/worker.js", &origin, &[]);
    let first = client().get(brink.url("/pricing?x=1")).send().await.unwrap();
    let group = first.headers()["x-ab-group"].to_str().unwrap().to_owned();
    assert!(group == "a" || group == "b", "{group}");
    let cookie = first.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with(&format!("ab={group};")), "{cookie}");
    assert_eq!(first.text().await.unwrap(), format!("GET /{group}/pricing?x=1"));
    // With the cookie, the same group and no new cookie, every time.
    for _ in 0..5 {
        let again = client().get(brink.url("/pricing")).header("cookie", format!("theme=dark; ab={group}")).send().await.unwrap();
        assert_eq!(again.headers()["x-ab-group"], group.as_str());
        assert!(again.headers().get("set-cookie").is_none());
        assert_eq!(again.text().await.unwrap(), format!("GET /{group}/pricing"));
    }
    // Both groups exist: forced by cookie.
    let other = if group == "a" { "b" } else { "a" };
    let forced = client().get(brink.url("/")).header("cookie", format!("ab={other}")).send().await.unwrap();
    assert_eq!(forced.text().await.unwrap(), format!("GET /{other}/"));
}

#[tokio::test]
async fn security_headers_are_added_and_leaks_removed() {
    let origin = Origin::start();
    let brink = start("security-headers/worker.js", &origin, &[]);
    let response = client().get(brink.url("/page.html")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers["strict-transport-security"].to_str().unwrap().starts_with("max-age="));
    assert!(headers.contains_key("content-security-policy"));
    assert!(headers.get("x-powered-by").is_none(), "the origin's x-powered-by leaked");
    assert_eq!(response.text().await.unwrap(), brink_tests::origin::PAGE);
    // Redirects and errors from the origin get the headers too and pass as they are.
    let redirect = no_redirects().get(brink.url("/redirect")).send().await.unwrap();
    assert_eq!(redirect.status(), 302);
    assert_eq!(redirect.headers()["x-frame-options"], "DENY");
    let failed = client().get(brink.url("/boom")).send().await.unwrap();
    assert_eq!(failed.status(), 500);
    assert_eq!(failed.headers()["x-frame-options"], "DENY");
}

#[tokio::test]
async fn redirects_come_from_a_kv_map() {
    let origin = Origin::start();
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    for (key, value) in [("/old-page", "/new-page"), ("/moved", "302 https://elsewhere.example/x")] {
        let status = Command::new(brink_bin())
            .args(["kv", "put", key, value, "--namespace", "REDIRECTS", "--data-dir", data_dir])
            .status()
            .unwrap();
        assert!(status.success());
    }
    let brink = start("kv-redirects/worker.js", &origin, &["--kv", "REDIRECTS", "--data-dir", data_dir]);
    let permanent = no_redirects().get(brink.url("/old-page?ref=1")).send().await.unwrap();
    assert_eq!(permanent.status(), 301);
    assert_eq!(permanent.headers()["location"], format!("{}/new-page?ref=1", brink.base).as_str());
    let temporary = no_redirects().get(brink.url("/moved")).send().await.unwrap();
    assert_eq!(temporary.status(), 302);
    assert_eq!(temporary.headers()["location"], "https://elsewhere.example/x");
    // No entry: the origin answers.
    let passed = client().get(brink.url("/hello")).send().await.unwrap();
    assert_eq!(passed.text().await.unwrap(), "hello from origin");
    let paths: Vec<String> = origin.requests().into_iter().map(|seen| seen.path).collect();
    assert_eq!(paths, vec!["/hello"], "redirected paths never reach the origin");
}

#[tokio::test]
async fn html_injection_adds_a_snippet_and_moves_links() {
    let origin = Origin::start();
    let brink = start("html-injection/worker.js", &origin, &["--var", "NEW_DOMAIN=www.example.com"]);
    let page = client().get(brink.url("/page.html")).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains(r#"<title>Origin</title><script async src="/analytics.js" data-site="brink-example"></script></head>"#),
        "{page}"
    );
    assert!(page.contains(r#"<a href="https://www.example.com/about">About</a>"#), "{page}");
    assert!(page.contains(r#"<img src="https://www.example.com/logo.png">"#), "{page}");
    assert!(page.contains(r#"<a href="/local">Local</a>"#), "relative links stay: {page}");
    assert!(!page.contains("old.example.com"), "{page}");
    // Not HTML: untouched.
    let json = client().get(brink.url("/api/x")).send().await.unwrap().text().await.unwrap();
    assert!(json.starts_with(r#"{"path":"/api/x""#), "{json}");
}

#[tokio::test]
async fn the_api_proxy_serves_hits_from_the_cache() {
    let origin = Origin::start();
    let brink = start("cached-api-proxy/worker.js", &origin, &["--var", "TTL=600"]);
    let first = client().get(brink.url("/api/items?page=2")).send().await.unwrap();
    assert_eq!(first.headers()["x-cache"], "MISS");
    let body = first.text().await.unwrap();
    assert_eq!(body, r#"{"path":"/api/items?page=2","served":1}"#);
    // The entry is stored by waitUntil after the first response: ask until
    // it is there (a bound, not a timing).
    let mut hit = None;
    for _ in 0..500 {
        let response = client().get(brink.url("/api/items?page=2")).send().await.unwrap();
        if response.headers()["x-cache"] == "HIT" {
            hit = Some(response.text().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(hit.as_deref(), Some(body.as_str()), "a hit serves the stored body");
    let served = origin.requests().len();
    for _ in 0..10 {
        let response = client().get(brink.url("/api/items?page=2")).send().await.unwrap();
        assert_eq!(response.headers()["x-cache"], "HIT");
    }
    assert_eq!(origin.requests().len(), served, "hits never reach the origin");
    // Another query is another entry; a POST is never cached.
    let other = client().get(brink.url("/api/items?page=3")).send().await.unwrap();
    assert_eq!(other.headers()["x-cache"], "MISS");
    let post = client().post(brink.url("/api/items")).body("{}").send().await.unwrap();
    assert!(post.headers().get("x-cache").is_none());
}
