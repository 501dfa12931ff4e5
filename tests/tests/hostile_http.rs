//! A tenant or client attacking the HTTP layer: responses whose headers lie
//! about their framing, connections that never send a request, hosts that
//! would rewrite the worker's URL, and log lines forged from worker output.
//! After each attack the process still serves well-behaved requests.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use brink_tests::{client, worker, Brink};

/// The bytes `hostile-http.js` tries to smuggle in as a second response.
const SMUGGLED: &str = "HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged";

fn start() -> Brink {
    Brink::start(worker("hostile-http.js"), &[])
}

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("read timeout");
    stream
}

/// Sends `requests` in one write (pipelined) and reads until the server
/// closes the connection. The last request should say `Connection: close`.
fn pipeline(port: u16, requests: &[String]) -> Vec<u8> {
    let mut stream = connect(port);
    stream.write_all(requests.concat().as_bytes()).expect("write");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    response
}

fn request(method: &str, path: &str, host: &str) -> String {
    format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n\r\n")
}

fn last_request(method: &str, path: &str, host: &str) -> String {
    format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
}

/// One HTTP/1.1 response as a client reads it off the wire.
#[derive(Debug)]
struct Parsed {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The connection ended before the body its head announced.
    incomplete: bool,
}

impl Parsed {
    fn header(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads responses the way a client would, one per request `method`, using
/// only their heads to find where each ends; returns them and any bytes left
/// over after the last one read.
fn parse_responses(mut data: &[u8], methods: &[&str]) -> (Vec<Parsed>, Vec<u8>) {
    let mut responses = Vec::new();
    for method in methods {
        let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else { break };
        let head = String::from_utf8_lossy(&data[..end]).into_owned();
        data = &data[end + 4..];
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status line");
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        let mut parsed = Parsed { status, headers, body: Vec::new(), incomplete: false };
        let no_body = *method == "HEAD" || status == 204 || status == 304;
        if no_body {
        } else if parsed.header("transfer-encoding").iter().any(|v| v.contains("chunked")) {
            loop {
                let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") else {
                    parsed.incomplete = true;
                    break;
                };
                let size_text = String::from_utf8_lossy(&data[..line_end]).into_owned();
                let size = usize::from_str_radix(size_text.trim(), 16).expect("chunk size");
                data = &data[line_end + 2..];
                if data.len() < size + 2 {
                    parsed.body.extend_from_slice(&data[..size.min(data.len())]);
                    data = &[];
                    parsed.incomplete = true;
                    break;
                }
                parsed.body.extend_from_slice(&data[..size]);
                data = &data[size + 2..];
                if size == 0 {
                    break;
                }
            }
        } else if let Some(length) = parsed.header("content-length").first().and_then(|v| v.parse::<usize>().ok()) {
            let available = length.min(data.len());
            parsed.body.extend_from_slice(&data[..available]);
            parsed.incomplete = available < length;
            data = &data[available..];
        } else {
            parsed.body.extend_from_slice(data);
            data = &[];
        }
        let incomplete = parsed.incomplete;
        responses.push(parsed);
        if incomplete {
            break;
        }
    }
    (responses, data.to_vec())
}

/// `GET path` for a.example pipelined with `GET /ok` for b.example (another
/// tenant, as far as the client knows): both responses are exactly what
/// the worker meant and nothing is left over.
fn assert_full_body_is_framed_by_the_gateway(brink: &Brink, path: &str, expected: &str) {
    let raw = pipeline(brink.port, &[request("GET", path, "a.example"), last_request("GET", "/ok", "b.example")]);
    let (responses, rest) = parse_responses(&raw, &["GET", "GET"]);
    let text = String::from_utf8_lossy(&raw);
    assert_eq!(responses.len(), 2, "{path}: {text:?}");
    let first = &responses[0];
    assert_eq!(first.status, 200, "{path}: {text:?}");
    assert_eq!(first.body_text(), expected, "{path}: {text:?}");
    assert_eq!(first.header("content-length"), [expected.len().to_string()], "{path}: {text:?}");
    assert!(first.header("transfer-encoding").is_empty(), "{path}: {text:?}");
    assert_eq!(responses[1].status, 200, "{path}: {text:?}");
    assert_eq!(responses[1].body_text(), "ok b.example", "{path}: another tenant's response was displaced: {text:?}");
    assert!(rest.is_empty(), "{path}: bytes after the last response: {text:?}");
}

#[test]
fn a_full_body_is_framed_by_its_real_length_whatever_the_worker_declares() {
    let brink = start();
    let smuggling = format!("hello{SMUGGLED}");
    assert_full_body_is_framed_by_the_gateway(&brink, "/full-short", &smuggling);
    assert_full_body_is_framed_by_the_gateway(&brink, "/full-long", "hello");
    assert_full_body_is_framed_by_the_gateway(&brink, "/full-te", "hello");
    assert_full_body_is_framed_by_the_gateway(&brink, "/full-te-cl", "hello");
    assert_full_body_is_framed_by_the_gateway(&brink, "/full-duplicate-cl", &smuggling);
    assert_full_body_is_framed_by_the_gateway(&brink, "/hop-by-hop", "hello");
}

#[test]
fn hop_by_hop_headers_from_a_worker_are_dropped() {
    let brink = start();
    let raw = pipeline(brink.port, &[last_request("GET", "/hop-by-hop", "a.example")]);
    let (responses, _) = parse_responses(&raw, &["GET"]);
    let response = &responses[0];
    for name in ["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "transfer-encoding"] {
        // The gateway's own `connection: close` (answering the client's) is fine.
        let values = response.header(name);
        assert!(values.is_empty() || (name == "connection" && values == ["close"]), "{name}: {raw:?}", raw = String::from_utf8_lossy(&raw));
    }
    assert_eq!(response.header("x-kept"), ["yes"]);
}

#[test]
fn a_streamed_body_never_runs_past_its_declared_length() {
    let brink = start();
    for path in ["/stream-short", "/stream-short-one-chunk", "/stream-long"] {
        let raw = pipeline(brink.port, &[request("GET", path, "a.example"), last_request("GET", "/ok", "b.example")]);
        let text = String::from_utf8_lossy(&raw);
        assert!(!text.contains("forged"), "{path}: smuggled bytes reached the client: {text:?}");
        let (responses, rest) = parse_responses(&raw, &["GET", "GET"]);
        // A body that does not match its length is cut off and the
        // connection closed, so nothing after it is read as a response.
        // When the cut comes before hyper wrote anything, not even the
        // head goes out.
        assert!(responses.len() <= 1, "{path}: {text:?}");
        if let Some(first) = responses.first() {
            assert_eq!(first.status, 200, "{path}: {text:?}");
            let declared: usize = first.header("content-length")[0].parse().expect("declared length");
            assert!(first.body.len() <= declared, "{path}: {text:?}");
            assert!(first.incomplete, "{path}: the broken body was not cut off: {text:?}");
        }
        assert!(rest.is_empty(), "{path}: {text:?}");
    }
    // Another connection is served normally.
    assert_full_body_is_framed_by_the_gateway(&brink, "/ok", "ok a.example");
}

#[test]
fn a_streamed_body_with_an_honest_or_unusable_length_is_delivered_exactly() {
    let brink = start();
    // A valid length that matches the body is kept (and the connection reused).
    for path in ["/stream-exact", "/stream-te-cl"] {
        let raw = pipeline(brink.port, &[request("GET", path, "a.example"), last_request("GET", "/ok", "b.example")]);
        let text = String::from_utf8_lossy(&raw);
        let (responses, rest) = parse_responses(&raw, &["GET", "GET"]);
        assert_eq!(responses.len(), 2, "{path}: {text:?}");
        assert_eq!(responses[0].header("content-length"), ["5"], "{path}: {text:?}");
        assert!(responses[0].header("transfer-encoding").is_empty(), "{path}: {text:?}");
        assert_eq!(responses[0].body_text(), "hello", "{path}: {text:?}");
        assert_eq!(responses[1].body_text(), "ok b.example", "{path}: {text:?}");
        assert!(rest.is_empty(), "{path}: {text:?}");
    }
    // Several, listed or signed lengths are dropped and the gateway chunks
    // the body itself; a worker's own chunk framing is just body bytes.
    for (path, expected) in [
        ("/stream-duplicate-cl", "hello".to_string()),
        ("/stream-list-cl", "hello".to_string()),
        ("/stream-plus-cl", "hello".to_string()),
        ("/stream-te", format!("5\r\nhello\r\n0\r\n\r\n{SMUGGLED}")),
    ] {
        let raw = pipeline(brink.port, &[request("GET", path, "a.example"), last_request("GET", "/ok", "b.example")]);
        let text = String::from_utf8_lossy(&raw);
        let (responses, rest) = parse_responses(&raw, &["GET", "GET"]);
        assert_eq!(responses.len(), 2, "{path}: {text:?}");
        assert!(responses[0].header("content-length").is_empty(), "{path}: {text:?}");
        assert_eq!(responses[0].header("transfer-encoding"), ["chunked"], "{path}: {text:?}");
        assert_eq!(responses[0].body_text(), expected, "{path}: {text:?}");
        assert_eq!(responses[1].body_text(), "ok b.example", "{path}: {text:?}");
        assert!(rest.is_empty(), "{path}: {text:?}");
    }
}

#[test]
fn head_204_and_304_responses_carry_no_body() {
    let brink = start();
    let raw = pipeline(
        brink.port,
        &[
            request("HEAD", "/full-short", "a.example"),
            request("HEAD", "/ok", "a.example"),
            request("HEAD", "/stream-short", "a.example"),
            request("HEAD", "/full-duplicate-cl", "a.example"),
            request("GET", "/no-content", "a.example"),
            request("GET", "/not-modified", "a.example"),
            last_request("GET", "/ok", "b.example"),
        ],
    );
    let text = String::from_utf8_lossy(&raw);
    assert!(!text.contains("forged"), "{text:?}");
    let methods = ["HEAD", "HEAD", "HEAD", "HEAD", "GET", "GET", "GET"];
    let (responses, rest) = parse_responses(&raw, &methods);
    assert_eq!(responses.len(), 7, "{text:?}");
    // HEAD: a valid length the worker declared describes the GET body.
    assert_eq!(responses[0].header("content-length"), ["5"], "{text:?}");
    // Without one, the length of the body the worker produced.
    assert_eq!(responses[1].header("content-length"), ["12"], "{text:?}");
    assert_eq!(responses[2].header("content-length"), ["5"], "{text:?}");
    assert_eq!(responses[3].header("content-length"), [(5 + SMUGGLED.len()).to_string()], "{text:?}");
    assert_eq!(responses[4].status, 204, "{text:?}");
    assert!(responses[4].header("content-length").is_empty(), "{text:?}");
    assert_eq!(responses[5].status, 304, "{text:?}");
    assert!(responses[5].header("content-length").is_empty(), "{text:?}");
    assert_eq!(responses[6].body_text(), "ok b.example", "{text:?}");
    assert!(rest.is_empty(), "{text:?}");
}

#[tokio::test]
async fn over_h2_the_body_is_exactly_what_the_worker_meant() {
    let brink = start();
    let h2 = reqwest::Client::builder().no_proxy().http2_prior_knowledge().build().expect("h2 client");
    let smuggling = format!("hello{SMUGGLED}");
    for (path, expected) in [
        ("/full-short", smuggling.as_str()),
        ("/full-long", "hello"),
        ("/full-te-cl", "hello"),
        ("/full-duplicate-cl", smuggling.as_str()),
        ("/hop-by-hop", "hello"),
        ("/stream-exact", "hello"),
        ("/stream-te-cl", "hello"),
        ("/stream-duplicate-cl", "hello"),
        ("/stream-list-cl", "hello"),
    ] {
        let response = h2.get(brink.url(path)).send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(response.version(), reqwest::Version::HTTP_2);
        assert_eq!(response.status(), 200, "{path}");
        let body = response.text().await.unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(body, expected, "{path}");
    }
    // A streamed body longer or shorter than declared is an error, never
    // a silently different body.
    for path in ["/stream-short", "/stream-long"] {
        let result = match h2.get(brink.url(path)).send().await {
            Ok(response) => response.bytes().await.map(|b| b.to_vec()),
            Err(error) => Err(error),
        };
        assert!(result.is_err(), "{path}: got {result:?}");
    }
    // HEAD over h2: the declared length, no body.
    let head = h2.head(brink.url("/full-short")).send().await.expect("HEAD");
    assert_eq!(head.headers()["content-length"], "5");
    assert!(head.bytes().await.expect("HEAD body").is_empty());
    // The connection and the process are fine.
    let ok = h2.get(brink.url("/ok")).send().await.expect("ok").text().await.expect("ok body");
    assert!(ok.starts_with("ok 127.0.0.1:"), "{ok}");
}

#[test]
fn hosts_that_would_rewrite_the_worker_url_are_rejected() {
    let brink = start();
    let bad_hosts = [
        "a.example/admin", "a.example?x=1", "a.example#frag", "user@a.example", "evil.example@a.example", "a example",
        "a\tb.example", "a.example:80/x", "a.example:", "a.example:http", "a.example:99999", "[::1", "[::1]x", "a,b.example",
        "a\\b", "a%2fb", "",
    ];
    for host in bad_hosts {
        let raw = pipeline(brink.port, &[last_request("GET", "/ok", host)]);
        let text = String::from_utf8_lossy(&raw);
        assert!(text.starts_with("HTTP/1.1 400"), "Host {host:?}: {text:?}");
        assert!(!text.contains("ok "), "Host {host:?} reached the worker: {text:?}");
    }
    // Two Host headers, or a target whose authority disagrees with Host or
    // carries user info.
    for raw_request in [
        "GET /ok HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n",
        "GET http://b.example/ok HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n",
        "GET http://user@a.example/ok HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n",
    ] {
        let raw = pipeline(brink.port, &[raw_request.to_string()]);
        let text = String::from_utf8_lossy(&raw);
        assert!(text.starts_with("HTTP/1.1 400"), "{raw_request:?}: {text:?}");
    }
    // Ordinary hosts still work, with or without a port, IPv6 too.
    for host in ["a.example", "A-1.b_c.example:8080", "127.0.0.1", "[::1]:80"] {
        let raw = pipeline(brink.port, &[last_request("GET", "/ok", host)]);
        let (responses, _) = parse_responses(&raw, &["GET"]);
        assert_eq!(responses[0].status, 200, "{host}");
        let expected_host = host.to_ascii_lowercase();
        let expected_host = expected_host.strip_suffix(":80").unwrap_or(&expected_host);
        assert_eq!(responses[0].body_text(), format!("ok {expected_host}"), "{host}");
    }
    let raw = pipeline(brink.port, &["GET http://a.example/ok HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n".into()]);
    assert!(String::from_utf8_lossy(&raw).ends_with("ok a.example"));
}

#[tokio::test]
async fn an_h2_authority_with_user_info_or_disagreeing_with_host_is_rejected() {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let brink = start();
    let send = |uri: &'static str, host: Option<&'static str>| {
        let port = brink.port;
        async move {
            let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
            let (mut sender, connection) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.expect("h2 handshake");
            tokio::spawn(connection);
            let mut request = hyper::Request::builder().uri(uri);
            if let Some(host) = host {
                request = request.header("host", host);
            }
            let request = request.body(Empty::<bytes::Bytes>::new()).expect("request");
            let response = sender.send_request(request).await.expect("h2 response");
            let status = response.status().as_u16();
            let body = response.into_body().collect().await.expect("body").to_bytes();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    };
    let (status, body) = send("http://user@a.example/ok", None).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = send("http://a.example/ok", Some("b.example")).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = send("http://a.example/ok", None).await;
    assert_eq!((status, body.as_str()), (200, "ok a.example"));
}

/// Reads until the server closes the connection; `None` if it is still
/// open after 10 s.
fn wait_for_close(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return Some(received),
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return None,
            Err(_) => return Some(received), // reset: closed too
        }
    }
}

const IDLE_ARGS: [&str; 4] = ["--idle-timeout-ms", "500", "--max-connections", "20"];

#[test]
fn a_connection_that_sends_nothing_is_closed() {
    let brink = Brink::start(worker("hostile-http.js"), &IDLE_ARGS);
    let mut silent = connect(brink.port);
    let received = wait_for_close(&mut silent).expect("a silent connection was held open");
    assert!(received.is_empty(), "{received:?}");
    assert_full_body_is_framed_by_the_gateway(&brink, "/ok", "ok a.example");
}

#[test]
fn a_connection_that_sends_only_the_h2_preface_is_closed() {
    let brink = Brink::start(worker("hostile-http.js"), &IDLE_ARGS);
    let mut preface_only = connect(brink.port);
    // The connection preface and an empty SETTINGS frame, then nothing.
    preface_only.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00").expect("preface");
    wait_for_close(&mut preface_only).expect("an h2 connection without streams was held open");
    assert_full_body_is_framed_by_the_gateway(&brink, "/ok", "ok a.example");
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_its_request() {
    let brink = Brink::start(worker("hostile-http.js"), &IDLE_ARGS);
    let mut keep_alive = connect(brink.port);
    keep_alive.write_all(request("GET", "/ok", "a.example").as_bytes()).expect("request");
    let received = wait_for_close(&mut keep_alive).expect("an idle keep-alive connection was held open");
    let (responses, rest) = parse_responses(&received, &["GET"]);
    assert_eq!(responses[0].body_text(), "ok a.example");
    assert!(rest.is_empty());
}

#[tokio::test]
async fn a_request_running_longer_than_the_idle_timeout_is_not_cut() {
    let brink = Brink::start(worker("hostile-http.js"), &IDLE_ARGS);
    // HTTP/1.1 on a raw socket, then kept alive for a second request.
    let port = brink.port;
    let raw = tokio::task::spawn_blocking(move || {
        pipeline(port, &[request("GET", "/slow", "a.example"), last_request("GET", "/slow", "b.example")])
    })
    .await
    .expect("raw client");
    let (responses, _) = parse_responses(&raw, &["GET", "GET"]);
    assert_eq!(responses.len(), 2, "{:?}", String::from_utf8_lossy(&raw));
    assert!(responses.iter().all(|r| r.body_text() == "slow done"));
    // h2: a stream in progress keeps its connection open.
    let h2 = reqwest::Client::builder().no_proxy().http2_prior_knowledge().build().expect("h2 client");
    let slow = h2.get(brink.url("/slow")).send().await.expect("h2 slow").text().await.expect("h2 body");
    assert_eq!(slow, "slow done");
}

fn open_sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|entry| std::fs::read_link(entry.path()).is_ok_and(|target| target.to_string_lossy().starts_with("socket:")))
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn the_connection_limit_holds_and_legitimate_requests_get_through() {
    let brink = Brink::start(worker("hostile-http.js"), &IDLE_ARGS);
    let baseline = open_sockets(brink.pid());
    // Twice the limit in connections that never send anything.
    let silent: Vec<TcpStream> = (0..40).map(|_| connect(brink.port)).collect();
    let mut most_open = 0;
    let watch_until = Instant::now() + Duration::from_millis(300);
    while Instant::now() < watch_until {
        most_open = most_open.max(open_sockets(brink.pid()).saturating_sub(baseline));
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(most_open > 0, "no connection was accepted");
    assert!(most_open <= 20, "{most_open} connections open with --max-connections 20");
    // A real client waits behind the hoarders until idle ones are cut.
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(20)).build().expect("client");
    let response = client.get(brink.url("/ok")).send().await.expect("legit request");
    assert_eq!(response.status(), 200);
    drop(silent);
    assert_eq!(client.get(brink.url("/ok")).send().await.expect("after").status(), 200);
    // Reaching the limit is logged, but not once per connection or per poll.
    let warnings = brink.logs().matches("connection limit reached").count();
    assert!((1..=2).contains(&warnings), "{warnings} limit warnings:\n{}", brink.logs());
}

#[test]
fn the_open_file_limit_is_raised_to_the_hard_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit on this test process with a valid struct.
    unsafe { assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0) };
    // Start brink with a soft limit below the hard one (it inherits ours).
    let lowered = libc::rlimit { rlim_cur: limit.rlim_max.min(1024).min(limit.rlim_cur), rlim_max: limit.rlim_max };
    unsafe { assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lowered), 0) };
    let brink = Brink::start(worker("hostile-http.js"), &[]);
    unsafe { assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0) };
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", brink.pid())).expect("limits");
    let line = limits.lines().find(|l| l.starts_with("Max open files")).expect("open files line");
    let values: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(values[0], values[1], "{line}");
}

#[tokio::test]
async fn worker_output_cannot_forge_log_lines() {
    let brink = start();
    let response = client().get(brink.url("/forge-log")).send().await.expect("forge-log");
    assert_eq!(response.text().await.expect("body"), "logged");
    let response = client().get(brink.url("/forge-exception")).send().await.expect("forge-exception");
    assert_eq!(response.status(), 500);
    assert!(brink.wait_for_log("fake exception line", Duration::from_secs(5)), "{}", brink.logs());
    assert!(brink.wait_for_log("fake after a line separator", Duration::from_secs(5)), "{}", brink.logs());
    let logs = brink.logs();
    for line in logs.lines() {
        assert!(!line.trim_start().starts_with("2026-01-01T00:00:00Z"), "forged line: {line:?}");
        assert!(!line.contains(['\r', '\u{1b}', '\u{2028}']), "control character in the log: {line:?}");
    }
    // The text itself is kept, escaped, on the worker's own line.
    assert!(logs.contains(r"hello\n2026-01-01T00:00:00Z  INFO brink: fake console line"), "{logs}");
    assert!(logs.contains(r"\u{1b}[2K"), "{logs}");
    assert!(logs.contains(r"boom\n2026-01-01T00:00:00Z"), "{logs}");
}
