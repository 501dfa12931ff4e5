//! Differences from workerd the conformance suite (tests/conformance/)
//! found in what goes through the gateway, checked on the wire: the
//! Response's statusText is the HTTP/1.1 reason phrase, a Response returned
//! twice fails the second request, an empty POST body is an empty stream,
//! an event listener's exception is reported without ending the request, a
//! 101 answers only an upgrade request, a header appended twice goes out as
//! two lines, a FixedLengthStream body arrives whole, and code is built from
//! strings only while a worker starts (eval, `new Function` and string timer
//! callbacks are refused in its handlers, as on Workers).

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

const CODEGEN_REFUSED: &str = "EvalError: Code generation from strings disallowed for this context";

async fn get_json(brink: &Brink, path: &str) -> serde_json::Value {
    let response = client().get(brink.url(path)).send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "GET {path}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: {e}: {text}"))
}

#[tokio::test]
async fn code_is_built_from_strings_only_at_startup() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let brink = Brink::start(worker("code-generation.js"), &["--kv", "KV", "--data-dir", data_dir]);
    // The top level may, as on Workers (libraries compile there).
    assert_eq!(get_json(&brink, "/startup").await, serde_json::json!({ "eval": 2, "newFunction": 42 }));

    // A handler may not, however it reaches eval or a function constructor.
    let blocked = get_json(&brink, "/blocked").await;
    for name in [
        "eval",
        "indirectEval",
        "globalThisEval",
        "newFunction",
        "callFunction",
        "constructorOfAFunction",
        "reflectConstruct",
        "asyncFunction",
        "generatorFunction",
        "asyncGeneratorFunction",
    ] {
        assert_eq!(blocked[name], CODEGEN_REFUSED, "{name}: {blocked}");
    }
    // eval of a value that is not a string builds no code (as in V8).
    assert_eq!(blocked["evalNonString"], 42);
    // Timers refuse a string at the call, with workerd's message.
    let refused = |shown: &str| format!(r#"TypeError: The "callback" argument must be of type function. Received {shown}"#);
    assert_eq!(blocked["setTimeout"], refused("type string ('globalThis.ran = true')"));
    assert_eq!(blocked["setInterval"], refused("type string ('globalThis.ran = true')"));
    assert_eq!(blocked["setTimeoutNumber"], refused("type number (42)"));
    assert_eq!(blocked["setTimeoutLongString"], refused(r#"type string ("it's a string longer than...")"#));

    let later = get_json(&brink, "/blocked-later").await;
    assert_eq!(later, serde_json::json!({ "afterAwait": CODEGEN_REFUSED, "inTimer": CODEGEN_REFUSED }));

    // The runtime's own features, lazily loaded ones included, still work.
    let features = get_json(&brink, "/features").await;
    assert_eq!(
        features,
        serde_json::json!({
            "structuredClone": true,
            "streams": "streams",
            "crypto": [186, 120, 22, 191],
            "htmlRewriter": "<p class=\"x\">hi</p>",
            "kv": "v",
            "webAssembly": 5,
            "url": "c",
            "cache": "function",
            "timer": "fired",
            "json": 2,
            "regexp": "20",
        })
    );
}

#[tokio::test]
async fn a_header_appended_twice_goes_out_as_two_lines() {
    let brink = Brink::start(worker("workers-conformance.js"), &[]);
    let answer = raw(&brink, "GET /appended-twice HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await;
    let head = answer.split("\r\n\r\n").next().unwrap_or_default().to_ascii_lowercase();
    let lines: Vec<&str> = head.lines().filter(|l| l.starts_with("x-multi:")).collect();
    assert_eq!(lines, ["x-multi: a", "x-multi: b"], "{answer}");
    let cookies = head.lines().filter(|l| l.starts_with("set-cookie:")).count();
    assert_eq!(cookies, 2, "{answer}");
    // What JavaScript reads of the same headers is combined, as the Fetch spec says.
    assert!(answer.ends_with("a, b"), "{answer}");
}

/// A FixedLengthStream body announces its length and arrives whole, every
/// time (a GET of it once failed one run in five): requests on one
/// keep-alive connection and on fresh ones, in sequence and concurrently.
#[tokio::test]
async fn a_fixed_length_stream_body_arrives_whole_every_time() {
    let brink = Brink::start(worker("workers-conformance.js"), &[]);
    let keep_alive = client();
    for round in 0..100 {
        let response = keep_alive.get(brink.url("/fixed-length")).send().await.unwrap();
        assert_eq!(response.status(), 200, "round {round}");
        assert_eq!(response.headers()["content-length"], "5", "round {round}");
        assert_eq!(response.text().await.unwrap(), "12345", "round {round}");
    }
    for round in 0..20 {
        let answer = raw(&brink, "GET /fixed-length HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "round {round}: {answer}");
        assert!(answer.to_ascii_lowercase().contains("\r\ncontent-length: 5\r\n"), "round {round}: {answer}");
        assert!(answer.ends_with("\r\n\r\n12345"), "round {round}: {answer}");
    }
    let concurrent = (0..50).map(|_| {
        let url = brink.url("/fixed-length");
        let client = keep_alive.clone();
        async move {
            let response = client.get(url).send().await.unwrap();
            (response.status(), response.text().await.unwrap())
        }
    });
    for (status, body) in futures::future::join_all(concurrent).await {
        assert_eq!((status.as_u16(), body.as_str()), (200, "12345"));
    }
    // Shorter than announced: the connection is cut, never a whole response.
    let short = client().get(brink.url("/fixed-length-short")).send().await;
    let whole = match short {
        Ok(response) => response.bytes().await.is_ok(),
        Err(_) => false,
    };
    assert!(!whole, "a body short of its FixedLengthStream length arrived as a whole response");
}
