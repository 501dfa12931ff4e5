//! `brink dev --origin`: the worker's own host is a proxied zone. fetch() of
//! the incoming request (modified or not) goes to the origin with method,
//! headers and body; ctx.passThroughOnException() sends a request whose
//! handler threw to the origin instead of failing it.

use brink_tests::origin::Origin;
use brink_tests::{client, worker, Brink};

fn start(origin: &Origin) -> Brink {
    let origin_url = origin.url("");
    Brink::start(worker("origin-proxy.js"), &["--origin", origin_url.as_str()])
}

#[tokio::test]
async fn fetch_of_the_incoming_request_goes_to_the_origin() {
    let origin = Origin::start();
    let brink = start(&origin);
    let response = client().get(brink.url("/some/page?q=1")).header("x-client", "c").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-proxied"], "yes");
    assert_eq!(response.text().await.unwrap(), "GET /some/page?q=1");
    let seen = origin.requests().pop().unwrap();
    let header = |name: &str| seen.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    assert_eq!(header("x-edge").as_deref(), Some("brink"), "the worker's change reached the origin");
    assert_eq!(header("x-client").as_deref(), Some("c"), "the client's headers reached the origin");
    assert_eq!(header("x-forwarded-host"), Some(format!("127.0.0.1:{}", brink.port)));
    assert_eq!(header("x-forwarded-proto").as_deref(), Some("http"));
}

#[tokio::test]
async fn bodies_and_methods_pass_through() {
    let origin = Origin::start();
    let brink = start(&origin);
    let response = client().put(brink.url("/upload")).body("payload bytes").send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "PUT /upload");
    let seen = origin.requests().pop().unwrap();
    assert_eq!(seen.method, "PUT");
    assert_eq!(seen.body, "payload bytes");
}

#[tokio::test]
async fn pass_through_on_exception_falls_back_to_the_origin() {
    let origin = Origin::start();
    let brink = start(&origin);
    let response = client().get(brink.url("/throw")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "GET /throw");
    let response = client().post(brink.url("/throw-async")).body("kept").send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "POST /throw-async");
    assert_eq!(origin.requests().pop().unwrap().body, "kept", "the unread body went to the origin");
    assert!(brink.wait_for_log("passed through to the origin", std::time::Duration::from_secs(5)));
    // Without passThroughOnException() an exception is still a 500.
    let failed = client().get(brink.url("/throw-no-pass")).send().await.unwrap();
    assert_eq!(failed.status(), 500);
    assert_eq!(origin.requests().len(), 2);
}

#[tokio::test]
async fn other_hosts_are_not_the_origin() {
    let origin = Origin::start();
    let brink = start(&origin);
    let text = client().get(brink.url("/elsewhere")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("refused"), "{text}");
    assert!(origin.requests().is_empty());
}

#[tokio::test]
async fn without_an_origin_pass_through_changes_nothing() {
    let brink = Brink::start(worker("origin-proxy.js"), &[]);
    let failed = client().get(brink.url("/throw")).send().await.unwrap();
    assert_eq!(failed.status(), 500);
}

#[tokio::test]
async fn an_origin_that_is_not_a_url_fails_at_start() {
    let (status, logs) = Brink::start_expecting_failure(worker("origin-proxy.js"), &["--origin", "ftp://x"]);
    assert!(!status.success());
    assert!(logs.contains("--origin expects an http(s) URL"), "{logs}");
    // Checked as a deploy's origin is: no path (requests keep their own),
    // no credentials (never repeated in the message, which reaches logs).
    let (status, logs) = Brink::start_expecting_failure(worker("origin-proxy.js"), &["--origin", "http://127.0.0.1:1/app"]);
    assert!(!status.success());
    assert!(logs.contains("must be scheme://host[:port] only"), "{logs}");
    let (status, logs) = Brink::start_expecting_failure(worker("origin-proxy.js"), &["--origin", "http://admin:hunter2@127.0.0.1:1"]);
    assert!(!status.success());
    assert!(logs.contains("user name or password") && !logs.contains("hunter2"), "{logs}");
}
