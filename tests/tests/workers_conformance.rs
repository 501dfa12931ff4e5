//! Differences from workerd the conformance suite (tests/conformance/)
//! found in what goes through the gateway, checked on the wire: the
//! Response's statusText is the HTTP/1.1 reason phrase, a Response returned
//! twice fails the second request, an empty POST body is an empty stream,
//! an event listener's exception is reported without ending the request, and a
//! 101 answers only an upgrade request.

use std::time::Duration;

use brink_tests::{client, worker, Brink};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends one raw HTTP/1.1 request and returns the whole answer as text
/// (the connection is closed after it).
async fn raw(brink: &Brink, request: &str) -> String {
    let address = brink.url("").trim_start_matches("http://").trim_end_matches('/').to_string();
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

async fn status_line(brink: &Brink, path: &str) -> String {
    let answer = raw(brink, &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")).await;
    answer.split("\r\n").next().unwrap_or_default().to_string()
}

#[tokio::test]
async fn the_reason_phrase_is_the_responses_status_text() {
    let brink = Brink::start(worker("workers-conformance.js"), &[]);
    assert_eq!(status_line(&brink, "/status-text").await, "HTTP/1.1 201 Created Thing");
    assert_eq!(status_line(&brink, "/status-text-stream").await, "HTTP/1.1 202 Queued Up");
    // Given empty, sent empty (the space after the code stays).
    assert_eq!(status_line(&brink, "/status-text-empty").await, "HTTP/1.1 200 ");
    // Not given: the status's registered phrase, or its class for an
    // unregistered status (never hyper's "<none>").
    assert_eq!(status_line(&brink, "/plain").await, "HTTP/1.1 200 OK");
    assert_eq!(status_line(&brink, "/status-203").await, "HTTP/1.1 203 Non-Authoritative Information");
    assert_eq!(status_line(&brink, "/status-599").await, "HTTP/1.1 599 Server Error");
}

#[tokio::test]
async fn a_response_body_is_sent_once() {
    let brink = Brink::start(worker("workers-conformance.js"), &[]);
    let first = client().get(brink.url("/shared")).send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.text().await.unwrap(), "made once");
    let second = client().get(brink.url("/shared")).send().await.unwrap();
    assert_eq!(second.status(), 500);
    assert!(brink.wait_for_log("body was already used", Duration::from_secs(5)), "{}", brink.logs());
    // A body the worker read itself is not sent either.
    let read = client().get(brink.url("/read-then-returned")).send().await.unwrap();
    assert_eq!(read.status(), 500);
}

#[tokio::test]
async fn an_empty_post_body_is_an_empty_stream() {
    let brink = Brink::start(worker("workers-conformance.js"), &[]);
    let post = client().post(brink.url("/body")).header("content-length", "0").body("").send().await.unwrap();
    assert_eq!(post.text().await.unwrap(), r#"{"hasBody":true,"text":""}"#);
    let get = client().get(brink.url("/body")).send().await.unwrap();
    assert_eq!(get.text().await.unwrap(), r#"{"hasBody":false,"text":""}"#);
}

#[tokio::test]
async fn a_listener_exception_is_logged_and_the_request_goes_on() {
    let brink = Brink::start(worker("workers-conformance.js"), &[]);
    let response = client().get(brink.url("/listener-throws")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), r#"["second ran"]"#);
    assert!(brink.wait_for_log("listener boom", Duration::from_secs(5)), "{}", brink.logs());

    let response = client().get(brink.url("/error-listener-throws")).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "still here");
    assert!(brink.wait_for_log("error listener boom", Duration::from_secs(5)), "{}", brink.logs());

    // Replacing dispatchEvent does not turn a listener's exception into a
    // dead request, and the isolate serves the next request.
    let response = client().get(brink.url("/hostile-dispatch")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), r#"{"after":true}"#);
    let again = client().get(brink.url("/plain")).send().await.unwrap();
    assert_eq!(again.text().await.unwrap(), "plain");
}

#[tokio::test]
async fn a_101_answers_only_an_upgrade_request() {
    let brink = Brink::start(worker("workers-conformance.js"), &[]);
    let answer = raw(&brink, "GET /upgrade-without-request HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 500 "), "{answer}");
    assert!(brink.wait_for_log("answers only a WebSocket upgrade request", Duration::from_secs(5)), "{}", brink.logs());
}
